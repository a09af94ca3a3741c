"""The compare stage: stored outputs of a cell against the re-run outputs.

The seam the rest of nbrepro uses is `Comparer.compare_cell`; `default_comparer`
returns the comparer configured by `CompareOptions`. Outputs are compared as plain
nbformat dicts, so the comparer never needs a kernel or a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from nbrepro.model import CellStatus

from .outputs import OutputComparer
from .normalise import DEFAULT_NORMALISERS


@dataclass
class CompareOptions:
    """What counts as noise. Names refer to `normalise.NORMALISERS`."""

    normalisers: list[str] = field(default_factory=lambda: list(DEFAULT_NORMALISERS))


@dataclass
class CellComparison:
    status: CellStatus
    reason: str | None = None  # the normaliser that made an equivalent cell match
    detail: str | None = None  # what differs, for a human


class Comparer(Protocol):
    def compare_cell(self, stored: dict[str, Any], new: dict[str, Any]) -> CellComparison:
        """Compare the outputs of one code cell, stored vs re-run."""
        ...


def default_comparer(options: CompareOptions | None = None) -> Comparer:
    return OutputComparer(options or CompareOptions())


__all__ = ["CellComparison", "CompareOptions", "Comparer", "default_comparer"]
