"""What an audit shows while it runs: on a terminal a live view (repositories done
of total, notebooks, each worker's repository and stage, the tally of verdicts,
throughput and time left); otherwise one line per finished repository."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


@dataclass
class _Slot:
    repo: str
    stage: str = "queued"
    detail: str = ""


@dataclass
class AuditView:
    console: Console
    total: int  # repositories in the audit
    already: int  # done before this run
    todo: int
    quiet: bool = False
    started: float = field(default_factory=time.monotonic)
    finished: int = 0  # in this run
    notebooks: int = 0
    repositories: Counter[str] = field(default_factory=Counter)  # outcome states
    verdicts: Counter[str] = field(default_factory=Counter)  # notebook verdicts
    slots: dict[int, _Slot] = field(default_factory=dict)  # task id -> where it is
    workers: dict[int, str] = field(default_factory=dict)  # task id -> worker name
    live: Live | None = None

    def __enter__(self) -> AuditView:
        if self.console.is_terminal and not self.quiet:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4,
                             transient=True)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def say(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, highlight=False, markup=False)
        elif not self.quiet:
            self.console.print(text, highlight=False, soft_wrap=True, markup=False)

    # --- events ------------------------------------------------------------------------

    def event(self, message: dict[str, Any], url: str) -> None:
        task = int(message.get("id", -1))
        kind = message.get("type")
        if kind == "started":
            self.slots[task] = _Slot(url, "clone")
            self.workers[task] = str(message.get("worker", ""))
        elif kind == "progress" and task in self.slots:
            slot = self.slots[task]
            slot.stage = str(message.get("stage", slot.stage))
            if message.get("notebook"):
                where = f"{message['notebook']}"
                if message.get("cells"):
                    where += f" cell {message.get('cell', 0)}/{message['cells']}"
                slot.detail = where
            elif slot.stage != "execute":
                slot.detail = ""
        self.refresh()

    def done(self, url: str, task: int, status: str, verdicts: list[str], seconds: float,
             reason: str | None) -> None:
        self.slots.pop(task, None)
        self.workers.pop(task, None)
        self.finished += 1
        self.repositories[status] += 1
        self.notebooks += len(verdicts)
        self.verdicts.update(verdicts)
        if self.live is None and not self.quiet:
            counts = Counter(verdicts)
            what = ", ".join(f"{n} {v}" for v, n in counts.most_common())
            detail = f"{len(verdicts)} notebook(s): {what}" if verdicts else (reason or "")
            if status != "checked" and reason:
                detail = reason
            position = self.already + self.finished
            self.console.print(
                f"[{position}/{self.total}] {url} {status}"
                f"{': ' + detail if detail else ''} ({seconds:.1f} s)",
                highlight=False, soft_wrap=True, markup=False)
        self.refresh()

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    # --- rendering -----------------------------------------------------------------------

    def rate(self) -> float:
        """Repositories per second in this run."""
        elapsed = time.monotonic() - self.started
        return self.finished / elapsed if elapsed > 0 and self.finished else 0.0

    def _render(self) -> Group:
        done = self.already + self.finished
        rate = self.rate()
        left = self.todo - self.finished
        eta = f"{_duration(left / rate)} left" if rate else "estimating time left"
        head = Text(
            f"{done}/{self.total} repositories · {self.notebooks} notebooks · "
            f"{rate * 60:.1f} repositories/min · {eta}")
        workers = Table.grid(padding=(0, 2))
        for task, slot in sorted(self.slots.items()):
            # Text, never markup: URLs and notebook paths are the repositories' words
            workers.add_row(*(Text(part) for part in (self.workers.get(task, ""), slot.repo,
                                                       slot.stage, slot.detail)))
        tally = " · ".join(f"{n} {v}" for v, n in self.verdicts.most_common()) or "no verdicts yet"
        states = " · ".join(f"{n} {s}" for s, n in self.repositories.most_common())
        return Group(head, workers, Text(f"notebooks: {tally}"),
                     Text(f"repositories: {states or 'none finished yet'}"))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
