"""Git sources: a branch, tag or commit (`URL@REF`), a subfolder (`--subdir`, pip's
`#subdirectory=`), and git's whole reason when it fails. Real git, local bare repos."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from nbrepro.errors import InputError
from nbrepro.stages.source import open_source, parse_source
from tests.conftest import REPOS

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c",
       "init.defaultBranch=main"]


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> dict[str, str]:
    """A bare repository: v1 (tag) has chain/ at the root; main then moves the
    notebooks into analysis/ and adds a branch `feature` with one more notebook."""
    work = tmp_path / "work"
    shutil.copytree(REPOS / "chain", work)
    _git("init", "-q", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "v1", cwd=work)
    _git("tag", "-a", "v1", "-m", "first", cwd=work)
    first = _git("rev-parse", "HEAD", cwd=work)
    (work / "analysis").mkdir()
    for nb in work.glob("*.ipynb"):
        nb.rename(work / "analysis" / nb.name)
    _git("add", "-A", cwd=work)
    _git("commit", "-qm", "move", cwd=work)
    main = _git("rev-parse", "HEAD", cwd=work)
    _git("checkout", "-qb", "feature", cwd=work)
    shutil.copy(REPOS / "reproduces" / "analysis.ipynb", work / "analysis" / "extra.ipynb")
    _git("add", "-A", cwd=work)
    _git("commit", "-qm", "feature", cwd=work)
    feature = _git("rev-parse", "HEAD", cwd=work)
    _git("checkout", "-q", "main", cwd=work)
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return {"url": f"file://{bare}", "first": first, "main": main, "feature": feature}


def _notebooks(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.ipynb"))


def test_default_branch_ref_tag_commit_and_short_commit(origin):
    url = origin["url"]
    head = open_source(url)
    assert head.info.commit == origin["main"] and head.info.ref is None
    assert _notebooks(head.root) == ["analysis/01_prepare.ipynb", "analysis/02_use.ipynb"]

    tag = open_source(f"{url}@v1")
    assert tag.info.commit == origin["first"] and tag.info.ref == "v1"
    assert _notebooks(tag.root) == ["01_prepare.ipynb", "02_use.ipynb"]

    branch = open_source(f"git+{url}@feature")
    assert branch.info.commit == origin["feature"]
    assert "analysis/extra.ipynb" in _notebooks(branch.root)

    assert open_source(f"{url}@{origin['first']}").info.commit == origin["first"]
    assert open_source(f"{url}@{origin['first'][:8]}").info.commit == origin["first"]


def test_subfolder_by_option_or_pip_fragment(origin):
    url = origin["url"]
    by_option = open_source(url, subdir="analysis")
    assert by_option.root.name == "analysis" and by_option.info.subdir == "analysis"
    assert _notebooks(by_option.root) == ["01_prepare.ipynb", "02_use.ipynb"]
    by_fragment = open_source(f"git+{url}@feature#egg=x&subdirectory=analysis")
    assert by_fragment.info.subdir == "analysis" and by_fragment.info.ref == "feature"
    assert "extra.ipynb" in _notebooks(by_fragment.root)
    with pytest.raises(InputError, match="no folder docs"):
        open_source(url, subdir="docs")
    with pytest.raises(InputError, match="contradicts"):
        parse_source(f"{url}#subdirectory=a", subdir="b")


def test_unknown_ref_quotes_gits_reason(origin):
    with pytest.raises(InputError) as error:
        open_source(f"{origin['url']}@no-such-branch")
    message = str(error.value)
    assert message.startswith(f"cannot check out no-such-branch from {origin['url']}: ")
    assert "no-such-branch" in message.split(": ", 1)[1]


def test_a_ref_cannot_smuggle_an_option_to_git(origin, tmp_path):
    evil = tmp_path / "pwned"
    with pytest.raises(InputError, match="not a branch, tag or commit"):
        open_source(f"{origin['url']}@--upload-pack=touch${{IFS}}{evil}")
    assert not evil.exists()


def test_whole_reason_of_git_on_one_line(run_cli, tmp_path):
    url = f"file://{tmp_path}/nowhere.git"
    result = run_cli("check", url, json_output=False)
    assert result.code == 2
    line = result.stderr.strip()
    assert "\n" not in line
    # every statement git made, not only its last line
    assert "does not appear to be a git repository" in line
    assert "Could not read from remote repository" in line
    assert line.endswith("and the repository exists.")


@pytest.mark.slow
def test_check_of_a_tag_in_a_subfolder_records_both(origin, run_cli):
    result = run_cli("check", f"{origin['url']}@feature", "--subdir", "analysis")
    assert result.code == 0, result.stdout + result.stderr
    repo = result.json["repository"]
    assert (repo["commit"], repo["ref"], repo["subdir"]) == (origin["feature"], "feature",
                                                             "analysis")
    assert [n["path"] for n in result.json["notebooks"]] == [
        "01_prepare.ipynb", "02_use.ipynb", "extra.ipynb"]


@pytest.fixture
def deps_repo(tmp_path: Path) -> Path:
    """A git repository as researchers lay them out: dependency files at the root,
    notebooks in `notebooks/`, one more notebook at the root."""
    work = tmp_path / "study"
    shutil.copytree(REPOS / "with-deps", work)
    (work / "notebooks").mkdir()
    (work / "six_version.ipynb").rename(work / "notebooks" / "six_version.ipynb")
    shutil.copy(REPOS / "reproduces" / "analysis.ipynb", work / "overview.ipynb")
    _git("init", "-q", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "study", cwd=work)
    return work


def test_a_folder_inside_a_repository_is_checked_with_the_repositorys_root(deps_repo):
    src = open_source(str(deps_repo / "notebooks"))
    assert src.root == deps_repo  # where requirements.txt is
    assert src.scope == "notebooks" and src.selected is None
    assert src.info.path == str(deps_repo) and src.info.subdir == "notebooks"
    assert src.info.commit == _git("rev-parse", "HEAD", cwd=deps_repo)
    # deeper folders too, named from the root
    (deps_repo / "notebooks" / "extra").mkdir()
    assert open_source(str(deps_repo / "notebooks" / "extra")).scope == "notebooks/extra"
    # the repository's own root is the whole repository
    whole = open_source(str(deps_repo))
    assert (whole.root, whole.scope, whole.info.subdir) == (deps_repo, None, None)


def test_a_folders_repository_is_looked_for_no_higher_than_within(deps_repo):
    folder = deps_repo / "notebooks"
    src = open_source(str(folder), within=folder)
    assert (src.root, src.scope) == (folder, None)
    assert open_source(str(folder), within=deps_repo).root == deps_repo


def test_a_folder_outside_any_repository_is_its_own_root(tmp_path):
    folder = tmp_path / "plain" / "notebooks"
    shutil.copytree(REPOS / "reproduces", folder)
    src = open_source(str(folder))
    assert (src.root, src.scope, src.info.subdir) == (folder, None, None)


def test_a_folder_in_a_home_kept_in_git_never_takes_the_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)
    folder = home / "projects" / "study"
    shutil.copytree(REPOS / "reproduces", folder)
    monkeypatch.setenv("HOME", str(home))
    src = open_source(str(folder))
    assert (src.root, src.scope) == (folder, None)


def test_subdir_keeps_pips_meaning_the_project_is_in_that_folder(deps_repo):
    src = open_source(str(deps_repo), subdir="notebooks")
    assert (src.root, src.scope) == (deps_repo / "notebooks", None)
