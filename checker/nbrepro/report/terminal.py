"""The terminal report: one row per notebook, notes a user should act on (warnings,
root causes once per notebook with the cells they explain, the sanitisers suggested
for volatile cells, hints), then a summary line (rich).

Cells are named as the notebook shows them (`In [n]`), as the progress line does.
Everything shown here may come from the audited repository (file names, exception
messages, settings): it is printed as text, never as rich markup (`x[/y].ipynb`
would be a closing tag), and without control characters (an escape sequence in a
notebook's error message must not drive the user's terminal).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nbrepro.model import (
    STORED_COUNT,
    CauseKind,
    CellStatus,
    CheckResult,
    NotebookResult,
    Verdict,
)
from nbrepro.plaintext import plain
from nbrepro.report.causes import describe

VERDICT_STYLE = {
    Verdict.REPRODUCED: "bold green",
    Verdict.REPRODUCED_EQUIVALENT: "green",
    Verdict.DIFFERS: "yellow",
    Verdict.FAILED: "red",
    Verdict.TIMEOUT: "red",
    Verdict.KERNEL_DIED: "red",
    Verdict.INSTALL_FAILED: "magenta",
    Verdict.NOT_CHECKED: "dim",
}
# The mark of a verdict the repository's own settings decided.
REPO_SETTINGS_MARK = "*"
def plain_text(text: object, style: str = "") -> Text:
    """A rich `Text` of untrusted `text`: never parsed as markup, no control characters."""
    return Text(plain(text), style=style)


def verdict_text(verdict: Verdict, decided_by_repo: bool = False) -> Text:
    mark = REPO_SETTINGS_MARK if decided_by_repo else ""
    return Text(verdict.value + mark, style=VERDICT_STYLE[verdict])


_DIFFERENT = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT)


def cell_column(nb: NotebookResult) -> str:
    """Where to look: the failing cell, or the first cell that differs."""
    if nb.failing_cell is not None:
        return nb.failing_label or ""
    if nb.verdict is Verdict.DIFFERS:
        first = next((c for c in nb.cells if c.status in _DIFFERENT), None)
        return first.label if first is not None else ""
    return ""


def reason_column(nb: NotebookResult) -> str:
    """The reason, without what the exception and cell columns already say."""
    if nb.verdict is Verdict.FAILED and nb.exception:
        base = nb.message or ""
        reason = nb.reason or ""
        # what the reason adds after the message (a ModuleNotFoundError's hint)
        at = reason.find(base) if base else -1
        return base + reason[at + len(base):] if at >= 0 else base
    return nb.reason or ""


def table(result: CheckResult) -> Table:
    tab = Table(title=plain_text(f"nbrepro: {result.repository.source}"), title_justify="left",
                expand=False, show_lines=False)
    tab.add_column("notebook", overflow="fold")
    tab.add_column("verdict", no_wrap=True)
    tab.add_column("cell", no_wrap=True)
    tab.add_column("exception")
    tab.add_column("reason", overflow="fold", max_width=70)
    for nb in result.notebooks:
        verdict = verdict_text(nb.verdict, bool(nb.repo_settings))
        if nb.skipped:
            verdict.append(" (skipped)")
        tab.add_row(
            plain_text(nb.path),
            verdict,
            plain_text(cell_column(nb)),
            plain_text(nb.exception or ""),
            plain_text(reason_column(nb)),
        )
    return tab


def repo_settings_lines(result: CheckResult) -> list[str]:
    """What the repository's own settings were and which verdicts they decided."""
    if not result.repo_settings:
        return []
    lines = ["settings from the repository itself: " + "; ".join(result.repo_settings)]
    for nb in result.notebooks:
        if nb.repo_settings:
            without = (f"nbrepro's defaults give {nb.verdict_without_repo_settings.value}"
                       if nb.verdict_without_repo_settings else "not run")
            lines.append(f"{REPO_SETTINGS_MARK} {nb.path}: {nb.verdict.value} was decided by "
                         f"the repository's own settings ({without})")
    return [plain(line) for line in lines]


def notes(result: CheckResult) -> list[str]:
    """What a user should know beyond the table, most important first."""
    lines = [f"warning: {w}" for w in result.warnings]
    if result.interrupted:
        rest = ", ".join(result.unfinished) if result.unfinished else "none found yet"
        lines.append(f"interrupted: no verdict for what was not checked ({rest})")
    lock = result.lock
    if lock is not None and lock.kernel_pins:
        pins = ", ".join(f"{name} {version}" for name, version in sorted(lock.kernel_pins.items()))
        lines.append(f"kernel packages nbrepro added, not cut off by --exclude-newer "
                     f"{lock.exclude_newer}: {pins}")
    lines += restore_lines(result)
    for nb in result.notebooks:
        lines += cause_lines(nb)
    for nb in result.notebooks:
        if nb.parameters is not None:
            lines.append(f"parameters: {nb.path}: {nb.parameters.describe()}")
    for nb in result.notebooks:
        tried = "; ".join(f"{a.order}: {a.verdict.value}" for a in nb.attempts)
        orders = len({a.order for a in nb.attempts}) > 1  # not only `--restore`'s runs
        if orders and nb.execution_order == STORED_COUNT:
            lines.append(f"execution order: {nb.path}: its stored execution counts are out of "
                         f"order; ran {tried}: reproduces only in stored execution-count "
                         "order")
        elif nb.info is not None and not nb.info.top_down and not nb.verdict.ok \
                and nb.verdict in (Verdict.FAILED, Verdict.DIFFERS):
            both = (f"; ran {tried}: reproduces in neither order" if orders
                    else ", which may explain this")
            lines.append(f"hint: {nb.path}: its stored execution counts are out of order "
                         f"(it was not run top to bottom before it was saved){both}")
    return [plain(line) for line in lines]


