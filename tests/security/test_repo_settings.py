"""A repository cannot quietly set its own verdict (issue item 11): every setting it
supplies is recorded, a verdict those settings decided is marked in the JSON, the
terminal, the HTML report and the badge, and `--ignore-repo-config` judges by
nbrepro's defaults alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbrepro.model import CheckResult
from nbrepro.report import badge, html
from tests.security.helpers import check, write_notebook

pytestmark = pytest.mark.slow


def _repo(root: Path, settings: str) -> Path:
    repo = root / "repo"
    write_notebook(repo / "results.ipynb", [
        ("print('accuracy', 0.5)", "accuracy 0.97\n"),  # the published number was better
        ("print('n =', 10)", "n = 10\n"),
    ])
    write_notebook(repo / "honest.ipynb", [("print(2 + 2)", "4\n")])
    (repo / "pyproject.toml").write_text(settings)
    return repo


@pytest.mark.parametrize("settings", [
    "[tool.nbrepro]\nignore = ['(?s).+']\n",
    "[tool.nbrepro]\nrtol = 1e300\n",
])
def test_a_verdict_decided_by_the_repositorys_settings_is_marked(tmp_path: Path,
                                                                 settings: str) -> None:
    repo = _repo(tmp_path, settings)
    run = check(repo, tmp_path)
    assert run.result is not None, run.stderr
    setting = settings.splitlines()[1]
    assert any(setting.split(" = ")[0] in line for line in run.result["repo_settings"])

    forged = run.notebook("results.ipynb")
    assert forged["verdict"] in ("reproduced", "reproduced-equivalent")
    assert forged["verdict_without_repo_settings"] == "differs"
    assert forged["repo_settings"], forged
    assert run.result["decided_by_repo_settings"] is True
    honest = run.notebook("honest.ipynb")
    assert honest["repo_settings"] == [] and honest["verdict_without_repo_settings"] is None

    # the terminal marks the verdict and says what decided it
    assert "reproduced-equivalent*" in run.stdout or "reproduced*" in run.stdout
    assert "decided by the repository's own settings" in run.stdout
    assert "nbrepro's defaults give differs" in run.stdout
    # the HTML report and the badge say so too
    result = CheckResult.from_dict(run.result)
    page = html.render(result)
    assert 'data-repo-settings="true"' in page and "decided by the" in page
    assert badge.REPO_SETTINGS_NOTE in badge.render(result)
    assert badge.REPO_SETTINGS_NOTE in badge.endpoint_json(result.verdict, True)


def test_ignore_repo_config_judges_by_the_defaults(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "[tool.nbrepro]\nignore = ['(?s).+']\n")
    run = check(repo, tmp_path, "--ignore-repo-config")
    assert run.code == 1, run.stderr
    assert run.result is not None
    assert run.notebook("results.ipynb")["verdict"] == "differs"
    assert run.result["repo_settings"] == []
    assert any("--ignore-repo-config" in line for line in run.result["spec"]["skipped"])
