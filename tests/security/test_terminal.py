"""Untrusted text reaches the terminal as text (issue item 15): a notebook named
`x[/y].ipynb` is not rich markup (a closing tag that aborted the run), and escape
sequences in names and error messages do not drive the user's terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from nbrepro.model import CheckResult, NotebookResult, RepositoryInfo, Verdict
from nbrepro.report.terminal import plain, print_report
from tests.security.helpers import check, write_notebook

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"


def test_plain_writes_control_characters_out() -> None:
    assert plain("a\x1b[2Jb\x07c\u202ed\tok\n") == "a\\x1b[2Jb\\x07c\\u202ed\tok\n"
    assert plain("x[/y].ipynb") == "x[/y].ipynb"


def test_the_report_prints_names_and_reasons_as_text() -> None:
    result = CheckResult(repository=RepositoryInfo(source=f"repo{ESCAPES}[/bold]"))
    result.notebooks = [NotebookResult(path="x[/y].ipynb", verdict=Verdict.FAILED,
                                       exception="Error[/red]", reason=f"boom{ESCAPES}")]
    console = Console(record=True, width=200, force_terminal=False)
    print_report(result, console)
    shown = console.export_text()
    assert "x[/y].ipynb" in shown and "Error[/red]" in shown
    assert "\x1b" not in shown and "\x07" not in shown


@pytest.mark.slow
def test_a_check_of_such_notebooks_runs_to_the_end(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_notebook(repo / "x[" / "y].ipynb", [("print(6 * 7)", "42\n")])
    write_notebook(repo / f"b{ESCAPES}.ipynb", [(f"raise ValueError({ESCAPES!r})", None)])
    run = check(repo, tmp_path)  # not quiet: the progress lines name every notebook
    assert run.code == 1, run.stderr  # not 3 (MarkupError)
    assert "x[/y].ipynb" in run.stdout
    assert "\x1b" not in run.stdout and "\x07" not in run.stdout
    assert "\x1b" not in run.stderr
    assert run.notebook("x[/y].ipynb")["verdict"] == "reproduced"
