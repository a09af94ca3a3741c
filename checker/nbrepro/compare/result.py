"""What a comparison returns: per value, per cell."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbrepro.model import CellResult, CellStatus

if TYPE_CHECKING:
    from .options import CompareOptions
    from .tolerance import ToleranceContext


@dataclass
class ValueMatch:
    """The comparison of one stored and one new value of the same MIME type."""

    equal: bool
    rules: set[str] = field(default_factory=set)  # normalisers the match needed
    detail: str | None = None  # what differs, for a human
    kind: str | None = None  # what changed: `numbers`, `text`, `table`, `image`, ...
    image_score: float | None = None
    image_diff: bytes | None = None  # PNG


@dataclass
class ValueContext:
    """What a VALUE-stage comparator gets besides the two values."""

    options: CompareOptions
    text: ToleranceContext  # for comparing the text inside a value (table cells, SVG)


@dataclass
class CellComparison:
    """The outcome for one code cell: a status and, unless identical, why.

    `reason`: for `equivalent`, the normaliser after which the outputs matched
    (`memory-address`, `float-tolerance`, `image-similar`, `figure-resized`,
    `ignored-by-marker`);
    for the other statuses a short word for what changed (`numbers`, `text`,
    `table`, `image`, `exception`, `outputs`, `mime-types`, `volatile`).
    `detail`: one human-readable line - the first differing line, the numbers
    that moved and by how much, the image similarity score.
    """

    status: CellStatus
    reason: str | None = None
    detail: str | None = None
    normalisers: list[str] = field(default_factory=list)  # all that were needed, in order
    warnings: list[str] = field(default_factory=list)  # new Deprecation/FutureWarnings
    image_score: float | None = None  # the lowest similarity of the cell's changed images
    image_diff: bytes | None = None  # PNG difference image of that image
    nbdime_diff: list[dict[str, Any]] | None = None  # this cell's diff, nbdime format
    suggested_sanitiser: str | None = None  # for `volatile` cells

    def to_cell_result(self, index: int, execution_seconds: float | None = None) -> CellResult:
        """The results-model record for this cell (image as base64 PNG)."""
        return CellResult(
            index=index,
            status=self.status,
            reason=self.reason,
            detail=self.detail,
            execution_seconds=execution_seconds,
            normalisers=list(self.normalisers),
            warnings=list(self.warnings),
            image_score=self.image_score,
            image_diff=base64.b64encode(self.image_diff).decode("ascii")
            if self.image_diff
            else None,
            nbdime_diff=self.nbdime_diff,
            suggested_sanitiser=self.suggested_sanitiser,
        )
