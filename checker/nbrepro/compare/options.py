"""What counts as noise: the options every comparison takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nbrepro.compare.markers import Sanitizer
from nbrepro.errors import ConfigError

from .normalise import NORMALISERS


@dataclass
class CompareOptions:
    """Which normalisers run, and how tolerant the tolerant ones are.

    `normalisers` names entries of `normalise.NORMALISERS`; leave one out to switch
    it off. Tolerances: two numbers in text match when
    `|a - b| <= atol + rtol * max(|a|, |b|)` (integers always match exactly);
    an image matches when its similarity score (see `images.similarity`) is at
    least `image_threshold` (a re-sized figure: its data area `image_threshold` +
    0.13, each label `image_threshold` - 0.15; see `figures.py`).
    """

    normalisers: list[str] = field(default_factory=lambda: list(NORMALISERS))
    rtol: float = 1e-6
    atol: float = 1e-9
    image_threshold: float = 0.55  # see images.py for how it was calibrated
    sanitizers: list[Sanitizer] = field(default_factory=list)  # the repo's own patterns
    lax: bool = False  # nbval --nbval-lax: check only cells marked NBVAL_CHECK_OUTPUT
    scratch_dirs: list[str] = field(default_factory=list)  # where the re-run happened
    home_dirs: list[str] = field(default_factory=list)  # the re-run's $HOME, if not /home/...
    reference_time: float | None = None  # epoch seconds of the re-run; default: from cells
    diff_images: bool = True  # make a difference image for every image that differs
    nbdime_diff: bool = True  # give every non-identical cell its nbdime-format diff

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        unknown = [n for n in self.normalisers if n not in NORMALISERS]
        if unknown:
            known = ", ".join(NORMALISERS)
            raise ConfigError(f"unknown normaliser(s) {', '.join(unknown)}; known: {known}")
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
        threshold = self.image_threshold
        if not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
            raise ConfigError(f"image-threshold must be between -1 and 1, got {threshold!r}")

    def enabled(self, name: str) -> bool:
        return name in self.normalisers

    def without(self, *names: str) -> CompareOptions:
        """A copy with the named normalisers switched off."""
        unknown = [n for n in names if n not in NORMALISERS]
        if unknown:
            raise ConfigError(f"unknown normaliser(s) {', '.join(unknown)}")
        kept = [n for n in self.normalisers if n not in names]
        return dataclasses.replace(self, normalisers=kept)
