"""TEXT-stage normalisers: `(text, mime, context) -> text`, on every text value of one side.

Each rewrites one kind of noise inside a text to a fixed spelling, the same on
both sides: memory addresses, random ids, temporary paths, scalar and plot
reprs of newer library versions, timing reports, collection order, HTML
whitespace, and the repository's own patterns. `context` (a `TextContext`) says
where the re-run happened and holds the repository's patterns.

Every pattern here runs in linear time on any text (outputs are untrusted):
quantifiers that could rescan the rest of the text from many starting points
are bounded.
"""

from __future__ import annotations

import re

from nbrepro.compare.normalisers.kinds import TextContext
from nbrepro.compare.result import ValueContext, ValueMatch

_HEX = r"0x[0-9a-fA-F]"
_ADDRESS_AFTER_WORD = re.compile(rf"(?<=\bat ){_HEX}{{4,16}}\b|(?<=\bid[=:])\s?{_HEX}{{4,16}}\b")
_ANGLE_REPR = re.compile(r"<[^<>\n]{0,300}>")
_ADDRESS_IN_REPR = re.compile(rf"\b{_HEX}{{6,16}}\b")


def memory_address(text: str, mime: str, context: TextContext) -> str:
    """`<Foo object at 0x7f3a2c1d9e50>` -> `<Foo object at 0x…>`.

    Only hex numbers in address position are touched: after `at ` or `id=`, or
    inside a one-line `<...>` repr. A hex constant printed on its own
    (`checksum: 0xdeadbeef`) is data and stays.
    """
    if "0x" not in text:
        return text
    text = _ADDRESS_AFTER_WORD.sub("0x…", text)
    return _ANGLE_REPR.sub(lambda m: _ADDRESS_IN_REPR.sub("0x…", m[0]), text)


_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[14][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}\b"
)
# pandas Styler tables get `T_` + 5 random hex digits; widgets and altair charts a
# uuid4 hex. They are found where they are defined and renamed everywhere.
_RANDOM_ID_DEFINITION = re.compile(
    r"""(?:\bid=["']|"model_id":\s*")(?P<id>T_[0-9a-f]{5}|[\w-]*?[0-9a-f]{32})(?=[_"'])"""
)


def object_id(text: str, mime: str, context: TextContext) -> str:
    """Random identifiers: uuid1/uuid4 strings, pandas Styler ids, widget model ids.

    Each distinct id is renamed by order of first appearance (`<id-1>`, `<id-2>`), so
    a reference that now points at a different object still shows as a difference.
    uuid3/uuid5 (derived from names) are data and stay.
    """
    ids: dict[str, str] = {}

    def rename(value: str) -> str:
        return ids.setdefault(value, f"<id-{len(ids) + 1}>")

    if "id" in text:
        for m in _RANDOM_ID_DEFINITION.finditer(text):
            rename(m["id"])
        for value in sorted(ids, key=len, reverse=True):
            text = text.replace(value, ids[value])
    if "-" in text:
        text = _UUID.sub(lambda m: rename(m[0].lower()), text)
    return text


_TEMP_PATHS = [
    (re.compile(r"(?:/private)?/var/folders/[\w-]{2}/[\w-]+/T(?=/|\b)"), "<tmp>"),
    (re.compile(r"[A-Za-z]:\\Users\\[^\\\s'\"]+\\AppData\\Local\\Temp(?=\\|\b)"), "<tmp>"),
    (re.compile(r"(?<![\w/.~-])/tmp(?=/)"), "<tmp>"),
    (re.compile(r"(?<=[/\\])ipykernel_\d+[/\\]\d+\.py\b"), "ipykernel_<pid>/<cell>.py"),
    # tempfile's names: a prefix and 8 characters from [a-z0-9_]
    (re.compile(r"(?<=<tmp>[/\\])tmp[a-z0-9_]{8}(?![a-z0-9_])"), "tmp<random>"),
    # (the digit is among the 8 random characters; the prefix is short)
    (
        re.compile(r"(?<=<tmp>[/\\])([\w.-]{0,64}?[_-])(?=[a-z_]{0,7}\d)[a-z0-9_]{8}(?![\w])"),
        r"\1<random>",
    ),
    (re.compile(r"(?<![\w/.~-])/(?:home|Users)/[^/\s'\"]+"), "<home>"),
    (re.compile(r"(?<![\w/.~-])/root(?=/)"), "<home>"),
    (re.compile(r"\b[A-Za-z]:\\Users\\[^\\\s'\"]+"), "<home>"),
]


