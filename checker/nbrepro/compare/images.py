"""Images compared perceptually: a re-rendered plot matches, a plot of new data does not.

Re-rendering the same figure with another library version changes PNG bytes for
many reasons that change nothing a reader sees: PNG metadata and compression,
anti-aliasing, font hinting that nudges the layout by a pixel, a different dpi.
A changed data point changes a small region a lot. So:

1. decode both images to grayscale on white and downscale them to a common width
   (`CompareOptions.image_size`, 128 px by default) - a thumbnail keeps the
   geometry of the data and drops glyph and anti-aliasing detail;
2. let every pixel move by one thumbnail pixel: each image is compared with the
   other's closest value in a 3x3 neighbourhood (shifts of a pixel or two in the
   original, as from a re-laid-out axis, vanish; a moved point does not);
3. compute SSIM (Gaussian window, sigma 1.5) of those aligned pairs and pool it in
   8x8 blocks; the score is the *lowest* block, so one changed region is not
   averaged away by a white background. The images match when the score is at
   least `CompareOptions.image_threshold` (0.9).

Images whose aspect ratio changed (a new default figure size) are not claimed to
match: their layout differs, and no pixel comparison can tell that from new data.

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

_RADIUS = 1  # thumbnail pixels every pixel may move
_BLOCK = 8  # SSIM pooling block, thumbnail pixels
_SIGMA = 1.5
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


def compare_arrays(a: np.ndarray, b: np.ndarray, context: ValueContext, mime: str = "image") -> ValueMatch:
    """Compare two grayscale images (float arrays in [0, 1], white = 1)."""
    options = context.options
    (ha, wa), (hb, wb) = a.shape, b.shape
    size = f"{wa}x{ha}" + ("" if (wa, ha) == (wb, hb) else f" -> {wb}x{hb}")
    aspect_a, aspect_b = wa / ha, wb / hb
    width = max(8, min(options.image_size, wa, wb))
    height = max(8, round(width / aspect_a))
    ta, tb = _resize(a, width, height), _resize(b, width, height)
    score, where = local_similarity(ta, tb)
    diff = difference_png(a, b) if options.diff_images else None
    if abs(aspect_a / aspect_b - 1) > _ASPECT_TOLERANCE:
        detail = (f"{mime}: image size changed {size} (aspect ratio {aspect_a:.2f} -> "
                  f"{aspect_b:.2f}); similarity {score:.2f}")
        return ValueMatch(False, detail=detail, kind="image", image_score=score, image_diff=diff)
    if score >= options.image_threshold:
        return ValueMatch(True, {"image-similar"}, image_score=score, image_diff=diff)
    detail = (f"{mime}: image differs, similarity {score:.2f} < {options.image_threshold:.2f} "
              f"around x={where[0]:.0%}, y={where[1]:.0%} ({size})")
    return ValueMatch(False, detail=detail, kind="image", image_score=score, image_diff=diff)


def decode(value: str) -> np.ndarray:
    """A base64 PNG/JPEG/GIF as a grayscale float array, transparency on white."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(value))) as image:
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        gray = image.convert("L")
        return np.asarray(gray, dtype=np.float32) / 255.0


def local_similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, tuple[float, float]]:
    """(lowest block SSIM after letting pixels move by `_RADIUS`, where it is as (x, y))."""
    a_near_b = np.clip(a, _min_filter(b), _max_filter(b))  # b's closest value to each a
    b_near_a = np.clip(b, _min_filter(a), _max_filter(a))
    ssim = np.minimum(ssim_map(a, a_near_b), ssim_map(b, b_near_a))
    h, w = ssim.shape
    bh, bw = max(1, h // _BLOCK), max(1, w // _BLOCK)
    blocks = ssim[: bh * _BLOCK, : bw * _BLOCK] if h >= _BLOCK and w >= _BLOCK else ssim
    if h >= _BLOCK and w >= _BLOCK:
        pooled = blocks.reshape(bh, _BLOCK, bw, _BLOCK).mean(axis=(1, 3))
    else:
        pooled = np.array([[blocks.mean()]])
    y, x = np.unravel_index(int(np.argmin(pooled)), pooled.shape)
    where = ((x + 0.5) / pooled.shape[1], (y + 0.5) / pooled.shape[0])
    return float(pooled.min()), where


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity per pixel (Wang et al. 2004), Gaussian window."""
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b, aa, bb, ab = _gaussian(np.stack([a, b, a * a, b * b, a * b]))
    var_a, var_b, cov = aa - mu_a * mu_a, bb - mu_b * mu_b, ab - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    )


@lru_cache(maxsize=4)
def _kernel(sigma: float) -> np.ndarray:
    radius = int(3.5 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    weights = np.exp(-(x**2) / (2 * sigma * sigma))
    return (weights / weights.sum()).astype(np.float32)


def _gaussian(stack: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur of every image in a (n, h, w) stack, edges reflected."""
    weights = _kernel(_SIGMA)
    r = len(weights) // 2
    _, h, w = stack.shape
    padded = np.pad(stack, ((0, 0), (r, r), (r, r)), mode="reflect" if min(h, w) > r else "edge")
    rows = sum(weights[i] * padded[:, :, i : i + w] for i in range(len(weights)))
    return sum(weights[i] * rows[:, i : i + h, :] for i in range(len(weights)))  # type: ignore[return-value]


def _min_filter(a: np.ndarray) -> np.ndarray:
    return _rank_filter(a, np.minimum)


def _max_filter(a: np.ndarray) -> np.ndarray:
    return _rank_filter(a, np.maximum)


def _rank_filter(a: np.ndarray, op: np.ufunc) -> np.ndarray:
    r = _RADIUS
    h, w = a.shape
    padded = np.pad(a, r, mode="edge")
    rows = op.reduce([padded[:, i : i + w] for i in range(2 * r + 1)])
    return op.reduce([rows[i : i + h, :] for i in range(2 * r + 1)])


def _resize(a: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average downscale (a box filter keeps thin lines as faint lines)."""
    from PIL import Image

    if a.shape == (height, width):
        return a
    image = Image.fromarray(a, mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BOX), dtype=np.float32)


def difference_png(a: np.ndarray, b: np.ndarray) -> bytes:
    """The new image faded, with what changed from the stored one in red."""
    from PIL import Image

    h, w = b.shape
    width = min(_DIFF_WIDTH, w)
    height = max(1, round(h * width / w))
    ta, tb = _resize(a, width, height), _resize(b, width, height)
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
