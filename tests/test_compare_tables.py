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