# Every pattern above starts at one of these; most outputs contain none.
_PATH_ROOTS = ("/tmp", "/var/folders", "/home/", "/Users/", "/root/", "\\Users\\", "ipykernel_")


def temp_path(text: str, mime: str, context: TextContext) -> str:
    """Temporary directories, tempfile names, home directories and the scratch copy
    (`CompareOptions.scratch_dirs` and `home_dirs`, the places the re-run used).

    `/tmp/tmpk2j3h4x_/out.csv` -> `<tmp>/tmp<random>/out.csv`,
    `/home/alice/proj` -> `<home>/proj`. Everything after the root stays, so
    `results_v1.csv` and `results_v2.csv` remain different.
    """
    for path, name in sorted(
        [(p, "<repo>") for p in context.scratch_dirs] + [(p, "<home>") for p in context.home_dirs],
        key=lambda item: len(item[0]), reverse=True,
    ):  # fmt: skip
        text = text.replace(path, name)
    if not any(root in text for root in _PATH_ROOTS):
        return text
    for pattern, replacement in _TEMP_PATHS:
        text = pattern.sub(replacement, text)
    return text


# The value inside a scalar repr is short; the bounds keep an unclosed `np.float64(`
# repeated many times from rescanning the rest of the text each time.
_NP_NUMBER = re.compile(
    r"\bnp\.(?:float|int|uint|complex|longdouble|clongdouble|half|single|double)\d*"
    r"\(((?:[^()]|\([^()]{0,200}\)){0,200})\)"
)
_NP_BOOL = re.compile(r"\bnp\.(True|False)_")
_NP_STR = re.compile(
    r"""\bnp\.(?:str|bytes)_\((b?(?:'(?:[^'\\\n]|\\.){0,1000}'|"(?:[^"\\\n]|\\.){0,1000}"))\)"""
)
_PANDAS_STR_DTYPE = re.compile(r"\bdtype: str\b")


def scalar_repr(text: str, mime: str, context: TextContext) -> str:
    """numpy 2 scalar reprs and pandas 3 string dtypes, written the old way.

    `np.float64(1.5)` -> `1.5`, `np.True_` -> `True`, `np.str_('a')` -> `'a'`,
    `dtype: str` -> `dtype: object`. The value inside is kept and compared.
    """
    if "np." in text:
        text = _NP_NUMBER.sub(r"\1", text)
        text = _NP_BOOL.sub(r"\1", text)
        text = _NP_STR.sub(r"\1", text)
    if "dtype: str" in text:
        text = _PANDAS_STR_DTYPE.sub("dtype: object", text)
    return text


_TIMEIT_NOTE = re.compile(
    r"^The slowest run took [\d.]+ times longer than the fastest\. "
    r"This could mean that an intermediate result is being cached\.\n?",
    re.MULTILINE,
)
_TIMEIT = re.compile(
    r"^[\d.]+ \S+ ± [\d.]+ \S+ per loop \(mean ± std\. dev\. of (\d+) runs?, [\d,]+ loops? each\)",
    re.MULTILINE,
)
_TIME_MAGIC = re.compile(r"^(CPU times: |Wall time: ).*$", re.MULTILINE)


def timing_report(text: str, mime: str, context: TextContext) -> str:
    """What IPython's `%time` and `%timeit` print: the measured times, the loop count
    timeit chose, and its note that one run was slow. The number of runs stays.
    """
    if "per loop" not in text and "time" not in text:
        return text
    text = _TIMEIT_NOTE.sub("", text)
    text = _TIMEIT.sub(r"<timing> per loop (mean ± std. dev. of \1 runs, <loops> each)", text)
    return _TIME_MAGIC.sub(r"\1<timing>", text)


_FIGURE_REPR = re.compile(r"<Figure size \d+(?:\.\d+)?x\d+(?:\.\d+)? with (\d+) Axes>")


