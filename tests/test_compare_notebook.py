"""Whole notebooks: pairing, the nbdime-format diff, and a real noise-only re-run."""

from __future__ import annotations

import copy

import nbformat
import pytest

from nbrepro.compare import CompareOptions, compare_notebook
from nbrepro.compare.nbdime_format import cell_diff
from nbrepro.compare.pairing import pair_cells
from nbrepro.model import CellStatus, NotebookInfo, Verdict
from tests.fixtures.compare import make_fixtures


def code(source: str, *texts: str, count: int | None = 1) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, execution_count=count)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in texts]
    return cell


def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_cells_are_paired_by_index_when_sources_match():
    stored = notebook(nbformat.v4.new_markdown_cell("# t"), code("a", "1\n"), code("b", "2\n"))
    pairs, how = pair_cells(stored, copy.deepcopy(stored))
    assert how == "index" and [(p.stored, p.new) for p in pairs] == [(1, 1), (2, 2)]


def test_alignment_when_cells_were_added_removed_or_edited():
    stored = notebook(code("a", "1\n"), code("b", "2\n"), code("c", "3\n"), code("d", "4\n"))
    new = notebook(code("a", "1\n"), code("new", "9\n"), code("b", "2\n"), code("c2", "3\n"))
    result = compare_notebook(stored, new)
    assert result.paired_by == "alignment"
    by_pair = {(c.stored_index, c.new_index): c.comparison for c in result.cells}
    assert by_pair[(0, 0)].status is CellStatus.IDENTICAL
    assert by_pair[(1, 2)].status is CellStatus.IDENTICAL
    assert by_pair[(None, 1)].status is CellStatus.EXTRA_OUTPUT
    assert by_pair[(2, 3)].status is CellStatus.IDENTICAL  # edited source, same output
    assert by_pair[(3, None)].status is CellStatus.MISSING_OUTPUT


CELL_PAIRS = [
    (code("x", "a\nb\nc\n"), code("x", "a\nB\nc\nd\n", count=2)),
    (code("x", "one\n", "two\n"), code("x", "one\n")),
    (code("x"), code("x", "new\n")),
]


@pytest.mark.parametrize(("stored", "new"), CELL_PAIRS)
def test_cell_diff_is_a_valid_nbdime_diff_that_patches_stored_into_new(stored, new):
    import nbdime
    from nbdime.diff_format import validate_diff
    from nbdime.diff_utils import to_diffentry_dicts

    diff = to_diffentry_dicts(cell_diff(stored, new))  # what the JSON reads back as
    validate_diff(diff, deep=True)
    patched = nbdime.patch(stored, diff)
    assert patched["outputs"] == new["outputs"]
    assert patched["execution_count"] == new["execution_count"]


def test_notebook_diff_patches_with_nbdime_including_images_and_errors():
    import nbdime
    stored = notebook(
        code("a", "1\n"),
        nbformat.v4.new_code_cell(
            "plot()",
            execution_count=2,
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"text/plain": "<Figure>", "image/png": "AAAA\n"}
                )
            ],
        ),
        nbformat.v4.new_code_cell(
            "boom()",
            execution_count=3,
            outputs=[
                nbformat.v4.new_output("error", ename="ValueError", evalue="x", traceback=["tb"])
            ],
        ),
    )
    new = copy.deepcopy(stored)
    new.cells[0].outputs[0]["text"] = "2\n"
    new.cells[1].outputs[0]["data"]["image/png"] = "BBBB\n"
    new.cells[2].outputs[0]["ename"] = "KeyError"
    from nbdime.diff_utils import to_diffentry_dicts

    result = compare_notebook(stored, new, CompareOptions())
    patched = nbdime.patch_notebook(stored, to_diffentry_dicts(result.nbdime_diff()))
    assert [c.outputs for c in patched.cells] == [c.outputs for c in new.cells]
    assert nbdime.diff_notebooks(patched, new) == []


def test_identical_notebook_has_an_empty_diff():
    stored = notebook(code("a", "1\n"))
    assert compare_notebook(stored, copy.deepcopy(stored)).nbdime_diff() == []


def test_rerun_with_only_noise_is_reproduced_equivalent_with_the_right_reasons():
    """End to end: the stored fixture was executed in an "old" environment; here it
    is executed again in a "new" one, compared, and judged by the pipeline's verdict."""
    from nbrepro.stages.execute import CellRun, NotebookRun, Outcome
    from nbrepro.stages.verdict import judge

    stored = nbformat.read(make_fixtures.NOTEBOOK, as_version=4)
    fresh = make_fixtures.notebook()
    rerun = make_fixtures.execute(fresh, make_fixtures.LIB_V2)

    comparison = compare_notebook(stored, rerun)
    reasons = {c.stored_index: c.comparison.reason for c in comparison.cells}
    statuses = {c.stored_index: c.comparison.status for c in comparison.cells}
    for index, (_, expected) in enumerate(make_fixtures.CELLS):
        if expected is None:
            assert statuses[index] is CellStatus.IDENTICAL, (index, comparison.cells[index])
        else:
            assert statuses[index] is CellStatus.EQUIVALENT, (index, comparison.cells[index])
            assert reasons[index] == expected, index
    assert comparison.warnings == ["FutureWarning: load() will return a float"]

    info = NotebookInfo(
        path="noise_only.ipynb",
        cells=len(stored.cells),
        code_cells=len(stored.cells),
        has_outputs=True,
    )
    run = NotebookRun(
        Outcome.COMPLETED, rerun, cells={i: CellRun(i, 0.01) for i in range(len(stored.cells))}
    )
    result = judge(info, stored, run)
    assert result.verdict is Verdict.REPRODUCED_EQUIVALENT, result.reason
    assert "memory-address" in result.reason and "timestamp" in result.reason
