"""Images: a re-rendered plot is `image-similar`, a plot of changed data is different.

The plots are drawn here with matplotlib; the environment changes are the ones a
newer matplotlib or inline backend brings (dpi, font hinting, anti-aliasing, PNG
metadata), the data changes are small (one point, one bar, one heat-map cell).
"""

from __future__ import annotations

import base64
import functools
import io

import matplotlib
import numpy as np
import pytest

from nbrepro.compare import NORMALISERS, CompareOptions, OutputComparer
from nbrepro.compare.images import canonical_svg
from nbrepro.model import CellStatus
from tests.helpers.plots import plot_cell

matplotlib.use("agg")
import matplotlib.pyplot as plt

RNG = np.random.default_rng(1)
WALK = np.cumsum(RNG.normal(size=40))
POINTS = RNG.normal(size=(2, 60))
GRID = RNG.random((8, 8))


def draw(kind: str, change: bool = False):
    y, (sx, sy), grid = WALK.copy(), POINTS.copy(), GRID.copy()
    bars = np.array([3, 5, 2, 6, 4.0])
    if change:
        y[20] += (y.max() - y.min()) * 0.08
        sy[10] += 0.5
        bars[3] *= 1.08
        grid[3, 4] += 0.3
    fig, ax = plt.subplots()
    if kind == "line":
        ax.plot(y, label="train")
        ax.legend()
    elif kind == "scatter":
        ax.scatter(sx, sy, s=12)
    elif kind == "bar":
        ax.bar(range(5), bars)
    elif kind == "heat":
        ax.imshow(grid)
    ax.set_title("accuracy 0.93")
    return fig


def render(kind: str, change: bool = False, fmt: str = "png", metadata=None, **rc) -> str:
    return _render(
        kind, change, fmt, tuple(sorted((metadata or {}).items())), tuple(sorted(rc.items()))
    )


@functools.cache
def _render(kind: str, change: bool, fmt: str, metadata: tuple, rc: tuple) -> str:
    metadata = dict(metadata) or None
    with plt.rc_context({"figure.figsize": (4, 3), "figure.dpi": 72, **dict(rc)}):
        fig = draw(kind, change)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, bbox_inches="tight", metadata=metadata)
        plt.close(fig)
    if fmt == "svg":
        return buffer.getvalue().decode()
    return base64.b64encode(buffer.getvalue()).decode()


def compare(a: str, b: str, mime: str = "image/png", **options):
    return OutputComparer(CompareOptions(**options)).compare_cell(
        plot_cell(a, mime), plot_cell(b, mime)
    )


