"""The verdict stage: a run and its comparison -> one notebook's verdict."""

from __future__ import annotations

import json
import re
from typing import Any

from nbrepro.compare import CellComparison, CompareOptions, compare_notebook
from nbrepro.compare.unseeded import unseeded_calls
from nbrepro.isolation.tools import strip_ansi
from nbrepro.model import (
    CauseKind,
    CellResult,
    CellStatus,
    NotebookInfo,
    NotebookResult,
    Verdict,
)
from nbrepro.stages.causes import cell_causes, network_cause
from nbrepro.stages.execute import NotebookRun, Outcome
from nbrepro.stages.install_failure import InstallFailure

_NOT_REPRODUCED = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT)
# Cells whose stored and re-run outputs the results keep, for the reports to show.
_SHOWN = (*_NOT_REPRODUCED, CellStatus.ERROR)
# Longest output value (text, or base64 image) kept in the results; reports cut further.
OUTPUT_VALUE_LIMIT = 256 * 1024


NO_CODE = "no code cells"

# What a Python program says when the machine has no network: a name that does not
# resolve, a connection nobody answers (socket, urllib, requests/urllib3, httpx, aiohttp).
_NO_NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|"
    r"No address associated with hostname|nodename nor servname|NameResolutionError|"
    r"getaddrinfo failed|Network is unreachable|Connection refused|"
    r"Failed to establish a new connection|Cannot connect to host|\[Errno -[235]\]",
    re.I,
)
NEEDS_NETWORK = CauseKind.NEEDS_NETWORK.value  # also the `cause` of the notebook


def not_checked(info: NotebookInfo, reason: str, skipped: bool = False) -> NotebookResult:
    """`skipped`: nothing to check by design (like a skipped test, it fails no run)."""
    return NotebookResult(path=info.path, verdict=Verdict.NOT_CHECKED, reason=reason, info=info,
                          skipped=skipped)


def not_runnable(info: NotebookInfo) -> NotebookResult | None:
    """The `not-checked` result of a notebook that is not run at all, else None."""
    why = why_not_runnable(info)
    return None if why is None else not_checked(info, why, skipped=why == NO_CODE)


def why_not_runnable(info: NotebookInfo) -> str | None:
    """The reason a notebook is not run at all, or None when it can be."""
    if not info.valid:
        return info.error or "not a valid notebook"
    if info.code_cells == 0:  # whatever its language: there is nothing to run
        return NO_CODE
    if info.python_major == "2" and info.python2_code:
        return (f"a Python 2 notebook (kernel {info.kernel_name or 'not named'}; its code is "
                f"Python 2: {info.python2_code}): Python 2 kernels cannot be built today")
    if info.python_major == "2":
        return (f"a Python 2 notebook (kernel {info.kernel_name or 'unknown'}, Python "
                f"{info.python_version or '2'}): Python 2 kernels cannot be built today")
    if not info.is_python:
        return f"not a Python notebook (kernel {info.kernel_name or info.language or 'unknown'})"
    return None


def install_failed(info: NotebookInfo, failure: InstallFailure) -> NotebookResult:
    return NotebookResult(path=info.path, verdict=Verdict.INSTALL_FAILED, reason=failure.reason,
                          info=info, cause=failure.cause.value, message=failure.detail)


def judge(
    info: NotebookInfo,
    stored: Any,
    run: NotebookRun,
    options: CompareOptions | None = None,
    second_run: NotebookRun | None = None,
) -> NotebookResult:
    """Compare every code cell the run reached and decide the notebook's verdict.

    With `second_run` (the same notebook run again in the same environment), cells
    whose outputs differ between the two runs are `volatile` and do not count.
    """
    comparison = compare_notebook(
        stored, run.executed, options,
        second_run=second_run.executed if second_run is not None else None,
    )
    compared = {c.stored_index: c.comparison for c in comparison.cells
                if c.stored_index is not None}
    cells = [_cell_result(index, run, compared.get(index))
             for index, cell in enumerate(stored.cells) if cell.cell_type == "code"]
    for cell in cells:
        count = stored.cells[cell.index].get("execution_count")
        cell.execution_count = count if isinstance(count, int) else None

    _hint_unseeded(stored, cells)
    for cell in cells:
        if cell.status in _SHOWN:
            cell.stored_outputs = shown_outputs(stored.cells[cell.index])
            cell.rerun_outputs = shown_outputs(run.executed.cells[cell.index])
    result = NotebookResult(
        path=info.path, verdict=Verdict.REPRODUCED, cells=cells, seconds=run.seconds, info=info,
        failing_cell=run.failing_cell, exception=run.exception, message=run.message,
    )
    if run.outcome is Outcome.TIMEOUT:
        result.verdict, result.reason = Verdict.TIMEOUT, run.message
    elif run.outcome is Outcome.KERNEL_DIED:
        result.verdict, result.reason = Verdict.KERNEL_DIED, run.message
    elif run.outcome is Outcome.FAILED:
        result.verdict = Verdict.FAILED
        result.reason = (f"{result.failing_label}: {run.exception}: "
                         f"{run.message}").rstrip(": ")
    elif not info.has_outputs:
        result.verdict, result.skipped = Verdict.NOT_CHECKED, True
        result.reason = "no stored outputs to compare (the notebook ran without error)"
    else:
        bad = [c for c in cells if c.status in _NOT_REPRODUCED]
        if bad:
            result.verdict = Verdict.DIFFERS
            first = bad[0]
            what = first.detail or first.status.value
            again = " (the same in a second run)" if second_run is not None else ""
            result.reason = f"{len(bad)} cell(s) differ{again}; first: {first.label}: {what}"
        elif any(c.status is CellStatus.EQUIVALENT for c in cells):
            result.verdict = Verdict.REPRODUCED_EQUIVALENT
            reasons = sorted({c.reason for c in cells
                              if c.reason and c.status is CellStatus.EQUIVALENT})
            result.reason = "equal after normalising: " + ", ".join(reasons)
        volatile = [c for c in cells if c.status is CellStatus.VOLATILE]
        result.volatile_cells = [c.index for c in volatile]
        if volatile:  # left out of the verdict, but never silently
            note = (f"{len(volatile)} volatile cell(s) left out: "
                    f"{_labels(volatile)} changed between two runs")
            result.reason = f"{result.reason}; {note}" if result.reason else note
    if second_run is not None:
        result.rerun = "completed" if second_run.outcome is Outcome.COMPLETED else (
            second_run.outcome.value)
    result.causes = cell_causes(cells)
    return result




