"""Images compared perceptually: a re-rendered plot matches, a plot of new data does not.

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

Known limits: a changed digit in a title or label is a change of a few pixels of
ink, the same size as what font hinting moves, so under a rendering change it may
pass; images whose aspect ratio changed (a new default figure size) are reported
as different, since their layout differs and pixels cannot tell that from new
data.

SVG is compared as a drawing, not rasterised: random ids (matplotlib's clip-path
ids) renamed in order, the `<metadata>` block (which dates the file) dropped, and
coordinates compared with the numeric tolerance.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from functools import lru_cache

import numpy as np

from .canonical import IMAGE_MIMES, SVG_MIME
from .result import ValueContext, ValueMatch
from .tolerance import compare_text

_MAX_WIDTH = 480  # larger images are compared at this width
_SIGMA = 1.0  # blur (pixels) that makes anti-aliasing and resampling comparable
_RADIUS = 1  # pixels a mark may move (a re-laid-out axis, hinting)
_FLAT_RANGE = 0.04  # a pixel is in a flat fill when its 5x5 neighbourhood varies less
_FLAT_WEIGHT = 5.0  # a fill that changed by 0.06 counts like a mark of 0.3 ink
_ASPECT_TOLERANCE = 0.03
_DIFF_WIDTH = 320  # width of the difference image for the report


def compare_images(stored: str, new: str, mime: str, context: ValueContext) -> ValueMatch | None:
    """Compare two image values of one MIME type; None when `mime` is not an image."""
    if mime == SVG_MIME:
        return compare_svg(stored, new, context)
    if mime not in IMAGE_MIMES:
        return None
    try:
        a, b = decode(stored), decode(new)
    except (ValueError, OSError, binascii.Error) as exc:
        return ValueMatch(False, detail=f"{mime}: image could not be decoded ({exc})", kind="image")
    return compare_arrays(a, b, context, mime)


def compare_arrays(
    a: np.ndarray, b: np.ndarray, context: ValueContext, mime: str = "image"
) -> ValueMatch:
    """Compare two decoded images (see `decode`)."""
    options = context.options
    (ha, wa), (hb, wb) = a.shape[1:], b.shape[1:]
    size = f"{wa}x{ha}" + ("" if (wa, ha) == (wb, hb) else f" -> {wb}x{hb}")
    diff = difference_png(a, b) if options.diff_images else None
    aspect_a, aspect_b = wa / ha, wb / hb
    if abs(aspect_a / aspect_b - 1) > _ASPECT_TOLERANCE:
        detail = (f"{mime}: image size changed {size} (aspect ratio {aspect_a:.2f} -> "
                  f"{aspect_b:.2f}), so its layout cannot be compared")
        return ValueMatch(False, detail=detail, kind="image", image_score=0.0, image_diff=diff)
    width = max(8, min(_MAX_WIDTH, wa, wb))
    height = max(8, round(width / aspect_a))
    ta, tb = _resize(a, width, height), _resize(b, width, height)
    score, what, where = similarity(ta, tb)
    if score >= options.image_threshold:
        return ValueMatch(True, {"image-similar"}, image_score=score, image_diff=diff)
    detail = (f"{mime}: {what} around x={where[0]:.0%}, y={where[1]:.0%}; similarity "
              f"{score:.2f} < {options.image_threshold:.2f}, SSIM {ssim(ta[0], tb[0]):.2f} ({size})")
    return ValueMatch(False, detail=detail, kind="image", image_score=score, image_diff=diff)


def decode(value: str) -> np.ndarray:
    """A base64 PNG/JPEG/GIF as a (2, h, w) float array on white, in [0, 1]:
    luminance, and the darkest colour channel (`ink`: a blue line is as dark there
    as black text, so coloured marks count fully)."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(value))) as image:
        rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.float32)
    luminance = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.stack([luminance, rgb.min(axis=2)]) / 255.0


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, str, tuple[float, float]]:
    """(score in [0, 1], what differs most, where as (x, y) fractions) for two
    decoded images of the same size.

    Two tests, both on images blurred by `_SIGMA` so that anti-aliased and
    aliased, finer and coarser renderings of the same ink look alike:

    - marks, on the darkest channel: ink in one image with no comparable ink
      within `_RADIUS` pixels in the other - a moved point, a longer bar, a
      shifted line;
    - fills, on luminance: a flat region (a heat-map cell, a bar's face) whose
      shade changed.

    The score is 1 minus the larger of the two (fills weighted by `_FLAT_WEIGHT`).
    """
    blurred = _gaussian(np.concatenate([a, b]))
    lum_a, ink_a, lum_b, ink_b = blurred[0], 1.0 - blurred[1], blurred[2], 1.0 - blurred[3]
    marks = np.maximum(ink_b - _max_filter(ink_a, _RADIUS), ink_a - _max_filter(ink_b, _RADIUS))
    flat = (_range(lum_a) < _FLAT_RANGE) & (_range(lum_b) < _FLAT_RANGE)
    fills = np.where(flat, np.abs(lum_a - lum_b) * _FLAT_WEIGHT, 0.0)
    worst_mark, worst_fill = float(marks.max()), float(fills.max())
    if worst_mark >= worst_fill:
        index, what = int(np.argmax(marks)), "marks added or removed"
    else:
        index, what = int(np.argmax(fills)), "a filled area changed shade"
    y, x = divmod(index, a.shape[2])
    score = 1.0 - max(worst_mark, worst_fill, 0.0)
    return max(score, 0.0), what, ((x + 0.5) / a.shape[2], (y + 0.5) / a.shape[1])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004, Gaussian window sigma 1.5) of
    two same-sized grayscale images; reported for people, not used to decide."""
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b, aa, bb, ab = _gaussian(np.stack([a, b, a * a, b * b, a * b]), 1.5)
    var_a, var_b, cov = aa - mu_a * mu_a, bb - mu_b * mu_b, ab - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())


@lru_cache(maxsize=4)
def _kernel(sigma: float) -> np.ndarray:
    radius = int(3.5 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    weights = np.exp(-(x**2) / (2 * sigma * sigma))
    return (weights / weights.sum()).astype(np.float32)


def _gaussian(stack: np.ndarray, sigma: float = _SIGMA) -> np.ndarray:
    """Separable Gaussian blur of every image in a (n, h, w) stack, edges reflected."""
    weights = _kernel(sigma)
    r = len(weights) // 2
    _, h, w = stack.shape
    padded = np.pad(stack, ((0, 0), (r, r), (r, r)), mode="reflect" if min(h, w) > r else "edge")
    rows = sum(weights[i] * padded[:, :, i : i + w] for i in range(len(weights)))
    return sum(weights[i] * rows[:, i : i + h, :] for i in range(len(weights)))  # type: ignore[return-value]


def _max_filter(a: np.ndarray, r: int) -> np.ndarray:
    return _rank_filter(a, r, np.maximum)


def _range(a: np.ndarray, r: int = 2) -> np.ndarray:
    """Local max minus local min over a (2r+1)^2 neighbourhood."""
    return _rank_filter(a, r, np.maximum) - _rank_filter(a, r, np.minimum)


def _rank_filter(a: np.ndarray, r: int, op: np.ufunc) -> np.ndarray:
    h, w = a.shape
    padded = np.pad(a, r, mode="edge")
    rows = op.reduce([padded[:, i : i + w] for i in range(2 * r + 1)])
    return op.reduce([rows[i : i + h, :] for i in range(2 * r + 1)])


def _resize(a: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average every channel of a (n, h, w) stack to (n, height, width)."""
    from PIL import Image

    if a.shape[1:] == (height, width):
        return a
    return np.stack([
        np.asarray(Image.fromarray(channel, mode="F").resize((width, height), Image.Resampling.BOX),
                   dtype=np.float32)
        for channel in a
    ])


