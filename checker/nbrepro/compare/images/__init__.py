"""Images compared as pictures, not bytes: one entry point for both image normalisers.

- `raster`: PNG/JPEG/... decoded and compared perceptually (`image-similar`), or,
  at another figure size, as a re-sized plot (`figure-resized`);
- `figures`: the plot layout that re-sized comparison reads (axes frame, legend,
  ticks and labels);
- `svg`: SVG compared as a drawing.
"""

from __future__ import annotations

import binascii

from PIL import Image

from nbrepro.compare.canonical import IMAGE_MIMES, SVG_MIME
from nbrepro.compare.images.raster import Decoded, compare_raster, decode, similarity
from nbrepro.compare.images.svg import canonical_svg, compare_svg
from nbrepro.compare.result import ValueContext, ValueMatch

# What decoding an image from an audited notebook can raise.
DECODE_ERRORS = (ValueError, OSError, binascii.Error, Image.DecompressionBombError)


def compare_images(stored: str, new: str, mime: str, context: ValueContext) -> ValueMatch | None:
    """Compare two image values of one MIME type with the image normalisers that are
    switched on (`context.images`); None when `mime` is no image or neither applies."""
    settings = context.images
    if mime == SVG_MIME:
        return compare_svg(stored, new, context) if settings.similar else None
    if mime not in IMAGE_MIMES:
        return None
    try:
        a, b = decode(stored), decode(new)
    except DECODE_ERRORS as exc:
        return ValueMatch(False, detail=f"{mime}: image could not be decoded ({exc})", kind="image")
    return compare_raster(a, b, settings, mime)


__all__ = [
    "DECODE_ERRORS",
    "Decoded",
    "canonical_svg",
    "compare_images",
    "compare_raster",
    "decode",
    "similarity",
]
