"""OUTPUTS-stage normalisers: `(outputs) -> outputs`, on one side's list of outputs.

Each removes one kind of noise that lives in the structure of a cell's outputs
rather than in one text: execution counts, output metadata, tracebacks, how a
stream was chunked, progress bars redrawn with `\\r`, and warnings on stderr.
"""

from __future__ import annotations

import re

from nbrepro.compare.canonical import Output


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
    run: dict[str, list[str]] = {}  # joined once: many small chunks stay linear

    def flush() -> None:
        for name in sorted(run, key=lambda n: (n != "stdout", n != "stderr", n)):
            text = "".join(run[name])
            if text:
                result.append({"output_type": "stream", "name": name, "text": text})
        run.clear()

    for out in outputs:
        if out.get("output_type") == "stream":
            run.setdefault(out.get("name", "stdout"), []).append(out.get("text", ""))
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


# `path.py:12: UserWarning: message`, then the indented source line Python shows.
# Any category: Python names every warning class `...Warning` (pandas'
# `SettingWithCopyWarning`, numpy's `RuntimeWarning`, a library's `UserWarning`).
# A message may span lines (pandas' start with a line break); its lines run up to
# the indented source line, at most 20 of them, never over a traceback or another
# warning. Linear: a scan of at most 20 lines per warning.
_WARNING = re.compile(
    r"^[^\n]*?:\d+: (?P<category>[A-Za-z_]\w*Warning): (?P<message>[^\n]*)(?:\n|\Z)"
    r"(?:(?P<more>(?:(?!Traceback|[^\n]*:\d+: )(?:[^ \t\n][^\n]*)?\n){0,20}?)"
    r"(?=[ \t]))?"
    r"(?:[ \t][^\n]*(?:\n|\Z))*",
    re.MULTILINE,
)


def find_warnings(outputs: list[Output]) -> list[str]:
    """The warnings printed on stderr, any category, as `Category: message` (the
    message's first line that says something)."""
    found = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            for m in _WARNING.finditer(out.get("text", "")):
                lines = [m["message"], *(m["more"] or "").split("\n")]
                message = next((line.strip() for line in lines if line.strip()), "")
                found.append(f"{m['category']}: {message}")
    return found


def strip_warnings(outputs: list[Output]) -> list[Output]:
    """Remove warnings of any category (and their source line) from stderr.

    A new library version warns about what the next one will change, or about
    how it was called (pandas' "Could not infer format"); the result is the same.
    The comparer reports the warnings of the re-run that the stored run did not
    print (`warnings`); a repository that wants them to count sets
    `[tool.nbrepro] warnings = "strict"`.
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


def _without(out: Output, key: str) -> Output:
    if key not in out:
        return out
    return {k: v for k, v in out.items() if k != key}
