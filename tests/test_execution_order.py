"""Notebooks whose stored execution counts are not top-down: run top-down first and,
when that does not reproduce, again in stored-count order (as the published study's
pipeline ran them); the verdict says which order reproduces and both attempts are
kept. Real kernels, real notebooks (tests/fixtures/repos/out-of-order, made by
running the cells in one order and saving them in another)."""

from __future__ import annotations

import json
import shutil

import pytest

from nbrepro.check import CheckOptions, check
from nbrepro.model import CheckResult, CheckState, NotebookResult
from nbrepro.report import html, markdown
from nbrepro.report.terminal import notes
from nbrepro.stages.scan import scan_notebook
from nbrepro.store import Store
from tests.helpers.cli import REPOS, nbrepro

pytestmark = pytest.mark.slow

ORDER = REPOS / "out-of-order"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    target = tmp_path_factory.mktemp("order") / "repo"
    shutil.copytree(ORDER, target)
    return check(str(target), CheckOptions())


def _notebook(result: CheckResult, path: str) -> NotebookResult:
    return next(nb for nb in result.notebooks if nb.path == path)


def _attempts(nb: NotebookResult) -> list[tuple[str, str]]:
    return [(a.order, a.verdict.value) for a in nb.attempts]


def test_the_fixtures_are_out_of_order():
    for name in ("moved_cell.ipynb", "harmless.ipynb", "edited_too.ipynb"):
        info, _ = scan_notebook(ORDER, name)
        assert info.top_down is False, name


def test_a_moved_cell_reproduces_only_in_stored_count_order(result):
    nb = _notebook(result, "moved_cell.ipynb")
    assert nb.verdict.value == "reproduced"
    assert nb.execution_order == "stored-count"
    assert _attempts(nb) == [("top-down", "failed"), ("stored-count", "reproduced")]
    assert "NameError" in (nb.attempts[0].reason or "")
    assert nb.reason is not None and nb.reason.startswith(
        "reproduces only in stored execution-count order (the order its cells were last run "
        "in), not top-down (failed: In [2]: NameError: name 'base' is not defined)")
    assert [c.status.value for c in nb.cells] == ["identical"] * 3
    assert nb.exception is None and nb.failing_cell is None  # the kept run's, not top-down's


def test_out_of_order_but_reproducing_top_down_runs_once(result):
    nb = _notebook(result, "harmless.ipynb")
    # equivalent: the execute_result's own count is 1 top-down, 2 as stored
    assert nb.verdict.value == "reproduced-equivalent"
    assert nb.execution_order == "top-down"
    assert _attempts(nb) == [("top-down", "reproduced-equivalent")]


def test_reproducing_in_neither_order_keeps_top_down_and_both_attempts(result):
    nb = _notebook(result, "edited_too.ipynb")
    assert nb.verdict.value == "failed" and nb.exception == "NameError"
    assert nb.execution_order == "top-down"
    assert _attempts(nb) == [("top-down", "failed"), ("stored-count", "differs")]
    assert "; in stored execution-count order too: differs: 1 cell(s) differ" in (nb.reason or "")


def test_a_top_down_notebook_is_run_once_with_no_attempts_recorded(tmp_path):
    shutil.copytree(REPOS / "differs", tmp_path / "repo")
    nb = check(str(tmp_path / "repo"), CheckOptions()).notebooks[0]
    assert nb.verdict.value == "differs"
    assert (nb.execution_order, nb.attempts) == ("top-down", [])


def test_the_orders_tried_are_in_every_report_and_the_database(result, tmp_path):
    line = ("execution order: moved_cell.ipynb: its stored execution counts are out of order; "
            "ran top-down: failed; stored-count: reproduced: reproduces only in stored "
            "execution-count order")
    assert line in notes(result)
    assert ("hint: edited_too.ipynb: its stored execution counts are out of order (it was not "
            "run top to bottom before it was saved); ran top-down: failed; stored-count: "
            "differs: reproduces in neither order") in notes(result)
    assert line in html.render(result)
    assert "reproduces only in stored execution-count order" in markdown.render(result)
    store = Store(f"sqlite:///{tmp_path / 'results.sqlite'}")
    check_id = store.create_check("out-of-order", {})
    store.finish_check(check_id, CheckState.FINISHED, result)
    stored = store.get_result(check_id)
    assert stored is not None
    again = CheckResult.from_dict(json.loads(json.dumps(stored.to_dict())))
    assert _attempts(_notebook(again, "moved_cell.ipynb")) == [
        ("top-down", "failed"), ("stored-count", "reproduced")]
    assert _notebook(again, "moved_cell.ipynb").execution_order == "stored-count"


def test_the_command_line_says_which_order_reproduced(tmp_path):
    shutil.copytree(ORDER, tmp_path / "repo")
    run = nbrepro("check", str(tmp_path / "repo"), "-k", "moved", tmp=tmp_path)
    assert run.code == 0, run.stdout
    assert "ran top-down: failed; stored-count: reproduced" in " ".join(run.stdout.split())
    assert run.notebook("moved_cell.ipynb")["execution_order"] == "stored-count"
    assert [a["order"] for a in run.notebook("moved_cell.ipynb")["attempts"]] == [
        "top-down", "stored-count"]
