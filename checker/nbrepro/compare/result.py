"""What a comparison returns: per value, per cell."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from nbrepro.compare.tolerance import ToleranceContext
from nbrepro.model import CellResult, CellStatus


@dataclass
class ValueMatch:
    """The comparison of one stored and one new value of the same MIME type."""

    equal: bool
    rules: set[str] = field(default_factory=set)  # normalisers the match needed
    detail: str | None = None  # what differs, for a human
    kind: str | None = None  # what changed: `numbers`, `text`, `table`, `image`, ...
    image_score: float | None = None
    image_diff: bytes | None = None  # PNG


@dataclass(frozen=True)
class ImageSettings:
    """How images are compared: which of the two image normalisers may match, and
    how similar an image must be (see `images.raster`)."""

    threshold: float = 0.55
    similar: bool = True  # `image-similar`: same size and shape, compared perceptually
    resized: bool = True  # `figure-resized`: a plot re-drawn at another figure size
    diff_images: bool = True  # make a difference image for an image that differs


@dataclass
class ValueContext:
    """What a VALUE-stage comparator gets besides the two values."""

    text: ToleranceContext  # for comparing the text inside a value (table cells, SVG)
    images: ImageSettings = field(default_factory=ImageSettings)


@dataclass
class OutputOutcome:
    """How one output of a cell compared (outputs paired in order)."""

    index: int  # 1-based, as people count
    label: str  # `stdout`, `execute_result text/plain`, ...
    status: CellStatus  # identical, equivalent or different
    rules: list[str] = field(default_factory=list)  # normalisers this output needed
    detail: str | None = None  # what differs
    image_score: float | None = None

    def describe(self) -> str:
        """`output 2 (display_data image/png): equivalent (image-similar, similarity 0.93)`"""
        what = self.status.value
        extras = list(self.rules) if self.status is CellStatus.EQUIVALENT else []
        if self.image_score is not None and self.status is not CellStatus.DIFFERENT:
            extras.append(f"similarity {self.image_score:.2f}")
        if extras:
            what += f" ({', '.join(extras)})"
        if self.status is CellStatus.DIFFERENT and self.detail:
            what += f": {self.detail}"
        return f"output {self.index} ({self.label}): {what}"


@dataclass
class CellComparison:
    """The outcome for one code cell: a status and, unless identical, why.

    `reason`: for `equivalent`, the normaliser after which the outputs matched
    (`memory-address`, `float-tolerance`, `image-similar`, `figure-resized`,
    `whitespace`, `ignored-by-marker`);
    for the other statuses a short word for what changed (`numbers`, `text`,
    `table`, `image`, `exception`, `outputs`, `mime-types`, `volatile`,
    `too-large`).
    `detail`: one human-readable line - the first differing line, the numbers
    that moved and by how much, the image similarity score; for a cell with
    several outputs, each output's outcome in turn.
    """

    status: CellStatus
    reason: str | None = None
    detail: str | None = None
    normalisers: list[str] = field(default_factory=list)  # all that were needed, in order
    warnings: list[str] = field(default_factory=list)  # warnings the re-run added (stderr)
    image_score: float | None = None  # the lowest similarity of the cell's changed images
    image_diff: bytes | None = None  # PNG difference image of that image
    nbdime_diff: list[dict[str, Any]] | None = None  # this cell's diff, nbdime format
    suggested_sanitiser: str | None = None  # for `volatile` cells
    outputs: list[OutputOutcome] = field(default_factory=list)  # each output's outcome

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
