"""`pytest --nbrepro`: the plugin run by pytest itself (pytester, in a subprocess) on a
repository made of the fixture repositories' notebooks, with `-k`, `-x`,
`--junitxml` and pytest-xdist; and the session that prepares one environment for
all of them."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from nbrepro.model import NotebookInfo
from tests.helpers.cli import REPOS

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

# pytester gives each run a HOME of its own: keep uv's package cache where it is.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
# Until the installed distribution declares the entry point, load the plugin by name.
REGISTERED = any(ep.name == "nbrepro" for ep in entry_points(group="pytest11"))
PLUGIN = [] if REGISTERED else ["-p", "nbrepro.pytest_plugin"]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A repository with one notebook per outcome, a skip rule in its
    `[tool.nbrepro]`, two notebooks that depend on each other, and a plain test."""
    monkeypatch.setenv("UV_CACHE_DIR", UV_CACHE)
    root = pytester.path
    shutil.copy(REPOS / "reproduces" / "analysis.ipynb", root / "analysis.ipynb")
    shutil.copy(REPOS / "differs" / "model.ipynb", root / "model.ipynb")
    shutil.copy(REPOS / "invalid" / "broken_json.ipynb", root / "broken.ipynb")
    shutil.copytree(REPOS / "markers" / "skipped", root / "slow")
    shutil.copytree(REPOS / "chain", root / "chain")
    (root / "pyproject.toml").write_text(
        '[tool.nbrepro.notebooks."slow/*.ipynb"]\nskip = true\n')
    (root / ".ipynb_checkpoints").mkdir()
    shutil.copy(REPOS / "differs" / "model.ipynb", root / ".ipynb_checkpoints" / "model.ipynb")
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "-rs", *args,
                                        timeout=900)


def test_off_unless_asked_for(project):
    result = run(project)
    result.assert_outcomes(passed=1)  # only the plain test: no notebook collected


def test_one_item_per_notebook_with_reasons_and_junit(project):
    junit = project.path / "junit.xml"
    result = run(project, "--nbrepro", "--nbrepro-cell-timeout", "120", f"--junitxml={junit}",
                 "-v")
    # analysis and the chain (02 reads what 01 wrote: one scratch copy, test order) pass;
    # the edited model fails; the broken file and the [tool.nbrepro] skip are skipped.
    result.assert_outcomes(passed=4, failed=1, skipped=2)
    result.stdout.fnmatch_lines([
        "*analysis.ipynb::analysis.ipynb PASSED*",
        "*chain/02_use.ipynb::02_use.ipynb PASSED*",
        "*model.ipynb::model.ipynb FAILED*",
    ])
    # the failure's report: the reason and the cells that differ, no traceback
    result.stdout.fnmatch_lines([
        "*_ notebook model.ipynb _*",
        "model.ipynb: differs",
        # a second run (by default for a notebook that differs) gave the same output
        "1 cell(s) differ (the same in a second run); first: In ?2?: text/plain line 1: "
        "'42' -> '43'*",
        "cell 1: different: numbers - text/plain line 1: '42' -> '43'*",
    ])
    assert "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines(["SKIPPED ?1? broken.ipynb:1: not checked: not valid JSON*",
                                 "SKIPPED ?1? slow/never.ipynb:1: not checked: skipped by "
                                 "?tool.nbrepro? in pyproject.toml"])
    assert ".ipynb_checkpoints" not in result.stdout.str()

    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"analysis.ipynb", "model.ipynb", "broken.ipynb", "never.ipynb",
                          "01_prepare.ipynb", "02_use.ipynb", "test_plain"}
    failure = cases["model.ipynb"].find("failure")
    assert failure is not None and "cell 1: different" in failure.text
    verdicts = {c.get("name"): p.get("value") for c in cases.values()
                for p in c.iter("property") if p.get("name") == "nbrepro_verdict"}
    assert verdicts["model.ipynb"] == "differs" and verdicts["analysis.ipynb"] == "reproduced"


def test_keyword_selection_and_exitfirst(project):
    only = run(project, "--nbrepro", "-k", "analysis")
    only.assert_outcomes(passed=1, deselected=6)
    first = run(project, "--nbrepro", "-x")
    # collection order: analysis, broken, chain/01, chain/02, model (fails: stop)
    first.assert_outcomes(passed=3, failed=1, skipped=1)
    first.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_runs_under_xdist(project):
    result = run(project, "--nbrepro", "-n", "2", "-k", "not chain")
    result.assert_outcomes(passed=2, failed=1, skipped=2)
    result.stdout.fnmatch_lines(["*model.ipynb*", "*differs*"])


def test_a_session_prepares_one_environment_for_all_its_notebooks(tmp_path, monkeypatch):
    import nbrepro.check as pipeline

    root = tmp_path / "repo"
    shutil.copytree(REPOS / "chain", root)
    shutil.copy(REPOS / "differs" / "model.ipynb", root / "model.ipynb")
    calls: list[list[str]] = []
    real = pipeline._prepare

    def counting(*args, **kwargs):
        infos = next(a for a in args if isinstance(a, list) and a
                     and all(isinstance(i, NotebookInfo) for i in a))
        calls.append([info.path for info in infos])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_prepare", counting)
    paths = ["01_prepare.ipynb", "02_use.ipynb", "model.ipynb"]
    with pipeline.NotebookSession(root, paths) as session:
        verdicts = [session.check_notebook(p).verdict.value for p in paths]
        scratch = session._scratch_dirs[0]
        assert scratch.is_dir()
    assert verdicts == ["reproduced", "reproduced", "differs"]
    assert calls == [paths]  # resolved and built once, for every notebook it will run
    assert not scratch.exists()  # closed: the scratch copy is gone
    assert not (root / "intermediate.txt").exists()  # the user's files were not touched
