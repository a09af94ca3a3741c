"""Output-level comparison: canonical outputs, then normalisers in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbrepro.model import CellStatus

from .normalise import NORMALISERS

if TYPE_CHECKING:
    from . import CellComparison, CompareOptions

# Canonical output: (output_type, key, text). Keys are a stream name, a MIME type,
# or an exception name; execution counts and metadata are dropped on purpose.
Canonical = list[tuple[str, str, str]]


def canonical_outputs(cell: dict[str, Any]) -> Canonical:
    result: Canonical = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            name = out.get("name", "stdout")
            text = _text(out.get("text", ""))
            # Join consecutive chunks of one stream: chunking depends on timing.
            if result and result[-1][0] == "stream" and result[-1][1] == name:
                result[-1] = ("stream", name, result[-1][2] + text)
            else:
                result.append(("stream", name, text))
        elif kind in ("execute_result", "display_data"):
            for mime, value in sorted(out.get("data", {}).items()):
                result.append((kind, mime, _text(value)))
        elif kind == "error":
            result.append(("error", out.get("ename", ""), out.get("evalue", "")))
    return result


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(value)
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, sort_keys=True)


def first_difference(stored: Canonical, new: Canonical) -> str:
    """A one-line human description of the first place two outputs differ."""
    for (s_kind, s_key, s_text), (n_kind, n_key, n_text) in zip(stored, new):
        if (s_kind, s_key) != (n_kind, n_key):
            return f"output kind changed: {s_kind} {s_key} -> {n_kind} {n_key}"
        if s_text != n_text:
            s_lines, n_lines = s_text.splitlines(), n_text.splitlines()
            for i, (a, b) in enumerate(zip(s_lines, n_lines)):
                if a != b:
                    return f"{s_key} line {i + 1}: {_short(a)!r} -> {_short(b)!r}"
            return f"{s_key}: {len(s_lines)} lines -> {len(n_lines)} lines"
    return f"{len(stored)} outputs -> {len(new)} outputs"


def _short(line: str, limit: int = 80) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


class OutputComparer:
    def __init__(self, options: CompareOptions) -> None:
        unknown = [n for n in options.normalisers if n not in NORMALISERS]
        if unknown:
            from nbrepro.errors import ConfigError

            raise ConfigError(f"unknown normaliser(s): {', '.join(unknown)}")
        self.options = options

    def compare_cell(self, stored: dict[str, Any], new: dict[str, Any]) -> CellComparison:
        from . import CellComparison

        s, n = canonical_outputs(stored), canonical_outputs(new)
        if s == n:
            return CellComparison(CellStatus.IDENTICAL)
        if s and not n:
            return CellComparison(CellStatus.MISSING_OUTPUT, detail="the re-run produced no output")
        if n and not s:
            return CellComparison(CellStatus.EXTRA_OUTPUT, detail="no output was stored")
        for name in self.options.normalisers:
            norm = NORMALISERS[name]
            s = [(k, key, norm(t)) for k, key, t in s]
            n = [(k, key, norm(t)) for k, key, t in n]
            if s == n:
                return CellComparison(CellStatus.EQUIVALENT, reason=name)
        return CellComparison(CellStatus.DIFFERENT, detail=first_difference(s, n))
