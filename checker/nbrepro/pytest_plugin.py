"""pytest plugin: `pytest --nbrepro` checks every collected notebook as one test item.

Off unless `--nbrepro` is given (installing nbrepro changes no other test run). A
notebook passes when it reproduces (`reproduced` or `reproduced-equivalent`), is
skipped when nbrepro does not check it (`not-checked`, including `skip = true` in
the repository's `[tool.nbrepro]`), and fails otherwise, with the reason and the
cells that did not reproduce as its report.

The repository is pytest's root folder: its dependency files are read and its
environment is resolved and built once per test session (per worker with
pytest-xdist, where the content-addressed cache makes every build after the first
a cache hit), and the notebooks run in one scratch copy of it, in test order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from nbrepro.check import NotebookSession
    from nbrepro.model import NotebookResult

_SESSIONS = pytest.StashKey[dict[Path, "NotebookSession"]]()
_SKIP_DIRS = {".ipynb_checkpoints", ".git", "node_modules", "__pycache__"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nbrepro", "notebook reproducibility (nbrepro)")
    group.addoption("--nbrepro", action="store_true",
                    help="Check that notebooks (*.ipynb) reproduce their stored outputs: one "
                         "test per notebook.")
    group.addoption("--nbrepro-backend", choices=["venv", "docker"], default="venv",
                    help="nbrepro: how environments are built and kernels isolated "
                         "[default: venv].")
    group.addoption("--nbrepro-cell-timeout", type=float, default=300, metavar="S",
                    help="nbrepro: seconds one cell may run [default: 300].")
    group.addoption("--nbrepro-notebook-timeout", type=float, default=1200, metavar="S",
                    help="nbrepro: seconds one notebook may run [default: 1200].")
    group.addoption("--nbrepro-python", metavar="X.Y",
                    help="nbrepro: Python version instead of the one the repository asks for.")
    group.addoption("--nbrepro-no-sandbox", action="store_true",
                    help="nbrepro, venv backend: run notebooks without a sandbox.")
    group.addoption("--nbrepro-network", action="store_true",
                    help="nbrepro: let notebooks reach the network.")
    group.addoption("--nbrepro-twice", action="store_true",
                    help="nbrepro: run every notebook twice; outputs that change between "
                         "the runs are left out.")
    group.addoption("--nbrepro-no-rerun", action="store_true",
                    help="nbrepro: never run a notebook that differs a second time (by "
                         "default its outputs that change between the runs are left out).")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("nbrepro"):
        config.stash[_SESSIONS] = {}


def pytest_unconfigure(config: pytest.Config) -> None:
    for session in config.stash.get(_SESSIONS, {}).values():
        session.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if (parent.config.getoption("nbrepro") and file_path.suffix == ".ipynb"
            and not _SKIP_DIRS.intersection(file_path.parts)):
        return NotebookFile.from_parent(parent, path=file_path)
    return None


class NotebookFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        return [NotebookItem.from_parent(self, name=self.path.name)]


class NotebookNotReproduced(Exception):
    def __init__(self, result: NotebookResult) -> None:
        super().__init__(result.reason or result.verdict.value)
        self.result = result


def _root_of(config: pytest.Config, path: Path) -> Path:
    """The repository a notebook belongs to: pytest's root folder when the notebook is
    inside it, else the notebook's own folder."""
    root = config.rootpath.resolve()
    return root if path.resolve().is_relative_to(root) else path.resolve().parent


def _options(config: pytest.Config) -> Any:
    from nbrepro.options import CheckOptions, ExecutionOptions

    return CheckOptions(
        backend=config.getoption("nbrepro_backend"),
        python=config.getoption("nbrepro_python"),
        sandbox=not config.getoption("nbrepro_no_sandbox"),
        network=config.getoption("nbrepro_network"),
        twice=config.getoption("nbrepro_twice"),
        rerun=not config.getoption("nbrepro_no_rerun"),
        execution=ExecutionOptions(
            cell_timeout=config.getoption("nbrepro_cell_timeout"),
            notebook_timeout=config.getoption("nbrepro_notebook_timeout")),
    )


class NotebookItem(pytest.Item):
    """One notebook: passes when it reproduces."""

    def _session(self) -> tuple[NotebookSession, str]:
        from nbrepro.check import NotebookSession

        root = _root_of(self.config, self.path)
        sessions = self.config.stash[_SESSIONS]
        if root not in sessions:
            # Every notebook of this repository in the run: they pick the Python version.
            paths = [item.path.resolve().relative_to(root).as_posix()
                     for item in self.session.items
                     if isinstance(item, NotebookItem) and _root_of(self.config, item.path) == root]
            sessions[root] = NotebookSession(root, paths, _options(self.config))
        return sessions[root], self.path.resolve().relative_to(root).as_posix()

    def runtest(self) -> None:
        from nbrepro.model import Verdict

        session, relative = self._session()
        result = session.check_notebook(relative)
        self.user_properties.append(("nbrepro_verdict", result.verdict.value))
        if result.verdict.ok:
            return
        if result.verdict is Verdict.NOT_CHECKED:
            # reported at the notebook, not at this line (as skip markers are)
            raise pytest.skip.Exception(f"not checked: {result.reason or 'nothing to compare'}",
                                        _use_item_location=True)
        raise NotebookNotReproduced(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, NotebookNotReproduced):
            from nbrepro.report.junit import failure_text

            return failure_text(excinfo.value.result)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"notebook {self.path.name}"
