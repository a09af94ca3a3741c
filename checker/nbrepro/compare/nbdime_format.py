"""Differences in nbdime's diff format, for nbdime's diff widget in JupyterLab.

nbdime describes a change as a list of operations on the stored object: `add`,
`remove`, `replace`, `patch` (with a nested diff) on dict keys, and `addrange`,
`removerange`, `patch` on list indices; multi-line strings are patched as lists
of lines. The diffs here are built directly from the outputs nbrepro already
holds (no nbdime import, no general tree diff), and apply, with
`nbdime.patch`, to cells as nbformat reads them (multi-line strings joined).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from .canonical import IMAGE_MIMES, join_text

DiffEntry = dict[str, Any]


def cell_diff(stored: dict[str, Any], new: dict[str, Any]) -> list[DiffEntry]:
    """The diff turning a stored code cell into the new one: source, count, outputs."""
    entries: list[DiffEntry] = []
    if stored.get("execution_count") != new.get("execution_count"):
        entries.append(_replace("execution_count", new.get("execution_count")))
    outputs = _list_diff(
        [_nbformat_output(o) for o in stored.get("outputs", []) or []],
        [_nbformat_output(o) for o in new.get("outputs", []) or []],
    )
    if outputs:
        entries.append(_patch("outputs", outputs))
    source_a, source_b = join_text(stored.get("source", "")), join_text(new.get("source", ""))
    if source_a != source_b:
        entries.append(_patch("source", _string_diff(source_a, source_b)))
    return sorted(entries, key=lambda e: e["key"])


def notebook_diff(
    cell_diffs: Sequence[tuple[int, list[DiffEntry]]],
    added: Sequence[tuple[int, list[dict[str, Any]]]] = (),
    removed: Sequence[tuple[int, int]] = (),
) -> list[DiffEntry]:
    """A notebook-level diff from per-cell diffs (keyed by stored cell index), cells
    inserted before a stored index, and ranges of stored cells removed."""
    cells: list[DiffEntry] = []
    for index, cells_added in added:
        cells.append({"op": "addrange", "key": index, "valuelist": cells_added})
    for index, length in removed:
        cells.append({"op": "removerange", "key": index, "length": length})
    for index, diff in cell_diffs:
        if diff:
            cells.append(_patch(index, diff))
    order = {"addrange": 0, "removerange": 1, "patch": 2}
    cells.sort(key=lambda e: (e["key"], order[e["op"]]))
    return [_patch("cells", cells)] if cells else []


def _nbformat_output(out: dict[str, Any]) -> dict[str, Any]:
    """An output as nbformat holds it in memory: multi-line strings joined."""
    result = dict(out)
    if "text" in result:
        result["text"] = join_text(result["text"])
    if isinstance(result.get("data"), dict):
        result["data"] = {mime: _joined(value) for mime, value in result["data"].items()}
    return result


def _joined(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value


# A sequence matcher is quadratic in the number of items (outputs, lines), which
# an audited notebook chooses; past this many pairs the diff is one hunk between
# the common start and end - still a correct diff, only less fine-grained.
_MAX_MATCHED_PAIRS = 250_000


def _opcodes(a: Sequence[Any], b: Sequence[Any]) -> Sequence[tuple[str, int, int, int, int]]:
    if len(a) * len(b) <= _MAX_MATCHED_PAIRS:
        return difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    ops: list[tuple[str, int, int, int, int]] = [("equal", 0, start, 0, start)] if start else []
    i2, j2 = len(a) - end, len(b) - end
    if i2 > start and j2 > start:
        ops.append(("replace", start, i2, start, j2))
    elif i2 > start:
        ops.append(("delete", start, i2, start, start))
    elif j2 > start:
        ops.append(("insert", start, start, start, j2))
    if end:
        ops.append(("equal", i2, len(a), j2, len(b)))
    return ops


def _list_diff(a: list[Any], b: list[Any]) -> list[DiffEntry]:
    if len(a) == len(b) and all(_same_kind(x, y) for x, y in zip(a, b, strict=True)):
        # a re-run's outputs usually line up one to one: patch the ones that changed
        return [
            _patch(i, _value_diff(x, y))
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            if x != y
        ]
    keys_a = [json.dumps(x, sort_keys=True) for x in a]
    keys_b = [json.dumps(x, sort_keys=True) for x in b]
    entries: list[DiffEntry] = []
    for tag, i1, i2, j1, j2 in _opcodes(keys_a, keys_b):
        if tag == "equal":
            continue
        paired = 0
        if tag == "replace":
            # Same-type items at the same place are edits, shown as patches.
            while (
                i1 + paired < i2 and j1 + paired < j2 and _same_kind(a[i1 + paired], b[j1 + paired])
            ):
                entries.append(_patch(i1 + paired, _value_diff(a[i1 + paired], b[j1 + paired])))
                paired += 1
        if j1 + paired < j2:
            entries.append({"op": "addrange", "key": i1 + paired, "valuelist": b[j1 + paired : j2]})
        if i1 + paired < i2:
            entries.append({"op": "removerange", "key": i1 + paired, "length": i2 - i1 - paired})
    return entries


def _same_kind(x: Any, y: Any) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x.get("output_type") == y.get("output_type") and x.get("name") == y.get("name")
    return False


def _value_diff(a: dict[str, Any], b: dict[str, Any]) -> list[DiffEntry]:
    entries: list[DiffEntry] = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            entries.append({"op": "remove", "key": key})
        elif key not in a:
            entries.append({"op": "add", "key": key, "value": b[key]})
        elif a[key] != b[key]:
            x, y = a[key], b[key]
            if isinstance(x, dict) and isinstance(y, dict):
                entries.append(_patch(key, _value_diff(x, y)))
            elif (
                isinstance(x, str)
                and isinstance(y, str)
                and key not in IMAGE_MIMES
                and ("\n" in x or "\n" in y)
            ):
                entries.append(_patch(key, _string_diff(x, y)))
            else:
                entries.append(_replace(key, y))
    return entries


def _string_diff(a: str, b: str) -> list[DiffEntry]:
    """A line-based diff of a multi-line string, as nbdime writes it."""
    lines_a, lines_b = a.splitlines(True), b.splitlines(True)
    entries: list[DiffEntry] = []
    if len(lines_a) == len(lines_b):
        # Same number of lines (numbers moved, ids changed): replace the runs of
        # changed lines, no sequence matching needed.
        i = 0
        while i < len(lines_a):
            if lines_a[i] == lines_b[i]:
                i += 1
                continue
            j = i
            while j < len(lines_a) and lines_a[j] != lines_b[j]:
                j += 1
            entries.append({"op": "addrange", "key": i, "valuelist": lines_b[i:j]})
            entries.append({"op": "removerange", "key": i, "length": j - i})
            i = j
        return entries
    for tag, i1, i2, j1, j2 in _opcodes(lines_a, lines_b):
        if tag == "equal":
            continue
        if j2 > j1:
            entries.append({"op": "addrange", "key": i1, "valuelist": lines_b[j1:j2]})
        if i2 > i1:
            entries.append({"op": "removerange", "key": i1, "length": i2 - i1})
    return entries


def _patch(key: str | int, diff: list[DiffEntry]) -> DiffEntry:
    return {"op": "patch", "key": key, "diff": diff}


def _replace(key: str, value: Any) -> DiffEntry:
    return {"op": "replace", "key": key, "value": value}
