"""Tolerant text comparison: numbers within tolerance, timestamps of the run.

Two texts are compared line by line; lines that differ are split into tokens
(numbers, dates, words, punctuation, spaces) and must have the same shape. Each
differing pair of tokens must then be accepted by one of the enabled token rules:

- `float-tolerance` (`float_rule`): two numbers, at least one written as a float,
  with `|a - b| <= atol + rtol * max(|a|, |b|)`. Integers must be equal: a count
  that moved by one is a real change. Once a line has a number accepted this way,
  differences in the *width* of its whitespace are accepted too (columns realign
  when a number gains a digit).
- `timestamp` (`timestamp_rule`): dates and times that fall within two days of the
  re-run (so the clock, not the data, produced them), epoch seconds likewise, and
  durations in timing lines (`took 0.3 s`, `elapsed: 12 ms`; what `%time` and
  `%timeit` print is the `timing-report` normaliser's).
  A date in a data table that moved from 2020-01-01 to 2020-01-02 is not near the
  run, so it stays a difference.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

_TOKEN = re.compile(
    r"""
     (?P<datetime>\d{4}-\d{2}-\d{2}
               (?:[T\ ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d))
    |(?P<ctime>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\ (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)
               \ [\ \d]\d\ \d{2}:\d{2}:\d{2}\ \d{4})
    |(?P<pydatetime>datetime\.datetime\(\d{4},\ \d{1,2},\ \d{1,2}(?:,\ \d{1,6}){0,4}
               (?:,\ tzinfo=[^()]{0,80}(?:\([^()]{0,80}\))?)?\))
    |(?P<time>(?<![\d:])\d{1,2}:\d{2}:\d{2}(?:\.\d+)?(?![\d:]))
    |(?P<hex>0x[0-9a-fA-F]+)
    |(?P<number>(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w|\.\d))
    |(?P<word>[^\W\d]\w*)
    |(?P<space>[ \t]+)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class Token(NamedTuple):  # a tuple: long lines make tens of thousands of tokens
    kind: str  # a group name of _TOKEN
    text: str


def tokenize(line: str) -> list[Token]:
    return [Token(m.lastgroup or "other", m[0]) for m in _TOKEN.finditer(line)]


class TokenLine(list[Token]):
    """The tokens of one line, with the line's text and the rules' look at it cached:
    a line with many differing tokens is searched once, not once per token."""

    def __init__(self, tokens: list[Token], text: str) -> None:
        super().__init__(tokens)
        self.text = text
        self._mentions: dict[re.Pattern[str], bool] = {}

    def mentions(self, words: re.Pattern[str]) -> bool:
        if words not in self._mentions:
            self._mentions[words] = bool(words.search(self.text))
        return self._mentions[words]


@dataclass
class ToleranceContext:
    """What the token rules need: tolerances, the re-run's time, the enabled rules."""

    rtol: float = 1e-6
    atol: float = 1e-9
    reference_time: float = 0.0  # epoch seconds of the re-run
    rules: list[tuple[str, TokenRule]] = field(default_factory=list)
    layout_rules: list[tuple[str, LayoutRule]] = field(default_factory=list)


@dataclass
class TokenPair:
    """A stored and a new token that differ, with their lines for context."""

    stored: Token
    new: Token
    stored_line: TokenLine
    new_line: TokenLine
    index: int  # position of the pair in both lines
    context: ToleranceContext


TokenRule = Callable[[TokenPair], bool]
LayoutRule = Callable[[str, str], bool]  # two whole texts -> whether only layout differs


@dataclass
class TextMatch:
    equal: bool
    rules: set[str] = field(default_factory=set)  # token rules that were needed
    detail: str | None = None  # the first difference, for a human
    kind: str | None = None  # `numbers` when only numbers moved, else `text`


# ---------------------------------------------------------------------------
# the rules


def float_rule(pair: TokenPair) -> bool:
    a, b = pair.stored, pair.new
    if a.kind != "number" or b.kind != "number":
        return False
    if not (_is_float(a.text) or _is_float(b.text)):
        return False
    x, y = float(a.text), float(b.text)
    ctx = pair.context
    return abs(x - y) <= ctx.atol + ctx.rtol * max(abs(x), abs(y))


_DATETIME_KINDS = {"datetime", "ctime", "pydatetime"}
_TIME_UNITS = {
    "s", "sec", "secs", "second", "seconds", "ms", "us", "µs", "μs", "ns",
    "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours",
}  # fmt: skip
# Words that make a line about how long something took (for durations) ...
_DURATION_WORDS = re.compile(
    r"\b(?:times?|took|elapsed|wall|cpu|duration|runtime|per loop"
    r"|(?:finished|completed|done|ran) in)\b",
    re.IGNORECASE,
)
# ... and, for a bare time of day, a line about when something happened.
_CLOCK_WORDS = re.compile(
    r"\b(?:times?|at|started|finished|now|clock|timestamp|updated|generated|elapsed|took)\b",
    re.IGNORECASE,
)
_WINDOW = 2 * 86400.0  # time zones, long runs and a clock skew all fit in two days
_EPOCH_2000 = 946684800.0


def timestamp_rule(pair: TokenPair) -> bool:
    a, b, ctx = pair.stored, pair.new, pair.context
    if a.kind in _DATETIME_KINDS and b.kind in _DATETIME_KINDS:
        then, now = _parse_datetime(a.text), _parse_datetime(b.text)
        if then is None or now is None:
            return False
        return abs(now - ctx.reference_time) <= _WINDOW and then <= ctx.reference_time + _WINDOW
    if a.kind == "time" and b.kind == "time":
        return _line_matches(_CLOCK_WORDS, pair.new_line) and _line_matches(
            _CLOCK_WORDS, pair.stored_line
        )
    if a.kind == "number" and b.kind == "number":
        if _is_epoch(a.text, b.text, ctx.reference_time):
            return True
        return _followed_by_unit(pair.new_line, pair.index) and _timing_line(pair)
    if a.kind == "word" and b.kind == "word":
        # `1.2 ms` -> `980 µs`: the unit of a duration changes with its size
        return a.text in _TIME_UNITS and b.text in _TIME_UNITS and _timing_line(pair)
    return False


def _timing_line(pair: TokenPair) -> bool:
    return _line_matches(_DURATION_WORDS, pair.new_line) and _line_matches(
        _DURATION_WORDS, pair.stored_line
    )


def _is_float(text: str) -> bool:
    return "." in text or "e" in text or "E" in text


def _parse_datetime(text: str) -> float | None:
    """Epoch seconds of a date/time token; naive times are read as UTC (the window
    is wide enough for any time zone)."""
    try:
        if text.startswith("datetime.datetime("):
            inner = text[len("datetime.datetime(") : -1].split(", tzinfo=")[0]
            year, month, day, *rest = [int(p) for p in inner.split(", ")]
            hour, minute, second, micro = (*rest, 0, 0, 0, 0)[:4]
            value = dt.datetime(year, month, day, hour, minute, second, micro, dt.timezone.utc)
        elif text[:3].isalpha():
            value = dt.datetime.strptime(text, "%a %b %d %H:%M:%S %Y").replace(
                tzinfo=dt.timezone.utc
            )
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(",", "."))
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.timezone.utc)
    except (ValueError, TypeError, OverflowError):
        return None
    return value.timestamp()


