"""The Markdown report: for CI step summaries and pull-request comments (GitHub flavour).

A table of notebooks, then, folded in `<details>`, the cells of every notebook that
did not reproduce. The whole stays under GitHub's 1 MiB step-summary limit: what
does not fit is left out with a note saying how much.

Text from the audited repository (paths, reasons quoting outputs, exception
messages) is written as code spans: nothing in it becomes a link, a mention, an
emoji, maths or HTML, and a Markdown parser gives the text back unchanged.
"""

from __future__ import annotations

import re
from html import escape

from nbrepro.model import CellStatus, CheckResult, NotebookResult

from . import badge
from .causes import describe
from .header import header_lines
from .terminal import restore_lines, summary_line

MAX_BYTES = 1_000_000  # GitHub: "step summary ... up to 1MiB" (1,048,576 bytes); room left
FOLD_ROWS = 10  # a longer notebooks table is folded
TEXT_LIMIT = 300  # characters of one reason in a table
_SHOWN = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT,
          CellStatus.ERROR)


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    text = " ".join(text.split())  # a table row is one line
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def code(text: str, in_table: bool = True) -> str:
    """`text` as a code span (in a table cell: pipes escaped), whatever backticks it holds."""
    text = clip(text)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    if in_table:
        text = text.replace("|", "\\|")
    # A backtick at an edge needs a space between it and the fence; the parser strips
    # one space each side again.
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_code(text: str) -> str:
    return f"<code>{escape(clip(text))}</code>"


def _notebook_row(nb: NotebookResult) -> str:
    cell = "" if nb.failing_cell is None else str(nb.failing_cell)
    reason = nb.reason or ""
    if nb.exception and nb.exception not in reason:
        reason = f"{nb.exception}: {nb.message or ''}".rstrip(": ") + (
            f"; {reason}" if reason else "")
    return f"| {code(nb.path)} | {nb.verdict.value} | {cell} | {code(reason)} |"


def _cells_section(nb: NotebookResult) -> str:
    rows = []
    for cell in nb.cells:
        if cell.status not in _SHOWN:
            continue
        why = " \u2014 ".join(t for t in (cell.reason, cell.detail) if t)
        rows.append(f"| {cell.index} | {cell.status.value} | {code(why)} |")
    if not rows and not nb.reason and not nb.causes:
        return ""
    lines = [f"<details><summary>{html_code(nb.path)}: {nb.verdict.value}</summary>", ""]
    if nb.reason:
        lines += [code(nb.reason, in_table=False), ""]
    # each root cause once, with the cells it explains
    lines += [f"- {code(describe(nb, cause), in_table=False)}" for cause in nb.causes]
    lines += [""] if nb.causes else []
    if rows:
        lines += ["| cell | status | why |", "|---:|---|---|", *rows, ""]
    lines += ["</details>", ""]
    return "\n".join(lines)


def render(result: CheckResult, max_bytes: int = MAX_BYTES) -> str:
    mark = badge.grade(result)
    head = [f"## nbrepro: {code(result.repository.source, in_table=False)}", "",
            f"**{mark.label}: {mark.message}** \u2014 {summary_line(result)}", ""]
    env = result.environment
    if env is not None:
        head += [f"Environment: {env.backend}, Python {env.python_version or '?'}, "
                 f"sandbox {env.sandbox}{', network allowed' if env.network else ''}", ""]
    # repository text (file and folder names) stays literal: each line is a code span
    head += [f"{'**Warning:** ' if warning else ''}{code(line, in_table=False)}  "
             for line, warning in header_lines(result, full_path=False)] + [""]
    notes: list[str] = list(restore_lines(result))
    rows = [_notebook_row(nb) for nb in result.notebooks]
    used = _size(head) + 400  # the notes at the end
    table = ["| notebook | verdict | cell | reason |", "|---|---|---:|---|"]
    table_size = _size(table)
    for row in rows:
        if used + table_size + len(row.encode()) + 1 > max_bytes // 2:  # half for the cells
            break
        table.append(row)
        table_size += len(row.encode()) + 1
    kept = len(table) - 2
    if kept < len(rows):
        notes.append(f"{len(rows) - kept} more notebooks left out of the table to stay "
                     "within the size limit; the JSON and HTML reports have them all.")
    block = [*table, ""]
    if len(rows) > FOLD_ROWS:
        block = [f"<details><summary>{len(rows)} notebooks</summary>", "", *block,
                 "</details>", ""]
    parts = [*head, *block]
    if not rows:
        parts.append("No notebooks were found.\n")
    sections = [s for s in (_cells_section(nb) for nb in result.notebooks
                            if not nb.verdict.ok) if s]
    if sections:
        parts += ["### What did not reproduce", ""]
    used = _size(parts) + 400
    left_out = 0
    for section in sections:
        size = len(section.encode()) + 1
        if used + size > max_bytes:
            left_out += 1
            continue
        parts.append(section)
        used += size
    if left_out:
        notes.append(f"The cell details of {left_out} notebooks were left out to stay within "
                     "the size limit; the HTML report has them.")
    parts += [f"> {note}\n" for note in notes]
    parts.append(f"<sub>nbrepro {escape(result.nbrepro_version)}</sub>\n")
    return "\n".join(parts)


def _size(lines: list[str]) -> int:
    return sum(len(line.encode()) + 1 for line in lines)
