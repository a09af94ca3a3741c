"""Named normalisers: each one removes one kind of noise, and can be switched off.

The registry `NORMALISERS` is ordered; the comparer applies the entries in that
order and names, for an `equivalent` cell, the entry after which stored and new
outputs matched. Each entry is a typed normaliser of its stage (`kinds`):
outputs-level (`outputs`), text (`text`), token rules and the layout rule
(`nbrepro.compare.tolerance`), the MIME-bundle rule (`bundle`) and value
comparers (`nbrepro.compare.tables`, `nbrepro.compare.images`).

Every normaliser must only ever remove noise: each has a unit test with a case it
must match and a near miss it must not (tests/test_compare_normalise.py).
"""

from __future__ import annotations

from nbrepro.compare import images, tables, tolerance
from nbrepro.compare.normalisers import outputs, text
from nbrepro.compare.normalisers.bundle import shared_mimes
from nbrepro.compare.normalisers.kinds import (
    BundleNormaliser,
    LayoutNormaliser,
    Normaliser,
    OutputsNormaliser,
    Rewriter,
    Stage,
    TextContext,
    TextNormaliser,
    TokenNormaliser,
    ValueNormaliser,
)

_ENTRIES: list[Normaliser] = [
    OutputsNormaliser(
        "execution-count", "execution counts of execute_result outputs",
        outputs.drop_execution_count,
    ),
    OutputsNormaliser(
        "output-metadata", "output metadata (image sizes, needs_background)",
        outputs.drop_output_metadata,
    ),
    OutputsNormaliser(
        "traceback", "traceback text of an exception (its name and message stay)",
        outputs.drop_traceback,
    ),
    OutputsNormaliser(
        "stream-chunking", "how printed text was split into stream messages",
        outputs.join_stream_chunks,
    ),
    OutputsNormaliser(
        "progress-bar", "carriage-return progress bars (tqdm, Keras) and their timings",
        outputs.progress_bar,
    ),
    OutputsNormaliser(
        "warnings", "warnings of any category on stderr (reported)", outputs.strip_warnings
    ),
    TextNormaliser(
        "memory-address", "memory addresses in reprs (<... at 0x7f...>)", text.memory_address
    ),
    TextNormaliser(
        "object-id", "random ids: uuid4, pandas Styler ids, widget model ids", text.object_id
    ),
    TextNormaliser("timing-report", "what %time and %timeit print", text.timing_report),
    TextNormaliser(
        "temp-path", "temporary directories, tempfile names, home directories", text.temp_path
    ),
    TextNormaliser(
        "scalar-repr", "numpy/pandas scalar and dtype reprs (np.float64(1.5) vs 1.5)",
        text.scalar_repr,
    ),
    TextNormaliser(
        "figure-size", "the size in a matplotlib <Figure size WxH ...> repr", text.figure_size
    ),
    TextNormaliser(
        "axes-repr", "matplotlib's renamed axes repr (<AxesSubplot: > vs <Axes: >)",
        text.axes_repr,
    ),
    TextNormaliser(
        "collection-order", "order of items in set and dict reprs", text.collection_order
    ),
    TextNormaliser("html-whitespace", "whitespace in HTML outputs", text.html_whitespace),
    TextNormaliser(
        "sanitiser", "the repository's sanitize patterns (nbval files, [tool.nbrepro])",
        text.user_sanitisers,
    ),
    BundleNormaliser(
        "mime-bundle", "representations added or dropped; shared MIME types compared",
        shared_mimes,
    ),
    TokenNormaliser(
        "timestamp", "dates and times of the run, durations and timings",
        tolerance.timestamp_rule,
    ),
    TokenNormaliser(
        "float-tolerance", "numbers in text within rtol/atol; column realignment",
        tolerance.float_rule,
    ),
    LayoutNormaliser(
        "whitespace",
        "whitespace and layout: trailing spaces, columns laid out for another terminal width",
        tolerance.same_but_whitespace,
    ),
    ValueNormaliser(
        "plot-object-repr",
        "matplotlib's old default Axes/Figure reprs (<...AxesSubplot at 0x…>) vs <Axes: …>",
        text.plot_object_repr,
    ),
    ValueNormaliser(
        "dataframe-table", "HTML tables compared cell by cell, markup ignored",
        tables.compare_html_tables,
    ),
    # One comparison serves both image normalisers; each says which of its two
    # tests may match (see images.compare_images).
    ValueNormaliser(
        "image-similar", "images compared perceptually (structural similarity)",
        images.compare_images,
    ),
    ValueNormaliser(
        "figure-resized",
        "a plot re-drawn at another figure size: data area and labels compared apart",
        images.compare_images,
    ),
]  # fmt: skip

NORMALISERS: dict[str, Normaliser] = {entry.name: entry for entry in _ENTRIES}

__all__ = [
    "NORMALISERS",
    "BundleNormaliser",
    "LayoutNormaliser",
    "Normaliser",
    "OutputsNormaliser",
    "Rewriter",
    "Stage",
    "TextContext",
    "TextNormaliser",
    "TokenNormaliser",
    "ValueNormaliser",
]
