"""The compare stage: stored outputs of a cell against the re-run outputs.

Per code cell:

    comparer = OutputComparer(options)        # once per notebook
    comparison = comparer.compare_cell(stored_cell, new_cell)
    cell_result = comparison.to_cell_result(index)

or, for a whole notebook (pairs cells, marks volatile cells with `second_run`,
gives the nbdime-format diff):

    result = compare_notebook(stored_nb, new_nb, options, second_run=None)

Outputs are compared as plain nbformat dicts, so the comparer never needs a kernel
or a file. What counts as noise is `CompareOptions`; the normalisers are listed in
`normalisers.NORMALISERS`; `nbrepro.repoconfig` builds options from the audited
repository's `[tool.nbrepro]` table.

Layout: `canonical` (what "identical" is measured on), `normalisers/` (the typed
normalisers per stage), `tolerance` (token and layout rules for text), `tables`
and `images/` (value comparers), `outputs` (one cell), `pairing` and `notebook`
(whole notebooks), `volatility` (two runs), `markers` (nbval markers and
sanitize files), `nbdime_format` (diffs for nbdime's widget).
"""

from __future__ import annotations

from nbrepro.compare.normalisers import NORMALISERS, Normaliser, Stage
from nbrepro.compare.notebook import NotebookComparison, PairedCell, compare_notebook
from nbrepro.compare.options import CompareOptions
from nbrepro.compare.outputs import OutputComparer
from nbrepro.compare.result import CellComparison, OutputOutcome

__all__ = [
    "NORMALISERS",
    "CellComparison",
    "CompareOptions",
    "Normaliser",
    "NotebookComparison",
    "OutputComparer",
    "OutputOutcome",
    "PairedCell",
    "Stage",
    "compare_notebook",
]
