"""What counts as noise: the options every comparison takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nbrepro.compare.markers import Sanitizer
from nbrepro.compare.normalisers import (
    NORMALISERS,
    LayoutNormaliser,
    TextContext,
    TokenNormaliser,
)
from nbrepro.compare.result import ImageSettings, ValueContext
from nbrepro.compare.tolerance import ToleranceContext
from nbrepro.errors import ConfigError

# The largest text value (characters) and image value (base64 characters) that
# are compared beyond byte identity; a larger one that is not identical makes the
# cell `different` with reason `too-large`. Outputs are untrusted: the caps bound
# the time any comparison can take.
MAX_TEXT_CHARS = 2_000_000
MAX_IMAGE_CHARS = 20_000_000
MAX_OUTPUTS = 2_000  # outputs per cell


@dataclass
class CompareOptions:
    """Which normalisers run, and how tolerant the tolerant ones are.

    `normalisers` names entries of `normalisers.NORMALISERS`; leave one out to switch
    it off. Tolerances: two numbers in text match when
    `|a - b| <= atol + rtol * max(|a|, |b|)` (integers always match exactly);
    an image matches when its similarity score (see `images.similarity`) is at
    least `image_threshold` (a re-sized figure: its data area `image_threshold` +
    0.13, each label `image_threshold` - 0.15; see `images/figures.py`).
    """

    normalisers: list[str] = field(default_factory=lambda: list(NORMALISERS))
    rtol: float = 1e-6
    atol: float = 1e-9
    image_threshold: float = 0.55  # see images/raster.py for how it was calibrated
    sanitizers: list[Sanitizer] = field(default_factory=list)  # the repo's own patterns
    lax: bool = False  # nbval --nbval-lax: check only cells marked NBVAL_CHECK_OUTPUT
    scratch_dirs: list[str] = field(default_factory=list)  # where the re-run happened
    home_dirs: list[str] = field(default_factory=list)  # the re-run's $HOME, if not /home/...
    reference_time: float | None = None  # epoch seconds of the re-run; default: from cells
    diff_images: bool = True  # make a difference image for every image that differs
    nbdime_diff: bool = True  # give every non-identical cell its nbdime-format diff
    max_text_chars: int = MAX_TEXT_CHARS  # see the caps above
    max_image_chars: int = MAX_IMAGE_CHARS
    max_outputs: int = MAX_OUTPUTS

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

    def text_context(self) -> TextContext:
        """What the text normalisers need of these options."""
        return TextContext(tuple(self.scratch_dirs), tuple(self.home_dirs), tuple(self.sanitizers))

    def value_context(self, reference_time: float) -> ValueContext:
        """What the token, layout and value normalisers need, for a re-run at
        `reference_time` (epoch seconds)."""
        enabled = [NORMALISERS[name] for name in NORMALISERS if self.enabled(name)]
        tokens = [(e.name, e.function) for e in enabled if isinstance(e, TokenNormaliser)]
        layouts = [(e.name, e.function) for e in enabled if isinstance(e, LayoutNormaliser)]
        return ValueContext(
            ToleranceContext(self.rtol, self.atol, reference_time, tokens, layouts),
            ImageSettings(
                self.image_threshold,
                similar=self.enabled("image-similar"),
                resized=self.enabled("figure-resized"),
                diff_images=self.diff_images,
            ),
        )