def needs_network(result: NotebookResult, run: NotebookRun) -> bool:
    """Mark a notebook that failed for want of the network (`--network` was not given):
    its reason says so and how to allow it. Returns whether it did."""
    if result.verdict is not Verdict.FAILED or run.failing_cell is None:
        return False
    said = [run.exception or "", run.message or ""]
    for out in run.executed.cells[run.failing_cell].get("outputs", []) or []:
        if out.get("output_type") == "error":
            said += [str(out.get("evalue", "")), *map(str, out.get("traceback", []) or [])]
    if not _NO_NETWORK.search(strip_ansi("\n".join(said))):
        return False
    result.cause = NEEDS_NETWORK
    result.causes.insert(0, network_cause(result))
    result.reason = (f"{NEEDS_NETWORK}: {result.reason} (notebooks run without network; "
                     "re-run with --network to let them reach it)")
    return True


def _hint_unseeded(stored: Any, cells: list[CellResult]) -> None:
    """Record, on each cell that changed, the unseeded random calls its source makes
    (said once per notebook, as a root cause)."""
    changed = {c.index: c for c in cells
               if c.status in _NOT_REPRODUCED or c.status is CellStatus.VOLATILE}
    if not changed:
        return
    code = [(i, c) for i, c in enumerate(stored.cells) if c.cell_type == "code"]
    sources = [c.source if isinstance(c.source, str) else "" for _, c in code]
    for position, calls in unseeded_calls(sources).items():
        cell = changed.get(code[position][0])
        if cell is not None:
            cell.unseeded = calls


def second_run_ended_early(result: NotebookResult, second_run: NotebookRun) -> None:
    """Record a second run that did not finish: its outputs judge nothing."""
    why = (second_run.exception or second_run.message or "")[:200]
    result.rerun = f"{second_run.outcome.value}: {why}".rstrip(": ")
    note = f"a second run ended early ({result.rerun}): no cell could be judged volatile"
    result.reason = f"{result.reason}; {note}" if result.reason else note


def _labels(cells: list[CellResult], most: int = 5) -> str:
    shown = ", ".join(c.label for c in cells[:most])
    return shown + (f" and {len(cells) - most} more" if len(cells) > most else "")


def _cell_result(index: int, run: NotebookRun, comparison: CellComparison | None) -> CellResult:
    cell_run = run.cells.get(index)
    if cell_run is None:
        if index == run.failing_cell:
            return CellResult(index, CellStatus.ERROR, reason=run.message)
        return CellResult(index, CellStatus.NOT_RUN)
    if cell_run.skipped:
        return CellResult(index, CellStatus.NOT_RUN,
                          reason="skipped (NBVAL_SKIP marker or skip-execution tag)")
    if cell_run.error and not cell_run.expected_error:
        ename, evalue = cell_run.error
        return CellResult(index, CellStatus.ERROR, reason=f"{ename}: {evalue}".rstrip(": "),
                          execution_seconds=cell_run.seconds)
    if comparison is None:  # a cell the comparer could not pair (sources changed)
        return CellResult(index, CellStatus.NOT_RUN, execution_seconds=cell_run.seconds)
    return comparison.to_cell_result(index, execution_seconds=cell_run.seconds)


def shown_outputs(cell: Any, limit: int = OUTPUT_VALUE_LIMIT) -> list[dict[str, Any]]:
    """A code cell's outputs as plain JSON, each value cut at `limit` characters (the
    cut recorded in `nbrepro_truncated`, never silent)."""
    shown: list[dict[str, Any]] = []
    for output in cell.get("outputs", []) or []:
        out = json.loads(json.dumps(output, default=str))
        if not isinstance(out, dict):
            continue
        cut: dict[str, int] = {}
        holders: list[tuple[str, dict[str, Any]]] = [("text", out)] if "text" in out else []
        if isinstance(out.get("data"), dict):
            holders += [(mime, out["data"]) for mime in out["data"]]
        for key, holder in holders:
            value = holder[key]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = "".join(value)
            elif not isinstance(value, str):  # application/json and the like
                value = json.dumps(value)
                if len(value) <= limit:
                    continue
            if len(value) > limit:
                cut[key] = len(value)
                value = value[:limit]
            holder[key] = value
        if cut:
            out["nbrepro_truncated"] = cut
        shown.append(out)
    return shown
