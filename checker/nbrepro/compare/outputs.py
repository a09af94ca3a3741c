"""Compare the outputs of one code cell: stored against re-run.

The order of work, cheapest first:

1. markers (`NBVAL_SKIP`, `NBVAL_IGNORE_OUTPUT`, `raises-exception`, ...);
2. canonical equality -> `identical` (no normaliser runs for most cells);
3. an exception nobody expected -> `error`; outputs larger than the caps of
   `CompareOptions` -> `different`, reason `too-large` (outputs are untrusted);
4. the OUTPUTS and TEXT normalisers, one at a time in registry order; the first
   after which both sides are equal is the reason -> `equivalent`;
5. a pairwise comparison of what is left, every output with its partner, per
   MIME type, with the TOKEN, LAYOUT, BUNDLE and VALUE normalisers (numbers,
   timestamps, whitespace, tables, images);
6. otherwise `missing-output`, `extra-output` or `different`, with a description
   of the first difference - and, for a cell with several outputs, of each
   output's outcome.

A repository pattern that fails on an output (too slow, a bad replacement) is
left out, and the cell's detail says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from typing import Any

from nbrepro.compare.canonical import (
    IMAGE_MIMES,
    SVG_MIME,
    TEXT_MIMES,
    Output,
    canonical_outputs,
    output_label,
)
from nbrepro.compare.markers import CellPolicy, cell_policy
from nbrepro.compare.nbdime_format import cell_diff
from nbrepro.compare.normalisers import (
    NORMALISERS,
    BundleNormaliser,
    OutputsNormaliser,
    Rewriter,
    TextNormaliser,
    ValueNormaliser,
)
from nbrepro.compare.normalisers.kinds import ValueFunction
from nbrepro.compare.normalisers.outputs import find_warnings, join_stream_chunks
from nbrepro.compare.options import CompareOptions
from nbrepro.compare.result import CellComparison, OutputOutcome, ValueContext, ValueMatch
from nbrepro.compare.tolerance import compare_text
from nbrepro.errors import PatternFailed
from nbrepro.model import CellStatus


class OutputComparer:
    """Compares cells' outputs under one `CompareOptions`: see the module docstring
    for what it does in order. Make one per notebook and call `compare_cell`."""

    def __init__(self, options: CompareOptions) -> None:
        options.validate()
        self.options = options
        enabled = [NORMALISERS[name] for name in NORMALISERS if options.enabled(name)]
        self._rewriters: list[Rewriter] = [
            e for e in enabled
            if isinstance(e, (OutputsNormaliser, TextNormaliser))
            and (e.name != "sanitiser" or options.sanitizers)
        ]  # fmt: skip
        # one function may serve several entries (the two image normalisers)
        self._values: list[ValueFunction] = list(
            dict.fromkeys(e.function for e in enabled if isinstance(e, ValueNormaliser))
        )
        self._bundle = next((e for e in enabled if isinstance(e, BundleNormaliser)), None)
        self._order = {name: i for i, name in enumerate(NORMALISERS)}
        self._text_context = options.text_context()
        self.failed_patterns: list[str] = []  # repository patterns left out, and why

    # -- the seam -----------------------------------------------------------

    def compare_cell(self, stored: dict[str, Any], new: dict[str, Any]) -> CellComparison:
        policy = cell_policy(stored, self.options.sanitizers, lax=self.options.lax)
        if policy.skip:
            return CellComparison(
                CellStatus.NOT_RUN, "skipped-by-marker", f"marked {', '.join(policy.markers)}"
            )
        s_raw, n_raw = canonical_outputs(stored), canonical_outputs(new)
        if s_raw == n_raw:
            return CellComparison(CellStatus.IDENTICAL)
        result = self._guarded(s_raw, n_raw, policy, reference_time(new, self.options))
        result.warnings = new_warnings(s_raw, n_raw)
        if self.options.nbdime_diff and result.reason != "too-large":
            result.nbdime_diff = cell_diff(stored, new)
        return result

    def outputs_match(self, stored: dict[str, Any], new: dict[str, Any]) -> bool:
        """Whether two cells' outputs are identical or equivalent, markers aside.

        For comparing two runs of the same cell (volatility); no diff is made.
        """
        s, n = canonical_outputs(stored), canonical_outputs(new)
        if s == n:
            return True
        result = self._guarded(s, n, CellPolicy(), reference_time(new, self.options))
        return result.status is CellStatus.EQUIVALENT

    def _guarded(
        self, s: list[Output], n: list[Output], policy: CellPolicy, reference: float
    ) -> CellComparison:
        """`_compare`, leaving out a repository pattern that fails on these outputs
        (too slow, or a bad replacement) - for this and every later cell."""
        notes: list[str] = []
        while True:
            try:
                result = self._compare(s, n, policy, reference)
                break
            except PatternFailed as failed:
                notes.append(f"left out the repository's {failed}")
                self.failed_patterns.append(str(failed))
                before = self._text_context.sanitizers
                kept = tuple(
                    p for p in self._text_context.sanitizers
                    if (p.pattern.pattern, p.source) != (failed.pattern, failed.source)
                )  # fmt: skip
                if len(kept) == len(before):
                    raise  # not one of this comparer's patterns: nothing to leave out
                self._text_context = dataclasses.replace(self._text_context, sanitizers=kept)
        if notes:
            result.detail = "; ".join(filter(None, [result.detail, *notes]))
        return result

    # -- the chain ----------------------------------------------------------

    def _compare(
        self, s: list[Output], n: list[Output], policy: CellPolicy, reference: float
    ) -> CellComparison:
        s_error, n_error = _first_error(s), _first_error(n)
        if n_error and not s_error and not policy.raises_exception:
            return CellComparison(CellStatus.ERROR, "exception", f"raised {_exception(n_error)}")
        if policy.raises_exception and not n_error:
            marker = ", ".join(policy.markers) or "raises-exception"
            return CellComparison(
                CellStatus.DIFFERENT, "exception", f"expected an exception ({marker}); none raised"
            )
        if not policy.check_output:
            return CellComparison(
                CellStatus.EQUIVALENT,
                "ignored-by-marker",
                f"output not checked ({', '.join(policy.markers) or 'lax mode'})",
                normalisers=["ignored-by-marker"],
            )
        too_large = self._too_large(s, "stored") or self._too_large(n, "re-run")
        if too_large:
            return CellComparison(CellStatus.DIFFERENT, "too-large", too_large)

        used: list[str] = []
        for entry in self._rewriters:
            s2 = entry.rewrite(s, self._text_context)
            n2 = entry.rewrite(n, self._text_context)
            if s2 == s and n2 == n:
                continue
            if _contributes(s, n, s2, n2):
                used.append(entry.name)
            s, n = s2, n2
            if s == n:
                return CellComparison(
                    CellStatus.EQUIVALENT,
                    entry.name,
                    _equivalent_detail(used or [entry.name]),
                    normalisers=used or [entry.name],
                )

        context = self.options.value_context(reference)
        match, outcomes = self._match_lists(s, n, context)
        per_output = "; ".join(o.describe() for o in outcomes) if len(outcomes) > 1 else ""
        if match.equal:
            names = sorted(set(used) | match.rules, key=self._order.__getitem__)
            if not names:  # equal without any rule: nothing but spelling differed
                return CellComparison(CellStatus.IDENTICAL)
            reason = max(match.rules, key=self._order.__getitem__) if match.rules else names[-1]
            detail = _equivalent_detail(names)
            if match.image_score is not None and not per_output:
                detail += f"; image similarity {match.image_score:.2f}"
            if per_output:
                detail += f"; {per_output}"
            return CellComparison(
                CellStatus.EQUIVALENT, reason, detail, normalisers=names,
                image_score=match.image_score, image_diff=match.image_diff, outputs=outcomes,
            )  # fmt: skip
        result = self._classify(s, n, match, context)
        if per_output and result.status is CellStatus.DIFFERENT:
            result.detail = per_output
        result.outputs = outcomes
        if used and result.status is CellStatus.DIFFERENT and result.detail:
            # the lines shown are the normalised ones; say so
            result.detail += f" (compared after {', '.join(used)})"
        return result

    def _too_large(self, outputs: list[Output], side: str) -> str | None:
        """Why these outputs are too large to compare beyond identity, if they are."""
        options = self.options
        if len(outputs) > options.max_outputs:
            return (
                f"the {side} cell has {len(outputs):,} outputs, more than the "
                f"{options.max_outputs:,} nbrepro compares"
            )
        for i, out in enumerate(outputs, 1):
            values = [(out.get("name", "stream"), out.get("text", ""))]
            values += [(mime, v) for mime, v in (out.get("data") or {}).items()]
            values += [(key, out.get(key, "")) for key in ("evalue", "traceback")]
            for what, value in values:
                limit = options.max_image_chars if what in IMAGE_MIMES else options.max_text_chars
                if isinstance(value, str) and len(value) > limit:
                    return (
                        f"{side} output {i} ({what}) has {len(value):,} characters, more than "
                        f"the {limit:,} nbrepro compares; it is not identical"
                    )
        return None

    # -- pairwise -----------------------------------------------------------

    def _match_lists(
        self, s: list[Output], n: list[Output], context: ValueContext
    ) -> tuple[ValueMatch, list[OutputOutcome]]:
        """The pairwise comparison: every output with its partner, not only up to the
        first difference. Returns the cell's match (its detail and kind those of the
        first output that differs; its image the least similar) and each output's
        outcome."""
        if len(s) != len(n):
            detail = (
                f"{len(s)} outputs -> {len(n)}: "
                f"[{', '.join(map(output_label, s))}] -> [{', '.join(map(output_label, n))}]"
            )
            return ValueMatch(False, detail=detail, kind="outputs"), []
        total = ValueMatch(True)
        outcomes: list[OutputOutcome] = []
        for index, (a, b) in enumerate(zip(s, n, strict=True), 1):
            match = self._match_output(a, b, context)
            status = (
                CellStatus.DIFFERENT if not match.equal
                else CellStatus.EQUIVALENT if match.rules or a != b
                else CellStatus.IDENTICAL
            )  # fmt: skip
            outcomes.append(OutputOutcome(
                index, output_label(a), status,
                sorted(match.rules, key=self._order.__getitem__), match.detail, match.image_score,
            ))  # fmt: skip
            if not match.equal and total.equal:
                total.equal, total.detail, total.kind = False, match.detail, match.kind
            total.rules |= match.rules
            if match.image_score is not None and (
                total.image_score is None or match.image_score < total.image_score
            ):
                total.image_score, total.image_diff = match.image_score, match.image_diff
        return total, outcomes

    def _match_output(self, a: Output, b: Output, context: ValueContext) -> ValueMatch:
        if a == b:
            return ValueMatch(True)
        kind = a.get("output_type")
        if kind != b.get("output_type") or a.get("name") != b.get("name"):
            return ValueMatch(
                False, detail=f"output changed from {output_label(a)} to {output_label(b)}",
                kind="outputs",
            )  # fmt: skip
        if kind == "stream":
            text = compare_text(a["text"], b["text"], context.text, label=a["name"])
            return ValueMatch(text.equal, text.rules, text.detail, text.kind)
        if kind == "error":
            return self._match_error(a, b, context)
        match = self._match_data(a.get("data", {}), b.get("data", {}), context)
        if not match.equal:
            return match
        if a.get("execution_count") != b.get("execution_count"):
            detail = f"execution count {a.get('execution_count')} -> {b.get('execution_count')}"
            return ValueMatch(False, detail=detail, kind="execution-count")
        if a.get("metadata") != b.get("metadata"):
            return ValueMatch(False, detail="output metadata changed", kind="metadata")
        return match

    def _match_error(self, a: Output, b: Output, context: ValueContext) -> ValueMatch:
        if a.get("ename") != b.get("ename"):
            detail = f"exception changed: {_exception(a)} -> {_exception(b)}"
            return ValueMatch(False, detail=detail, kind="exception")
        rules: set[str] = set()
        for key in ("evalue", "traceback"):
            if key in a or key in b:
                text = compare_text(a.get(key, ""), b.get(key, ""), context.text)
                if not text.equal:
                    detail = f"{a.get('ename')} {'message' if key == 'evalue' else key} changed: "
                    return ValueMatch(False, detail=detail + (text.detail or ""), kind="exception")
                rules |= text.rules
        return ValueMatch(True, rules)

    def _match_data(
        self, a: dict[str, str], b: dict[str, str], context: ValueContext
    ) -> ValueMatch:
        rules: set[str] = set()
        mimes = sorted(a)
        if set(a) != set(b):
            shared = self._bundle.function(a, b) if self._bundle else []
            if not shared:
                detail = f"MIME types changed: {sorted(a)} -> {sorted(b)}"
                return ValueMatch(False, detail=detail, kind="mime-types")
            mimes = shared
            rules.add("mime-bundle")
        total = ValueMatch(True, rules)
        for mime in mimes:
            if a[mime] == b[mime]:
                continue
            match = self._match_value(mime, a[mime], b[mime], context)
            if not match.equal:
                return match
            total.rules |= match.rules
            if match.image_score is not None:
                total.image_score, total.image_diff = match.image_score, match.image_diff
        return total

    def _match_value(self, mime: str, a: str, b: str, context: ValueContext) -> ValueMatch:
        for function in self._values:
            match = function(a, b, mime, context)
            if match is not None:
                return match
        if mime in IMAGE_MIMES or mime == SVG_MIME:
            return ValueMatch(False, detail=f"{mime}: image bytes differ", kind="image")
        if mime in TEXT_MIMES or mime.startswith("text/"):
            text = compare_text(a, b, context.text, label=mime)
            return ValueMatch(text.equal, text.rules, text.detail, text.kind)
        return ValueMatch(False, detail=f"{mime} changed", kind="data")

    # -- what kind of difference --------------------------------------------

    def _classify(
        self, s: list[Output], n: list[Output], match: ValueMatch, context: ValueContext
    ) -> CellComparison:
        if not n:
            labels = ", ".join(map(output_label, s))
            return CellComparison(
                CellStatus.MISSING_OUTPUT,
                "outputs",
                f"the re-run produced no output (stored: {labels})",
            )
        if not s:
            labels = ", ".join(map(output_label, n))
            return CellComparison(
                CellStatus.EXTRA_OUTPUT,
                "outputs",
                f"no output was stored; the re-run produced {labels}",
            )
        if len(n) < len(s):
            missing = self._unmatched(s, n, context)
            if missing is not None:
                return CellComparison(
                    CellStatus.MISSING_OUTPUT, "outputs",
                    f"stored output {missing + 1} ({_preview(s[missing])}) is missing",
                )  # fmt: skip
        elif len(n) > len(s):
            extra = self._unmatched(n, s, context)
            if extra is not None:
                return CellComparison(
                    CellStatus.EXTRA_OUTPUT, "outputs",
                    f"new output {extra + 1}: {_preview(n[extra])}",
                )  # fmt: skip
        return CellComparison(
            CellStatus.DIFFERENT, match.kind or "outputs", match.detail,
            image_score=match.image_score, image_diff=match.image_diff,
        )  # fmt: skip

    def _unmatched(
        self, longer: list[Output], shorter: list[Output], context: ValueContext
    ) -> int | None:
        """The first output of `longer` left over when `shorter` is matched into it in
        order, if everything in `shorter` matches; otherwise None."""
        leftover: int | None = None
        j = 0
        for i, out in enumerate(longer):
            if j < len(shorter) and self._match_output(out, shorter[j], context).equal:
                j += 1
            elif leftover is None:
                leftover = i
        return leftover if j == len(shorter) else None


def reference_time(cell: dict[str, Any], options: CompareOptions) -> float:
    """When the new cell ran: options, else nbclient's timing metadata, else now."""
    if options.reference_time is not None:
        return options.reference_time
    timing = cell.get("metadata", {}).get("execution", {})
    for key in ("iopub.execute_input", "shell.execute_reply", "iopub.status.busy"):
        value = timing.get(key)
        if isinstance(value, str):
            try:
                stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.timezone.utc)
            return stamp.timestamp()
    return time.time()


