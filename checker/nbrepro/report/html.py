"""The HTML report: one self-contained page (no scripts, no external files).

Stored and re-run outputs come from the audited repository and are hostile: text is
escaped, HTML is sanitised (nh3: no script, no event handler, no `javascript:` or
remote URL), SVG and bitmaps are shown as `data:` images (a browser never runs script
in an image), JavaScript outputs are shown as code and never run, and the page's
Content-Security-Policy forbids every script and every remote load besides. Long
outputs are cut with a note saying so.
"""

from __future__ import annotations

import base64
import re
from html import escape
from typing import Any

import nh3

from nbrepro.model import CellResult, CellStatus, CheckResult, NotebookResult, Verdict

from . import badge
from .causes import cause_labels
from .header import header_lines, repository_title
from .terminal import CAUSE, cell_column, notes, reason_column, summary_line

# The same policy the server sends as a header: nothing may run, nothing is fetched.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")
TEXT_LIMIT = 20_000  # characters of one text output shown
HTML_LIMIT = 100_000  # characters of one HTML output sanitised and shown
IMAGE_LIMIT = 2_000_000  # base64 characters of one image shown
REPORT_OUTPUT_BUDGET = 30_000_000  # characters of outputs in one report, all cells together
_IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_TEXT_MIMES = ("text/markdown", "text/latex", "text/plain")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*", re.I)

