"""Choosing notebooks: `--exclude GLOB` and `-k EXPR` (as pytest users expect), and
nbrepro's own outputs never taken for notebooks to check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nbrepro.errors import ConfigError
from nbrepro.selection import Selection, excluded_by, keyword_matcher
from tests.conftest import REPOS

PATHS = ["01_prepare.ipynb", "02_use.ipynb", "scratch/try.ipynb", "docs/tutorial/Intro.ipynb"]


@pytest.mark.parametrize(
    ("expression", "chosen"),
    [
        ("prepare", ["01_prepare.ipynb"]),
        ("PREPARE or use", ["01_prepare.ipynb", "02_use.ipynb"]),
        ("not scratch and not docs", ["01_prepare.ipynb", "02_use.ipynb"]),
        ("(intro or try) and not scratch", ["docs/tutorial/Intro.ipynb"]),
        ("ipynb and not (01 or 02)", ["scratch/try.ipynb", "docs/tutorial/Intro.ipynb"]),
    ],
)
def test_keyword_expressions_match_like_pytest(expression, chosen):
    match = keyword_matcher(expression)
    assert [p for p in PATHS if match(p)] == chosen


@pytest.mark.parametrize("expression", ["", "a and", "(a", "a)", "not", "a b", "or a"])
def test_malformed_keyword_expressions(expression):
    with pytest.raises(ConfigError, match="-k"):
        keyword_matcher(expression)


def test_exclude_globs():
    assert excluded_by("scratch/try.ipynb", ["scratch"]) == "scratch"  # a folder name
    assert excluded_by("docs/tutorial/Intro.ipynb", ["docs/**"]) == "docs/**"
    assert excluded_by("docs/tutorial/Intro.ipynb", ["docs/*"]) == "docs/*"  # the folder
    assert excluded_by("02_use.ipynb", ["0?_use.ipynb"]) == "0?_use.ipynb"
    assert excluded_by("02_use.ipynb", ["*prep*"]) is None
    assert excluded_by("docs/tutorial/Intro.ipynb", ["tutorial/*.ipynb"]) is None  # anchored
    selection = Selection(exclude=["scratch", "docs"], keyword="not prepare")
    assert [p for p in PATHS if selection.chosen(p)] == ["02_use.ipynb"]


@pytest.mark.slow
def test_exclude_and_k_choose_the_notebooks_checked(tmp_path, run_cli):
    root = tmp_path / "repo"
    shutil.copytree(REPOS / "chain", root)
    (root / "scratch").mkdir()
    shutil.copy(REPOS / "differs" / "model.ipynb", root / "scratch" / "model.ipynb")
    result = run_cli("check", str(root), "--exclude", "scratch", "-k", "prepare or use")
    assert [n["path"] for n in result.json["notebooks"]] == ["01_prepare.ipynb", "02_use.ipynb"]
    assert result.code == 0, result.stdout
    only = run_cli("check", str(root), "-k", "model")
    assert [n["path"] for n in only.json["notebooks"]] == ["scratch/model.ipynb"]
    none = run_cli("check", str(root), "-k", "nothing-matches", json_output=False)
    assert none.code == 5
    assert none.stderr.startswith("nbrepro: no notebooks found") and "-k" in none.stderr


@pytest.mark.slow
def test_output_dir_inside_the_repository_is_never_checked_next_time(tmp_path, run_cli):
    root = tmp_path / "repo"
    shutil.copytree(REPOS / "chain", root)
    first = run_cli("check", str(root), "--output-dir", str(root / "out"))
    assert len(first.json["notebooks"]) == 2
    assert (root / "out" / "rerun" / "02_use.ipynb").is_file()
    second = run_cli("check", str(root))
    assert [n["path"] for n in second.json["notebooks"]] == ["01_prepare.ipynb", "02_use.ipynb"]
    assert "left out out/" in second.stderr  # said, not silent


def test_a_marker_in_the_repository_root_hides_nothing(tmp_path):
    """A hostile repository cannot hide all its notebooks with nbrepro's marker at its
    root (an output folder is never the checked folder itself)."""
    from nbrepro.selection import OUTPUT_MARKER
    from nbrepro.stages.scan import find_notebooks

    root = Path(tmp_path)
    shutil.copy(REPOS / "chain" / "01_prepare.ipynb", root / "a.ipynb")
    (root / OUTPUT_MARKER).write_text("")
    assert find_notebooks(root) == ["a.ipynb"]
