"""Every normaliser: a case it must match and a near miss it must not.

Each case goes through the real comparer (`OutputComparer(options).compare_cell`), so a
normaliser is tested in the chain it runs in: the must-match case must come out
`equivalent` with that normaliser as the reason, the near miss must not come out
identical or equivalent, and with the normaliser switched off the must-match case
must not match either.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from nbrepro.compare import NORMALISERS, CompareOptions, OutputComparer
from nbrepro.compare.canonical import WIDGET_MIME
from nbrepro.compare.markers import Sanitizer
from nbrepro.compare.normalisers import Stage
from nbrepro.errors import ConfigError
from nbrepro.model import CellStatus

NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.timezone.utc)


def cell(*outputs: dict[str, Any], source: str = "x", ran_at: dt.datetime | None = None) -> dict:
    metadata: dict[str, Any] = {}
    if ran_at is not None:
        metadata["execution"] = {"iopub.execute_input": ran_at.isoformat().replace("+00:00", "Z")}
    return {
        "cell_type": "code",
        "source": source,
        "metadata": metadata,
        "execution_count": 1,
        "outputs": list(outputs),
    }


def result(text: str, count: int = 1, **extra: str) -> dict[str, Any]:
    return {
        "output_type": "execute_result",
        "execution_count": count,
        "metadata": {},
        "data": {"text/plain": text, **extra},
    }


def display(data: dict[str, str], metadata: dict | None = None) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": metadata or {}, "data": data}


def stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def error(ename: str, evalue: str, *traceback: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": list(traceback)}


def compare(stored: dict, new: dict, options: CompareOptions | None = None):
    options = options or CompareOptions(reference_time=NOW.timestamp())
    return OutputComparer(options or CompareOptions()).compare_cell(stored, new)


HTML_A = "<div>\n  <b>Result</b>\n  <i>42</i>\n</div>"
HTML_B = "<div><b>Result</b> <i>42</i></div>"
WARNING = "/site-packages/lib/core.py:12: FutureWarning: load() will return a float\n  x = load()\n"

# name -> (stored cell, new cell) that must be equivalent *because of* that normaliser
MATCHES: dict[str, tuple[dict, dict]] = {
    "execution-count": (cell(result("42", 3)), cell(result("42", 7))),
    "output-metadata": (
        cell(display({"text/plain": "x"}, {"needs_background": "light"})),
        cell(display({"text/plain": "x"})),
    ),
    "traceback": (
        cell(
            error("ZeroDivisionError", "division by zero", "In[3] line 1", "/tmp/ipykernel_1/1.py")
        ),
        cell(
            error("ZeroDivisionError", "division by zero", "In[5] line 1", "/tmp/ipykernel_2/9.py")
        ),
    ),
    "stream-chunking": (cell(stream("a\n"), stream("b\n")), cell(stream("a\nb\n"))),
    "progress-bar": (
        cell(
            stream(
                "\r 50%|#####     | 5/10 [00:00<00:00, 97.1it/s]"
                "\r100%|##########| 10/10 [00:00<00:00, 99.4it/s]\n",
                "stderr",
            )
        ),
        cell(stream("\r100%|##########| 10/10 [00:01<00:00, 8.53it/s]\n", "stderr")),
    ),
    "warnings": (cell(stream("done\n")), cell(stream("done\n"), stream(WARNING, "stderr"))),
    "memory-address": (
        cell(result("<__main__.Model at 0x7f3a2c1d9e50>")),
        cell(result("<__main__.Model at 0x10472a400>")),
    ),
    "object-id": (
        cell(result("UUID('1b4e28ba-2fa1-41d2-883f-0016d3cca427')")),
        cell(result("UUID('9c5b94b1-35ad-49bb-b118-8e8fc24abf80')")),
    ),
    "timing-report": (
        cell(stream("CPU times: user 2.29 ms, sys: 0 ns, total: 2.29 ms\nWall time: 2.29 ms\n")),
        cell(stream("CPU times: user 2.18 ms, sys: 149 µs, total: 2.33 ms\nWall time: 2.62 ms\n")),
    ),
    "temp-path": (
        cell(stream("saved to /tmp/tmpk2j3h4x_/out.csv and /home/alice/data.csv\n")),
        cell(stream("saved to /tmp/tmpq9w8e7r6/out.csv and /home/bob/data.csv\n")),
    ),
    "scalar-repr": (cell(result("(1.5, 3)")), cell(result("(np.float64(1.5), np.int64(3))"))),
    "figure-size": (
        cell(result("<Figure size 432x288 with 1 Axes>")),
        cell(result("<Figure size 640x480 with 1 Axes>")),
    ),
    "collection-order": (
        cell(result("{'lr': 0.01, 'batch': 32, 'tags': {'b', 'a'}}")),
        cell(result("{'batch': 32, 'tags': {'a', 'b'}, 'lr': 0.01}")),
    ),
    "html-whitespace": (
        cell(result("Result(42)", **{"text/html": HTML_A})),
        cell(result("Result(42)", **{"text/html": HTML_B})),
    ),
    "mime-bundle": (
        cell(result("Estimator(alpha=0.5)")),
        cell(result("Estimator(alpha=0.5)", **{"text/html": "<pre>Estimator(alpha=0.5)</pre>"})),
    ),
    "timestamp": (
        cell(stream("report generated at 2024-05-01 10:00:01\n")),
        cell(stream("report generated at 2026-11-27 09:30:12\n"), ran_at=NOW),
    ),
    "float-tolerance": (cell(result("2.8769666223179318")), cell(result("2.87696662231793"))),
    "axes-repr": (
        cell(result("<AxesSubplot:xlabel='date'>")),
        cell(result("<Axes: xlabel='date'>")),
    ),
    "plot-object-repr": (  # matplotlib < 3.4 vs >= 3.7
        cell(result("<matplotlib.axes._subplots.AxesSubplot at 0x7f2c1d9e5f10>")),
        cell(result("<Axes: xlabel='Date'>")),
    ),
    "whitespace": (  # `ls` laid out for another terminal width, a trailing space
        cell(stream("data.csv   envlib.py  notes.txt \nplot.png   run.py\n")),
        cell(stream("data.csv  envlib.py  notes.txt  plot.png  run.py\n")),
    ),
}

# name -> (stored cell, new cell): close to a match, but a real change
NEAR_MISSES: dict[str, tuple[dict, dict]] = {
    "execution-count": (cell(result("42", 3)), cell(result("43", 7))),
    "output-metadata": (
        cell(display({"text/plain": "x"}, {"needs_background": "light"})),
        cell(display({"text/plain": "y"})),
    ),
    "traceback": (
        cell(error("ValueError", "bad value 'x'", "In[3]")),
        cell(error("KeyError", "'x'", "In[5]")),
    ),
    "stream-chunking": (cell(stream("a\n"), stream("b\n")), cell(stream("a\nc\n"))),
    "progress-bar": (
        cell(stream("\r100%|##########| 100/100 [00:00<00:00, 99.4it/s]\n", "stderr")),
        cell(stream("\r100%|##########| 90/90 [00:01<00:00, 8.53it/s]\n", "stderr")),
    ),
    "warnings": (  # a message on stderr that is no warning
        cell(stream("done\n")),
        cell(stream("done\n"), stream("/lib/core.py:3: error: check your input\n", "stderr")),
    ),
    "memory-address": (cell(result("checksum: 0xdeadbeef")), cell(result("checksum: 0xdeadbeee"))),
    "object-id": (  # uuid5 is derived from a name: data, not noise
        cell(result("UUID('cfbff0d1-9375-5685-968c-48ce8b15ae17')")),
        cell(result("UUID('8c3f6cf5-6b8a-5d5a-9e2f-6c1b6f1f2a41')")),
    ),
    "timing-report": (
        cell(stream("10.8 µs ± 2.11 µs per loop (mean ± std. dev. of 3 runs, 20 loops each)\n")),
        cell(stream("10.8 µs ± 2.11 µs per loop (mean ± std. dev. of 7 runs, 20 loops each)\n")),
    ),
    "temp-path": (
        cell(stream("saved to /tmp/tmpk2j3h4x_/results_v1.csv\n")),
        cell(stream("saved to /tmp/tmpq9w8e7r6/results_v2.csv\n")),
    ),
    "scalar-repr": (cell(result("1.5")), cell(result("np.float64(1.6)"))),
    "figure-size": (
        cell(result("<Figure size 432x288 with 1 Axes>")),
        cell(result("<Figure size 640x480 with 2 Axes>")),
    ),
    "collection-order": (  # reordered *and* one value changed; and one key dropped
        cell(result("{'a': 1, 'b': 2, 'c': 3}")),
        cell(result("{'c': 3, 'b': 4, 'a': 1}")),
    ),
    "html-whitespace": (
        cell(result("Result(42)", **{"text/html": HTML_A})),
        cell(result("Result(42)", **{"text/html": HTML_B.replace("42", "43")})),
    ),
    "mime-bundle": (
        cell(result("Estimator(alpha=0.5)")),
        cell(result("Estimator(alpha=1.0)", **{"text/html": "<pre>Estimator(alpha=1.0)</pre>"})),
    ),
    "timestamp": (  # a date in the data, far from the re-run
        cell(stream("first order: 2020-01-02\n")),
        cell(stream("first order: 2020-01-03\n"), ran_at=NOW),
    ),
    "float-tolerance": (cell(result("mean = 0.51")), cell(result("mean = 0.61"))),
    "axes-repr": (  # the same class, other labels
        cell(result("<AxesSubplot:xlabel='date'>")),
        cell(result("<Axes: xlabel='day'>")),
    ),
    "plot-object-repr": (  # an axes became a figure: another object
        cell(result("<matplotlib.axes._subplots.AxesSubplot at 0x7f2c1d9e5f10>")),
        cell(result("<Figure size 640x480 with 1 Axes>")),
    ),
    "whitespace": (  # two words run together are not the same words
        cell(stream("data.csv   envlib.py\nplot.png\n")),
        cell(stream("data.csv  envlib.pyplot.png\n")),
    ),
}

TESTED_ELSEWHERE = {
    "sanitiser",
    "dataframe-table",
    "image-similar",
    "figure-resized",  # tests/test_compare_figsize.py
}


def test_every_normaliser_has_a_match_and_a_near_miss():
    assert set(MATCHES) == set(NEAR_MISSES) == set(NORMALISERS) - TESTED_ELSEWHERE


@pytest.mark.parametrize("name", sorted(MATCHES))
def test_normaliser_matches_its_noise(name):
    stored, new = MATCHES[name]
    comparison = compare(stored, new)
    assert comparison.status is CellStatus.EQUIVALENT, comparison
    assert comparison.reason == name
    assert name in comparison.normalisers


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_normaliser_does_not_hide_a_real_change(name):
    stored, new = NEAR_MISSES[name]
    comparison = compare(stored, new)
    assert comparison.status not in (CellStatus.IDENTICAL, CellStatus.EQUIVALENT), comparison
    assert comparison.detail


@pytest.mark.parametrize("name", sorted(MATCHES))
def test_switched_off_normaliser_is_not_used(name):
    stored, new = MATCHES[name]
    options = CompareOptions(reference_time=NOW.timestamp()).without(name)
    comparison = compare(stored, new, options)
    assert name not in comparison.normalisers
    if name != "timing-report":  # what %time prints is also a duration (`timestamp`)
        assert comparison.status not in (CellStatus.IDENTICAL, CellStatus.EQUIVALENT), comparison


def test_registry_entries_are_small_named_objects():
    for name, entry in NORMALISERS.items():
        assert entry.name == name and entry.description and callable(entry.function)
        assert isinstance(entry.stage, Stage)


def test_unknown_normaliser_is_a_config_error():
    with pytest.raises(ConfigError, match="no-such"):
        CompareOptions(normalisers=["no-such"])


def test_identical_outputs_need_no_normaliser():
    comparison = compare(cell(result("42")), cell(result("42")))
    assert comparison.status is CellStatus.IDENTICAL
    assert comparison.reason is None and comparison.nbdime_diff is None


def test_outputs_written_as_lists_of_lines_are_identical():
    assert (
        compare(cell(stream(["a\n", "b\n"])), cell(stream("a\nb\n"))).status is CellStatus.IDENTICAL
    )


def test_reason_is_the_normaliser_that_made_it_match_and_all_needed_are_listed():
    stored = cell(result("<Model at 0x7f3a2c1d9e50> 2.8769666223179318", 3))
    new = cell(result("<Model at 0x10472a400> 2.87696662231793", 4))
    comparison = compare(stored, new)
    assert comparison.status is CellStatus.EQUIVALENT
    assert comparison.reason == "float-tolerance"
    assert comparison.normalisers == ["execution-count", "memory-address", "float-tolerance"]


def test_warnings_are_reported_not_failing():
    comparison = compare(*MATCHES["warnings"])
    assert comparison.warnings == ["FutureWarning: load() will return a float"]


def test_warning_next_to_a_real_change_still_differs():
    comparison = compare(cell(result("0.85")), cell(stream(WARNING, "stderr"), result("0.83")))
    assert comparison.status is CellStatus.DIFFERENT
    assert comparison.warnings == ["FutureWarning: load() will return a float"]
    assert "0.85 -> 0.83" in comparison.detail


def test_float_tolerance_is_configurable_and_integers_are_exact():
    loose = CompareOptions(rtol=0.5)
    assert (
        compare(cell(result("0.51")), cell(result("0.61")), loose).status is CellStatus.EQUIVALENT
    )
    assert (
        compare(cell(result("1000000")), cell(result("1000001")), loose).status
        is CellStatus.DIFFERENT
    )
    tight = CompareOptions(rtol=0, atol=0)
    assert (
        compare(cell(result("1.0")), cell(result("1.0000001")), tight).status
        is CellStatus.DIFFERENT
    )


def test_float_tolerance_accepts_realigned_columns():
    stored = cell(result("   a         b\n0  0.1  2.876966662231793\n1  0.2  1.000000000000000"))
    new = cell(result("   a        b\n0  0.1  2.87696666223179\n1  0.2  1.00000000000000"))
    assert compare(stored, new).reason == "float-tolerance"


def test_whitespace_alone_is_not_float_noise():
    comparison = compare(cell(stream("a  b\n")), cell(stream("a b\n")))
    assert comparison.reason == "whitespace" and "float-tolerance" not in comparison.normalisers
    off = CompareOptions(reference_time=NOW.timestamp()).without("whitespace")
    assert compare(cell(stream("a  b\n")), cell(stream("a b\n")), off).status is (
        CellStatus.DIFFERENT
    )


def test_warnings_of_every_category_are_reported_not_failing():
    pandas_warning = (
        "/tmp/ipykernel_7/2.py:3: UserWarning: Could not infer format, so each element will be "
        "parsed individually, falling back to `dateutil`.\n  df = pd.to_datetime(df.date)\n"
    )
    for text, reported in (
        (pandas_warning, "UserWarning: Could not infer format"),
        ("x.py:1: RuntimeWarning: invalid value encountered in divide\n  y = a / b\n",
         "RuntimeWarning: invalid value encountered in divide"),
        ("x.py:9: SettingWithCopyWarning: \nA value is trying to be set on a copy\n\n"
         "See the caveats in the documentation\n  df['y'] = 1\n",
         "SettingWithCopyWarning: A value is trying to be set on a copy"),
    ):  # fmt: skip
        comparison = compare(cell(result("3")), cell(stream(text, "stderr"), result("3")))
        assert comparison.status is CellStatus.EQUIVALENT and comparison.reason == "warnings"
        assert len(comparison.warnings) == 1 and comparison.warnings[0].startswith(reported)
        strict = CompareOptions(reference_time=NOW.timestamp()).without("warnings")
        counted = compare(cell(result("3")), cell(stream(text, "stderr"), result("3")), strict)
        assert counted.status is not CellStatus.EQUIVALENT and counted.warnings


def test_numbers_that_moved_are_described():
    comparison = compare(cell(stream("loss 0.51 acc 0.9\n")), cell(stream("loss 0.61 acc 0.9\n")))
    assert comparison.reason == "numbers"
    assert "0.51 -> 0.61 (+0.1, +19.61%)" in comparison.detail
    assert "line 1" in comparison.detail


def test_durations_only_in_timing_lines():
    timing = compare(cell(stream("took 0.0123 s\n")), cell(stream("took 0.0456 s\n")))
    assert timing.reason == "timestamp"
    physics = compare(cell(stream("half-life: 5.3 s\n")), cell(stream("half-life: 5.4 s\n")))
    assert physics.status is CellStatus.DIFFERENT


def test_epoch_seconds_of_the_run_are_timestamps():
    stored = cell(result("1714557601.123"))
    new = cell(result(f"{NOW.timestamp() + 12.5:.3f}"), ran_at=NOW)
    assert compare(stored, new).reason == "timestamp"


def test_memory_address_in_html_escaped_repr():
    stored = cell(result("x", **{"text/html": "&lt;Foo object at 0x7f00aa11bb22&gt;"}))
    new = cell(result("x", **{"text/html": "&lt;Foo object at 0x7f99cc33dd44&gt;"}))
    assert compare(stored, new).reason == "memory-address"


def test_styler_ids_are_renamed_consistently():
    html = (
        "<style>#T_{0}_row0_col0 {{color: red}}</style>"
        '<table id="T_{0}"><td id="T_{0}_row0_col0">1</td></table>'
    )
    stored = cell(result("<Styler>", **{"text/html": html.format("b43ff")}))
    new = cell(result("<Styler>", **{"text/html": html.format("9a0c1")}))
    assert compare(stored, new).reason == "object-id"
    moved = html.format("9a0c1").replace("color: red", "color: blue")
    assert (
        compare(stored, cell(result("<Styler>", **{"text/html": moved}))).status
        is CellStatus.DIFFERENT
    )


def test_widget_model_ids_are_random():
    def widget(model_id: str) -> dict:
        view = {"version_major": 2, "version_minor": 0, "model_id": model_id}
        return cell(display({"text/plain": "  0%|          | 0/100", WIDGET_MIME: view}))

    stored, new = widget("3f1c" * 8), widget("9ab2" * 8)
    assert compare(stored, new).reason == "object-id"


def test_scratch_and_home_dirs_of_the_rerun():
    options = CompareOptions(scratch_dirs=["/tmp/nbr-x1/repo"], home_dirs=["/tmp/nbr-x1/home"])
    stored = cell(stream("/home/alice/proj/data.csv ~ /home/alice/.cache\n"))
    new = cell(stream("/tmp/nbr-x1/repo/data.csv ~ /tmp/nbr-x1/home/.cache\n"))
    # the scratch copy is the repository, wherever the author kept it: <repo> vs <home>/proj
    assert compare(stored, new, options).status is CellStatus.DIFFERENT
    stored = cell(stream("cache in /home/alice/.cache\n"))
    new = cell(stream("cache in /tmp/nbr-x1/home/.cache\n"))
    assert compare(stored, new, options).reason == "temp-path"


def test_repository_sanitisers():
    options = CompareOptions(sanitizers=[Sanitizer.compile(r"Run id: \w+", "Run id: X")])
    stored, new = cell(stream("Run id: 3fa2\n")), cell(stream("Run id: 9bc1\n"))
    assert compare(stored, new, options).reason == "sanitiser"
    assert compare(stored, cell(stream("Run ID: 9bc1\n")), options).status is CellStatus.DIFFERENT
    assert compare(stored, new, options.without("sanitiser")).status is CellStatus.DIFFERENT


def test_missing_and_extra_outputs():
    assert compare(cell(stream("a\n")), cell()).status is CellStatus.MISSING_OUTPUT
    assert compare(cell(), cell(stream("a\n"))).status is CellStatus.EXTRA_OUTPUT
    two = cell(stream("summary:\n"), display({"text/plain": "<Figure>", "image/png": "AAAA"}))
    missing = compare(two, cell(stream("summary:\n")))
    assert missing.status is CellStatus.MISSING_OUTPUT and "output 2" in missing.detail
    extra = compare(cell(stream("a\n")), cell(stream("a\n"), result("{'coef': 0.5}")))
    assert extra.status is CellStatus.EXTRA_OUTPUT and "coef" in extra.detail


def test_exceptions():
    stored = cell(error("ValueError", "bad value 'x'"))
    changed = compare(stored, cell(error("KeyError", "'x'")))
    assert changed.status is CellStatus.DIFFERENT and changed.reason == "exception"
    assert "ValueError: bad value 'x' -> KeyError: 'x'" in changed.detail
    message = compare(
        cell(error("TypeError", "invalid literal")), cell(error("TypeError", "could not convert"))
    )
    assert message.status is CellStatus.DIFFERENT and "message changed" in message.detail
    new_error = compare(cell(result("2.0")), cell(error("AttributeError", "no fit")))
    assert new_error.status is CellStatus.ERROR and "AttributeError: no fit" in new_error.detail


def test_listing_in_columns_for_another_terminal_width_is_whitespace():
    narrow = "alpha.csv  envlib.py\r\nbeta.csv   gamma_measurements.csv\r\ndelta.txt  zeta.py\r\n"
    wide = "alpha.csv  beta.csv  delta.txt\tenvlib.py  gamma_measurements.csv  zeta.py\r\n"
    assert compare(cell(stream(narrow)), cell(stream(wide))).reason == "whitespace"
    renamed = wide.replace("zeta.py", "zeta2.py")
    assert compare(cell(stream(narrow)), cell(stream(renamed))).status is CellStatus.DIFFERENT
    # a grid of numbers read down its columns would be a transposed table: not layout
    grid = compare(cell(stream("1  2\n3  4\n")), cell(stream("1  3\n2  4\n")))
    assert grid.status is CellStatus.DIFFERENT


def test_readme_lists_every_reason():
    """Users read reasons off the README's table; a normaliser added without a row
    there is a reason nobody can look up."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("The `reason` of a cell is one of these words:")[1].split("\n\n")[1]
    fixed = ["ignored-by-marker", "skipped-by-marker", "too-large", "volatile", "exception"]
    for name in [*NORMALISERS, *fixed]:
        assert f"`{name}`" in table, name
