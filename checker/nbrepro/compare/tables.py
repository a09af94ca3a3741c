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

from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from nbrepro.compare.result import ValueContext, ValueMatch
from nbrepro.compare.tolerance import compare_text

Table = list[list[str]]


@dataclass
class ParsedTable:
    """One table: its cell texts row by row, and for each cell whether it is a
    header (`th`) and how many rows and columns it spans - for naming a cell."""

    rows: Table
    header: list[list[bool]] = field(default_factory=list)
    spans: list[list[tuple[int, int]]] = field(default_factory=list)

    def labels(self, row: int, column: int) -> tuple[str, str]:
        """(row label, column label) of the cell at `rows[row][column]`: the header
        cells of its row left of it, and the header rows' cells above it, spans
        spread out (a multi-index row is `north, 2021`)."""
        grid: dict[tuple[int, int], tuple[str, bool]] = {}
        where: tuple[int, int] | None = None
        for i, cells in enumerate(self.rows):
            g = 0
            for j, text in enumerate(cells):
                while (i, g) in grid:
                    g += 1
                rowspan, colspan = self.spans[i][j]
                text = text.split(" [", 1)[0] if rowspan > 1 or colspan > 1 else text
                for r in range(i, min(i + rowspan, len(self.rows))):
                    for c in range(g, g + colspan):
                        grid[(r, c)] = (text, self.header[i][j])
                if (i, j) == (row, column):
                    where = (i, g)
                g += colspan
        if where is None:
            return str(row), str(column)
        i, g = where
        placed = sorted(grid.items())
        header_rows = set(range(len(self.rows)))  # rows of header cells only
        for (r, _), (_, h) in placed:
            if not h:
                header_rows.discard(r)
        row_label = [t for (r, c), (t, h) in placed if r == i and c < g and h and t]
        above = [t for (r, c), (t, _) in placed if c == g and r in header_rows and t]
        return ", ".join(row_label) or str(row), ", ".join(dict.fromkeys(above)) or str(column)


def parse_tables(html: str) -> tuple[list[Table], str, str] | None:
    """(tables, visible text outside them, style text without pandas' boilerplate),
    or None when the value is not HTML a parser can read.

    Parsed with libxml2's HTML parser (lxml), so attributes are never read as text
    (a Styler's `<th id=... class="row_heading level0 row0">`), entities are
    decoded and the parse is linear in the size of the value. A table is a list of
    rows, a row a list of cell texts (whitespace collapsed, `[colspan=2]` appended
    where cells span, as multi-index headers and rows do). Tables nested in tables
    are read as text of their cell.
    """
    parsed = _parse(html)
    if parsed is None:
        return None
    tables, outside, style = parsed
    return [t.rows for t in tables], outside, style


def _parse(html: str) -> tuple[list[ParsedTable], str, str] | None:
    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    styles: list[str] = []
    for element in list(root.iter("style", "script")):
        if element.tag == "style":
            styles.append(element.text_content())
        element.drop_tree()  # keeps the text after it
    tables = [_table(table) for table in _outer_tables(root)]
    for table in _outer_tables(root):
        table.drop_tree()
    outside = _text(root.text_content())
    return tables, outside, _without_pandas_rules(" ".join(styles))


def _outer_tables(root: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    """The tables not inside another table, in document order."""
    found: list[lxml_html.HtmlElement] = []
    stack = [root]
    while stack:
        element = stack.pop()
        if element.tag == "table":
            found.append(element)
            continue
        stack.extend(reversed([c for c in element if isinstance(c.tag, str)]))
    return found


def _table(table: lxml_html.HtmlElement) -> ParsedTable:
    """The rows of one table, not descending into tables inside its cells."""
    parsed = ParsedTable([])
    stack = [c for c in reversed(table) if isinstance(c.tag, str)]
    while stack:
        element = stack.pop()
        if element.tag == "tr":
            cells = [c for c in element if c.tag in ("td", "th")]
            parsed.rows.append([_cell(c) for c in cells])
            parsed.header.append([c.tag == "th" for c in cells])
            parsed.spans.append([(_span(c, "rowspan"), _span(c, "colspan")) for c in cells])
        elif element.tag != "table":  # thead, tbody, tfoot
            stack.extend(c for c in reversed(element) if isinstance(c.tag, str))
    return parsed


_MAX_SPAN = 1000  # a crafted span must not make the label grid huge


def _span(cell: lxml_html.HtmlElement, name: str) -> int:
    value = (cell.get(name) or "1").strip()
    return min(int(value), _MAX_SPAN) if value.isdigit() and int(value) > 0 else 1


def _cell(cell: lxml_html.HtmlElement) -> str:
    spans = [
        f"{name}={value.strip()}"
        for name in ("colspan", "rowspan")
        if (value := cell.get(name)) is not None and value.strip() not in ("", "1")
    ]
    return _text(cell.text_content()) + (f" [{' '.join(spans)}]" if spans else "")


def _text(text: str) -> str:
    return " ".join(text.split())


def _without_pandas_rules(style: str) -> str:
    """CSS without pandas' own rules for `.dataframe` tables, which change with
    pandas versions; a Styler's rules (`#T_..._row0_col1 {...}`) are kept. One pass
    over the rules, split at `}`."""
    pieces = style.split("}")
    rules = [piece + "}" for piece in pieces[:-1]] + pieces[-1:]
    kept = [rule for rule in rules if ".dataframe" not in rule.partition("{")[0]]
    return " ".join(" ".join(kept).split())


def compare_html_tables(
    stored: str, new: str, mime: str, context: ValueContext
) -> ValueMatch | None:
    """Compare two HTML values that contain tables; None when not applicable."""
    if mime != "text/html" or "<table" not in stored or "<table" not in new:
        return None
    a_parsed, b_parsed = _parse(stored), _parse(new)
    if a_parsed is None or b_parsed is None:
        return None
    (a_tables, a_outside, a_style), (b_tables, b_outside, b_style) = a_parsed, b_parsed
    rules = {"dataframe-table"}
    if len(a_tables) != len(b_tables):
        return ValueMatch(False, detail=f"{len(a_tables)} tables -> {len(b_tables)}", kind="table")
    for number, (a, b) in enumerate(zip(a_tables, b_tables, strict=True), start=1):
        match = _compare_table(a, b.rows, context, number if len(a_tables) > 1 else 0)
        if not match.equal:
            return match
        rules |= match.rules
    for what, a_text, b_text in (("text", a_outside, b_outside), ("style", a_style, b_style)):
        text = compare_text(a_text, b_text, context.text, label=f"text/html {what}")
        if not text.equal:
            return ValueMatch(False, detail=text.detail, kind="table")
        rules |= text.rules
    return ValueMatch(True, rules)


def _compare_table(parsed: ParsedTable, b: Table, context: ValueContext, number: int) -> ValueMatch:
    a = parsed.rows
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
    for i, (row_a, row_b) in enumerate(zip(a, b, strict=True)):
        for j, (x, y) in enumerate(zip(row_a, row_b, strict=True)):
            text = compare_text(x, y, context.text) if x != y else None
            if text is not None and not text.equal:
                row, column = parsed.labels(i, j)
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
    """The first row removed, added or changed, from the common start and end
    (linear; see `tolerance._line_change`)."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    removed, added = len(a) - start - end, len(b) - start - end
    if removed and not added:
        return f"row {a[start][:4]} removed"
    if added and not removed:
        return f"row {b[start][:4]} added"
    if added and removed:
        return f"row {a[start][:4]} -> {b[start][:4]}"
    return "rows changed"