def difference_png(a: np.ndarray, b: np.ndarray) -> bytes:
    """The new image faded, with what changed from the stored one in red."""
    from PIL import Image

    h, w = b.shape[1:]
    width = min(_DIFF_WIDTH, w)
    height = max(1, round(h * width / w))
    ta, tb = _resize(a[:1], width, height)[0], _resize(b[:1], width, height)[0]
    change = np.clip(np.abs(ta - tb) * 3.0, 0.0, 1.0)
    base = 0.55 + 0.45 * tb
    rgb = np.stack([base + (1 - base) * change, base * (1 - change), base * (1 - change)], axis=-1)
    image = Image.fromarray((rgb * 255).astype(np.uint8), mode="RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# SVG

_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)
_SVG_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SVG_ID = re.compile(r'\bid="([^"]+)"')


def canonical_svg(text: str) -> str:
    """An SVG with its metadata block dropped and ids renamed in document order."""
    text = _SVG_COMMENT.sub("", _SVG_METADATA.sub("", text))
    ids: dict[str, str] = {}
    for m in _SVG_ID.finditer(text):
        ids.setdefault(m[1], f"id{len(ids) + 1}")
    if ids:
        # one pass over every reference: id="x", url(#x), href="#x"
        names = "|".join(map(re.escape, sorted(ids, key=len, reverse=True)))
        pattern = re.compile(rf'(?<=id=")(?:{names})(?=")|(?<=#)(?:{names})(?=[)"\s])')
        text = pattern.sub(lambda m: ids[m[0]], text)
    return re.sub(r">\s+<", "><", text).strip()


def compare_svg(stored: str, new: str, context: ValueContext) -> ValueMatch:
    a, b = canonical_svg(stored), canonical_svg(new)
    if a == b:
        return ValueMatch(True, {"image-similar"})
    text = compare_text(a.replace("><", ">\n<"), b.replace("><", ">\n<"), context.text, SVG_MIME)
    if text.equal:
        return ValueMatch(True, {"image-similar"} | text.rules)
    return ValueMatch(False, detail=f"drawing changed: {text.detail}", kind="image")
