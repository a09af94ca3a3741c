"""Root causes: each said once per notebook with the cells it explains, in the results
and in every report (terminal, HTML, Markdown)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from nbrepro.model import (
    CauseKind,
    CellResult,
    CellStatus,
    CheckResult,
    NotebookInfo,
    NotebookResult,
    RepositoryInfo,
    RootCause,
    Verdict,
)
from nbrepro.report import html, markdown, terminal
from nbrepro.stages.execute import CellRun, NotebookRun, Outcome
from nbrepro.stages.verdict import judge
from tests.security.helpers import write_notebook


def _result(*notebooks: NotebookResult) -> CheckResult:
    return CheckResult(repository=RepositoryInfo(source="repo"), notebooks=list(notebooks))


def _drawn() -> NotebookResult:
    return NotebookResult(
        "draws.ipynb", Verdict.DIFFERS, reason="2 cell(s) differ; first: In [2]: numbers",
        cells=[CellResult(0, CellStatus.IDENTICAL, execution_count=1),
               CellResult(1, CellStatus.DIFFERENT, execution_count=2, unseeded=["rng.rand"]),
               CellResult(3, CellStatus.DIFFERENT, execution_count=4, unseeded=["rng.rand"])],
        causes=[RootCause(CauseKind.UNSEEDED_RANDOM, "unseeded random: rng.rand", [1, 3])])


def test_causes_survive_the_json_round_trip():
    data = json.loads(json.dumps(_result(_drawn()).to_dict()))
    assert data["notebooks"][0]["causes"] == [
        {"kind": "unseeded-random", "summary": "unseeded random: rng.rand", "cells": [1, 3]}]
    back = CheckResult.from_dict(data).notebooks[0]
    assert back.causes == _drawn().causes
    assert back.causes[0].kind is CauseKind.UNSEEDED_RANDOM


def test_a_result_stored_before_causes_were_recorded_loads_without_any():
    data = _result(_drawn()).to_dict()
    del data["notebooks"][0]["causes"]
    back = CheckResult.from_dict(data).notebooks[0]
    assert back.causes == [] and back.cells[1].unseeded == ["rng.rand"]
    assert "cause: " not in terminal.render(CheckResult.from_dict(data))


def test_library_repr_changes_are_one_cause_with_their_cells(tmp_path: Path):
    path = tmp_path / "plots.ipynb"
    write_notebook(path, [
        ("print(ax)", "<AxesSubplot: xlabel='x'>\n"),
        ("print(1)", "1\n"),
        ("print(ax2)", "<AxesSubplot: ylabel='y'>\n"),
    ])
    stored = nbformat.read(path, as_version=4)
    rerun = nbformat.read(path, as_version=4)
    rerun.cells[0].outputs[0].text = "<Axes: xlabel='x'>\n"
    rerun.cells[2].outputs[0].text = "<Axes: ylabel='y'>\n"
    info = NotebookInfo(path="plots.ipynb", code_cells=3, has_outputs=True)
    run = NotebookRun(Outcome.COMPLETED, rerun, cells={i: CellRun(i, 0.1) for i in range(3)})
    result = judge(info, stored, run)
    assert result.verdict is Verdict.REPRODUCED_EQUIVALENT
    assert [(c.kind, c.cells) for c in result.causes] == [(CauseKind.LIBRARY_REPR, [0, 2])]
    assert "matplotlib" in result.causes[0].summary
    lines = [line for line in terminal.notes(_result(result)) if line.startswith("cause: ")]
    assert lines == [f"cause: plots.ipynb: {result.causes[0].summary} \u2014 In [1], In [3]"]


def test_terminal_and_markdown_say_each_cause_once_with_its_cells():
    nb = _drawn()
    text = terminal.render(_result(nb))
    assert text.count("unseeded random: rng.rand") == 1
    assert "cause: draws.ipynb: unseeded random: rng.rand \u2014 In [2], In [4]" in text
    md = markdown.render(_result(nb))
    assert md.count("unseeded random: rng.rand") == 1
    assert "- `unseeded random: rng.rand \u2014 In [2], In [4]`" in md


def test_html_lists_causes_at_the_top_of_the_section_linking_to_cell_rows():
    page = html.render(_result(_drawn()))
    section = page[page.index('<section class="notebook" id="nb-1"'):]
    causes = re.findall(r'<ul class="causes".*?</ul>', section)
    assert len(causes) == 1 and section.index(causes[0]) < section.index("<table>")
    assert causes[0].count("<li") == 1
    assert '<a href="#nb-1-cell-1">In [2]</a>, <a href="#nb-1-cell-3">In [4]</a>' in causes[0]
    # the rows the links lead to
    assert '<tr id="nb-1-cell-1" ' in section and '<tr id="nb-1-cell-3" ' in section
    assert section.count("unseeded random: rng.rand") == 1  # once in the section
    summary = page[page.index('<table class="summary"'):page.index("</table>")]
    assert "unseeded random: rng.rand" in summary  # and as the summary's first cause


def test_html_escapes_what_a_cause_quotes_from_the_repository():
    hostile = "a.ipynb rewrote <script>alert(1)</script>.csv"
    nb = NotebookResult("b<img src=x onerror=alert(1)>.ipynb", Verdict.DIFFERS,
                        reason="1 cell(s) differ",
                        cells=[CellResult(0, CellStatus.DIFFERENT, execution_count=1)],
                        causes=[RootCause(CauseKind.EARLIER_REWRITE,
                                          f"an earlier notebook rewrote an input: {hostile}",
                                          [0])])
    page = html.render(_result(nb))
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in page
    md = markdown.render(_result(nb))
    assert f"`an earlier notebook rewrote an input: {hostile} \u2014 In [1]`" in md
    # nowhere outside a code span, where a Markdown renderer shows it as text
    assert "<script>" not in re.sub(r"`[^`\n]*`", "", md)


@pytest.mark.slow
def test_a_real_check_names_two_unseeded_cells_in_one_cause(tmp_path: Path, run_cli):
    root = tmp_path / "draws"
    write_notebook(root / "draws.ipynb", [
        ("import random\nprint('ready')", "ready\n"),
        ("print(f'first: {random.random():.6f}')", "first: 0.123456\n"),
        ("print('fixed')", "fixed\n"),
        ("print(f'second: {random.random():.6f}')", "second: 0.654321\n"),
    ])
    report = tmp_path / "report.html"
    run = run_cli("check", str(root), "--html", str(report))
    nb = run.notebook("draws.ipynb")
    # both draws change again in a second run: volatile, left out of the verdict
    assert nb["verdict"] == "reproduced", nb
    assert [(c["kind"], c["cells"]) for c in nb["causes"]] == [
        ("unseeded-random", [1, 3]), ("volatile", [1, 3])]
    assert all("unseeded" not in (c["reason"] or "") for c in nb["cells"])
    lines = [line for line in run.stdout.splitlines() if line.startswith("cause: ")]
    assert lines == [
        "cause: draws.ipynb: unseeded random: random.random \u2014 In [2], In [4]",
        "cause: draws.ipynb: differs between two runs (left out of the verdict) "
        "\u2014 In [2], In [4]",
    ]
    # the sanitisers suggested for the volatile cells, under their cause
    assert "suggested sanitiser for In [2]:" in run.stdout
    assert "suggested sanitiser for In [4]:" in run.stdout
    page = report.read_text()
    assert page.count('data-cause="unseeded-random"') == 1
    assert page.count('data-cause="volatile"') == 1
    assert '<a href="#nb-1-cell-1">In [2]</a>, <a href="#nb-1-cell-3">In [4]</a>' in page


@pytest.mark.slow
def test_a_rewritten_input_is_one_cause_naming_the_file_escaped(tmp_path: Path, run_cli):
    """01 rewrites a committed file with a hostile name; 02 needs it as committed."""
    root = tmp_path / "study"
    name = "<script>alert(1)<!--.csv"
    (root / "data").mkdir(parents=True)
    (root / "data" / name).write_text("a\n1\n")
    write_notebook(root / "01_clean.ipynb", [
        (f"open('data/{name}', 'w').write('b\\n1\\n')\nprint('cleaned')", "cleaned\n"),
    ])
    write_notebook(root / "02_use.ipynb", [
        ("print('start')", "start\n"),
        (f"print(open('data/{name}').readline().strip())", "a\n"),
    ])
    report = tmp_path / "report.html"
    run = run_cli("check", str(root), "--html", str(report))
    nb = run.notebook("02_use.ipynb")
    assert nb["verdict"] == "reproduced", nb
    assert nb["causes"] == [{
        "kind": "earlier-rewrite",
        "summary": f"an earlier notebook rewrote an input: 01_clean.ipynb rewrote data/{name}",
        "cells": [1]}]
    assert run.stdout.count(f"rewrote data/{name} \u2014 In [2]") == 1
    page = report.read_text()
    assert "<script>" not in page and "<!--" not in page
    assert "rewrote data/&lt;script&gt;alert(1)&lt;!--.csv" in page
