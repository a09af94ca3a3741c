"""Which stored cell goes with which re-run cell.

A re-run notebook is the stored notebook executed again, so its cells have the
same sources in the same order and are paired by index - no sequence diff. Only
when sources differ (the notebook was edited, or cells were added or removed) are
the code cells aligned by source with a sequence matcher.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .canonical import join_text


@dataclass(frozen=True)
class Pair:
    stored: int | None  # index among all cells of the stored notebook
    new: int | None  # index among all cells of the new notebook
    source_changed: bool = False


def pair_cells(stored_nb: dict[str, Any], new_nb: dict[str, Any]) -> tuple[list[Pair], str]:
    """Pairs of code cells, and how they were found: `index` or `alignment`."""
    a, b = _code_cells(stored_nb), _code_cells(new_nb)
    if [i for i, _ in a] == [i for i, _ in b] and [s for _, s in a] == [s for _, s in b]:
        return [Pair(i, i) for i, _ in a], "index"
    pairs: list[Pair] = []
    matcher = difflib.SequenceMatcher(a=[s for _, s in a], b=[s for _, s in b], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(Pair(a[i1 + k][0], b[j1 + k][0]) for k in range(i2 - i1))
            continue
        common = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        # an edited cell at the same place is still that cell, with a new source
        pairs.extend(Pair(a[i1 + k][0], b[j1 + k][0], source_changed=True) for k in range(common))
        pairs.extend(Pair(a[i][0], None) for i in range(i1 + common, i2))
        pairs.extend(Pair(None, b[j][0]) for j in range(j1 + common, j2))
    return pairs, "alignment"


def _code_cells(nb: dict[str, Any]) -> list[tuple[int, str]]:
    return [
        (i, join_text(cell.get("source", "")))
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code"
    ]
