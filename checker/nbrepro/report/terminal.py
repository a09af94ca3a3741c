"""The terminal report: one row per notebook, then a summary line (rich)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nbrepro.model import CheckResult, Verdict

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


def table(result: CheckResult) -> Table:
    tab = Table(title=Text(f"nbrepro: {result.repository.source}"), title_justify="left",
                expand=False, show_lines=False)
    tab.add_column("notebook", overflow="fold")
    tab.add_column("verdict", no_wrap=True)
    tab.add_column("cell", justify="right")
    tab.add_column("exception")
    tab.add_column("reason", overflow="fold", max_width=70)
    for nb in result.notebooks:
        # Text(), not str: paths and reasons may contain [brackets] rich would parse.
        tab.add_row(
            Text(nb.path),
            Text(nb.verdict.value, style=VERDICT_STYLE[nb.verdict]),
            Text("" if nb.failing_cell is None else str(nb.failing_cell)),
            Text(nb.exception or ""),
            Text(nb.reason or ""),
        )
    return tab


def summary_line(result: CheckResult) -> str:
    counts = result.summary()
    if not counts:
        return "no notebooks found"
    parts = [f"{n} {verdict}" for verdict, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    total = len(result.notebooks)
    env = result.environment
    extra = ""
    if env is not None and env.ok:
        extra = f"; environment {'cached' if env.cached else 'built'} (Python {env.python_version})"
    commit = f" at {result.repository.commit[:10]}" if result.repository.commit else ""
    return (f"{total} notebook{'s' if total != 1 else ''}{commit}: " + ", ".join(parts)
            + f" in {result.seconds:.1f} s{extra}")


def print_report(result: CheckResult, console: Console) -> None:
    if result.notebooks:
        console.print(table(result))
    console.print(Text(summary_line(result)))


def render(result: CheckResult) -> str:
    """The table and summary line as plain text (no colours), for a file."""
    buffer = io.StringIO()
    print_report(result, Console(file=buffer, width=200, highlight=False, color_system=None))
    return buffer.getvalue()
