"""Which interpreter a check runs a notebook with: the version its repository or
notebooks ask for when one is here (uv's discovery and pyenv's versions folder),
else the nearest newer one, with the mismatch recorded."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from nbrepro.isolation import tools
from nbrepro.isolation.tools import available_pythons, closest_versions, find_python

HERE = [(3, 8, 18), (3, 9, 18), (3, 10, 13), (3, 11, 2), (3, 11, 7), (3, 12, 1), (3, 13, 0),
        (3, 6, 15), (2, 7, 18)]


@pytest.mark.parametrize(("requested", "first"), [
    ("3.9", (3, 9, 18)),        # the version asked for
    ("3.11", (3, 11, 7)),       # its newest patch release
    ("3.11.2", (3, 11, 2)),     # or exactly the one named
    ("3.11.5", (3, 11, 7)),     # a patch release not here: another of its X.Y
    ("3.6", (3, 8, 18)),        # older than a kernel environment can be: nearest newer
    ("3.14", (3, 13, 0)),       # newer than anything here: the newest
    ("3", (3, 13, 0)),
])
def test_the_closest_version_is_tried_first(requested: str, first: tuple[int, ...]) -> None:
    order = closest_versions(requested, HERE)
    assert order[0] == first
    assert (2, 7, 18) not in order and (3, 6, 15) not in order
    assert sorted(order) == sorted(v for v in HERE if v[:2] >= (3, 8))


@pytest.fixture
def fresh_discovery() -> Iterator[None]:
    tools.interpreters.cache_clear()
    yield
    tools.interpreters.cache_clear()


def test_a_pyenv_folder_is_not_believed_by_its_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_discovery: None) -> None:
    """A folder named 3.12.99 that holds another interpreter is not taken for 3.12.99."""
    fake = tmp_path / "pyenv" / "versions" / "3.12.99" / "bin"
    fake.mkdir(parents=True)
    (fake / "python3.12").symlink_to(sys.executable)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    assert (3, 12, 99) in tools.interpreters()
    choice = find_python("3.12.99")
    assert choice.version != "3.12.99"
    assert not choice.executable.startswith(str(tmp_path))


def _other_python() -> str | None:
    """A Python X.Y here that is not nbrepro's own (a kernel environment can use it)."""
    own = ".".join(map(str, sys.version_info[:2]))
    minors = [".".join(v.split(".")[:2]) for v in available_pythons()]
    return next((m for m in minors if m != own), None)


@pytest.mark.slow
def test_a_notebook_runs_with_the_python_it_was_run_with(tmp_path: Path, run_cli) -> None:
    other = _other_python()
    if other is None:
        pytest.skip("only one Python version on this machine")
    root = tmp_path / "old"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys\nprint('%d.%d' % sys.version_info[:2])", execution_count=1,
        outputs=[nbformat.v4.new_output("stream", name="stdout", text=f"{other}\n")])])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python", "version": f"{other}.0"}
    nbformat.write(nb, str(root / "old.ipynb"))
    result = run_cli("check", str(root))
    assert result.notebook("old.ipynb")["verdict"] == "reproduced", result.stderr
    env = result.json["environment"]
    assert env["python_version"].startswith(f"{other}.")
    assert os.path.basename(env["python"]).startswith("python")