def _is_epoch(stored: str, new: str, reference: float) -> bool:
    """`time.time()` printed: the new value is now (in s, ms, µs or ns), the stored one
    a plausible earlier moment."""
    try:
        x, y = float(stored), float(new)
    except ValueError:
        return False
    for scale in (1.0, 1e3, 1e6, 1e9):
        if abs(y / scale - reference) <= _WINDOW:
            return _EPOCH_2000 <= x / scale <= reference + _WINDOW
    return False


def _line_matches(words: re.Pattern[str], line: TokenLine) -> bool:
    return line.mentions(words)


def _followed_by_unit(line: list[Token], index: int) -> bool:
    rest = [t for t in line[index + 1 : index + 4] if t.kind != "space"]
    if not rest:
        return False
    if rest[0].kind == "word" and rest[0].text in _TIME_UNITS:
        return True
    # rates: `12.3it/s`, `1.5 s/it`
    joined = "".join(t.text for t in rest)
    return bool(re.match(r"(?:\w+/s|s/\w+)", joined))


def same_but_whitespace(stored: str, new: str) -> bool:
    """Whether two texts differ only in whitespace and layout: trailing spaces,
    blank lines, or names laid out in columns for another terminal width (`ls`).

    Runs of whitespace (line breaks included) count as one space; whitespace is
    never added between two characters or removed from between them. A listing in
    columns is read down its columns, as `ls` fills them, when it is one: cells
    two or more spaces apart, each column starting at the same place in every
    row, every cell a name with a letter in it (so a grid of numbers, which could
    be a transposed table, is never read that way)."""
    a, b = stored.split(), new.split()
    if a == b:
        return True
    if len(a) != len(b) or sorted(a) != sorted(b):
        return False
    down_a, down_b = _down_columns(stored), _down_columns(new)
    return any(x == y for x in (a, down_a) for y in (b, down_b) if x is not None and y is not None)


_CELL = re.compile(r"\S+(?: \S+)*")  # cells are two or more spaces apart
_LETTER = re.compile(r"[^\W\d]")


def _down_columns(text: str) -> list[str] | None:
    """The words of a text laid out in left-aligned columns, read column by column;
    None when it is not such a layout."""
    rows = []
    for line in text.splitlines():
        line = line.expandtabs(8)
        if line.strip():
            rows.append([(m.start(), m[0]) for m in _CELL.finditer(line)])
    if len(rows) < 2:
        return None
    starts = [start for start, _ in rows[0]]
    for row in rows:
        if [start for start, _ in row] != starts[: len(row)]:
            return None
        if not all(_LETTER.search(cell) for _, cell in row):
            return None
    return [
        word
        for column in range(len(starts))
        for row in rows
        if column < len(row)
        for word in row[column][1].split()
    ]


