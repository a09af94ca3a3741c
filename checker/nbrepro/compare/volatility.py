"""Volatile cells: outputs that differ between two runs in the same environment.

With `--twice`, the pipeline executes each notebook twice in the freshly built
environment. A cell whose two runs disagree (unseeded random numbers, the clock,
a dict ordered by hash) cannot be expected to reproduce its stored output either:
it is `volatile`, left out of the verdict, and comes with a sanitiser the user can
commit so the next check compares the stable part.

Use it through `nbrepro.compare.compare_notebook(stored, first, options,
second_run=second)`, or per cell:

    result = detect(first_run_cell, second_run_cell, options)
    if result.volatile:
        result.suggestion   # "regex: ...\\nreplace: ..." (nbval sanitize-file format)
        result.sanitiser    # the same as a markers.Sanitizer, or None

A suggestion is made only when it has been checked: with it added to the options,
the two runs compare equal. It is as narrow as the two runs allow - the differing
tokens generalised by kind (a number, a hex id, a word) and anchored on the text
in front of them (`(?<=accuracy: )[-+]?\\d+...`); when tokens have no such anchor,
the whole differing line with its stable parts literal. When no regex can explain
the difference (a random image), the suggestion is to mark the cell
`# NBVAL_IGNORE_OUTPUT` or to seed the random generator.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from nbrepro.compare.canonical import TEXT_MIMES, canonical_outputs
from nbrepro.compare.markers import Sanitizer
from nbrepro.compare.options import CompareOptions
from nbrepro.compare.outputs import OutputComparer
from nbrepro.compare.result import CellComparison
from nbrepro.compare.tolerance import Token, tokenize

PLACEHOLDER = "<volatile>"
IGNORE_HINT = "mark the cell `# NBVAL_IGNORE_OUTPUT` or seed its random numbers"

_CLASS_PATTERNS = {
    "number": r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?",
    "hex": r"0x[0-9a-fA-F]+",
    "datetime": r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.,]+(?:Z|[+-]\d{2}:?\d{2})?)?",
    "time": r"\d{1,2}:\d{2}:\d{2}(?:\.\d+)?",
    "word": r"\w+",
}
_MAX_ANCHOR = 24


@dataclass
class Volatility:
    volatile: bool
    sanitiser: Sanitizer | None = None  # checked: makes the two runs compare equal
    detail: str | None = None  # the first difference between the runs

    @property
    def suggestion(self) -> str | None:
        """What to tell the user: a sanitize-file entry, or what to do instead."""
        if not self.volatile:
            return None
        return str(self.sanitiser) if self.sanitiser else IGNORE_HINT


def detect(
    first: dict[str, Any],
    second: dict[str, Any],
    options: CompareOptions | None = None,
    *,
    comparer: OutputComparer | None = None,
) -> Volatility:
    """Whether one cell's outputs from two runs in the same environment differ.

    Both runs are compared with the same normalisers as stored vs new, so a
    timestamp or a memory address does not make a cell volatile - only what the
    normalisers cannot explain does. Returns the suggested sanitiser with it.
    """
    options = options or CompareOptions()
    comparer = comparer or OutputComparer(options)
    if comparer.outputs_match(first, second):
        return Volatility(False)
    comparison: CellComparison = OutputComparer(
        dataclasses.replace(options, nbdime_diff=False, diff_images=False)
    ).compare_cell(_unmarked(first), _unmarked(second))
    return Volatility(True, suggest_sanitiser(first, second, options), comparison.detail)


def suggest_sanitiser(
    first: dict[str, Any], second: dict[str, Any], options: CompareOptions | None = None
) -> Sanitizer | None:
    """A regex sanitiser under which the two runs of a cell compare equal, or None."""
    options = options or CompareOptions()
    pairs = _differing_lines(first, second)
    if not pairs:
        return None
    for pattern in (_anchored_tokens(pairs), _line_shapes(pairs)):
        if pattern is None:
            continue
        candidate = Sanitizer.compile(pattern, PLACEHOLDER, source="suggested by --twice")
        checked = dataclasses.replace(
            options,
            sanitizers=[*options.sanitizers, candidate],
            nbdime_diff=False,
            diff_images=False,
        )
        if OutputComparer(checked).outputs_match(first, second):
            return candidate
    return None


def _differing_lines(first: dict[str, Any], second: dict[str, Any]) -> list[tuple[str, str]]:
    """Pairs of differing lines in the text outputs of two runs (same shapes only)."""
    a, b = canonical_outputs(first), canonical_outputs(second)
    if len(a) != len(b):
        return []  # outputs came and went: no pattern explains that
    texts: list[tuple[str, str]] = []
    for x, y in zip(a, b, strict=True):
        if x.get("output_type") == "stream" and y.get("output_type") == "stream":
            texts.append((x.get("text", ""), y.get("text", "")))
        elif x.get("output_type") == "error" and y.get("output_type") == "error":
            texts.append((x.get("evalue", ""), y.get("evalue", "")))
        else:
            for mime in sorted(set(x.get("data", {})) & set(y.get("data", {})) & TEXT_MIMES):
                texts.append((x["data"][mime], y["data"][mime]))
    lines: list[tuple[str, str]] = []
    for s, t in texts:
        s_lines, t_lines = s.split("\n"), t.split("\n")
        if len(s_lines) != len(t_lines):
            return []
        lines.extend((p, q) for p, q in zip(s_lines, t_lines, strict=True) if p != q)
    return lines


def _anchored_tokens(pairs: list[tuple[str, str]]) -> str | None:
    """`(?<=anchor)CLASS` for every differing token that has a wordy anchor before it."""
    patterns: list[str] = []
    for a, b in pairs:
        ta, tb = tokenize(a), tokenize(b)
        if len(ta) != len(tb):
            return None
        for i, (x, y) in enumerate(zip(ta, tb, strict=True)):
            if x.text == y.text:
                continue
            cls = _class_of(x, y)
            anchor = _anchor(ta[:i])
            if cls is None or anchor is None:
                return None
            pattern = f"(?<={_escape(anchor)}){cls}"
            if pattern not in patterns:
                patterns.append(pattern)
    return "|".join(patterns) if patterns else None


def _line_shapes(pairs: list[tuple[str, str]]) -> str | None:
    """Whole lines, stable tokens literal and differing ones generalised."""
    shapes: list[str] = []
    for a, b in pairs:
        ta, tb = tokenize(a), tokenize(b)
        if len(ta) != len(tb):
            return None
        parts = []
        literal = ""
        for x, y in zip(ta, tb, strict=True):
            if x.text == y.text:
                parts.append(_escape(x.text))
                literal += x.text
            else:
                cls = _class_of(x, y)
                if cls is None:
                    return None
                parts.append(cls)
        if not _specific(literal):
            return None  # a bare number or `array([...])`: too broad to commit
        shape = "^" + "".join(parts) + "$"
        if shape not in shapes:
            shapes.append(shape)
    return "(?m)" + "|".join(shapes) if shapes else None


def _class_of(x: Token, y: Token) -> str | None:
    if x.kind != y.kind:
        numeric = {"number", "hex"}
        return _CLASS_PATTERNS["word"] if {x.kind, y.kind} <= numeric | {"word"} else None
    return _CLASS_PATTERNS.get(x.kind)


def _anchor(before: list[Token]) -> str | None:
    """The literal text right before a token, if it contains a word to anchor on."""
    text = ""
    for token in reversed(before):
        if token.kind in ("number", "hex", "datetime", "time"):
            break  # numbers before us may themselves vary
        if len(text) + len(token.text) > _MAX_ANCHOR:
            break
        text = token.text + text
    return text if _specific(text) else None


# Container words that say nothing about which output a line is.
_GENERIC_WORDS = {"array", "tensor", "dtype", "float", "int", "list", "tuple", "series", "object"}


def _specific(literal: str) -> bool:
    """Whether the stable text of a line names what it is (`sample mean:`), so that a
    pattern built on it will not match unrelated outputs elsewhere."""
    words = [w for w in re.findall(r"[^\W\d_]{3,}", literal) if w.lower() not in _GENERIC_WORDS]
    return bool(words)


def _escape(text: str) -> str:
    """`re.escape`, leaving spaces readable."""
    return re.escape(text).replace("\\ ", " ")


def _unmarked(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell without its markers: volatility is about outputs, not policy."""
    return {"cell_type": "code", "source": "", "metadata": {}, "outputs": cell.get("outputs", [])}