def figure_size(text: str, mime: str, context: TextContext) -> str:
    """`<Figure size 432x288 with 1 Axes>` -> `<Figure with 1 Axes>`.

    The default figure size of the inline backend changed between versions; the
    number of axes is kept. The image itself is compared by `image-similar`.
    """
    if mime != "text/plain" or "<Figure size" not in text:
        return text
    return _FIGURE_REPR.sub(r"<Figure with \1 Axes>", text)


# matplotlib 3.7 renamed the class in an axes' repr (`<AxesSubplot: xlabel='x'>` ->
# `<Axes: xlabel='x'>`), and 3.4-3.6 wrote no space after the colon.
_AXES_REPR = re.compile(r"<(?:AxesSubplot|Axes):(?: |(?=[^ ]))")


def axes_repr(text: str, mime: str, context: TextContext) -> str:
    """`<AxesSubplot: xlabel='date'>` and `<AxesSubplot:xlabel='date'>` -> `<Axes:
    xlabel='date'>`: the class was renamed, what the axes show (their labels) stays
    and is compared.
    """
    if mime != "text/plain" or "<Axes" not in text:
        return text
    return _AXES_REPR.sub("<Axes: ", text)


# Before matplotlib 3.4 (Axes) and 2.0 (Figure) their reprs were Python's default
# `<matplotlib.axes._subplots.AxesSubplot at 0x…>`, which shows no labels; later ones
# describe the plot. Memory addresses are already `0x…` when values are compared.
_OLD_PLOT_REPRS = (
    (re.compile(r"<matplotlib\.axes\.[\w.]*(?:AxesSubplot|Axes)(?: object)? at 0x[0-9a-f…]+>"),
     "<Axes>"),
    (re.compile(r"<matplotlib\.figure\.Figure(?: object)? at 0x[0-9a-f…]+>"), "<Figure>"),
)
_NEW_PLOT_REPRS = (
    (re.compile(r"<(?:AxesSubplot|Axes):[^<>\n]*>"), "<Axes>"),
    (re.compile(r"<Figure (?:size [\d.]+x[\d.]+ )?with \d+ Axes>"), "<Figure>"),
)


def plot_object_repr(stored: str, new: str, mime: str,
                     context: ValueContext) -> ValueMatch | None:
    """`<matplotlib.axes._subplots.AxesSubplot at 0x…>` (old matplotlib) and
    `<Axes: xlabel='Date'>` (new) name the same object: equal when that is all that
    differs. Only when one side is old and the other new: two new reprs keep their
    labels and are compared as they are (`axes-repr`). The plot itself is compared as
    an image."""
    if mime != "text/plain" or "matplotlib." not in stored + new:
        return None

    def canonical(text: str, patterns: tuple[tuple[re.Pattern[str], str], ...]) -> str:
        for pattern, token in patterns:
            text = pattern.sub(token, text)
        return text

    old_stored = canonical(stored, _OLD_PLOT_REPRS) != stored
    old_new = canonical(new, _OLD_PLOT_REPRS) != new
    if old_stored == old_new:
        return None
    patterns = _OLD_PLOT_REPRS + _NEW_PLOT_REPRS
    if canonical(stored, patterns) == canonical(new, patterns):
        return ValueMatch(True, {"plot-object-repr"})
    return None


def collection_order(text: str, mime: str, context: TextContext) -> str:
    """Sort the items of `{...}` set and dict reprs, recursively.

    Set order depends on hash seeds and dict order on Python version. Items are
    only reordered, never dropped or merged: `{'a': 1, 'b': 2}` and
    `{'b': 2, 'a': 1}` match, `{'a': 1}` and `{'a': 1, 'b': 2}` do not.
    """
    if mime != "text/plain" or "{" not in text or "," not in text:
        return text
    return _Braces(text).sorted(0, len(text), _MAX_DEPTH)