def new_warnings(stored: list[Output], new: list[Output]) -> list[str]:
    """Deprecation/future warnings of the re-run that the stored run did not print."""
    if not any(o.get("name") == "stderr" and "Warning" in o.get("text", "") for o in new):
        return []
    before = Counter(find_warnings(join_stream_chunks(stored)))
    result = []
    for warning in find_warnings(join_stream_chunks(new)):
        if before[warning]:
            before[warning] -= 1
        else:
            result.append(warning)
    return result


def _contributes(s: list[Output], n: list[Output], s2: list[Output], n2: list[Output]) -> bool:
    """Whether a normaliser that changed something changed a place where the two
    sides differed (rewriting the same address on both sides explains nothing)."""
    if not (len(s) == len(n) == len(s2) == len(n2)):
        return s != n  # outputs were joined or dropped: it reshaped a difference
    return any(
        (a != a2 or b != b2) and _differs_where_changed(a, b, a2, b2)
        for a, b, a2, b2 in zip(s, n, s2, n2, strict=True)
    )


def _differs_where_changed(a: Output, b: Output, a2: Output, b2: Output) -> bool:
    for key in set(a) | set(b) | set(a2) | set(b2):
        if a.get(key) == a2.get(key) and b.get(key) == b2.get(key):
            continue  # this key was not touched
        x, y, x2, y2 = a.get(key), b.get(key), a2.get(key), b2.get(key)
        if (
            isinstance(x, dict)
            and isinstance(y, dict)
            and isinstance(x2, dict)
            and isinstance(y2, dict)
        ):
            if any(
                x.get(m) != y.get(m) and (x.get(m) != x2.get(m) or y.get(m) != y2.get(m))
                for m in set(x) | set(y)
            ):
                return True
        elif x != y:
            return True
    return False


def _first_error(outputs: list[Output]) -> Output | None:
    return next((o for o in outputs if o.get("output_type") == "error"), None)


def _exception(out: Output) -> str:
    message = str(out.get("evalue", "")).strip().split("\n")[0]
    return f"{out.get('ename', 'Exception')}: {message}" if message else str(out.get("ename"))


def _equivalent_detail(names: list[str]) -> str:
    return "equal after " + ", ".join(names)


def _preview(out: Output) -> str:
    label = output_label(out)
    text = out.get("text") or out.get("evalue") or out.get("data", {}).get("text/plain", "")
    text = str(text).strip().split("\n")[0]
    if len(text) > 60:
        text = text[:59] + "…"
    return f"{label} {text!r}" if text else label
