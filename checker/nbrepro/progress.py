"""Progress events of a check. A module of its own, free of heavy imports, so the
command line can subclass it without loading the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from nbrepro.model import NotebookResult


class Progress:
    """Receives progress events; subclasses show or store them. All no-ops here."""

    def stage(self, stage: str, detail: str | None = None) -> None:
        pass

    def notebook_started(self, path: str, index: int, total: int, cells: int,
                         labels: Mapping[int, str] | None = None) -> None:
        """`labels`: how the notebook shows each code cell (`In [n]`), by cell index."""
        pass

    def cell_done(self, path: str, index: int, done: int, total: int) -> None:
        pass

    def notebook_done(self, result: NotebookResult) -> None:
        pass

    def warning(self, message: str) -> None:
        """Something the user should know about the check (also kept in its result)."""
        pass
