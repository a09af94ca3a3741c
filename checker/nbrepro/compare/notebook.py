"""Compare whole notebooks: pair the cells, compare each pair, mark volatile cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbrepro.compare.nbdime_format import DiffEntry, notebook_diff
from nbrepro.compare.options import CompareOptions
from nbrepro.compare.outputs import OutputComparer
from nbrepro.compare.pairing import Pair, pair_cells
from nbrepro.compare.result import CellComparison
from nbrepro.compare.volatility import detect
from nbrepro.model import CellResult, CellStatus

# What a second run in the same environment is consulted for: a cell that matched
# the stored output is settled; one that did not may just be unrepeatable.
_UNSETTLED = {
    CellStatus.DIFFERENT,
    CellStatus.MISSING_OUTPUT,
    CellStatus.EXTRA_OUTPUT,
    CellStatus.ERROR,
}


@dataclass
class PairedCell:
    stored_index: int | None  # index among all cells of the stored notebook
    new_index: int | None
    comparison: CellComparison

    @property
    def index(self) -> int:
        return self.stored_index if self.stored_index is not None else self.new_index or 0


@dataclass
class NotebookComparison:
    cells: list[PairedCell] = field(default_factory=list)
    paired_by: str = "index"  # or "alignment" when sources differed
    _added: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list, repr=False)

    def cell_results(self) -> list[CellResult]:
        return [c.comparison.to_cell_result(c.index) for c in self.cells]

    def nbdime_diff(self) -> list[DiffEntry]:
        """The notebook's diff in nbdime format, against the stored notebook."""
        diffs = [
            (c.stored_index, c.comparison.nbdime_diff or [])
            for c in self.cells
            if c.stored_index is not None and c.new_index is not None
        ]
        removed = [
            (c.stored_index, 1)
            for c in self.cells
            if c.stored_index is not None and c.new_index is None
        ]
        return notebook_diff(diffs, self._added, removed)

    @property
    def warnings(self) -> list[str]:
        return [w for c in self.cells for w in c.comparison.warnings]

    def statuses(self) -> dict[int, CellStatus]:
        return {c.index: c.comparison.status for c in self.cells}


def compare_notebook(
    stored_nb: dict[str, Any],
    new_nb: dict[str, Any],
    options: CompareOptions | None = None,
    *,
    second_run: dict[str, Any] | None = None,
) -> NotebookComparison:
    """Compare every code cell of a stored notebook with the re-run notebook.

    `second_run` is the same notebook executed a second time in the same
    environment as `new_nb` (`--twice`): a cell that does not match its stored
    output *and* differs between the two runs is `volatile`, with a suggested
    sanitiser (see `nbrepro.compare.volatility`), and is left out of the verdict.
    """
    options = options or CompareOptions()
    comparer = OutputComparer(options)
    pairs, how = pair_cells(stored_nb, new_nb)
    stored_cells, new_cells = stored_nb.get("cells", []), new_nb.get("cells", [])
    second_cells = second_run.get("cells", []) if second_run is not None else []
    result = NotebookComparison(paired_by=how)
    for pair in pairs:
        if pair.stored is None:
            cell = new_cells[pair.new]
            status = CellStatus.EXTRA_OUTPUT if cell.get("outputs") else CellStatus.NOT_RUN
            comparison = CellComparison(
                status, "cell-added", "the cell is not in the stored notebook"
            )
            result._added.append((_insert_position(pairs, pair), [cell]))
        elif pair.new is None:
            cell = stored_cells[pair.stored]
            status = CellStatus.MISSING_OUTPUT if cell.get("outputs") else CellStatus.NOT_RUN
            comparison = CellComparison(
                status, "cell-removed", "the cell is not in the re-run notebook"
            )
        else:
            new_cell = new_cells[pair.new]
            comparison = comparer.compare_cell(stored_cells[pair.stored], new_cell)
            if pair.source_changed and comparison.status is not CellStatus.IDENTICAL:
                comparison.detail = f"source changed; {comparison.detail or ''}".rstrip("; ")
            if (
                comparison.status in _UNSETTLED
                and pair.new < len(second_cells)
                and second_cells[pair.new].get("source") == new_cell.get("source")
            ):
                volatility = detect(new_cell, second_cells[pair.new], options, comparer=comparer)
                if volatility.volatile:
                    comparison = CellComparison(
                        CellStatus.VOLATILE, "volatile",
                        f"differs between two runs in the same environment: {volatility.detail}",
                        warnings=comparison.warnings, nbdime_diff=comparison.nbdime_diff,
                        suggested_sanitiser=volatility.suggestion,
                    )  # fmt: skip
        result.cells.append(PairedCell(pair.stored, pair.new, comparison))
    return result


def _insert_position(pairs: list[Pair], pair: Pair) -> int:
    """The stored index before which an added cell goes."""
    after = pairs[pairs.index(pair) + 1 :]
    return next((p.stored for p in after if p.stored is not None), 10**9)
