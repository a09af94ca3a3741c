"""DataFrame tables are parsed and compared cell by cell, not as markup."""

from __future__ import annotations

import pandas as pd

from nbrepro.compare import CompareOptions, OutputComparer
from nbrepro.compare.tables import parse_tables
from nbrepro.model import CellStatus


def cell_for(df, **options) -> dict:
    with pd.option_context(options or {"display.html.border": 1}):
        data = {"text/plain": repr(df), "text/html": df._repr_html_()}
    return {
        "cell_type": "code",
        "source": "df",
        "metadata": {},
        "execution_count": 1,
        "outputs": [
            {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": data}
        ],
    }


def compare(a: dict, b: dict, **kw):
    return OutputComparer(CompareOptions(**kw)).compare_cell(a, b)


FRAME = {
    "city": ["Oslo", "Lima", "Pune"],
    "value": [12.5, 7.25, 9.0],
    "score": [0.123, 0.456, 0.789],
}


def test_same_table_different_markup_is_equivalent():
    df = pd.DataFrame(FRAME)
    result = compare(cell_for(df), cell_for(df, **{"display.html.border": 0}))
    assert result.status is CellStatus.EQUIVALENT
    assert result.reason == "dataframe-table"


def test_last_digit_noise_in_cells_is_equivalent():
    a = pd.DataFrame({"x": [0.1, 0.7], "y": [x * 3 / 7 for x in (0.1, 0.7)]})
    b = pd.DataFrame({"x": [0.1, 0.7], "y": [x * (3 / 7) for x in (0.1, 0.7)]})
    result = compare(
        cell_for(a, **{"display.precision": 17}), cell_for(b, **{"display.precision": 17})
    )
    assert result.status is CellStatus.EQUIVALENT, result
    assert set(result.normalisers) >= {"dataframe-table"}


def test_changed_cell_names_row_and_column():
    changed = dict(FRAME, score=[0.123, 0.456, 0.791])
    result = compare(cell_for(pd.DataFrame(FRAME)), cell_for(pd.DataFrame(changed)))
    assert result.status is CellStatus.DIFFERENT
    assert "row '2', column 'score'" in result.detail
    assert "0.789 -> 0.791" in result.detail


def test_added_row_and_column_change_the_shape():
    df = pd.DataFrame(FRAME)
    more = pd.concat([df, pd.DataFrame({"city": ["Riga"], "value": [1.0], "score": [0.5]})])
    row = compare(cell_for(df), cell_for(more.reset_index(drop=True)))
    assert row.status is CellStatus.DIFFERENT and "4 rows" in row.detail and "5 rows" in row.detail
    wider = compare(cell_for(df), cell_for(df.assign(extra=1)))
    assert wider.status is CellStatus.DIFFERENT


def test_text_outside_the_table_is_compared():
    big = pd.DataFrame({"a": range(100)})
    small = pd.DataFrame({"a": range(99)})
    with pd.option_context("display.max_rows", 10):
        result = compare(cell_for(big), cell_for(small))
    assert result.status is CellStatus.DIFFERENT


def test_switched_off_tables_compare_as_html_text():
    df = pd.DataFrame(FRAME)
    options = CompareOptions().without("dataframe-table")
    result = OutputComparer(options).compare_cell(
        cell_for(df), cell_for(df, **{"display.html.border": 0})
    )
    assert result.status is CellStatus.DIFFERENT


def test_parse_tables_ignores_pandas_style_boilerplate():
    tables, outside, style = parse_tables(pd.DataFrame(FRAME)._repr_html_())
    assert tables[0][0] == ["", "city", "value", "score"]
    assert tables[0][1] == ["0", "Oslo", "12.50", "0.123"]
    assert style == "" and outside == ""


def styler_cell(df, **format_options) -> dict:
    styler = df.style.highlight_max(color="yellow").format(**format_options)
    data = {"text/plain": "<pandas.io.formats.style.Styler at 0x7f3a2c1d9e50>",
            "text/html": styler._repr_html_()}  # fmt: skip
    return {"cell_type": "code", "source": "df.style", "metadata": {}, "execution_count": 1,
            "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                         "data": data}]}  # fmt: skip


def test_styler_table_compares_as_cells_not_attributes():
    """A Styler's cells carry ids and classes; after its random ids are renamed
    (`<id-1>`), the cells must still be read as cells, named by their labels."""
    df = pd.DataFrame(FRAME)
    changed = pd.DataFrame(dict(FRAME, score=[0.123, 0.456, 0.791]))
    tables, _, style = parse_tables(df.style.highlight_max(color="yellow")._repr_html_())
    assert tables[0][0] == ["", "city", "value", "score"]
    assert tables[0][3][:2] == ["2", "Pune"] and "yellow" in style
    same = compare(styler_cell(df, precision=3), styler_cell(df, precision=3))
    assert same.status is CellStatus.EQUIVALENT, same.detail
    result = compare(styler_cell(df, precision=3), styler_cell(changed, precision=3))
    assert result.status is CellStatus.DIFFERENT
    assert "table row '2', column 'score': '0.789' -> '0.791'" in result.detail
    assert "class=" not in result.detail


def test_multi_index_rows_and_columns_are_named_by_all_their_levels():
    index = pd.MultiIndex.from_product([["north", "south"], [2020, 2021]], names=["r", "y"])
    df = pd.DataFrame({"v": [1.25, 1.5, 2.5, 3.0]}, index=index)
    changed = df.copy()
    changed.loc[("north", 2021), "v"] = 1.75
    result = compare(cell_for(df), cell_for(changed, **{"display.html.border": 0}))
    assert result.status is CellStatus.DIFFERENT
    assert "table row 'north, 2021', column 'v'" in result.detail
    assert compare(cell_for(df), cell_for(df, **{"display.html.border": 0})).reason == (
        "dataframe-table"
    )


def test_unparseable_html_is_compared_as_text():
    stored = {"cell_type": "code", "source": "", "metadata": {}, "outputs": [
        {"output_type": "display_data", "metadata": {},
         "data": {"text/html": "<?xml version='1.0' encoding='utf-8'?><table>1</table>"}}]}
    new = {**stored, "outputs": [{**stored["outputs"][0], "data": {
        "text/html": "<?xml version='1.0' encoding='utf-8'?><table>2</table>"}}]}  # fmt: skip
    assert compare(stored, new).status is CellStatus.DIFFERENT
