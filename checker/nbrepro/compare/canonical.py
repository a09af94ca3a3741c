"""The canonical form of a cell's outputs: what "identical" is measured on.

nbformat allows the same output to be written several ways (multi-line strings as
lists of lines, base64 wrapped at 76 columns, JSON MIME data as objects). Those are
spellings, not differences, so they are removed here before anything is compared;
everything else (execution counts, metadata, chunking) is left for the named
normalisers.
"""

from __future__ import annotations

import json
from typing import Any

Output = dict[str, Any]

IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp"})
SVG_MIME = "image/svg+xml"

# MIME types whose values are text (or JSON written as text), so text normalisers
# apply; a widget view is only a model id (random: `object-id`). Images and SVG
# are compared by their own rules.
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
TEXT_MIMES = frozenset(
    {"text/plain", "text/html", "text/markdown", "text/latex", "application/json", WIDGET_MIME}
)


def canonical_outputs(cell: dict[str, Any]) -> list[Output]:
    """The outputs of a code cell with every value as one string."""
    return [canonical_output(out) for out in cell.get("outputs", []) or []]


def canonical_output(out: dict[str, Any]) -> Output:
    kind = out.get("output_type", "")
    result: Output = {"output_type": kind}
    if kind == "stream":
        result["name"] = out.get("name", "stdout")
        result["text"] = join_text(out.get("text", ""))
    elif kind in ("execute_result", "display_data", "update_display_data"):
        result["data"] = {
            mime: canonical_value(mime, value) for mime, value in (out.get("data") or {}).items()
        }
        result["metadata"] = out.get("metadata") or {}
        if kind == "execute_result":
            result["execution_count"] = out.get("execution_count")
    elif kind == "error":
        result["ename"] = out.get("ename", "")
        result["evalue"] = out.get("evalue", "")
        result["traceback"] = "\n".join(out.get("traceback") or [])
    return result


def canonical_value(mime: str, value: Any) -> str:
    if mime in IMAGE_MIMES:
        # base64 may be wrapped at any width; the bytes are what matters
        return "".join(join_text(value).split())
    if isinstance(value, (dict, list)) and (mime == "application/json" or mime.endswith("+json")):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return join_text(value)


def join_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def output_label(out: Output) -> str:
    """A short name for an output, for messages: `stdout`, `execute_result text/plain`."""
    kind = out.get("output_type", "?")
    if kind == "stream":
        return str(out.get("name", "stream"))
    if kind == "error":
        return f"error {out.get('ename', '')}".strip()
    mimes = ", ".join(sorted(out.get("data", {})))
    return f"{kind} {mimes}".strip()
