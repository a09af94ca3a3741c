"""A plot re-drawn at another figure size: its axes and its labels compared apart.

When the inline backend's default figure size changed (432x288 -> 640x480 px),
the same plot came out with another aspect ratio: the axes box (the data area)
stretched with the figure, while text, tick marks, markers and the gaps between
them kept their size in points. No single resampling lines such images up, so
they are compared in parts:

- the *data area*: each image's axes frame (the long straight dark lines of the
  spines) is found, and the two frames' contents - lines, markers, bars, fills,
  grid - are resampled to a common size and compared with the calibrated image
  measure (`raster.similarity`). New data moves marks inside the frame, so it
  shows here whatever the size.
- a *legend* (a light grey box with text, inside the frame) keeps its size in
  points and its distance in points from an edge of the frame (or stays
  centred): it must be the same size and in the same place in both images, is
  compared like a label, and is left out of the data area.
- the *labels* around the frame (tick marks and labels, axis labels, title):
  outside the frame, tick marks are told by reaching from the frame (the major
  ones must sit at the same places, as fractions of the frame), and the rest of
  each side's ink is split into layers (rows of text parallel to the side) and
  each layer into items (a tick label, a title). Both images must have the same
  layers and items; an item must sit at the same place along its side, have the
  same size in points (the scale comes from the image's dpi) and look alike
  after resampling. The same curve in other units, another range, a longer
  label fail here.

Resampling both images costs the measure some sensitivity, so the data area
needs a higher score than a whole image (`raster._RESIZED_MARGINS`). Calibration
(matplotlib line, marker, scatter, bar, histogram, fill, legend, grid and
labelled plots drawn at 432x288 px / 72 dpi and 640x480 px / 100 dpi, both ways,
and enlarged at one dpi; tests/test_compare_figsize.py and benchmarks/accuracy):
the data areas of re-drawings of the same plot scored 0.73-1.0 between the two
inline defaults (0.60-0.71 when enlarged at one dpi: markers keep their size in
points, and such scatter plots are not matched), those with new data - one point
moved by 4-8 % of the range, one bar 5-10 % longer - 0.56 or less between the
inline defaults and 0.67 or less in all. Labels re-rendered at another size
score 0.5-0.9 (lower for larger text, as at retina resolution), no better than
labels with a digit or a short word changed at 10-12 pt: their shapes are held
to less than the plain threshold and only catch gross changes; their number,
places and sizes catch the rest.

Anything that does not fit - no dark frame or several (subplots, a colorbar,
styles without spines), no dpi in the image, a different number of ticks or
labels (a larger axes may get more ticks) - is not matched: the images are then
reported as different. So is text inside the frame other than a legend (an
annotation keeps its size in points while the frame stretches).

Known limits: a plot whose axes box changed shape while showing the same data
and the same labels (say `set_aspect` added) looks exactly like a re-sized
figure and is matched; so does one whose title, a label or a legend entry
changed a digit or a word for one of about the same length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from nbrepro.lazyimport import lazy_module

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image
else:  # a notebook without images never needs them: import on first use
    np = lazy_module("numpy")
    Image = lazy_module("PIL.Image")

_LINE_INK = 96  # ink (0-255, darkest channel) of a spine pixel
_LINE_SPAN = 0.5  # a spine is a straight run over at least this fraction of the image
_MIN_FRAME = 32  # pixels: smaller axes are not compared this way
_TEXT_INK = 64  # ink that counts as part of a label
_LAYER_GAP_PT = 2.5  # gaps narrower than this (points) do not separate layers...
_ITEM_GAP_PT = 8.0  # ...or items in a layer (word spaces stay inside one item)
_TICK_PT = (1.5, 8.0)  # beyond the spine, a major tick shows about 3 pt, a minor one
# 1.5 pt less a pixel; ink reaching from the frame further than 8 pt is no tick
_CORNER_PT = 6.0  # a y tick label at a corner reaches this far past the frame
_LEGEND_INK = (15, 90)  # a legend's edge: light grey ('0.8'), anti-aliased
_LEGEND_MIN_PT = (12.0, 6.0)  # its straight edges are at least this long (points)...
_LEGEND_CORNER_PT = 2.0  # ...between rounded corners of this radius
_LEGEND_MARGIN_PT = 2.0  # and it stands this far inside the frame (grid cells do not)
_PLACE_TOLERANCE = 0.015  # items sit at the same fraction of the frame, +- this
_SIZE_TOLERANCE = 0.04  # items and layers keep their size in points, +- this fraction
# and +- a pixel of each image (where anti-aliased ink starts to count)


@dataclass(frozen=True)
class Box:
    """Pixel rectangle, `x1`/`y1` exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass(frozen=True)
