"""The HTML report: one self-contained page (no scripts, no external files)."""

from __future__ import annotations

from html import escape

from nbrepro.model import CellResult, CellStatus, CheckResult, NotebookResult

from . import badge
from .terminal import notes, summary_line

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
@media (prefers-color-scheme: dark){body{background:#111;color:#e6e6e6}th{background:#222}
th,td{border-color:#333}.meta,.reason{color:#bbb}pre{background:#1e1e1e}}
"""


def _cell_row(cell: CellResult) -> str:
    colour = STATUS_COLOUR.get(cell.status, "#333")
    parts = [cell.reason] if cell.reason else []
    if cell.detail and (not cell.reason or cell.reason not in cell.detail):
        parts.append(cell.detail)
    text = " — ".join(escape(t) for t in parts)
    if cell.warnings:
        text += "".join(f'<div class="warning">{escape(w)}</div>' for w in cell.warnings)
    if cell.suggested_sanitiser:
        text += f"<pre>{escape(cell.suggested_sanitiser)}</pre>"
    if cell.image_diff:  # where a changed image differs (the comparer's difference image)
        text += (f'<div><img class="diff" alt="difference image of cell {cell.index}" '
                 f'src="data:image/png;base64,{escape(cell.image_diff)}"></div>')
    seconds = f"{cell.execution_seconds:.2f} s" if cell.execution_seconds is not None else ""
    return (f'<tr data-status="{cell.status.value}"><td>{cell.index}</td>'
            f'<td class="status" style="color:{colour}">{cell.status.value}</td>'
            f'<td class="reason">{text}</td><td>{seconds}</td></tr>')


def _notebook(nb: NotebookResult) -> str:
    parts = [f'<section data-verdict="{nb.verdict.value}"><h2>{escape(nb.path)} '
             f'{badge.svg(nb.verdict)}</h2>']
    if nb.reason:
        parts.append(f'<p class="meta">{escape(nb.reason)}</p>')
    if nb.exception:
        where = f" in cell {nb.failing_cell}" if nb.failing_cell is not None else ""
        parts.append(f'<p class="meta"><code>{escape(nb.exception)}</code>{where}: '
                     f'{escape(nb.message or "")}</p>')
    if nb.cells:
        parts.append("<table><thead><tr><th>cell</th><th>status</th><th>why</th>"
                     "<th>time</th></tr></thead><tbody>")
        parts.extend(_cell_row(c) for c in nb.cells)
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def render(result: CheckResult) -> str:
    repo = result.repository
    env = result.environment
    lock = result.lock
    head = [f"<h1>nbrepro report: {escape(repo.source)} {badge.svg(result.verdict)}</h1>",
            f'<p class="meta">{escape(summary_line(result))}</p>']
    if repo.commit:
        head.append(f'<p class="meta">commit <code>{escape(repo.commit)}</code></p>')
    if env is not None:
        head.append(f'<p class="meta">environment: {escape(env.backend)}, Python '
                    f'{escape(env.python_version or "?")}, sandbox {escape(env.sandbox)}'
                    f'{", network allowed" if env.network else ""}</p>')
    if result.spec is not None and result.spec.files:
        head.append('<p class="meta">declared: '
                    + ", ".join(f"<code>{escape(f)}</code>" for f in result.spec.files) + "</p>")
    # Warnings, interruption, kernel packages, volatile cells, hints: as the terminal says.
    head.extend(f'<p class="warning">{escape(line)}</p>' for line in notes(result)
                if not line.startswith("volatile: "))  # per cell below, with its sanitiser
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
    body = "\n".join([*head, *details, *(_notebook(nb) for nb in result.notebooks)])
    title = escape(f"nbrepro: {repo.source}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{title}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f'<p class="meta">nbrepro {escape(result.nbrepro_version)}</p>\n</body></html>\n')