STATUS_COLOUR = {
    CellStatus.IDENTICAL: "#2e7d32",
    CellStatus.EQUIVALENT: "#558b2f",
    CellStatus.VOLATILE: "#6d6d6d",
    CellStatus.DIFFERENT: "#b26a00",
    CellStatus.MISSING_OUTPUT: "#b26a00",
    CellStatus.EXTRA_OUTPUT: "#b26a00",
    CellStatus.ERROR: "#c62828",
    CellStatus.NOT_RUN: "#6d6d6d",
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1b1b;
max-width:70rem}
h1{font-size:1.4rem;margin-bottom:.2rem} h2{font-size:1.1rem;margin-top:2rem}
.meta{color:#555;margin:.2rem 0} code{font-size:.9em}
table{border-collapse:collapse;width:100%;margin-top:.5rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e0e0e0;vertical-align:top}
th{font-weight:600;background:#f6f6f6} table{table-layout:fixed}
th:nth-child(1){width:4rem} th:nth-child(2){width:9rem} th:nth-child(4){width:5rem}
.status{font-weight:600;white-space:nowrap}
.reason{color:#333} .warning{color:#8a6d00;font-size:.9em} img.diff{max-width:24rem;
margin-top:.3rem;border:1px solid #ccc} details{margin-top:.5rem}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;font-size:.85em}
.outputs{display:grid;grid-template-columns:1fr 1fr;gap:.6rem;margin-top:.4rem}
.outputs>div{min-width:0;border:1px solid #e0e0e0;padding:.3rem .5rem}
.outputs h4{margin:.1rem 0 .3rem;font-size:.8rem;color:#555;font-weight:600}
.html-output{overflow:auto;max-height:30rem} .output img{max-width:100%}
pre.error{color:#8b1a1a} .note{color:#8a6d00;font-size:.85em;font-style:italic}
table.summary th:nth-child(1){width:16rem} table.summary th:nth-child(2){width:11rem}
table.summary th:nth-child(3),table.summary th:nth-child(4),table.summary th:nth-child(5)
{width:5.5rem} table.summary th:nth-child(7){width:5rem} td.num{text-align:right}
.toggle-row{margin:1rem 0 .2rem;font-size:.9em}
#only-differences:checked~main tr[data-status=identical],
#only-differences:checked~main tr[data-status=not-run]{display:none}
.notebook>details>summary{cursor:pointer;color:#555;font-size:.9em}
ul.causes{margin:.3rem 0;padding:.4rem .6rem .4rem 1.6rem;background:#fff8e1;
border-left:3px solid #b26a00;font-size:.9em} tr:target{outline:2px solid #b26a00}
@media (prefers-color-scheme: dark){body{background:#111;color:#e6e6e6}th{background:#222}
th,td{border-color:#333}.meta,.reason{color:#bbb}pre{background:#1e1e1e}
.outputs>div{border-color:#333}ul.causes{background:#2a2410}}
"""


class _Budget:
    """What is left of the report's allowance for outputs."""

    def __init__(self, chars: int) -> None:
        self.left = chars
        self.exhausted = 0  # outputs left out once it ran out

    def take(self, size: int) -> bool:
        if size > self.left:
            self.exhausted += 1
            return False
        self.left -= size
        return True


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _clip(text: str, limit: int, what: str = "characters") -> tuple[str, str]:
    if len(text) <= limit:
        return text, ""
    return text[:limit], _note(f"Output cut: showing the first {limit:,} of {len(text):,} {what}.")


def _stored_cut(output: dict[str, Any], key: str) -> str:
    cut = output.get("nbrepro_truncated")
    if isinstance(cut, dict) and isinstance(cut.get(key), int):
        return _note(f"Output cut when the results were stored: {cut[key]:,} characters "
                     "in the notebook.")
    return ""


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Only inline images and plain web links survive: a remote image would tell its
    owner that the report was opened, a `data:` link could open a page of its own."""
    if attribute == "src":
        return value if _DATA_IMAGE.fullmatch(value.strip()) else None
    if attribute in ("href", "cite"):
        return value if re.match(r"(https?|mailto):", value.strip(), re.I) else None
    return value


def sanitise_html(fragment: str) -> str:
    """An HTML output with everything that could run or fetch removed."""
    return nh3.clean(
        fragment,
        url_schemes={"http", "https", "mailto", "data"},
        attribute_filter=_attribute_filter,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    )


def _output_html(output: dict[str, Any], budget: _Budget) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        text, note = _clip(_text(output.get("text", "")), TEXT_LIMIT)
        if not budget.take(len(text)):
            return ""
        return (f'<pre class="stream">{escape(text)}</pre>{note}'
                f'{_stored_cut(output, "text")}')
    if kind == "error":
        trace = "\n".join(_text(t) for t in output.get("traceback", []) or [])
        text = _ANSI.sub("", trace) or f"{output.get('ename', '')}: {output.get('evalue', '')}"
        text, note = _clip(text, TEXT_LIMIT)
        if not budget.take(len(text)):
            return ""
        return f'<pre class="error">{escape(text)}</pre>{note}'
    data = output.get("data")
    if not isinstance(data, dict):
        return _note(f"an output of type {str(kind)[:40]!r} (not shown)")
    for mime in _IMAGE_MIMES:
        if mime in data:
            return _image_html(mime, _text(data[mime]), output, budget)
    if "image/svg+xml" in data:
        encoded = base64.b64encode(_text(data["image/svg+xml"]).encode()).decode("ascii")
        # An SVG shown as an image never runs the scripts it may carry.
        return _image_html("image/svg+xml", encoded, output, budget, key="image/svg+xml")
    if "text/html" in data:
        raw = _text(data["text/html"])
        clipped, note = _clip(raw, HTML_LIMIT)
        if not budget.take(len(clipped)):
            return ""
        return (f'<div class="html-output">{sanitise_html(clipped)}</div>{note}'
                f'{_stored_cut(output, "text/html")}')
    for mime in ("application/javascript", "text/javascript"):
        if mime in data:
            text, note = _clip(_text(data[mime]), TEXT_LIMIT)
            if not budget.take(len(text)):
                return ""
            return (_note("JavaScript output: shown as code, never run.")
                    + f"<pre>{escape(text)}</pre>{note}")
    for mime in _TEXT_MIMES:
        if mime in data:
            text, note = _clip(_text(data[mime]), TEXT_LIMIT)
            if not budget.take(len(text)):
                return ""
            return f"<pre>{escape(text)}</pre>{note}{_stored_cut(output, mime)}"
    kinds = ", ".join(sorted(str(m)[:60] for m in data)[:5])
    return _note(f"an output of type {kinds} (not shown)")


def _image_html(mime: str, encoded: str, output: dict[str, Any], budget: _Budget,
                key: str | None = None) -> str:
    if not _BASE64.fullmatch(encoded):
        return _note(f"{mime} output with invalid data (not shown)")
    if len(encoded) > IMAGE_LIMIT:
        return _note(f"{mime} output of {len(encoded):,} characters (over {IMAGE_LIMIT:,}; "
                     "not shown)")
    if _stored_cut(output, key or mime):
        return _note(f"{mime} output cut when the results were stored (not shown)")
    if not budget.take(len(encoded)):
        return ""
    compact = re.sub(r"\s+", "", encoded)
    return f'<img alt="{escape(mime)} output" src="data:{mime};base64,{compact}">'


def _outputs_block(title: str, outputs: list[dict[str, Any]], budget: _Budget) -> str:
    parts = [_output_html(o, budget) if isinstance(o, dict) else "" for o in outputs]
    body = "".join(parts) or _note("no output")
    if budget.exhausted:
        body += _note("Further outputs left out: this report reached its size limit.")
    return f'<div class="output"><h4>{escape(title)}</h4>{body}</div>'


def _cell_outputs(cell: CellResult, budget: _Budget) -> str:
    if cell.stored_outputs is None and cell.rerun_outputs is None:
        return ""
    return ('<div class="outputs">'
            + _outputs_block("stored", cell.stored_outputs or [], budget)
            + _outputs_block("re-run", cell.rerun_outputs or [], budget) + "</div>")


def _cell_row(cell: CellResult, budget: _Budget | None = None, anchor: str = "") -> str:
    colour = STATUS_COLOUR.get(cell.status, "#333")
    parts = [cell.reason] if cell.reason else []
    if cell.detail and (not cell.reason or cell.reason not in cell.detail):
        parts.append(cell.detail)
    text = " — ".join(escape(t) for t in parts)
    if cell.warnings:
        text += "".join(f'<div class="warning">{escape(w)}</div>' for w in cell.warnings)
    if cell.suggested_sanitiser:
        text += f"<pre>{escape(cell.suggested_sanitiser)}</pre>"
    if cell.image_diff and _BASE64.fullmatch(cell.image_diff):
        # where a changed image differs (the comparer's difference image)
        text += (f'<div><img class="diff" alt="difference image of cell {cell.index}" '
                 f'src="data:image/png;base64,{escape(cell.image_diff)}"></div>')
    text += _cell_outputs(cell, budget or _Budget(REPORT_OUTPUT_BUDGET))
    seconds = f"{cell.execution_seconds:.2f} s" if cell.execution_seconds is not None else ""
    label = escape(cell.label) + (f' <span class="meta">#{cell.index}</span>'
                                  if cell.execution_count is not None else "")
    row_id = f' id="{_cell_anchor(anchor, cell.index)}"' if anchor else ""
    return (f'<tr{row_id} data-status="{cell.status.value}"><td>{label}</td>'
            f'<td class="status" style="color:{colour}">{cell.status.value}</td>'
            f'<td class="reason">{text}</td><td>{seconds}</td></tr>')


def _anchor(position: int) -> str:
    """A notebook section's id: by position, as paths from the repository may hold
    anything."""
    return f"nb-{position + 1}"


def _cell_anchor(section: str, index: int) -> str:
    """A cell row's id: its notebook section's, then the cell's position."""
    return f"{section}-cell-{index}"


def _causes(nb: NotebookResult, anchor: str) -> str:
    """The notebook's root causes, each once, its cells linking to their rows."""
    if not nb.causes:
        return ""
    items = []
    for cause in nb.causes:
        links = cause_labels(nb, cause, show=lambda i, label:
                             f'<a href="#{_cell_anchor(anchor, i)}">{escape(label)}</a>')
        cells = f" — {links}" if links else ""
        items.append(f'<li data-cause="{escape(cause.kind.value)}">{escape(cause.summary)}'
                     f"{cells}</li>")
    return f'<ul class="causes" aria-label="root causes">{"".join(items)}</ul>'


_DIFFERENT = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT)


def _summary_table(result: CheckResult) -> str:
    """One row per notebook: verdict, where to look, cell counts and time, each
    notebook linking to its section."""
    rows = []
    for position, nb in enumerate(result.notebooks):
        counts = {
            "identical": sum(c.status is CellStatus.IDENTICAL for c in nb.cells),
            "equivalent": sum(c.status is CellStatus.EQUIVALENT for c in nb.cells),
            "different": sum(c.status in _DIFFERENT for c in nb.cells),
        }
        cause = nb.reason or ""
        if nb.verdict is Verdict.FAILED and nb.exception:
            cause = f"{nb.exception} in {cell_column(nb) or 'a cell'}: {reason_column(nb)}"
        if nb.causes and not nb.verdict.ok:  # what explains it, when nbrepro found it
            cause += f" ({nb.causes[0].summary})"
        colour = "#2e7d32" if nb.verdict.ok else "#b26a00" if nb.verdict is Verdict.DIFFERS \
            else "#c62828" if nb.verdict is not Verdict.NOT_CHECKED else "#6d6d6d"
        rows.append(
            f'<tr data-notebook-verdict="{nb.verdict.value}">'
            f'<td><a href="#{_anchor(position)}">{escape(nb.path)}</a></td>'
            f'<td class="status" style="color:{colour}">{escape(nb.verdict.value)}</td>'
            + "".join(f'<td class="num" data-count="{k}">{v}</td>' for k, v in counts.items())
            + f'<td class="reason">{escape(cause)}</td><td>{nb.seconds:.1f} s</td></tr>')
    return ('<table class="summary"><thead><tr><th>notebook</th><th>verdict</th>'
            "<th>identical</th><th>equivalent</th><th>different</th><th>first cause</th>"
            "<th>time</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _notebook(nb: NotebookResult, budget: _Budget, position: int = 0) -> str:
    decided = ' data-repo-settings="true"' if nb.repo_settings else ""
    parts = [f'<section class="notebook" id="{_anchor(position)}" '
             f'data-verdict="{nb.verdict.value}"{decided}><h2>{escape(nb.path)} '
             f'{badge.svg(nb.verdict, repo_settings=bool(nb.repo_settings))}</h2>']
    causes = _causes(nb, _anchor(position))
    if causes:
        parts.append(causes)
    if nb.repo_settings:
        without = (f"nbrepro's defaults give <strong>{nb.verdict_without_repo_settings.value}"
                   "</strong>" if nb.verdict_without_repo_settings else "not run")
        parts.append(f'<p class="meta repo-settings">This verdict was decided by the '
                     f"repository's own settings ({without}): "
                     + "; ".join(f"<code>{escape(s)}</code>" for s in nb.repo_settings) + "</p>")
    if nb.reason:
        parts.append(f'<p class="meta">{escape(nb.reason)}</p>')
    if nb.exception and not (nb.reason and nb.exception in nb.reason):  # said once
        where = f" in {nb.failing_label}" if nb.failing_label is not None else ""
        parts.append(f'<p class="meta"><code>{escape(nb.exception)}</code>{where}: '
                     f'{escape(nb.message or "")}</p>')
    if nb.cells:
        # what reproduced is folded; what did not is open
        shown = sum(c.status is not CellStatus.IDENTICAL for c in nb.cells)
        parts.append(f'<details{"" if nb.verdict.ok else " open"}><summary>{len(nb.cells)} '
                     f"cells ({len(nb.cells) - shown} identical)</summary>"
                     "<table><thead><tr><th>cell</th><th>status</th><th>why</th>"
                     "<th>time</th></tr></thead><tbody>")
        parts.extend(_cell_row(c, budget, _anchor(position)) for c in nb.cells)
        parts.append("</tbody></table></details>")
    parts.append("</section>")
    return "\n".join(parts)


def render(result: CheckResult) -> str:
    repo = result.repository
    env = result.environment
    lock = result.lock
    head = [f"<h1>nbrepro report: {escape(repository_title(result))} {badge.svg(result)}</h1>",
            f'<p class="meta">{escape(summary_line(result))}</p>']
    if result.repo_settings:
        head.append('<p class="meta repo-settings">settings from the repository itself: '
                    + "; ".join(f"<code>{escape(s)}</code>" for s in result.repo_settings)
                    + "</p>")
    if repo.commit:
        head.append(f'<p class="meta">commit <code>{escape(repo.commit)}</code></p>')
    if env is not None:
        head.append(f'<p class="meta">environment: {escape(env.backend)}, Python '
                    f'{escape(env.python_version or "?")}, sandbox {escape(env.sandbox)}'
                    f'{", network allowed" if env.network else ""}</p>')
    # where the environment came from, Python asked for and used, undeclared imports
    head.extend(f'<p class="{"warning" if warning else "meta"} environment">{escape(line)}</p>'
                for line, warning in header_lines(result, full_path=False))
    # Warnings, interruption, kernel packages, hints: as the terminal says.
    head.extend(f'<p class="warning">{escape(line)}</p>' for line in notes(result)
                if not line.startswith(CAUSE))  # in each notebook's section, linked
    details = []
    if lock is not None and lock.text:
        details.append(f"<details><summary>lock ({escape(lock.resolver)})</summary>"
                       f"<pre>{escape(lock.text)}</pre></details>")
    if lock is not None and lock.message and not lock.ok:
        details.append(f"<details open><summary>resolver output</summary>"
                       f"<pre>{escape(lock.message)}</pre></details>")
    if env is not None and env.log and not env.ok:
        details.append(f"<details open><summary>build log</summary>"
                       f"<pre>{escape(env.log)}</pre></details>")
    budget = _Budget(REPORT_OUTPUT_BUDGET)
    sections = [_notebook(nb, budget, i) for i, nb in enumerate(result.notebooks)]
    # A checkbox before <main> hides identical and not-run cells by CSS alone: the
    # report runs no script.
    toggle = ('<input type="checkbox" id="only-differences">'
              '<label class="toggle-row" for="only-differences">Only differences (hide '
              "identical and not-run cells)</label>") if result.notebooks else ""
    summary = _summary_table(result) if result.notebooks else ""
    body = "\n".join([*head, *details, summary, toggle,
                      "<main>", *sections, "</main>"])
    title = escape(f"nbrepro: {repository_title(result)}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="referrer" content="no-referrer">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{title}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f'<p class="meta">nbrepro {escape(result.nbrepro_version)}</p>\n</body></html>\n')
