"""Crafted outputs and repository patterns: comparing them stays fast and never crashes.

Stored outputs and `[tool.nbrepro]` patterns come from the audited repository, so
they can be written to make a comparison slow: a pattern that rescans the rest
of the text from each of many starting points is quadratic (a second for 20 kB,
four for 40 kB), nesting can exhaust the recursion limit, and a repository's own
regex can backtrack for ever. Each case below is one such attack on one part of
the comparison, about 40 kB, and must be compared in well under a second.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from nbrepro import repoconfig
from nbrepro.compare import CompareOptions, compare_notebook
from nbrepro.compare.markers import Sanitizer
from nbrepro.compare.outputs import OutputComparer
from nbrepro.errors import ConfigError
from nbrepro.model import CellStatus

# CPU seconds for one cell of about 40 kB: the attacks took seconds to minutes, a
# linear comparison takes about a third of a second. CPU time, so that other work on
# the machine counts little (it still slows a shared cache, hence the margin).
BUDGET = 1.0
SIZE = 40_000


def cell(*outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "source": "x", "metadata": {}, "outputs": list(outputs)}


def html(value: str) -> dict[str, Any]:
    data = {"text/plain": "<table>", "text/html": value}
    return {"output_type": "display_data", "metadata": {}, "data": data}


def plain(value: str) -> dict[str, Any]:
    return {"output_type": "execute_result", "execution_count": 1, "metadata": {},
            "data": {"text/plain": value}}  # fmt: skip


def svg(value: str) -> dict[str, Any]:
    data = {"text/plain": "<Figure>", "image/svg+xml": value}
    return {"output_type": "display_data", "metadata": {}, "data": data}


def stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def _table(value: str) -> str:
    return f"<table><tr><th>a</th></tr><tr><td>{value}</td></tr></table>"


# name -> (stored cell, new cell): the two sides differ, so the comparison does its work
ATTACKS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # tag stripping (`<[^>]*>`): many `<` and no `>`
    "unclosed-tags": (
        cell(html(_table("1") + "<b" * (SIZE // 2))),
        cell(html(_table("2") + "<b" * (SIZE // 2))),
    ),
    # pandas' style filter (`[^{}]*\.dataframe[^{}]*\{...`): a style without braces
    "style-without-braces": (
        cell(html("<style>" + "x" * SIZE + "</style>" + _table("1"))),
        cell(html("<style>" + "x" * SIZE + "</style>" + _table("2"))),
    ),
    # `<table>(.*?)</table>`: many tables that never close
    "unclosed-tables": (
        cell(html(_table("1") + "<table>" * (SIZE // 7))),
        cell(html(_table("2") + "<table>" * (SIZE // 7))),
    ),
    # `<metadata>.*?</metadata>` and `<!--.*?-->`: blocks that never close
    "unclosed-svg-blocks": (
        cell(svg("<svg><path d='M 1 1'/>" + "<metadata><!--" * (SIZE // 14) + "</svg>")),
        cell(svg("<svg><path d='M 1 2'/>" + "<metadata><!--" * (SIZE // 14) + "</svg>")),
    ),
    # `{...}` reprs sorted recursively: nesting deeper than the recursion limit
    "deep-braces": (
        cell(plain("{" * (SIZE // 2) + "1, 2" + "}" * (SIZE // 2))),
        cell(plain("{" * (SIZE // 2) + "1, 3" + "}" * (SIZE // 2))),
    ),
    # tempfile names after `/tmp/`: a lazy prefix and a lookahead over the rest
    "temp-path": (
        cell(stream("/tmp/" + "a_" * (SIZE // 2) + "\n")),
        cell(stream("/tmp/" + "b_" * (SIZE // 2) + "\n")),
    ),
    # the duration rule reading the whole line for each of many differing numbers
    "many-durations": (
        cell(stream("took 1 s, " * (SIZE // 10) + "\n")),
        cell(stream("took 2 s, " * (SIZE // 10) + "\n")),
    ),
    # a sequence matcher over many equal lines (the first change; the nbdime diff)
    "many-equal-lines": (
        cell(stream("a\n" * (SIZE // 2))),
        cell(stream("a\n" * (SIZE // 2) + "b\n")),
    ),
}

# Patterns written for this comparison that must stay linear too (they are not
# attacks on an earlier version, which had none of them or bounded ones).
GUARDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # numpy scalar reprs that never close
    "numpy-scalars": (
        cell(plain("np.float64(" * (SIZE // 11) + "1")),
        cell(plain("np.float64(" * (SIZE // 11) + "2")),
    ),
    # warnings on stderr: many headers whose message never ends
    "warning-headers": (
        cell(stream("x.py:1: UserWarning: \n" * (SIZE // 23), "stderr")),
        cell(stream("x.py:2: UserWarning: \n" * (SIZE // 23), "stderr")),
    ),
}


@pytest.mark.parametrize("name", sorted(ATTACKS) + sorted(GUARDS))
def test_crafted_output_is_compared_fast(name):
    stored, new = ATTACKS.get(name) or GUARDS[name]
    started = time.process_time()
    comparison = OutputComparer(CompareOptions()).compare_cell(stored, new)
    seconds = time.process_time() - started
    assert comparison.status is not CellStatus.IDENTICAL
    assert seconds < BUDGET, f"{name}: {seconds:.2f} s"


def test_crafted_notebook_is_compared_fast():
    """All the attacks in one notebook, through `compare_notebook` (as a check does,
    with the nbdime diff the extension shows)."""
    stored = {"cells": [a for a, _ in ATTACKS.values()], "metadata": {}, "nbformat": 4}
    new = {"cells": [b for _, b in ATTACKS.values()], "metadata": {}, "nbformat": 4}
    started = time.process_time()
    result = compare_notebook(stored, new)
    result.nbdime_diff()
    assert time.process_time() - started < BUDGET * len(ATTACKS) / 2
    assert all(c.comparison.status is not CellStatus.IDENTICAL for c in result.cells)


def test_output_larger_than_the_cap_is_too_large():
    big = "0.5 " * 600_000  # 2.4 MB: past the 2 MB compared
    comparison = OutputComparer(CompareOptions()).compare_cell(
        cell(stream(big)), cell(stream(big + "1"))
    )
    assert comparison.status is CellStatus.DIFFERENT and comparison.reason == "too-large"
    assert "stored output 1 (stdout) has 2,400,000 characters" in comparison.detail
    same = OutputComparer(CompareOptions()).compare_cell(cell(stream(big)), cell(stream(big)))
    assert same.status is CellStatus.IDENTICAL  # identity is still checked
    small = OutputComparer(CompareOptions(max_text_chars=100)).compare_cell(
        cell(stream("x" * 101)), cell(stream("y" * 101))
    )
    assert small.reason == "too-large"


def test_too_many_outputs_is_too_large():
    many = [stream(f"{i}\n", "stderr" if i % 2 else "stdout") for i in range(3000)]
    comparison = OutputComparer(CompareOptions()).compare_cell(cell(*many), cell(*many[:-1]))
    assert comparison.reason == "too-large" and "3,000 outputs" in comparison.detail


@pytest.mark.parametrize(
    "table",
    [
        "[tool.nbrepro]\nignore = ['(a|aa)+$']\n",
        "[tool.nbrepro]\nsanitize-with = 'sanitize.cfg'\n",
    ],
)
def test_backtracking_repository_pattern_is_stopped(tmp_path, table):
    """A repository pattern that backtracks for ever runs under a time limit; it is
    left out and the cell says so. The other patterns still apply."""
    (tmp_path / "pyproject.toml").write_text(table)
    (tmp_path / "sanitize.cfg").write_text("regex: (a|aa)+$\nreplace: A\n")
    options = repoconfig.load(tmp_path).options_for("nb.ipynb")
    comparer = OutputComparer(options)
    text = "a" * 40 + "b\n"
    started = time.perf_counter()
    first = comparer.compare_cell(cell(stream(text + "run 1\n")), cell(stream(text + "run 2\n")))
    second = comparer.compare_cell(cell(stream(text + "x\n")), cell(stream(text + "y\n")))
    seconds = time.perf_counter() - started
    assert first.status is CellStatus.DIFFERENT
    assert "left out the repository's pattern '(a|aa)+$'" in first.detail
    assert "took more than" in first.detail
    assert second.status is CellStatus.DIFFERENT  # the pattern stays out: no second wait
    assert "left out" not in (second.detail or "")
    assert seconds < 5, seconds
    assert comparer.failed_patterns and "(a|aa)+$" in comparer.failed_patterns[0]


def test_replacement_naming_a_missing_group_is_a_settings_problem(tmp_path):
    """A replacement naming a group the pattern lacks would fail only on a match, in
    the middle of a comparison: it is found when the settings are read."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.nbrepro]\nignore = [{regex = 'id: \\w+', replace = 'id: \\2'}]\n"
    )
    with pytest.raises(ConfigError, match=r"ignore: replacement .*2. does not work"):
        repoconfig.load(tmp_path)
    lenient = repoconfig.load(tmp_path, strict=False)
    assert any("does not work" in problem for problem in lenient.problems)
    options = lenient.options_for("nb.ipynb")  # the entry is left out
    comparison = OutputComparer(options).compare_cell(
        cell(stream("id: a1\n")), cell(stream("id: b2\n"))
    )
    assert comparison.status is CellStatus.DIFFERENT