class Layer:
    offset: int  # pixels from the frame to the layer's nearer edge
    thickness: int
    items: list[Box]  # in image coordinates


@dataclass(frozen=True)
class Outcome:
    """The re-sized comparison: whether the figures match, the data area's score
    (1 = same, as `raster.similarity`; 0 when the labels' layout differs) and what
    differed most."""

    matched: bool
    score: float
    detail: str


class Picture(Protocol):
    """What `raster.Decoded` offers: the darkest channel, crops and resampling."""

    @property
    def darkest(self) -> Image.Image: ...

    def crop(self, box: tuple[int, int, int, int]) -> Picture: ...

    def resized(self, width: int, height: int) -> Picture: ...

    def blanked(self, box: tuple[int, int, int, int]) -> Picture: ...


Measure = Callable[[Any, Any], "tuple[float, str]"]  # two same-sized pictures -> score, what


def find_frame(ink: np.ndarray) -> Box | None:
    """The axes frame of a single-axes plot: the box whose edges are the outermost
    long straight dark lines (spines), at least one horizontal and one vertical,
    each spanning the box."""
    h, w = ink.shape
    dark = ink >= _LINE_INK
    rows = _runs(dark, int(np.ceil(_LINE_SPAN * w)))  # horizontal lines: (y, x0, x1)
    cols = _runs(dark.T, int(np.ceil(_LINE_SPAN * h)))  # vertical lines: (x, y0, y1)
    if not len(rows) or not len(cols):
        return None
    tol = 2
    top, bottom = _outermost(rows, tol)
    left, right = _outermost(cols, tol)
    x0, x1 = _extent(top, bottom, left, right, w)
    y0, y1 = _extent(left, right, top, bottom, h)
    if x1 - x0 < _MIN_FRAME or y1 - y0 < _MIN_FRAME:
        return None
    # no long line outside it (a colorbar, a second axes)...
    if rows[:, 0].min() < y0 - tol or rows[:, 0].max() > y1 - 1 + tol:
        return None
    if cols[:, 0].min() < x0 - tol or cols[:, 0].max() > x1 - 1 + tol:
        return None
    # ...and the outermost lines are its edges, spanning it
    horizontal = [e for e in (top, bottom) if _along_edge(e, (y0, y1 - 1), x0, x1, tol)]
    vertical = [e for e in (left, right) if _along_edge(e, (x0, x1 - 1), y0, y1, tol)]
    if not horizontal or not vertical:
        return None
    return Box(x0, y0, x1, y1)


def _outermost(runs: np.ndarray, tol: int) -> tuple[np.ndarray, np.ndarray]:
    """The runs of the first and of the last line (each a few pixels thick)."""
    first, last = runs[:, 0].min(), runs[:, 0].max()
    return runs[runs[:, 0] <= first + tol], runs[runs[:, 0] >= last - tol]


def _extent(
    first: np.ndarray, last: np.ndarray, low: np.ndarray, high: np.ndarray, size: int
) -> tuple[int, int]:
    """[start, end) of the box along the lines `first` and `last`: where they run,
    but cut at the perpendicular lines `low` and `high` where those stand at their
    ends (a tick at a corner continues a spine beyond the frame)."""
    start = int(min(first[:, 1].min(), last[:, 1].min()))
    end = int(max(first[:, 2].max(), last[:, 2].max()))
    slack = 0.1 * size
    if low[:, 0].min() - start <= slack:
        start = max(start, int(low[:, 0].min()))
    if end - 1 - high[:, 0].max() <= slack:
        end = min(end, int(high[:, 0].max()) + 1)
    return start, end