CAUSE = "cause: "  # how a root cause's line starts


def cause_lines(nb: NotebookResult) -> list[str]:
    """One line per root cause of a notebook with the cells it explains; under the
    volatile cells' cause, the sanitiser suggested for each."""
    lines = []
    for cause in nb.causes:
        line = f"{CAUSE}{nb.path}: {describe(nb, cause)}"
        if cause.kind is CauseKind.VOLATILE:
            for cell in nb.cells:
                if cell.index in cause.cells and cell.suggested_sanitiser:
                    sanitiser = cell.suggested_sanitiser.replace("\n", "\n    ")
                    line += f"\n  suggested sanitiser for {cell.label}:\n    {sanitiser}"
        lines.append(line)
    return lines


def restore_lines(result: CheckResult) -> list[str]:
    """What `--restore` added that the repository declares nowhere (inferred), and what
    it refused to install."""
    spec = result.spec
    if spec is None or not spec.inferred:
        return []
    added = [i for i in spec.inferred if i.accepted]
    refused = [i for i in spec.inferred if not i.accepted]
    lines = []
    if added:
        lines.append("inferred (--restore; declared nowhere): " + "; ".join(
            f"{i.distribution} for import {i.module}"
            + (f" (after a ModuleNotFoundError in {i.notebook})" if i.notebook else "")
            + f": {i.detail}" for i in added))
    if refused:
        lines.append("not restored (never installed unverified): " + "; ".join(
            f"{i.module}: {i.detail}" for i in refused))
    return lines


def summary_line(result: CheckResult) -> str:
    counts = result.summary()
    if not counts:
        return "interrupted before any notebook was checked" if result.interrupted \
            else "no notebooks found"
    parts = [f"{n} {verdict}" for verdict, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    skipped = sum(nb.skipped for nb in result.notebooks)
    if skipped:
        parts.append(f"{skipped} skipped")
    offline = sum(nb.cause == "needs-network" for nb in result.notebooks)
    if offline:  # failures of the check's settings, not of the notebooks
        parts.append(f"{offline} of them for want of the network (--network)")
    total = len(result.notebooks)
    env = result.environment
    extra = ""
    if env is not None and env.ok:
        extra = f"; environment {'cached' if env.cached else 'built'} (Python {env.python_version})"
    commit = f" at {result.repository.commit[:10]}" if result.repository.commit else ""
    head = "interrupted after " if result.interrupted else ""
    return (f"{head}{total} notebook{'s' if total != 1 else ''}{commit}: " + ", ".join(parts)
            + f" in {result.seconds:.1f} s{extra}")


def print_report(result: CheckResult, console: Console, strict: bool = False) -> None:
    from nbrepro.report.header import header_lines

    if result.notebooks:
        console.print(table(result))
    for line, warning in header_lines(result):
        console.print(plain_text(line, style="bold yellow" if warning else ""), soft_wrap=True)
    for line in notes(result):  # not wrapped: a cause's cells stay on its line
        console.print(Text(line), soft_wrap=True)
    for line in repo_settings_lines(result):
        console.print(Text(line))
    summary = summary_line(result)
    if strict and any(nb.skipped for nb in result.notebooks):
        summary += " (--strict: skipped notebooks fail the run)"
    console.print(plain_text(summary))


def render(result: CheckResult) -> str:
    """The table and summary line as plain text (no colours), for a file."""
    buffer = io.StringIO()
    print_report(result, Console(file=buffer, width=200, highlight=False, color_system=None))
    return buffer.getvalue()


def checks_table(rows: Sequence[dict[str, Any]]) -> Table:
    """`nbrepro list`: one row per stored check, newest first."""
    tab = Table(expand=False)
    for name in ("id", "state", "verdict", "notebooks", "source", "started"):
        tab.add_column(name, overflow="fold", justify="right" if name == "id" else "left")
    for row in rows:
        when = (row.get("started_at") or row.get("created_at") or "")[:19].replace("T", " ")
        verdict = row.get("verdict") or ""
        style = VERDICT_STYLE.get(Verdict(verdict), "") if verdict in Verdict._value2member_map_ \
            else ""
        tab.add_row(Text(str(row["id"])), plain_text(row.get("state") or ""),
                    Text(verdict, style=style), Text(str(len(row.get("notebooks") or []))),
                    plain_text(row.get("source") or ""), plain_text(when))
    return tab