KINDS = ["line", "scatter", "bar", "heat"]
RERENDERS = {
    "png-metadata": {"metadata": {"Software": "matplotlib version3.5.1"}},
    "dpi-100": {"figure.dpi": 100},
    "dpi-60": {"figure.dpi": 60},
    "font-hinting": {"text.hinting": "force_autohint"},
    "no-antialiasing": {"lines.antialiased": False, "text.antialiased": False},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rerender", sorted(RERENDERS))
def test_rerendered_plot_is_image_similar(kind, rerender):
    settings = dict(RERENDERS[rerender])
    metadata = settings.pop("metadata", None)
    result = compare(render(kind), render(kind, metadata=metadata, **settings))
    assert result.status is CellStatus.EQUIVALENT, result.detail
    assert result.reason == "image-similar"
    assert result.image_score is not None and result.image_score >= 0.55


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rerender", ["none", "dpi-100"])
def test_plot_of_changed_data_is_different(kind, rerender):
    settings = dict(RERENDERS.get(rerender, {}))
    result = compare(render(kind), render(kind, change=True, **settings))
    assert result.status is CellStatus.DIFFERENT, result.image_score
    assert result.reason == "image"
    assert "similarity" in result.detail and "around x=" in result.detail


def test_difference_image_is_a_png_for_the_report():
    result = compare(render("bar"), render("bar", change=True))
    assert result.image_diff is not None and result.image_diff.startswith(b"\x89PNG")
    record = result.to_cell_result(3)
    assert base64.b64decode(record.image_diff).startswith(b"\x89PNG")
    assert not compare(render("bar"), render("bar", change=True), diff_images=False).image_diff


def test_changed_aspect_ratio_is_not_image_similar():
    """Only `figure-resized` (tests/test_compare_figsize.py) may match such a pair."""
    result = compare(
        render("bar", **{"figure.figsize": (6, 4)}),
        render("bar", **{"figure.figsize": (6.4, 4.8), "figure.dpi": 100}),
        normalisers=[n for n in NORMALISERS if n != "figure-resized"],
    )
    assert result.status is CellStatus.DIFFERENT
    assert "aspect ratio" in result.detail and "cannot be compared" in result.detail


def test_threshold_is_configurable():
    stored, new = render("line"), render("line", **{"figure.dpi": 100})
    assert compare(stored, new, image_threshold=1.0).status is CellStatus.DIFFERENT
    assert compare(stored, new).status is CellStatus.EQUIVALENT


def test_undecodable_image_is_different():
    result = compare(render("line"), base64.b64encode(b"not a png").decode())
    assert result.status is CellStatus.DIFFERENT and "could not be decoded" in result.detail


def test_svg_with_new_random_ids_and_date_is_image_similar():
    with plt.rc_context({"svg.hashsalt": None}):
        a, b = render("line", fmt="svg"), render("line", fmt="svg", metadata={"Date": "2030-01-01"})
    assert a != b
    result = compare(a, b, mime="image/svg+xml")
    assert result.status is CellStatus.EQUIVALENT and result.reason == "image-similar"


def test_svg_of_changed_data_is_different():
    result = compare(
        render("bar", fmt="svg"), render("bar", change=True, fmt="svg"), mime="image/svg+xml"
    )
    assert result.status is CellStatus.DIFFERENT and "drawing changed" in result.detail


def test_canonical_svg_renames_ids_and_their_references():
    svg = (
        '<svg><metadata>date</metadata><defs><clipPath id="p1a2b"><rect/></clipPath></defs>'
        '<g clip-path="url(#p1a2b)"><use xlink:href="#m9f"/></g><path id="m9f"/></svg>'
    )
    assert canonical_svg(svg) == (
        '<svg><defs><clipPath id="id1"><rect/></clipPath></defs>'
        '<g clip-path="url(#id1)"><use xlink:href="#id2"/></g><path id="id2"/></svg>'
    )


def test_every_output_of_a_cell_is_compared_and_listed():
    """Not only the first difference: each output's outcome is in the cell's detail,
    images with their similarity score."""

    def three(text: str, line: str, bar: str) -> dict:
        cell = plot_cell(line)
        cell["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": "fitted\n"},
            *cell["outputs"],
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": bar}},
            {"output_type": "execute_result", "execution_count": 1, "metadata": {},
             "data": {"text/plain": text}},
        ]  # fmt: skip
        return cell

    stored = three("0.85", render("line"), render("bar"))
    new = three("0.83", render("line", **{"figure.dpi": 100}), render("bar", change=True))
    result = OutputComparer(CompareOptions()).compare_cell(stored, new)
    assert result.status is CellStatus.DIFFERENT
    assert [o.status.value for o in result.outputs] == [
        "identical", "equivalent", "different", "different"
    ]
    detail = result.detail
    assert detail.startswith("output 1 (stdout): identical; output 2 (display_data image/png")
    assert "equivalent (image-similar, similarity 0." in detail
    assert "output 3 (display_data image/png): different: image/png: " in detail
    assert "similarity" in detail.split("output 3")[1].split("output 4")[0]
    assert "output 4 (execute_result text/plain): different: text/plain line 1: '0.85'" in detail
    assert result.reason == "image"  # the first output that differs
    scores = [o.image_score for o in result.outputs if o.image_score is not None]
    assert len(scores) == 2 and result.image_score == min(scores)
    equal = OutputComparer(CompareOptions()).compare_cell(
        stored, three("0.85", render("line", **{"figure.dpi": 100}), render("bar"))
    )
    assert equal.status is CellStatus.EQUIVALENT and equal.reason == "image-similar"
    assert "output 2 (display_data image/png, text/plain): equivalent (image-similar" in (
        equal.detail
    )


def test_a_score_just_under_its_threshold_reads_as_under_it():
    from nbrepro.compare.images.figures import below

    assert below(0.548, 0.55) == "0.548 < 0.550"  # not "0.55 < 0.55"
    assert below(0.30, 0.55) == "0.30 < 0.55"
