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

from nbrepro.compare.normalisers.base import TextContext

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


def collection_order(text: str, mime: str, context: TextContext) -> str:
    """Sort the items of `{...}` set and dict reprs, recursively.

    Set order depends on hash seeds and dict order on Python version. Items are
    only reordered, never dropped or merged: `{'a': 1, 'b': 2}` and
    `{'b': 2, 'a': 1}` match, `{'a': 1}` and `{'a': 1, 'b': 2}` do not.
    """
    if mime != "text/plain" or "{" not in text or "," not in text:
        return text
    return _sort_braces(text, _MAX_DEPTH)


# Reprs nest a few levels; deeper braces (crafted, or not a repr) are left as they
# are, which bounds both the recursion and the rescanning of nested items.
_MAX_DEPTH = 20


def _sort_braces(text: str, depth: int) -> str:
    if depth <= 0:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "{":
            end = _matching_brace(text, i)
            if end < 0:
                out.append(text[i:])
                break
            items = _split_top_level(text[i + 1 : end])
            if len(items) > 1:
                inner = ", ".join(sorted(_sort_braces(item.strip(), depth - 1) for item in items))
            else:
                inner = _sort_braces(text[i + 1 : end], depth - 1)
            out.append("{" + inner + "}")
            i = end + 1
        elif ch in "'\"":
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        else:
            j = i + 1
            while j < n and text[j] not in "{'\"":
                j += 1
            out.append(text[i:j])
            i = j
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """Index after the quoted string starting at `start` (or after the line if unclosed)."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote or text[i] == "\n":
            return i + 1
        i += 1
    return len(text)


def _matching_brace(text: str, start: int) -> int:
    depth, i = 0, start
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            i = _string_end(text, i)
            continue
        if ch in pairs:
            stack.append(pairs[ch])
            depth += 1
        elif ch in ")]}":
            if not stack or stack[-1] != ch:
                return -1
            stack.pop()
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _split_top_level(inner: str) -> list[str]:
    items, depth, start, i = [], 0, 0, 0
    while i < len(inner):
        ch = inner[i]
        if ch in "'\"":
            i = _string_end(inner, i)
            continue
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
        i += 1
    tail = inner[start:]
    if tail.strip() or items:
        items.append(tail)
    return [item for item in items if item.strip()] if items and not items[-1].strip() else items


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
