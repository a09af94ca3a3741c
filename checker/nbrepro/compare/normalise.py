"""Named normalisers: each one removes one kind of noise, and can be switched off.

The registry `NORMALISERS` is ordered; the comparer applies the entries in that
order and names, for an `equivalent` cell, the entry after which stored and new
outputs matched. Entries come in stages, each with its own function signature:

- `OUTPUTS`: `(outputs) -> outputs`, on the list of canonical outputs of one side
  (drop execution counts, join stream chunks, strip deprecation warnings, ...);
- `TEXT`: `(text, mime, options) -> text`, on every text value of one side
  (memory addresses, random ids, temporary paths, scalar reprs, ...);
- `TOKEN`: `(pair) -> bool`, on a pair of differing tokens of the stored and new
  text (numbers within tolerance, timestamps of the run) - see `tolerance`;
- `BUNDLE`: `(stored_data, new_data) -> mimes`, which MIME types of a pair of
  outputs to compare;
- `VALUE`: `(stored, new, mime, context) -> ValueMatch | None`, on a pair of
  values of one MIME type (DataFrame tables, images) - see `tables`, `images`.

Every normaliser must only ever remove noise: each has a unit test with a case it
must match and a near miss it must not (tests/test_compare_normalise.py).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import images, tables, tolerance
from .canonical import Output

if TYPE_CHECKING:
    from .options import CompareOptions


class Stage(str, enum.Enum):
    OUTPUTS = "outputs"
    TEXT = "text"
    TOKEN = "token"
    BUNDLE = "bundle"
    VALUE = "value"


@dataclass(frozen=True)
class Normaliser:
    name: str
    description: str
    stage: Stage
    function: Callable[..., Any]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------------------
# OUTPUTS stage


def drop_execution_count(outputs: list[Output]) -> list[Output]:
    """`execute_result` prompts number the run, not the result."""
    return [_without(out, "execution_count") for out in outputs]


def drop_output_metadata(outputs: list[Output]) -> list[Output]:
    """Output metadata (image sizes, `needs_background`) tells a front end how to draw."""
    return [_without(out, "metadata") for out in outputs]


def drop_traceback(outputs: list[Output]) -> list[Output]:
    """Tracebacks carry paths, line numbers and colours; the exception itself stays."""
    return [_without(out, "traceback") for out in outputs]


def join_stream_chunks(outputs: list[Output]) -> list[Output]:
    """Join chunks of one stream; within a run of stream outputs, stdout before stderr.

    How a kernel splits printed text into messages, and how stdout and stderr
    interleave, depends on timing and buffering, not on what was printed.
    """
    result: list[Output] = []
    run: dict[str, str] = {}

    def flush() -> None:
        for name in sorted(run, key=lambda n: (n != "stdout", n != "stderr", n)):
            if run[name]:
                result.append({"output_type": "stream", "name": name, "text": run[name]})
        run.clear()

    for out in outputs:
        if out.get("output_type") == "stream":
            name = out.get("name", "stdout")
            run[name] = run.get(name, "") + out.get("text", "")
        else:
            flush()
            result.append(out)
    flush()
    return result


# tqdm's `[elapsed<remaining, rate` (a postfix such as `, loss=0.1]` stays)
_TQDM_TIMING = re.compile(
    r"\[(?:\d+:)?\d+:\d{2}<(?:\?|(?:\d+:)?\d+:\d{2}), *"
    r"(?:\?|\d+(?:\.\d+)?)\s?(?:[a-zA-Z]+/s|s/[a-zA-Z]+)"
)
_KERAS_STEP = re.compile(r"\b\d+(?:\.\d+)?(?:s|ms|us|µs)/(?:step|sample|epoch)\b")
_KERAS_ETA = re.compile(r"\bETA: (?:\d+:)*\d+(?:\.\d+)?(?:s|ms)?")
_KERAS_EPOCH_TIME = re.compile(r"(?<= - )\d+(?:\.\d+)?(?:s|ms)(?= )")


def progress_bar(outputs: list[Output]) -> list[Output]:
    """Keep the final state of carriage-return progress bars, drop their timings.

    tqdm and Keras redraw one line with `\\r`; how many intermediate states were
    captured, and the elapsed time and rate they show, vary from run to run. The
    counts (`100/100`) and any postfix (`loss=0.12`) are kept and compared.
    """
    result = []
    for out in outputs:
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            if "\r" in text or "\b" in text or "/s" in text or "ETA" in text or "/step" in text:
                text = _terminal_text(text)
                text = _TQDM_TIMING.sub("[<timing>", text)
                text = _KERAS_STEP.sub("<timing>", text)
                text = _KERAS_ETA.sub("ETA: <timing>", text)
                text = _KERAS_EPOCH_TIME.sub("<timing>", text)
                out = {**out, "text": text}
        result.append(out)
    return result


def _terminal_text(text: str) -> str:
    """What a terminal shows: `\\r` returns to the line start, `\\b` erases a character."""
    if "\b" in text:
        chars: list[str] = []
        for ch in text:
            if ch == "\b":
                if chars and chars[-1] != "\n":
                    chars.pop()
            else:
                chars.append(ch)
        text = "".join(chars)
    if "\r" not in text:
        return text
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            parts = [p for p in line.split("\r") if p]
            line = parts[-1] if parts else ""
        lines.append(line)
    return "\n".join(lines)


# `path.py:12: FutureWarning: message`, then the indented source line Python shows.
_WARNING = re.compile(
    r"^[^\n]*?:\d+: (?P<category>DeprecationWarning|PendingDeprecationWarning|FutureWarning): "
    r"(?P<message>[^\n]*)\n?(?:[ \t]+[^\n]*\n?)*",
    re.MULTILINE,
)


def find_warnings(outputs: list[Output]) -> list[str]:
    """The deprecation and future warnings printed on stderr, as `Category: message`."""
    found = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            for m in _WARNING.finditer(out.get("text", "")):
                found.append(f"{m['category']}: {m['message'].strip()}")
    return found


def strip_warnings(outputs: list[Output]) -> list[Output]:
    """Remove DeprecationWarning/FutureWarning lines (and their source line) from stderr.

    A new library version warns about what the next one will change; the result
    is the same. The comparer reports the warnings it removed (`warnings`).
    """
    result = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = _WARNING.sub("", out.get("text", ""))
            if not text:
                continue
            out = {**out, "text": text}
        result.append(out)
    return result


# ---------------------------------------------------------------------------
# TEXT stage

_HEX = r"0x[0-9a-fA-F]"
_ADDRESS_AFTER_WORD = re.compile(rf"(?<=\bat ){_HEX}{{4,16}}\b|(?<=\bid[=:])\s?{_HEX}{{4,16}}\b")
_ANGLE_REPR = re.compile(r"<[^<>\n]{0,300}>")
_ADDRESS_IN_REPR = re.compile(rf"\b{_HEX}{{6,16}}\b")


def memory_address(text: str, mime: str, options: CompareOptions) -> str:
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


def object_id(text: str, mime: str, options: CompareOptions) -> str:
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
    (re.compile(r"(?<=<tmp>[/\\])([\w.-]*?[_-])(?=[a-z_]*\d)[a-z0-9_]{8}(?![\w])"), r"\1<random>"),
    (re.compile(r"(?<![\w/.~-])/(?:home|Users)/[^/\s'\"]+"), "<home>"),
    (re.compile(r"(?<![\w/.~-])/root(?=/)"), "<home>"),
    (re.compile(r"\b[A-Za-z]:\\Users\\[^\\\s'\"]+"), "<home>"),
]


# Every pattern above starts at one of these; most outputs contain none.
_PATH_ROOTS = ("/tmp", "/var/folders", "/home/", "/Users/", "/root/", "\\Users\\", "ipykernel_")


def temp_path(text: str, mime: str, options: CompareOptions) -> str:
    """Temporary directories, tempfile names, home directories and the scratch copy
    (`CompareOptions.scratch_dirs` and `home_dirs`, the places the re-run used).

    `/tmp/tmpk2j3h4x_/out.csv` -> `<tmp>/tmp<random>/out.csv`,
    `/home/alice/proj` -> `<home>/proj`. Everything after the root stays, so
    `results_v1.csv` and `results_v2.csv` remain different.
    """
    for path, name in sorted(
        [(p, "<repo>") for p in options.scratch_dirs] + [(p, "<home>") for p in options.home_dirs],
        key=lambda item: len(item[0]), reverse=True,
    ):  # fmt: skip
        text = text.replace(path, name)
    if not any(root in text for root in _PATH_ROOTS):
        return text
    for pattern, replacement in _TEMP_PATHS:
        text = pattern.sub(replacement, text)
    return text


_NP_NUMBER = re.compile(
    r"\bnp\.(?:float|int|uint|complex|longdouble|clongdouble|half|single|double)\d*"
    r"\(((?:[^()]|\([^()]*\))*)\)"
)
_NP_BOOL = re.compile(r"\bnp\.(True|False)_")
_NP_STR = re.compile(r"""\bnp\.(?:str|bytes)_\((b?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))\)""")
_PANDAS_STR_DTYPE = re.compile(r"\bdtype: str\b")


def scalar_repr(text: str, mime: str, options: CompareOptions) -> str:
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


def timing_report(text: str, mime: str, options: CompareOptions) -> str:
    """What IPython's `%time` and `%timeit` print: the measured times, the loop count
    timeit chose, and its note that one run was slow. The number of runs stays.
    """
    if "per loop" not in text and "time" not in text:
        return text
    text = _TIMEIT_NOTE.sub("", text)
    text = _TIMEIT.sub(r"<timing> per loop (mean ± std. dev. of \1 runs, <loops> each)", text)
    return _TIME_MAGIC.sub(r"\1<timing>", text)


_FIGURE_REPR = re.compile(r"<Figure size \d+(?:\.\d+)?x\d+(?:\.\d+)? with (\d+) Axes>")


def figure_size(text: str, mime: str, options: CompareOptions) -> str:
    """`<Figure size 432x288 with 1 Axes>` -> `<Figure with 1 Axes>`.

    The default figure size of the inline backend changed between versions; the
    number of axes is kept. The image itself is compared by `image-similar`.
    """
    if mime != "text/plain" or "<Figure size" not in text:
        return text
    return _FIGURE_REPR.sub(r"<Figure with \1 Axes>", text)


def collection_order(text: str, mime: str, options: CompareOptions) -> str:
    """Sort the items of `{...}` set and dict reprs, recursively.

    Set order depends on hash seeds and dict order on Python version. Items are
    only reordered, never dropped or merged: `{'a': 1, 'b': 2}` and
    `{'b': 2, 'a': 1}` match, `{'a': 1}` and `{'a': 1, 'b': 2}` do not.
    """
    if mime != "text/plain" or "{" not in text or "," not in text:
        return text
    return _sort_braces(text)


def _sort_braces(text: str) -> str:
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
                inner = ", ".join(sorted(_sort_braces(item.strip()) for item in items))
            else:
                inner = _sort_braces(text[i + 1 : end])
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


def html_whitespace(text: str, mime: str, options: CompareOptions) -> str:
    """In HTML, whitespace between tags and runs of whitespace render the same."""
    if mime != "text/html":
        return text
    return _WHITESPACE.sub(" ", _BETWEEN_TAGS.sub("><", text)).strip()


def user_sanitisers(text: str, mime: str, options: CompareOptions) -> str:
    """The repository's own patterns: nbval sanitize files and `[tool.nbrepro] ignore`."""
    for sanitizer in options.sanitizers:
        text = sanitizer.apply(text)
    return text


