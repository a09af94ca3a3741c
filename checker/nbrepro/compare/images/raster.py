"""Raster images compared perceptually: a re-rendered plot matches, a plot of new data does not.

Re-rendering the same figure with another library version changes PNG bytes for
many reasons that change nothing a reader sees: PNG metadata and compression,
anti-aliasing, font hinting that nudges the layout by a pixel, a different dpi.
New data adds or removes marks (a moved point, a longer bar, a shifted line) or
changes the shade of a filled area. So, after decoding both images to grayscale
on white and scaling them to a common size (at most `_MAX_WIDTH` pixels wide):

- both are blurred a little, which makes anti-aliased and aliased, finer and
  coarser renderings of the same ink look alike;
- *marks*, on the darkest colour channel: ink in one image with no comparable ink
  within a pixel in the other (a moved point, a longer bar, a shifted line);
- *fills*, on luminance: a flat region whose shade changed (a heat-map cell).

The similarity score is 1 minus the worst of those; the images match when it is at
least `CompareOptions.image_threshold` (default 0.55). Identical pixels score 1;
on the calibration set (matplotlib line, scatter, bar, histogram, heat-map and
error-bar plots re-rendered with other dpi, hinting and anti-aliasing, and the
same plots with one point, bar or cell changed; benchmarks/accuracy and
tests/test_compare_images.py) re-renderings scored 0.61-1.0 and changed data
0.47 or less. A people-facing mean SSIM is added to the description of an image
that differs.

Known limit: a changed digit in a title or label is a change of a few pixels of
ink, the same size as what font hinting moves, so under a rendering change it may
pass.

Images of different sizes that do not line up as a whole - the aspect ratio
changed (the inline backend's new default figure size), or the figure grew and its
text did not - are compared as a re-sized figure by `figures.compare_resized` (the
`figure-resized` normaliser): the axes' data area and the labels around it apart.
That needs both images' dpi (matplotlib writes it) and a single axes frame;
otherwise such images are reported as different.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from nbrepro.lazyimport import lazy_module

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image, ImageChops, ImageFilter
else:  # a notebook without images never needs them: import on first use
    np = lazy_module("numpy")
    Image = lazy_module("PIL.Image")
    ImageChops = lazy_module("PIL.ImageChops")
    ImageFilter = lazy_module("PIL.ImageFilter")

from nbrepro.compare.images import figures
from nbrepro.compare.result import ImageSettings, ValueMatch

_MAX_WIDTH = 480  # larger images are compared at this width
_SIGMA = 1.0  # blur (pixels) that makes anti-aliasing and resampling comparable
_RADIUS = 1  # pixels a mark may move (a re-laid-out axis, hinting)
_FLAT_RANGE = 10  # a pixel is in a flat fill when its 5x5 neighbourhood varies less (of 255)
_FLAT_WEIGHT = 5.0  # a fill that changed by 0.06 counts like a mark of 0.3 ink
_ASPECT_TOLERANCE = 0.03
_DIFF_WIDTH = 320  # width of the difference image for the report
# a re-sized figure's data area needs image_threshold + this, each label around it
# image_threshold - that (see figures.py)
_RESIZED_MARGINS = (0.13, 0.15)
_MAX_PIXELS = 40_000_000  # larger images are not decoded (a 4000x10000 plot is 40 Mpx)


@dataclass(frozen=True)
class Decoded:
    """An image on white as two 8-bit planes: luminance, and the darkest colour
    channel (`ink`: a blue line is as dark there as black text, so coloured marks
    count fully)."""

    luminance: Image.Image
    darkest: Image.Image
    dpi: float | None = None  # from the file (matplotlib writes it), if plausible

    @property
    def size(self) -> tuple[int, int]:
        return self.luminance.size

    def resized(self, width: int, height: int) -> Decoded:
        if self.size == (width, height):
            return self
        box = Image.Resampling.BOX  # area average: thin lines stay, fainter
        return Decoded(
            self.luminance.resize((width, height), box),
            self.darkest.resize((width, height), box),
            self.dpi,
        )

    def crop(self, box: tuple[int, int, int, int]) -> Decoded:
        return Decoded(self.luminance.crop(box), self.darkest.crop(box), self.dpi)

    def blanked(self, box: tuple[int, int, int, int]) -> Decoded:
        """A copy with `box` painted white."""
        luminance, darkest = self.luminance.copy(), self.darkest.copy()
        luminance.paste(255, box)
        darkest.paste(255, box)
        return Decoded(luminance, darkest, self.dpi)


def compare_raster(
    a: Decoded, b: Decoded, settings: ImageSettings, mime: str = "image"
) -> ValueMatch | None:
    """The one comparison of two decoded raster images, for both image normalisers.

    Images of one shape are compared as a whole (`image-similar`, if
    `settings.similar`); images of different sizes that do not match so - another
    aspect ratio, or a larger figure whose text did not grow - as a re-sized
    figure (`figure-resized`, if `settings.resized`). None when neither test is
    switched on for this pair (the caller then compares bytes)."""
    (wa, ha), (wb, hb) = a.size, b.size
    same_size = (wa, ha) == (wb, hb)
    size = f"{wa}x{ha}" + ("" if same_size else f" -> {wb}x{hb}")
    aspect_a, aspect_b = wa / ha, wb / hb
    same_shape = abs(aspect_a / aspect_b - 1) <= _ASPECT_TOLERANCE
    resizable = not same_size and settings.resized
    if not settings.similar and not resizable:
        return None
    whole = same_shape and settings.similar
    score: float | None = None
    detail = ""
    if whole:
        width = max(8, min(_MAX_WIDTH, wa, wb))
        height = max(8, round(width / aspect_a))
        ta, tb = a.resized(width, height), b.resized(width, height)
        score, what, where = similarity(ta, tb)
        if score >= settings.threshold:
            return ValueMatch(True, {"image-similar"}, image_score=score)
        detail = (
            f"{mime}: {what} around x={where[0]:.0%}, y={where[1]:.0%}; similarity "
            f"{figures.below(score, settings.threshold)}, SSIM {ssim(ta, tb):.2f} ({size})"
        )
    resized = _resized(a, b, settings.threshold) if resizable else None
    if resized is not None and resized.matched:
        return ValueMatch(True, {"figure-resized"}, image_score=resized.score)
    if score is None:
        score = resized.score if resized is not None else 0.0
        detail = f"{mime}: image size changed {size}"
        if not same_shape:
            detail += f" (aspect ratio {aspect_a:.2f} -> {aspect_b:.2f})"
            if resized is None:
                detail += ", so its layout cannot be compared"
    if resized is not None:
        detail += f"; as a re-sized figure: {resized.detail}"
    diff = difference_png(a, b) if settings.diff_images else None
    return ValueMatch(False, detail=detail, kind="image", image_score=score, image_diff=diff)


def _resized(a: Decoded, b: Decoded, threshold: float) -> figures.Outcome | None:
    """`figures.compare_resized` for two decoded images, if both carry their dpi
    (matplotlib writes it). Resampling both images costs the measure some of its
    sensitivity, so the data area needs more than `image_threshold`; labels
    re-rendered at another size differ by as much as labels with another digit, so
    their shapes are held to less (their number, places and sizes to more)."""
    if a.dpi is None or b.dpi is None:
        return None
    data, labels = _RESIZED_MARGINS
    thresholds = (min(1.0, threshold + data), max(-1.0, threshold - labels))
    return figures.compare_resized(a, b, a.dpi / 72, b.dpi / 72, _measure, thresholds)


def _measure(a: Decoded, b: Decoded) -> tuple[float, str]:
    score, what, where = similarity(a, b)
    return score, f"{what} around x={where[0]:.0%}, y={where[1]:.0%}"


def decode(value: str) -> Decoded:
    """A base64 PNG/JPEG/GIF/... value, composited on white.

    Raises ValueError, OSError or binascii.Error for a value that is not an image
    nbrepro decodes (see `images.DECODE_ERRORS`)."""
    with Image.open(io.BytesIO(base64.b64decode(value))) as image:
        width, height = image.size
        if width * height > _MAX_PIXELS:  # before decoding: a bomb stays compressed
            raise ValueError(f"{width}x{height} pixels is more than nbrepro decodes")
        image.load()
        dpi = _dpi(image.info.get("dpi"))
        if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            lowest_alpha = rgba.getchannel("A").getextrema()[0]
            if isinstance(lowest_alpha, (int, float)) and lowest_alpha < 255:
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                rgba = Image.alpha_composite(white, rgba)
            rgb = rgba.convert("RGB")
        else:
            rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    return Decoded(rgb.convert("L"), ImageChops.darker(ImageChops.darker(red, green), blue), dpi)


def _dpi(value: object) -> float | None:
    if isinstance(value, tuple) and value:
        value = value[0]
    if isinstance(value, (int, float)) and 20 <= value <= 2000:
        return float(value)
    return None


def similarity(a: Decoded, b: Decoded) -> tuple[float, str, tuple[float, float]]:
    """(score in [0, 1], what differs most, where as (x, y) fractions) for two
    decoded images of the same size.

    Two tests:

    - marks, on the darkest channel blurred by `_SIGMA` (so that anti-aliased
      and aliased, finer and coarser renderings of the same ink look alike): ink
      in one image with no comparable ink within `_RADIUS` pixels in the other -
      a moved point, a longer bar, a shifted line;
    - fills, on luminance: a flat region (a heat-map cell, a bar's face) whose
      shade changed.

    The score is 1 minus the larger of the two (fills weighted by `_FLAT_WEIGHT`).
    """
    blur = ImageFilter.GaussianBlur(_SIGMA)
    dark_a, dark_b = a.darkest.filter(blur), b.darkest.filter(blur)
    lum_a, lum_b = a.luminance, b.luminance  # flat regions need no blurring
    plane_a, plane_b = _plane(dark_a), _plane(dark_b)
    # ink in b beyond the most ink near the same place in a, and the other way round
    # (the most ink nearby is the darkest value nearby)
    marks = np.maximum(
        _rank(plane_a, _RADIUS, np.minimum) - plane_b, _rank(plane_b, _RADIUS, np.minimum) - plane_a
    )
    worst_mark = float(marks.max())
    fills, where_fill = _fills(_plane(lum_a), _plane(lum_b), above=worst_mark)
    worst_fill = fills / 255
    worst_mark /= 255
    if worst_mark >= worst_fill:
        index, what = int(np.argmax(marks)), "marks added or removed"
    else:
        index, what = where_fill, "a filled area changed shade"
    width, height = a.size
    y, x = divmod(index, width)
    score = 1.0 - max(worst_mark, worst_fill, 0.0)
    return max(score, 0.0), what, ((x + 0.5) / width, (y + 0.5) / height)


def ssim(a: Decoded, b: Decoded) -> float:
    """Mean structural similarity (Wang et al. 2004, Gaussian window sigma 1.5) of
    two same-sized images' luminance; reported for people, not used to decide."""
    x, y = _plane(a.luminance) / 255.0, _plane(b.luminance) / 255.0
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y, xx, yy, xy = _gaussian(np.stack([x, y, x * x, y * y, x * y]), 1.5)
    var_x, var_y, cov = xx - mu_x * mu_x, yy - mu_y * mu_y, xy - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    return float(ssim_map.mean())


def _plane(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _fills(a: np.ndarray, b: np.ndarray, above: float) -> tuple[float, int]:
    """(largest weighted shade change inside regions flat in both images, its flat
    index), looking only where it could exceed `above` - the few pixels that differ
    enough, not the whole image."""
    weighted = np.abs(a - b) * _FLAT_WEIGHT
    ys, xs = np.nonzero(weighted > above)
    if ys.size == 0:
        return 0.0, 0
    r = 2  # the neighbourhood is 5x5
    pad_a, pad_b = np.pad(a, r, mode="edge"), np.pad(b, r, mode="edge")
    flat = np.ones(ys.size, dtype=bool)
    for padded in (pad_a, pad_b):
        window = np.stack(
            [padded[ys + dy, xs + dx] for dy in range(2 * r + 1) for dx in range(2 * r + 1)]
        )
        flat &= window.max(axis=0) - window.min(axis=0) < _FLAT_RANGE
    if not flat.any():
        return 0.0, 0
    values = weighted[ys[flat], xs[flat]]
    best = int(np.argmax(values))
    return float(values[best]), int(ys[flat][best] * a.shape[1] + xs[flat][best])


def _rank(a: np.ndarray, r: int, op: np.ufunc) -> np.ndarray:
    """Min or max over a (2r+1)^2 neighbourhood, separably (PIL's rank filter sorts)."""
    h, w = a.shape
    padded = np.pad(a, r, mode="edge")
    rows = op.reduce([padded[:, i : i + w] for i in range(2 * r + 1)])
    return op.reduce([rows[i : i + h, :] for i in range(2 * r + 1)])


@lru_cache(maxsize=4)
def _kernel(sigma: float) -> np.ndarray:
    radius = int(3.5 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    weights = np.exp(-(x**2) / (2 * sigma * sigma))
    return (weights / weights.sum()).astype(np.float32)


def _gaussian(stack: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of every image in a (n, h, w) stack, edges reflected."""
    weights = _kernel(sigma)
    r = len(weights) // 2
    _, h, w = stack.shape
    padded = np.pad(stack, ((0, 0), (r, r), (r, r)), mode="reflect" if min(h, w) > r else "edge")
    rows = sum(weights[i] * padded[:, :, i : i + w] for i in range(len(weights)))
    return sum(weights[i] * rows[:, i : i + h, :] for i in range(len(weights)))


def difference_png(a: Decoded, b: Decoded) -> bytes:
    """The new image faded, with what changed from the stored one in red."""
    width, height = b.size
    small = min(_DIFF_WIDTH, width), max(1, round(height * min(_DIFF_WIDTH, width) / width))
    ta, tb = a.resized(*small), b.resized(*small)
    new = _plane(tb.luminance).astype(np.float32) / 255.0
    change = np.clip(np.abs(new - _plane(ta.luminance) / 255.0) * 3.0, 0.0, 1.0)
    base = 0.55 + 0.45 * new
    rgb = np.stack([base + (1 - base) * change, base * (1 - change), base * (1 - change)], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray((rgb * 255).astype(np.uint8), mode="RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
