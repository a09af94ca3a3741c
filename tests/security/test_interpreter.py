"""The interpreter a check uses is chosen by nbrepro, never run from the repository
(issue item 1): only version numbers are taken from Pipfile.lock, Pipfile,
runtime.txt, environment.yml, pyproject.toml, notebook metadata and `--python`, and
the interpreter search refuses anything else again. (The whole attack, a
Pipfile.lock asking for `./evil`, is played against both backends in
test_build_attacks.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nbrepro.errors import ConfigError
from nbrepro.isolation.tools import find_python, python_version
from nbrepro.stages.scan import notebook_python, scan_notebook
from nbrepro.stages.spec import read_spec
from tests.helpers.cli import REPOS
from tests.security.helpers import check, write_notebook

CRAFTED = ["./evil", "../../bin/sh", "/usr/bin/python3", "python3", "3.11; rm -rf /",
           "3.11\n./evil", "\u0663.\u0661\u0661", "3.11.1.1", "", "3.", "cpython@3.11", "3.11x"]


@pytest.mark.parametrize("value", ["3", "3.11", "3.11.7", 3.8, 3])
def test_version_numbers_are_accepted(value: object) -> None:
    assert python_version(value) == str(value)


@pytest.mark.parametrize("value", [*CRAFTED, None, True, ["3.11"], {"v": 3}])
def test_anything_else_is_refused(value: object) -> None:
    assert python_version(value) is None


def test_the_interpreter_search_refuses_a_path(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "evil"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    evil.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="not a Python version"):
        find_python("./evil")
    assert not marker.exists()


@pytest.mark.parametrize(("name", "text"), [
    ("Pipfile.lock", json.dumps({"_meta": {"requires": {"python_version": "./evil"}}})),
    ("Pipfile", '[requires]\npython_version = "./evil"\n'),
    ("runtime.txt", "python-./evil\n"),
    ("environment.yml", "dependencies:\n  - python=./evil\n"),
])
def test_dependency_files_give_only_version_numbers(tmp_path: Path, name: str,
                                                    text: str) -> None:
    (tmp_path / name).write_text(text)
    assert read_spec(tmp_path).python_version is None


@pytest.mark.parametrize(("version", "taken"), [
    ("3.11.4", "3.11.4"), ("3.13.0rc1", "3.13.0"), ("./evil", None), ("3.8/../x", None),
    (["3.8"], None), ("3.11+", "3.11"),
])
def test_notebook_metadata_gives_only_version_numbers(tmp_path: Path, version: object,
                                                      taken: str | None) -> None:
    assert notebook_python(version) == taken
    write_notebook(tmp_path / "nb.ipynb", [("print(1)", "1\n")])
    nb = json.loads((tmp_path / "nb.ipynb").read_text())
    nb["metadata"]["language_info"]["version"] = version
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb))
    info, _ = scan_notebook(tmp_path, "nb.ipynb")
    assert info.python_version == taken


def test_the_python_option_takes_only_a_version(tmp_path: Path) -> None:
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    run = check(repo, tmp_path, "--python", "./evil")
    assert run.code == 2, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--python" in lines[0], run.stderr
