"""nbval's markers and sanitize files, nbclient's tags."""

from __future__ import annotations

import pytest

from nbrepro.compare import CompareOptions, OutputComparer
from nbrepro.compare.markers import (
    PolicyKind,
    apply_execution_tags,
    cell_policy,
    find_markers,
    load_sanitize_file,
    parse_sanitize_text,
)
from nbrepro.errors import ConfigError
from nbrepro.model import CellStatus


def code(source: str = "x", tags: list[str] | None = None, outputs: list | None = None) -> dict:
    metadata = {"tags": tags} if tags is not None else {}
    return {
        "cell_type": "code",
        "source": source,
        "metadata": metadata,
        "execution_count": 1,
        "outputs": outputs or [],
    }


def out(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


@pytest.mark.parametrize(
    ("source", "tags", "kind"),
    [
        ("x = 1", None, PolicyKind.CHECK),
        ("# NBVAL_IGNORE_OUTPUT\nx", None, PolicyKind.IGNORE_OUTPUT),
        ("#NBVAL_IGNORE_OUTPUT\nx", None, PolicyKind.IGNORE_OUTPUT),
        ("# PYTEST_VALIDATE_IGNORE_OUTPUT\nx", None, PolicyKind.IGNORE_OUTPUT),
        ("# NBVAL_SKIP\nx", None, PolicyKind.SKIP),
        ("# NBVAL_RAISES_EXCEPTION\n1/0", None, PolicyKind.RAISES_EXCEPTION),
        ("x", ["nbval-ignore-output"], PolicyKind.IGNORE_OUTPUT),
        ("x", ["nbval-skip"], PolicyKind.SKIP),
        ("x", ["skip-execution"], PolicyKind.SKIP),
        ("x", ["raises-exception"], PolicyKind.RAISES_EXCEPTION),
        ("x", ["nbval-raises-exception"], PolicyKind.RAISES_EXCEPTION),
        ("x", ["some-other-tag"], PolicyKind.CHECK),
    ],
)
def test_policy_from_comments_and_tags(source, tags, kind):
    assert cell_policy(code(source, tags)).kind is kind


def test_marker_must_be_the_whole_comment():
    assert find_markers(code("x = 1  # NBVAL_SKIP")) == []
    assert find_markers(code("# NBVAL_SKIP because slow")) == []


def test_source_as_list_of_lines_and_last_marker_wins():
    policy = cell_policy(code(["# NBVAL_IGNORE_OUTPUT\n", "# NBVAL_CHECK_OUTPUT\n", "x"]))
    assert policy.check_output and policy.kind is PolicyKind.CHECK
    assert policy.markers == ("NBVAL_IGNORE_OUTPUT", "NBVAL_CHECK_OUTPUT")


def test_lax_mode_checks_only_marked_cells():
    assert cell_policy(code("x"), lax=True).kind is PolicyKind.IGNORE_OUTPUT
    assert cell_policy(code("# NBVAL_CHECK_OUTPUT\nx"), lax=True).kind is PolicyKind.CHECK


def test_raises_exception_and_ignore_output_together():
    policy = cell_policy(code("# NBVAL_IGNORE_OUTPUT\n# NBVAL_RAISES_EXCEPTION\nraise X"))
    assert policy.raises_exception and not policy.check_output


def test_policy_carries_the_sanitizers():
    sanitizers = parse_sanitize_text("regex: \\d+\nreplace: N\n")
    assert cell_policy(code(), sanitizers).sanitizers == tuple(sanitizers)


def test_apply_execution_tags_for_nbclient():
    nb = {
        "cells": [
            code("# NBVAL_SKIP\nslow()"),
            code("# NBVAL_RAISES_EXCEPTION\n1/0"),
            code("x", ["raises-exception"]),
            {"cell_type": "markdown", "source": "#"},
        ]
    }
    apply_execution_tags(nb)
    assert nb["cells"][0]["metadata"]["tags"] == ["skip-execution"]
    assert nb["cells"][1]["metadata"]["tags"] == ["raises-exception"]
    assert nb["cells"][2]["metadata"]["tags"] == ["raises-exception"]  # not duplicated


def test_sanitize_file_in_nbval_format(tmp_path):
    path = tmp_path / "sanitize.cfg"
    path.write_text(
        "[regex1]\nregex: \\d{1,2}/\\d{1,2}/\\d{2,4}\nreplace: DATE-STAMP\n\n"
        "[regex2]\nregex: \\d{2}:\\d{2}:\\d{2}\nreplace: TIME-STAMP\n"
        "# a comment\nregex: lonely\n"
    )
    sanitizers = load_sanitize_file(path)
    assert [s.replace for s in sanitizers] == ["DATE-STAMP", "TIME-STAMP"]
    assert sanitizers[0].apply("on 12/31/2024 at 10:00:00") == "on DATE-STAMP at 10:00:00"
    assert str(sanitizers[1]) == "regex: \\d{2}:\\d{2}:\\d{2}\nreplace: TIME-STAMP"


def test_bad_sanitize_regex_and_missing_file_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="invalid sanitizer regex"):
        parse_sanitize_text("regex: (unclosed\nreplace: x\n", "s.cfg")
    with pytest.raises(ConfigError, match="cannot read sanitize file"):
        load_sanitize_file(tmp_path / "missing.cfg")


# -- what the comparer does with them ------------------------------------------


def compare(stored: dict, new: dict):
    return OutputComparer(CompareOptions()).compare_cell(stored, new)


def test_ignored_output_is_equivalent_by_marker():
    result = compare(
        code("# NBVAL_IGNORE_OUTPUT\nrand()", outputs=[out("0.1\n")]),
        code("# NBVAL_IGNORE_OUTPUT\nrand()", outputs=[out("0.7\n")]),
    )
    assert result.status is CellStatus.EQUIVALENT and result.reason == "ignored-by-marker"
    same = compare(
        code("# NBVAL_IGNORE_OUTPUT\nx", outputs=[out("1\n")]),
        code("# NBVAL_IGNORE_OUTPUT\nx", outputs=[out("1\n")]),
    )
    assert same.status is CellStatus.IDENTICAL


def test_ignored_output_still_fails_on_an_unexpected_exception():
    error = {"output_type": "error", "ename": "KeyError", "evalue": "'k'", "traceback": []}
    result = compare(
        code("# NBVAL_IGNORE_OUTPUT\nx", outputs=[out("1\n")]),
        code("# NBVAL_IGNORE_OUTPUT\nx", outputs=[error]),
    )
    assert result.status is CellStatus.ERROR


def test_skipped_cell_is_not_run():
    result = compare(code("# NBVAL_SKIP\nx", outputs=[out("1\n")]), code("# NBVAL_SKIP\nx"))
    assert result.status is CellStatus.NOT_RUN and result.reason == "skipped-by-marker"


def test_expected_exception():
    error = {"output_type": "error", "ename": "ValueError", "evalue": "expected", "traceback": []}
    marked = code("raise ValueError('expected')", ["raises-exception"], [error])
    assert compare(marked, marked).status is CellStatus.IDENTICAL
    unmarked_new = code("# NBVAL_RAISES_EXCEPTION\nx", outputs=[error])
    assert compare(unmarked_new, unmarked_new | {"outputs": [error]}).status is CellStatus.IDENTICAL
    none_raised = compare(marked, code("raise ValueError('expected')", ["raises-exception"], []))
    assert none_raised.status is CellStatus.DIFFERENT and "none raised" in none_raised.detail
