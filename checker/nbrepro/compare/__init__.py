"""The compare stage: stored outputs of a cell against the re-run outputs.

The seam the pipeline uses, per code cell:

    comparer = default_comparer(options)      # once per notebook
    comparison = comparer.compare_cell(stored_cell, new_cell)
    cell_result = comparison.to_cell_result(index)

or, for a whole notebook (pairs cells, marks volatile cells with `second_run`,
gives the nbdime-format diff):

    result = compare_notebook(stored_nb, new_nb, options, second_run=None)

Outputs are compared as plain nbformat dicts, so the comparer never needs a kernel
or a file. What counts as noise is `CompareOptions`; the normalisers are listed in
`normalise.NORMALISERS`; `nbrepro.repoconfig` builds options from the audited
repository's `[tool.nbrepro]` table.
"""

from __future__ import annotations

from typing import Any, Protocol

from .normalise import DEFAULT_NORMALISERS, NORMALISERS, Normaliser
from .notebook import NotebookComparison, PairedCell, compare_notebook
from .options import CompareOptions
from .outputs import OutputComparer
from .result import CellComparison


class Comparer(Protocol):
    def compare_cell(self, stored: dict[str, Any], new: dict[str, Any]) -> CellComparison:
        """Compare the outputs of one code cell, stored vs re-run."""
        ...


def default_comparer(options: CompareOptions | None = None) -> Comparer:
    return OutputComparer(options or CompareOptions())


__all__ = [
    "DEFAULT_NORMALISERS",
    "NORMALISERS",
    "CellComparison",
    "CompareOptions",
    "Comparer",
    "Normaliser",
    "NotebookComparison",
    "PairedCell",
    "compare_notebook",
    "default_comparer",
]