def test_replacement_that_fails_when_applied_is_left_out():
    """A pattern only the `regex` module reads cannot be checked in advance; when its
    replacement fails on a match, that is a result for the cell, not an aborted check."""
    options = CompareOptions(
        sanitizers=[Sanitizer.compile(r"id: \p{L}\w+", r"id: \2", "pyproject.toml")])
    comparison = OutputComparer(options).compare_cell(
        cell(stream("id: a1\n")), cell(stream("id: b2\n"))
    )
    assert comparison.status is CellStatus.DIFFERENT
    assert "left out the repository's pattern" in comparison.detail


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ((14_000, 14_000), "decompression bomb"),  # PIL refuses it on opening
        ((10_000, 5_000), "10000x5000 pixels is more than nbrepro decodes"),  # nbrepro's cap
    ],
)
def test_decompression_bomb_is_a_result_not_a_crash(size, why):
    """A small PNG that claims tens or hundreds of millions of pixels is refused
    before it is decoded, and that is the cell's result."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", size).save(buffer, "PNG")
    bomb = base64.b64encode(buffer.getvalue()).decode()
    assert len(bomb) < 200_000
    small = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(small, "PNG")
    plot = base64.b64encode(small.getvalue()).decode()

    def figure(value: str) -> dict[str, Any]:
        data = {"text/plain": "<Figure>", "image/png": value}
        return cell({"output_type": "display_data", "metadata": {}, "data": data})

    started = time.process_time()
    comparison = OutputComparer(CompareOptions()).compare_cell(figure(plot), figure(bomb))
    assert time.process_time() - started < BUDGET
    assert comparison.status is CellStatus.DIFFERENT
    assert "could not be decoded" in comparison.detail and why in comparison.detail