# Reprs nest a few levels; deeper braces (crafted, or not a repr) are left as they
# are, which bounds the recursion and the work: each level reads its text once.
_MAX_DEPTH = 20
_BRACKETS = {"{": "}", "[": "]", "(": ")"}
_BRACKET_OR_QUOTE = re.compile(r"""[{}\[\]()'"]""")
_BRACE_OR_QUOTE = re.compile(r"""[{'"]""")
_ITEM_SPECIAL = re.compile(r"""[,{\[('"]""")
# the rest of a quoted string: up to its closing quote, else to the end of the line
_STRING_REST = {
    quote: re.compile(rf"(?:[^{quote}\\\n]|\\[\s\S])*(?:{quote}|\n|\\?\Z)") for quote in "'\""
}


class _Braces:
    """One text with its brackets matched in a single pass, so that sorting the
    items of nested `{...}` never rescans the text for a closing bracket."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.closing: dict[int, int] = {}  # index of an opening bracket -> its closing one
        stack: list[tuple[str, int]] = []
        position = 0
        while (m := _BRACKET_OR_QUOTE.search(text, position)) is not None:
            ch, position = m[0], m.end()
            if ch in "'\"":
                position = self.string_end(m.start())
            elif ch in _BRACKETS:
                stack.append((_BRACKETS[ch], m.start()))
            elif stack and stack[-1][0] == ch:
                self.closing[stack.pop()[1]] = m.start()
            else:
                stack.clear()  # unbalanced: nothing open before this closes after it

    def string_end(self, start: int) -> int:
        """Index after the quoted string starting at `start` (or after the line if
        unclosed)."""
        m = _STRING_REST[self.text[start]].match(self.text, start + 1)
        return m.end() if m else len(self.text)

    def sorted(self, start: int, end: int, depth: int) -> str:
        """text[start:end] with the items of every `{...}` in it sorted."""
        text = self.text
        if depth <= 0:
            return text[start:end]
        out: list[str] = []
        i = start
        while i < end:
            ch = text[i]
            if ch == "{":
                close = self.closing.get(i, end)
                if close >= end:
                    out.append(text[i:end])
                    break
                items = self.items(i + 1, close)
                if len(items) > 1:
                    inner = ", ".join(sorted(self.sorted(a, b, depth - 1) for a, b in items))
                else:
                    inner = self.sorted(i + 1, close, depth - 1)
                out.append("{" + inner + "}")
                i = close + 1
            elif ch in "'\"":
                stop = min(self.string_end(i), end)
                out.append(text[i:stop])
                i = stop
            else:
                m = _BRACE_OR_QUOTE.search(text, i + 1, end)
                stop = m.start() if m else end
                out.append(text[i:stop])
                i = stop
        return "".join(out)

    def items(self, start: int, end: int) -> list[tuple[int, int]]:
        """The top-level comma-separated items of text[start:end], whitespace
        trimmed, an empty last item dropped."""
        text = self.text
        bounds: list[tuple[int, int]] = []
        first = i = start
        while (m := _ITEM_SPECIAL.search(text, i, end)) is not None:
            ch = m[0]
            if ch == ",":
                bounds.append((first, m.start()))
                first = i = m.end()
            elif ch in "'\"":
                i = self.string_end(m.start())
            elif (close := self.closing.get(m.start(), end)) < end:
                i = close + 1
            else:
                break  # an unclosed bracket: the rest is one item
        bounds.append((first, end))
        trimmed = [self._trim(a, b) for a, b in bounds]
        if len(trimmed) > 1 and trimmed[-1][0] == trimmed[-1][1]:
            trimmed = [t for t in trimmed if t[0] < t[1]]
        return trimmed

    def _trim(self, start: int, end: int) -> tuple[int, int]:
        text = self.text
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return start, end


_BETWEEN_TAGS = re.compile(r">\s+<")
_WHITESPACE = re.compile(r"\s+")


def html_whitespace(text: str, mime: str, context: TextContext) -> str:
    """In HTML, whitespace between tags and runs of whitespace render the same."""
    if mime != "text/html":
        return text
    return _WHITESPACE.sub(" ", _BETWEEN_TAGS.sub("><", text)).strip()


def user_sanitisers(text: str, mime: str, context: TextContext) -> str:
    """The repository's own patterns: nbval sanitize files and `[tool.nbrepro] ignore`."""
    for sanitizer in context.sanitizers:
        text = sanitizer.apply(text)  # under a time limit: see markers.Sanitizer
    return text
