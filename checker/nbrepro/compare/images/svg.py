"""SVG images compared as drawings, not rasterised.

Random ids (matplotlib's clip-path ids) are renamed in document order, the
`<metadata>` block (which dates the file) and comments are dropped, and the
coordinates are compared with the numeric tolerance. Everything here is linear in
the size of the SVG: blocks are cut with `str.find`, ids renamed in one pass with
a dictionary (no alternation of every id, no scan to the end per opening tag).
"""

from __future__ import annotations

import re

from nbrepro.compare.canonical import SVG_MIME
from nbrepro.compare.result import ValueContext, ValueMatch
from nbrepro.compare.tolerance import compare_text

_SVG_ID = re.compile(r'\bid="([^"]+)"')
# a definition `id="x"` or a reference `#x` (in `url(#x)` or `href="#x"`)
_ID_OR_REFERENCE = re.compile(r'(?<=\bid=")[^"]+(?=")|(?<=#)[^)"\s#]+(?=[)"\s])')
_BETWEEN_TAGS = re.compile(r">\s+<")


def canonical_svg(text: str) -> str:
    """An SVG with its metadata block and comments dropped and ids renamed in
    document order."""
    text = _drop_blocks(_drop_blocks(text, "<metadata>", "</metadata>"), "<!--", "-->")
    ids: dict[str, str] = {}
    for m in _SVG_ID.finditer(text):
        ids.setdefault(m[1], f"id{len(ids) + 1}")
    if ids:
        text = _ID_OR_REFERENCE.sub(lambda m: ids.get(m[0], m[0]), text)
    return _BETWEEN_TAGS.sub("><", text).strip()


def _drop_blocks(text: str, opening: str, closing: str) -> str:
    """`text` without every `opening ... closing` block (an unclosed one is kept)."""
    parts: list[str] = []
    position = 0
    while True:
        start = text.find(opening, position)
        if start < 0:
            break
        end = text.find(closing, start + len(opening))
        if end < 0:
            break
        parts.append(text[position:start])
        position = end + len(closing)
    parts.append(text[position:])
    return "".join(parts)


def compare_svg(stored: str, new: str, context: ValueContext) -> ValueMatch:
    a, b = canonical_svg(stored), canonical_svg(new)
    if a == b:
        return ValueMatch(True, {"image-similar"})
    text = compare_text(a.replace("><", ">\n<"), b.replace("><", ">\n<"), context.text, SVG_MIME)
    if text.equal:
        return ValueMatch(True, {"image-similar"} | text.rules)
    return ValueMatch(False, detail=f"drawing changed: {text.detail}", kind="image")
