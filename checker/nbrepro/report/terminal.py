"""The terminal report: one row per notebook, then a summary line (rich).

Everything shown here may come from the audited repository (file names, exception
messages, settings): it is printed as text, never as rich markup (`x[/y].ipynb`
would be a closing tag), and without control characters (an escape sequence in a
notebook's error message must not drive the user's terminal).
"""

from __future__ import annotations

import io
import re

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
# The mark of a verdict the repository's own settings decided.
REPO_SETTINGS_MARK = "*"
# C0 and C1 control characters (tab and newline excepted), DEL, and the Unicode
# line/paragraph separators and bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """`text` safe to show on a terminal: control characters written out as escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256
                        else f"\\u{ord(m.group(0)):04x}", str(text))


def plain_text(text: object, style: str = "") -> Text:
    """A rich `Text` of untrusted `text`: never parsed as markup, no control characters."""
    return Text(plain(text), style=style)


def verdict_text(verdict: Verdict, decided_by_repo: bool = False) -> Text:
    mark = REPO_SETTINGS_MARK if decided_by_repo else ""
    return Text(verdict.value + mark, style=VERDICT_STYLE[verdict])


def table(result: CheckResult) -> Table:
    tab = Table(title=plain_text(f"nbrepro: {result.repository.source}"), title_justify="left",
                expand=False, show_lines=False)
    tab.add_column("notebook", overflow="fold")
    tab.add_column("verdict", no_wrap=True)
    tab.add_column("cell", justify="right")
    tab.add_column("exception")
    tab.add_column("reason", overflow="fold", max_width=70)
    for nb in result.notebooks:
        tab.add_row(
            plain_text(nb.path),
            verdict_text(nb.verdict, bool(nb.repo_settings)),
            Text("" if nb.failing_cell is None else str(nb.failing_cell)),
            plain_text(nb.exception or ""),
            plain_text(nb.reason or ""),
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
    for line in repo_settings_lines(result):
        console.print(Text(line))
    console.print(plain_text(summary_line(result)))


def render(result: CheckResult) -> str:
    """The table and summary line as plain text (no colours), for a file."""
    buffer = io.StringIO()
    print_report(result, Console(file=buffer, width=200, highlight=False, color_system=None))
    return buffer.getvalue()
