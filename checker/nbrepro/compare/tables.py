"""HTML tables (pandas DataFrames) compared cell by cell, not by their markup.

pandas changes its table markup between versions (`<tr style="text-align:
right;">`, the `<style scoped>` block, border attributes) while the numbers stay;
and a float that moved in its last digit changes the markup's text. So tables are
parsed and compared as grids of cell texts, each cell with the same token rules
as any text (`tolerance`): numbers within tolerance, timestamps of the run.
Text outside the tables (`5 rows x 3 columns`) and non-boilerplate styles (a
Styler's colours) are compared too.
"""

from __future__ import annotations

import difflib
import html as html_lib
import re

from .result import ValueContext, ValueMatch
from .tolerance import compare_text

Table = list[list[str]]


_BLOCK = re.compile(r"<(style|script)\b[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
_TABLE = re.compile(r"<table\b[^>]*>(.*?)</table\s*>", re.DOTALL | re.IGNORECASE)
_ROW = re.compile(r"<tr\b[^>]*>(.*?)(?=<tr\b|</tr\s*>|$)", re.DOTALL | re.IGNORECASE)
_CELL = re.compile(
    r"<t([dh])\b([^>]*)>(.*?)(?=<t[dh]\b|</t[dh]\s*>|</tr\s*>|$)", re.DOTALL | re.IGNORECASE
)
_SPAN = re.compile(r"""\b(colspan|rowspan)\s*=\s*["']?(\d+)""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
# pandas' own `<style scoped>` rules for `.dataframe` tables, which change with
# pandas versions; a Styler's rules (`#T_..._row0_col1 {...}`) are kept.
_PANDAS_STYLE = re.compile(r"[^{}]*\.dataframe[^{}]*\{[^{}]*\}")


def parse_tables(html: str) -> tuple[list[Table], str, str]:
    """(tables, visible text outside them, style text without pandas' boilerplate).

    A table is a list of rows, a row a list of cell texts (whitespace collapsed,
    entities decoded, `[colspan=2]` appended where cells span). Tables nested in
    tables are read as text of their cell.
    """
    styles: list[str] = []

    def drop_block(m: re.Match[str]) -> str:
        if m[1].lower() == "style":
            styles.append(m[2])
        return " "

    html = _BLOCK.sub(drop_block, html)
    tables = [_rows(m[1]) for m in _TABLE.finditer(html)]
    outside = _text(_TABLE.sub(" ", html))
    style = _PANDAS_STYLE.sub("", " ".join(styles))
    return tables, outside, " ".join(style.split())


def _rows(table: str) -> Table:
    rows = []
    for row in _ROW.finditer(table):
        cells = []
        for cell in _CELL.finditer(row[1]):
            spans = [f"{k.lower()}={v}" for k, v in _SPAN.findall(cell[2]) if v != "1"]
            cells.append(_text(cell[3]) + (f" [{' '.join(spans)}]" if spans else ""))
        rows.append(cells)
    return rows


def _text(fragment: str) -> str:
    return " ".join(html_lib.unescape(_TAG.sub(" ", fragment)).split())


def compare_html_tables(
    stored: str, new: str, mime: str, context: ValueContext
) -> ValueMatch | None:
    """Compare two HTML values that contain tables; None when not applicable."""
    if mime != "text/html" or "<table" not in stored or "<table" not in new:
        return None
    a_tables, a_outside, a_style = parse_tables(stored)
    b_tables, b_outside, b_style = parse_tables(new)
    rules = {"dataframe-table"}
    if len(a_tables) != len(b_tables):
        return ValueMatch(False, detail=f"{len(a_tables)} tables -> {len(b_tables)}", kind="table")
    for number, (a, b) in enumerate(zip(a_tables, b_tables, strict=True), start=1):
        match = _compare_table(a, b, context, number if len(a_tables) > 1 else 0)
        if not match.equal:
            return match
        rules |= match.rules
    for what, a_text, b_text in (("text", a_outside, b_outside), ("style", a_style, b_style)):
        text = compare_text(a_text, b_text, context.text, label=f"text/html {what}")
        if not text.equal:
            return ValueMatch(False, detail=text.detail, kind="table")
        rules |= text.rules
    return ValueMatch(True, rules)


def _compare_table(a: Table, b: Table, context: ValueContext, number: int) -> ValueMatch:
    name = f"table {number}" if number else "table"
    if [len(r) for r in a] != [len(r) for r in b]:
        return ValueMatch(
            False, detail=f"{name}: {_shape(a)} -> {_shape(b)}; {_row_change(a, b)}", kind="table"
        )
    joined = compare_text(
        "\n".join(map(_SEPARATOR.join, a)), "\n".join(map(_SEPARATOR.join, b)), context.text
    )
    if joined.equal:
        return ValueMatch(True, joined.rules)
    header = a[0] if a else []
    for i, (row_a, row_b) in enumerate(zip(a, b, strict=True)):
        for j, (x, y) in enumerate(zip(row_a, row_b, strict=True)):
            text = compare_text(x, y, context.text) if x != y else None
            if text is not None and not text.equal:
                column = header[j] if j < len(header) and i > 0 else str(j)
                row = row_a[0] if row_a and j > 0 else str(i)
                detail = f"{name} row {row!r}, column {column!r}: {text.detail}".replace(
                    "line 1: ", ""
                )
                return ValueMatch(False, detail=detail, kind=text.kind or "table")
    # every cell matches alone but not together (spacing): say so plainly
    return ValueMatch(False, detail=f"{name}: {joined.detail}", kind="table")


_SEPARATOR = " \x1f "  # between cells: a token no cell text contains


def _shape(table: Table) -> str:
    columns = max((len(r) for r in table), default=0)
    return f"{len(table)} rows x {columns} columns"


def _row_change(a: Table, b: Table) -> str:
    matcher = difflib.SequenceMatcher(
        a=[tuple(r) for r in a], b=[tuple(r) for r in b], autojunk=False
    )
    for tag, i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag == "delete":
            return f"row {a[i1][:4]} removed"
        if tag == "insert":
            return f"row {b[j1][:4]} added"
        if tag == "replace":
            return f"row {a[i1][:4]} -> {b[j1][:4]}"
    return "rows changed"
