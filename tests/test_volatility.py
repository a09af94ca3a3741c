"""Volatile cells: two runs in one environment disagree; a checked sanitiser is suggested."""

from __future__ import annotations

import re

from nbrepro.compare import CompareOptions, compare_notebook
from nbrepro.compare.markers import parse_sanitize_text
from nbrepro.compare.volatility import IGNORE_HINT, detect, suggest_sanitiser
from nbrepro.model import CellStatus


def run(*texts: str, source: str = "x") -> dict:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {},
        "execution_count": 1,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": t} for t in texts],
    }


def image_run(data: str) -> dict:
    return {
        "cell_type": "code",
        "source": "plot()",
        "metadata": {},
        "execution_count": 1,
        "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"image/png": data}}],
    }


def test_same_output_twice_is_not_volatile():
    assert not detect(run("accuracy: 0.93\n"), run("accuracy: 0.93\n")).volatile


def test_noise_the_normalisers_explain_is_not_volatile():
    first = run("model <Net object at 0x7f00aa11bb22>\n")
    second = run("model <Net object at 0x7f99cc33dd44>\n")
    assert not detect(first, second).volatile


def test_unseeded_number_is_volatile_with_an_anchored_sanitiser():
    first, second = run("sample mean: -0.0847\nn = 50\n"), run("sample mean: 0.1346\nn = 50\n")
    result = detect(first, second)
    assert result.volatile and result.sanitiser is not None
    assert result.sanitiser.pattern.pattern == (
        r"(?<=sample mean: )[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
    )
    assert "-0.0847 -> 0.1346" in result.detail
    # the suggestion is what a user pastes into an nbval sanitize file, and it parses
    assert (
        parse_sanitize_text(result.suggestion)[0].pattern.pattern
        == result.sanitiser.pattern.pattern
    )
    # and it does not swallow other numbers
    assert result.sanitiser.apply("n = 50, sample mean: 3.5") == "n = 50, sample mean: <volatile>"


def test_whole_line_shape_when_tokens_have_no_anchor():
    first = run("Best params: alpha=0.31, depth=4 (score 0.88)\n")
    second = run("Best params: alpha=0.07, depth=6 (score 0.91)\n")
    result = detect(first, second)
    assert result.volatile and result.sanitiser is not None
    assert result.sanitiser.apply(first["outputs"][0]["text"]) == result.sanitiser.apply(
        second["outputs"][0]["text"]
    )


def test_too_broad_suggestions_become_a_hint():
    result = detect(run("array([0.713, 0.482])\n"), run("array([0.097, 0.688])\n"))
    assert result.volatile and result.sanitiser is None and result.suggestion == IGNORE_HINT
    bare = suggest_sanitiser(run("0.0184\n"), run("0.0284\n"))
    assert bare is None


def test_random_image_gets_a_hint():
    result = detect(
        image_run(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
        ),
        image_run(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
        ),
    )
    assert result.volatile and result.suggestion == IGNORE_HINT


def test_compare_notebook_marks_volatile_cells_and_keeps_real_changes():
    def nb(*cells: dict) -> dict:
        return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

    stored = nb(run("sample mean: 0.51\n", source="a"), run("threshold 0.51\n", source="b"))
    first = nb(run("sample mean: 0.12\n", source="a"), run("threshold 0.61\n", source="b"))
    second = nb(run("sample mean: 0.77\n", source="a"), run("threshold 0.61\n", source="b"))
    result = compare_notebook(stored, first, CompareOptions(), second_run=second)
    volatile, changed = (c.comparison for c in result.cells)
    assert volatile.status is CellStatus.VOLATILE and volatile.reason == "volatile"
    assert re.search(r"regex: \(\?<=sample mean: \)", volatile.suggested_sanitiser)
    assert changed.status is CellStatus.DIFFERENT
    record = volatile.to_cell_result(0)
    assert record.status is CellStatus.VOLATILE
    assert record.suggested_sanitiser == volatile.suggested_sanitiser