# ---------------------------------------------------------------------------
# BUNDLE stage


def shared_mimes(stored: dict[str, str], new: dict[str, str]) -> list[str]:
    """Compare only the MIME types both outputs have (at least one must be shared).

    Libraries add representations over time (scikit-learn estimators gained an
    HTML repr); the representations present on both sides are still compared.
    """
    return sorted(set(stored) & set(new))


# ---------------------------------------------------------------------------


def _without(out: Output, key: str) -> Output:
    if key not in out:
        return out
    return {k: v for k, v in out.items() if k != key}


_ENTRIES = [
    Normaliser(
        "execution-count",
        "execution counts of execute_result outputs",
        Stage.OUTPUTS,
        drop_execution_count,
    ),
    Normaliser(
        "output-metadata",
        "output metadata (image sizes, needs_background)",
        Stage.OUTPUTS,
        drop_output_metadata,
    ),
    Normaliser(
        "traceback",
        "traceback text of an exception (its name and message stay)",
        Stage.OUTPUTS,
        drop_traceback,
    ),
    Normaliser(
        "stream-chunking",
        "how printed text was split into stream messages",
        Stage.OUTPUTS,
        join_stream_chunks,
    ),
    Normaliser(
        "progress-bar",
        "carriage-return progress bars (tqdm, Keras) and their timings",
        Stage.OUTPUTS,
        progress_bar,
    ),
    Normaliser(
        "warnings",
        "DeprecationWarning/FutureWarning lines on stderr (reported)",
        Stage.OUTPUTS,
        strip_warnings,
    ),
    Normaliser(
        "memory-address", "memory addresses in reprs (<... at 0x7f...>)", Stage.TEXT, memory_address
    ),
    Normaliser(
        "object-id", "random ids: uuid4, pandas Styler ids, widget model ids", Stage.TEXT, object_id
    ),
    Normaliser("timing-report", "what %time and %timeit print", Stage.TEXT, timing_report),
    Normaliser(
        "temp-path",
        "temporary directories, tempfile names, home directories",
        Stage.TEXT,
        temp_path,
    ),
    Normaliser(
        "scalar-repr",
        "numpy/pandas scalar and dtype reprs (np.float64(1.5) vs 1.5)",
        Stage.TEXT,
        scalar_repr,
    ),
    Normaliser(
        "figure-size",
        "the size in a matplotlib <Figure size WxH ...> repr",
        Stage.TEXT,
        figure_size,
    ),
    Normaliser(
        "collection-order", "order of items in set and dict reprs", Stage.TEXT, collection_order
    ),
    Normaliser("html-whitespace", "whitespace in HTML outputs", Stage.TEXT, html_whitespace),
    Normaliser(
        "sanitiser",
        "the repository's sanitize patterns (nbval files, [tool.nbrepro])",
        Stage.TEXT,
        user_sanitisers,
    ),
    Normaliser(
        "mime-bundle",
        "representations added or dropped; shared MIME types compared",
        Stage.BUNDLE,
        shared_mimes,
    ),
    Normaliser(
        "timestamp",
        "dates and times of the run, durations and timings",
        Stage.TOKEN,
        tolerance.timestamp_rule,
    ),
    Normaliser(
        "float-tolerance",
        "numbers in text within rtol/atol; column realignment",
        Stage.TOKEN,
        tolerance.float_rule,
    ),
    Normaliser(
        "dataframe-table",
        "HTML tables compared cell by cell, markup ignored",
        Stage.VALUE,
        tables.compare_html_tables,
    ),
    Normaliser(
        "image-similar",
        "images compared perceptually (structural similarity)",
        Stage.VALUE,
        images.compare_images,
    ),
    Normaliser(
        "figure-resized",
        "a plot re-drawn at another figure size: data area and labels compared apart",
        Stage.VALUE,
        images.compare_resized_images,
    ),
]

NORMALISERS: dict[str, Normaliser] = {entry.name: entry for entry in _ENTRIES}

DEFAULT_NORMALISERS: tuple[str, ...] = tuple(NORMALISERS)