def _along_edge(runs: np.ndarray, edges: tuple[int, int], start: int, end: int, tol: int) -> bool:
    """Whether one of `runs` lies along one of the `edges` and spans start..end."""
    at_edge = (np.abs(runs[:, 0] - edges[0]) <= tol) | (np.abs(runs[:, 0] - edges[1]) <= tol)
    spans = (runs[:, 1] <= start + tol) & (runs[:, 2] >= end - tol)
    return bool((at_edge & spans).any())


def _runs(mask: np.ndarray, min_length: int) -> np.ndarray:
    """(row, start, end) of every run of True in each row at least `min_length` long."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)
    keep = ends - starts >= min_length
    return np.stack([rows[keep], starts[keep], ends[keep]], axis=1)


def _spans(present: np.ndarray, merge: float) -> list[tuple[int, int]]:
    """[start, end) of the runs of True in a 1-D mask, runs closer than `merge` joined."""
    padded = np.concatenate([[False], present, [False]]).astype(np.int8)
    steps = np.diff(padded)
    starts, ends = np.nonzero(steps == 1)[0], np.nonzero(steps == -1)[0]
    spans: list[tuple[int, int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if spans and s - spans[-1][1] < merge:
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans


@dataclass(frozen=True)
class Side:
    ticks: list[float]  # tick marks: pixels along the side
    layers: list[Layer]  # the labels, nearest the frame first


def sides(ink: np.ndarray, frame: Box, scale: float) -> dict[str, Side]:
    """The tick marks and labels around the frame, per side. `scale` is pixels per
    point.

    The left and right sides reach `_CORNER_PT` beyond the frame's top and bottom,
    so that a y tick label at a corner (it is centred on the frame's edge) stays
    whole; the top and bottom sides cover the rest of the image's width."""
    h, w = ink.shape
    text = ink >= _TEXT_INK
    m = 1  # a spine's anti-aliased edge belongs to the frame
    corner = round(_CORNER_PT * scale)
    ya, yb = max(0, frame.y0 - corner), min(h, frame.y1 + corner)
    xa, xb = max(0, frame.x0 - m), min(w, frame.x1 + m)
    regions = {
        # side: (region, whether it runs along x, whether the frame is at its far end)
        "top": (Box(0, 0, w, max(0, frame.y0 - m)), True, True),
        "bottom": (Box(0, min(h, frame.y1 + m), w, h), True, False),
        "left": (Box(0, ya, xa, yb), False, True),
        "right": (Box(xb, ya, w, yb), False, False),
    }
    owned = np.zeros_like(text)  # the corners the left and right sides took
    owned[ya:yb, :xa] = owned[ya:yb, xb:] = True
    result: dict[str, Side] = {}
    for side, (box, along_x, far) in regions.items():
        region = text[box.y0 : box.y1, box.x0 : box.x1].copy()
        if along_x:
            region &= ~owned[box.y0 : box.y1, box.x0 : box.x1]
        # the region as (across, along): across = 0 next to the frame
        if not along_x:
            region = region.T
        if far:
            region = region[::-1]
        region = region.copy()
        origin = box.x0 if along_x else box.y0
        span = (
            (frame.x0 - origin, frame.x1 - origin)
            if along_x
            else (frame.y0 - origin, frame.y1 - origin)
        )
        ticks = _take_ticks(region, scale, span)
        layers: list[Layer] = []
        for start, end in _spans(np.asarray(region.any(axis=1)), _LAYER_GAP_PT * scale):
            band = region[start:end]
            items = []
            for a, b in _spans(np.asarray(band.any(axis=0)), _ITEM_GAP_PT * scale):
                inked = np.nonzero(band[:, a:b].any(axis=1))[0]
                lo, hi = start + int(inked[0]), start + int(inked[-1]) + 1
                items.append(_to_image(box, along_x, far, a, b, lo, hi))
            layers.append(Layer(start, end - start, items))
        result[side] = Side([origin + t for t in ticks], layers)
    return result


def _take_ticks(region: np.ndarray, scale: float, span: tuple[int, int]) -> list[float]:
    """Remove the tick marks - short runs of ink from the frame outwards, along the
    frame's extent `span` - from a region in (across, along) layout; return the
    centres of the major ones along the side."""
    depth, length_along = region.shape
    if depth < 2:
        return []
    within = np.zeros(length_along, dtype=bool)
    within[max(0, span[0] - 2) : max(0, span[1] + 2)] = True
    start = np.where(region[0], 0, 1)
    outward = np.cumprod(region[1:], axis=0).sum(axis=0)
    length = np.where(region[0], outward + 1, outward)
    marks = within & (region[0] | region[1]) & (length > 0) & (length <= _TICK_PT[1] * scale)
    major = marks & (length >= max(2.0, _TICK_PT[0] * scale))
    for position in np.nonzero(marks)[0].tolist():
        region[start[position] : start[position] + length[position], position] = False
    return [(a + b - 1) / 2 for a, b in _spans(major, 1.0)]


def _to_image(box: Box, along_x: bool, far: bool, a: int, b: int, lo: int, hi: int) -> Box:
    """An item at [a, b) along and [lo, hi) across a region, in image pixels."""
    depth = box.height if along_x else box.width
    if far:
        lo, hi = depth - hi, depth - lo
    if along_x:
        return Box(box.x0 + a, box.y0 + lo, box.x0 + b, box.y0 + hi)
    return Box(box.x0 + lo, box.y0 + a, box.x0 + hi, box.y0 + b)


def ink_plane(picture: Picture) -> np.ndarray:
    return 255 - np.asarray(picture.darkest, dtype=np.int16)


def compare_resized(
    a: Picture,
    b: Picture,
    scale_a: float,
    scale_b: float,
    measure: Measure,
    thresholds: tuple[float, float],
) -> Outcome | None:
    """Compare two plots drawn at different figure sizes (see the module docstring);
    None when they are not single-axes plots this can compare.

    `scale_*` are pixels per point; `measure(a, b)` scores two same-sized pictures
    (1 = same); `thresholds` are the scores the data area and each label need."""
    ink_a, ink_b = ink_plane(a), ink_plane(b)
    frame_a, frame_b = find_frame(ink_a), find_frame(ink_b)
    if frame_a is None or frame_b is None:
        return None

    def pair(box_a: Box, box_b: Box) -> tuple[float, str]:
        w, h = min(box_a.width, box_b.width), min(box_a.height, box_b.height)
        return measure(_cut(a, box_a).resized(w, h), _cut(b, box_b).resized(w, h))

    data_threshold, label_threshold = thresholds
    legends_a, legends_b = legends(ink_a, frame_a, scale_a), legends(ink_b, frame_b, scale_b)
    if len(legends_a) != len(legends_b):
        return Outcome(False, 0.0, f"inside the axes: {len(legends_a)} legends -> {len(legends_b)}")
    w, h = min(frame_a.width, frame_b.width), min(frame_a.height, frame_b.height)
    data_a, data_b = _cut(a, frame_a).resized(w, h), _cut(b, frame_b).resized(w, h)
    for legend_a, legend_b in zip(legends_a, legends_b, strict=True):
        moved = _legend_moved(legend_a, legend_b, frame_a, frame_b, scale_a, scale_b)
        if moved:
            return Outcome(False, 0.0, f"inside the axes: the legend {moved}")
        # what a legend covers is compared as a label; the data behind it not at all
        for box in (_scaled(legend_a, frame_a, w, h), _scaled(legend_b, frame_b, w, h)):
            data_a, data_b = data_a.blanked(box), data_b.blanked(box)
    score, what = measure(data_a, data_b)
    if score < data_threshold:
        detail = f"inside the axes: {what}; similarity {below(score, data_threshold)}"
        return Outcome(False, score, detail)
    layout = _layout_difference(ink_a, ink_b, frame_a, frame_b, scale_a, scale_b)
    if isinstance(layout, str):
        return Outcome(False, 0.0, layout)
    named = [
        (f"the legend {n}", la, lb)
        for n, (la, lb) in enumerate(zip(legends_a, legends_b, strict=True), 1)
    ]
    for label, box_a, box_b in named + layout:
        label_score, label_what = pair(box_a, box_b)
        if label_score < label_threshold:
            detail = f"{label}: {label_what}; similarity {below(label_score, label_threshold)}"
            return Outcome(False, 0.0, detail)
    return Outcome(True, score, "")


def legends(ink: np.ndarray, frame: Box, scale: float) -> list[Box]:
    """The boxes of legends inside the frame: rectangles (rounded or not) of light
    grey lines, away from the frame's edges, in image pixels, top to bottom."""
    inset = 2
    crop = ink[frame.y0 + inset : frame.y1 - inset, frame.x0 + inset : frame.x1 - inset]
    light = (crop >= _LEGEND_INK[0]) & (crop <= _LEGEND_INK[1])
    rows = _runs(light, round(_LEGEND_MIN_PT[0] * scale))
    cols = _runs(light.T, round(_LEGEND_MIN_PT[1] * scale))
    if not len(rows) or not len(cols):
        return []
    height, width = crop.shape
    # edges are lines: light on one side of them, not light on the other
    edge = [
        not light[max(0, r - 2), a:b].mean() > 0.5
        or not light[min(height - 1, r + 2), a:b].mean() > 0.5
        for r, a, b in rows.tolist()
    ]
    rows = rows[np.array(edge, dtype=bool)]
    corner = round(_LEGEND_CORNER_PT * scale) + 2
    margin = _LEGEND_MARGIN_PT * scale
    found: list[Box] = []
    for i, (top, start, end) in enumerate(rows.tolist()):
        for bottom, start2, end2 in rows[i + 1 :].tolist():
            if abs(start - start2) > 2 or abs(end - end2) > 2 or bottom - top < 2 * corner:
                continue
            # a vertical edge at each end, between the two
            sides = []
            for near in (start, end - 1):
                ok = (
                    (np.abs(cols[:, 0] - near) <= corner)
                    & (cols[:, 1] >= top - 1)
                    & (cols[:, 2] <= bottom + 2)
                    & (cols[:, 2] - cols[:, 1] >= bottom - top - 2 * corner)
                )
                sides.append(cols[ok, 0])
            if not len(sides[0]) or not len(sides[1]):
                continue
            x0, x1 = int(sides[0].min()), int(sides[1].max()) + 1
            if min(x0, top, width - x1, height - bottom - 1) < margin:
                continue  # a grid cell, not a legend
            box = Box(x0, top, x1, bottom + 1)
            inner = corner + 1
            inside = crop[top + inner : bottom + 1 - inner, x0 + inner : x1 - inner]
            if (
                not inside.size
                or light[top + inner : bottom + 1 - inner, x0 + inner : x1 - inner].mean() > 0.3
            ):
                continue  # a legend is white inside (a light fill is not)
            if not (inside >= _LINE_INK).any():
                continue  # and holds text
            if not any(_overlap(box, other) for other in found):
                found.append(box)
    shift = (frame.x0 + inset, frame.y0 + inset)
    return [Box(b.x0 + shift[0], b.y0 + shift[1], b.x1 + shift[0], b.y1 + shift[1]) for b in found]


def _overlap(a: Box, b: Box) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _legend_moved(
    a: Box, b: Box, frame_a: Box, frame_b: Box, scale_a: float, scale_b: float
) -> str | None:
    """How a legend moved or changed size, if it did. It is placed at a fixed
    distance in points from one edge of the frame, or centred."""
    if not _same_size(a.width, b.width, scale_a, scale_b) or not _same_size(
        a.height, b.height, scale_a, scale_b
    ):
        return "changed size"
    for along_x in (True, False):
        gaps_a, gaps_b = _gaps(a, frame_a, along_x), _gaps(b, frame_b, along_x)
        same_gap = any(
            _same_size(ga, gb, scale_a, scale_b) for ga, gb in zip(gaps_a, gaps_b, strict=True)
        )
        centred = abs(_place(a, frame_a, along_x) - _place(b, frame_b, along_x))
        if not same_gap and centred > _PLACE_TOLERANCE:
            return "moved"
    return None


def _gaps(box: Box, frame: Box, along_x: bool) -> tuple[int, int]:
    if along_x:
        return box.x0 - frame.x0, frame.x1 - box.x1
    return box.y0 - frame.y0, frame.y1 - box.y1


def _scaled(box: Box, frame: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """`box` in the frame's crop resampled to width x height, a pixel larger."""
    fx, fy = width / frame.width, height / frame.height
    return (
        max(0, int((box.x0 - frame.x0) * fx) - 1),
        max(0, int((box.y0 - frame.y0) * fy) - 1),
        min(width, int(np.ceil((box.x1 - frame.x0) * fx)) + 1),
        min(height, int(np.ceil((box.y1 - frame.y0) * fy)) + 1),
    )


def _layout_difference(
    ink_a: np.ndarray,
    ink_b: np.ndarray,
    frame_a: Box,
    frame_b: Box,
    scale_a: float,
    scale_b: float,
) -> str | list[tuple[str, Box, Box]]:
    """How the ticks and labels around the two frames differ in number, place or
    size; if they do not, the pairs of labels (named) to compare by eye."""
    sides_a, sides_b = sides(ink_a, frame_a, scale_a), sides(ink_b, frame_b, scale_b)
    pairs: list[tuple[str, Box, Box]] = []
    for side in sides_a:
        along_x = side in ("top", "bottom")
        ticks_a, ticks_b = sides_a[side].ticks, sides_b[side].ticks
        if len(ticks_a) != len(ticks_b):
            return f"{side} of the axes: {len(ticks_a)} ticks -> {len(ticks_b)}"
        for ta, tb in zip(ticks_a, ticks_b, strict=True):
            pa, pb = _place_of(ta, frame_a, along_x), _place_of(tb, frame_b, along_x)
            if abs(pa - pb) > _PLACE_TOLERANCE:
                return f"{side} of the axes: a tick moved from {pa:.0%} to {pb:.0%}"
        layers_a, layers_b = sides_a[side].layers, sides_b[side].layers
        if len(layers_a) != len(layers_b):
            return f"{side} of the axes: {len(layers_a)} rows of labels -> {len(layers_b)}"
        for n, (la, lb) in enumerate(zip(layers_a, layers_b, strict=True), 1):
            where = f"{side} of the axes, row {n} of labels"
            if not _same_size(la.offset, lb.offset, scale_a, scale_b) or not _same_size(
                la.thickness, lb.thickness, scale_a, scale_b
            ):
                return f"{where}: moved or changed size"
            if len(la.items) != len(lb.items):
                return f"{where}: {len(la.items)} labels -> {len(lb.items)}"
            for k, (ia, ib) in enumerate(zip(la.items, lb.items, strict=True), 1):
                label = f"{where}, label {k}"
                pa, pb = _place(ia, frame_a, along_x), _place(ib, frame_b, along_x)
                if abs(pa - pb) > _PLACE_TOLERANCE:
                    return f"{label}: moved from {pa:.0%} to {pb:.0%} of the axes"
                if not _same_size(ia.width, ib.width, scale_a, scale_b) or not _same_size(
                    ia.height, ib.height, scale_a, scale_b
                ):
                    return f"{label}: changed size"
                pairs.append((label, ia, ib))
    return pairs


def _cut(picture: Picture, box: Box) -> Picture:
    return picture.crop((box.x0, box.y0, box.x1, box.y1))


def _same_size(a: int, b: int, scale_a: float, scale_b: float) -> bool:
    """Whether `a` pixels at `scale_a` and `b` at `scale_b` (pixels per point) are
    the same length in points."""
    pa, pb = a / scale_a, b / scale_b
    return abs(pa - pb) <= 1 / scale_a + 1 / scale_b + _SIZE_TOLERANCE * max(pa, pb)


def _place(box: Box, frame: Box, along_x: bool) -> float:
    """Where the middle of `box` is along a side, as a fraction of the frame."""
    middle = (box.x0 + box.x1 - 1) / 2 if along_x else (box.y0 + box.y1 - 1) / 2
    return _place_of(middle, frame, along_x)


def _place_of(position: float, frame: Box, along_x: bool) -> float:
    if along_x:
        return (position - frame.x0) / (frame.width - 1)
    return (position - frame.y0) / (frame.height - 1)

def below(score: float, threshold: float) -> str:
    """`0.548 < 0.55`: a score under its threshold, with the digits that show it is."""
    digits = 2
    while digits < 6 and round(score, digits) >= round(threshold, digits):
        digits += 1
    return f"{score:.{digits}f} < {threshold:.{digits}f}"
