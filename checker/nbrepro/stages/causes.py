"""Root causes: what explains a notebook's changed cells, each said once with the cells
it explains (the reports render `NotebookResult.causes`, never one line per cell)."""

from __future__ import annotations

from nbrepro.compare.normalisers import NORMALISERS
from nbrepro.model import CauseKind, CellResult, CellStatus, NotebookResult, RootCause

_CHANGED = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT,
            CellStatus.VOLATILE)
# What a notebook lost in a copy another notebook had changed (volatile cells change
# in any copy).
_LOST = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT,
         CellStatus.ERROR)
# Normalisers whose match means a library now writes the same value another way.
LIBRARY_REPRS = ("scalar-repr", "axes-repr", "plot-object-repr", "figure-size",
                 "dataframe-table")
FILES_NAMED = 3  # rewritten files named per notebook; the rest counted


def cell_causes(cells: list[CellResult]) -> list[RootCause]:
    """The causes a comparison shows: unseeded random calls in cells that changed, a
    library's changed repr, cells that differ between two runs."""
    causes: list[RootCause] = []
    unseeded = [c for c in cells if c.unseeded and c.status in _CHANGED]
    if unseeded:
        calls = list(dict.fromkeys(call for c in unseeded for call in c.unseeded))
        causes.append(RootCause(CauseKind.UNSEEDED_RANDOM,
                                f"unseeded random: {', '.join(calls)}",
                                [c.index for c in unseeded]))
    for name in LIBRARY_REPRS:
        matched = [c.index for c in cells if name in c.normalisers]
        if matched:
            causes.append(RootCause(CauseKind.LIBRARY_REPR,
                                    f"library repr changed: {NORMALISERS[name].description}",
                                    matched))
    volatile = [c.index for c in cells if c.status is CellStatus.VOLATILE]
    if volatile:
        causes.append(RootCause(CauseKind.VOLATILE,
                                "differs between two runs (left out of the verdict)", volatile))
    return causes


def network_cause(result: NotebookResult) -> RootCause:
    """A notebook that failed for want of the network."""
    what = f"{result.exception} without it; " if result.exception else ""
    cells = [result.failing_cell] if result.failing_cell is not None else []
    return RootCause(CauseKind.NEEDS_NETWORK,
                     f"needs the network ({what}re-run with --network)", cells)


def rewrite_cause(changed_by: dict[str, str], shared: NotebookResult) -> RootCause:
    """Earlier notebooks changed the repository's files (`changed_by`: file -> the
    notebook that first changed it) before `shared` failed or differed after them."""
    cells = [c.index for c in shared.cells if c.status in _LOST]
    if shared.failing_cell is not None and shared.failing_cell not in cells:
        cells.append(shared.failing_cell)
    return RootCause(CauseKind.EARLIER_REWRITE,
                     f"an earlier notebook rewrote an input: {rewrites(changed_by)}",
                     sorted(cells))


def rewrites(changed_by: dict[str, str]) -> str:
    """`a.ipynb rewrote data/x.csv; b.ipynb rewrote ...` (file -> notebook)."""
    by_notebook: dict[str, list[str]] = {}
    for rel, notebook in changed_by.items():
        by_notebook.setdefault(notebook, []).append(rel)
    return "; ".join(
        f"{nb} rewrote {', '.join(files[:FILES_NAMED])}"
        + (f" and {len(files) - FILES_NAMED} more" if len(files) > FILES_NAMED else "")
        for nb, files in by_notebook.items())