# ---------------------------------------------------------------------------
# comparing texts


def compare_text(stored: str, new: str, context: ToleranceContext, label: str = "") -> TextMatch:
    """Compare two texts with the enabled token rules; describe the first difference."""
    if stored == new:
        return TextMatch(True)
    a_lines, b_lines = stored.split("\n"), new.split("\n")
    prefix = f"{label} " if label else ""
    if len(a_lines) != len(b_lines):
        layout = _layout(stored, new, context)
        if layout is not None:
            return TextMatch(True, {layout})
        return TextMatch(False, detail=prefix + _line_change(a_lines, b_lines), kind="text")
    rules: set[str] = set()
    moved: list[str] = []
    first: str | None = None
    kind = "numbers"
    spacing_only: list[int] = []  # lines that differ only in the width of their spaces
    for i, (a, b) in enumerate(zip(a_lines, b_lines, strict=True)):
        if a == b:
            continue
        ok, used, numbers = _compare_line(a, b, context)
        rules |= used
        if ok:
            continue
        if numbers == []:
            spacing_only.append(i)
            continue
        if first is None:
            first = f"{prefix}line {i + 1}: {_short(a)!r} -> {_short(b)!r}"
        if numbers is None:
            kind = "text"
        else:
            moved.extend(numbers)
    if spacing_only and "float-tolerance" not in rules:
        # Columns realign only because a number changed width; without such a
        # number, changed spacing is a change.
        i = spacing_only[0]
        first = first or f"{prefix}line {i + 1}: {_short(a_lines[i])!r} -> {_short(b_lines[i])!r}"
        kind = "text" if not moved else kind
    if first is None:
        return TextMatch(True, rules)
    layout = _layout(stored, new, context)
    if layout is not None:
        return TextMatch(True, rules | {layout})
    if kind == "numbers" and moved:
        first += "; " + ", ".join(moved[:3]) + (" ..." if len(moved) > 3 else "")
    return TextMatch(False, detail=first, kind=kind)


def _layout(stored: str, new: str, context: ToleranceContext) -> str | None:
    """The first layout rule under which two texts match, if any."""
    for name, rule in context.layout_rules:
        if rule(stored, new):
            return name
    return None


def _compare_line(
    a: str, b: str, context: ToleranceContext
) -> tuple[bool, set[str], list[str] | None]:
    """(match, rules used, numbers that moved beyond tolerance - None if text changed,
    [] if only the width of spaces did)."""
    ta, tb = TokenLine(tokenize(a), a), TokenLine(tokenize(b), b)
    if len(ta) != len(tb) or any(x.kind != y.kind for x, y in zip(ta, tb, strict=True)):
        # Realigned columns can add or drop padding; compare without the spaces.
        ta = _without_spaces(ta)
        tb = _without_spaces(tb)
        if len(ta) != len(tb):
            return False, set(), None
        spacing_changed = True
    else:
        spacing_changed = False
    used: set[str] = set()
    moved: list[str] = []
    text_changed = False
    for i, (x, y) in enumerate(zip(ta, tb, strict=True)):
        if x.text == y.text:
            continue
        if x.kind == "space" and y.kind == "space":
            spacing_changed = True
            continue
        pair = TokenPair(x, y, ta, tb, i, context)
        for name, rule in context.rules:
            if rule(pair):
                used.add(name)
                break
        else:
            if x.kind == "number" and y.kind == "number":
                moved.append(_describe_move(x.text, y.text))
            else:
                text_changed = True
    if text_changed:
        return False, used, None
    if moved:
        return False, used, moved
    if spacing_changed and "float-tolerance" not in used:
        return False, used, []  # only spacing differs: up to the whole text to decide
    return True, used, []


def _without_spaces(line: TokenLine) -> TokenLine:
    tokens = [t for t in line if t.kind != "space"]
    return TokenLine(tokens, "".join(t.text for t in tokens))


def _describe_move(a: str, b: str) -> str:
    x, y = float(a), float(b)
    delta = y - x
    text = f"{a} -> {b} ({delta:+.4g}"
    if x != 0 and math.isfinite(x) and math.isfinite(y):
        text += f", {delta / abs(x):+.2%}"
    return text + ")"


def _line_change(a: list[str], b: list[str]) -> str:
    """The first change between two lists of lines of different lengths.

    Found from the common start and end (linear in the text, whatever it holds;
    a sequence matcher is quadratic on crafted input): the lines between them were
    removed, added or replaced."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    removed, added = len(a) - start - end, len(b) - start - end
    counts = f"({len(a)} -> {len(b)} lines)"
    if added == 0:
        return f"line {start + 1} removed: {_short(a[start])!r} {counts}"
    if removed == 0:
        return f"line {start + 1} added: {_short(b[start])!r} {counts}"
    return f"line {start + 1}: {_short(a[start])!r} -> {_short(b[start])!r} {counts}"


def _short(line: str, limit: int = 80) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
