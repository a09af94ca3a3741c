"""HTML tables (pandas DataFrames) compared cell by cell, not by their markup.

pandas changes its table markup between versions (`<tr style="text-align:
right;">`, the `<style scoped>` block, border attributes) while the numbers stay;
and a float that moved in its last digit changes the markup's text. So tables are
parsed and compared as grids of cell texts, each cell with the same token rules
as any text (`tolerance`): numbers within tolerance, timestamps of the run.
Text outside the tables (`5 rows × 3 columns`) and non-boilerplate styles (a
Styler's colours) are compared too.
"""

from __future__ import annotations

import difflib
import re
from html.parser import HTMLParser

from .result import ValueContext, ValueMatch
from .tolerance import compare_text

Table = list[list[str]]


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.outside: list[str] = []
        self.styles: list[str] = []
        self._depth = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._span = ""
        self._in: str | None = None  # inside <style> or <script>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._in = tag
        elif tag == "table":
            self._depth += 1
            if self._depth == 1:
                self.tables.append([])
        elif self._depth == 1 and tag == "tr":
            self._row = []
            self.tables[-1].append(self._row)
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None:
            self._cell = []
            spans = [f"{k}={v}" for k, v in attrs if k in ("colspan", "rowspan") and v != "1"]
            self._span = f" [{' '.join(spans)}]" if spans else ""
        elif tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._in = None
        elif tag == "table":
            self._depth = max(0, self._depth - 1)
        elif self._depth == 1 and tag in ("td", "th") and self._cell is not None:
            assert self._row is not None
            self._row.append(" ".join("".join(self._cell).split()) + self._span)
            self._cell = None
        elif self._depth == 1 and tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "script":
            return
        elif self._cell is not None:
            self._cell.append(data)
        elif self._depth == 0:
            self.outside.append(data)


def parse_tables(html: str) -> tuple[list[Table], str, str]:
    """(tables, visible text outside them, style text without pandas' boilerplate)."""
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    outside = " ".join(" ".join(parser.outside).split())
    styles = _PANDAS_STYLE.sub("", " ".join(parser.styles))
    return parser.tables, outside, " ".join(styles.split())


# pandas' own `<style scoped>` rules for `.dataframe` tables, which change with
# pandas versions; a Styler's rules (`#T_..._row0_col1 {...}`) are kept.
_PANDAS_STYLE = re.compile(r"[^{}]*\.dataframe[^{}]*\{[^{}]*\}")


def compare_html_tables(stored: str, new: str, mime: str, context: ValueContext) -> ValueMatch | None:
    """Compare two HTML values that contain tables; None when not applicable."""
    if mime != "text/html" or "<table" not in stored or "<table" not in new:
        return None
    a_tables, a_outside, a_style = parse_tables(stored)
    b_tables, b_outside, b_style = parse_tables(new)
    rules = {"dataframe-table"}
    if len(a_tables) != len(b_tables):
        return ValueMatch(False, detail=f"{len(a_tables)} tables -> {len(b_tables)}", kind="table")
    for number, (a, b) in enumerate(zip(a_tables, b_tables), start=1):
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
        return ValueMatch(False, detail=f"{name}: {_shape(a)} -> {_shape(b)}; {_row_change(a, b)}",
                          kind="table")
    header = a[0] if a else []
    rules: set[str] = set()
    for i, (row_a, row_b) in enumerate(zip(a, b)):
        for j, (x, y) in enumerate(zip(row_a, row_b)):
            if x == y:
                continue
            text = compare_text(x, y, context.text)
            if not text.equal:
                column = header[j] if j < len(header) and i > 0 else str(j)
                row = row_a[0] if row_a and j > 0 else str(i)
                detail = f"{name} row {row!r}, column {column!r}: {text.detail}".replace(
                    "line 1: ", ""
                )
                return ValueMatch(False, detail=detail, kind=text.kind or "table")
            rules |= text.rules
    return ValueMatch(True, rules)


def _shape(table: Table) -> str:
    columns = max((len(r) for r in table), default=0)
    return f"{len(table)} rows x {columns} columns"


def _row_change(a: Table, b: Table) -> str:
    matcher = difflib.SequenceMatcher(a=[tuple(r) for r in a], b=[tuple(r) for r in b],
                                      autojunk=False)
    for tag, i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag == "delete":
            return f"row {a[i1][:4]} removed"
        if tag == "insert":
            return f"row {b[j1][:4]} added"
        if tag == "replace":
            return f"row {a[i1][:4]} -> {b[j1][:4]}"
    return "rows changed"
