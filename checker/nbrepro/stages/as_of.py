"""When the notebooks were last run: the cut-off of a dated resolution (`--as-of`).

Unpinned and range-pinned requirements then resolve to what was current at that
date, not today. The date comes from the repository's history (the last commit that
touched the checked notebooks), else from the notebooks themselves (the newest
execution time they store: papermill's, or the cells' `execution` timestamps).
Timestamps are the audited repository's data: only plausible dates are taken.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nbrepro.stages.source import git_last_change

# The cut-off is the day after the evidence: what was on the index that day counts.
_DAY = timedelta(days=1)
_OLDEST = date(2005, 1, 1)  # before any notebook (IPython 0.x had none)
_STAMP = re.compile(r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})")
_CELLS_READ = 5000  # cells whose timestamps are read, at most


@dataclass
class Cutoff:
    date: str  # YYYY-MM-DD, as uv's --exclude-newer takes it
    source: str  # where it came from, for the reports


def cutoff(root: Path, paths: list[str], notebooks: list[Any]) -> Cutoff | None:
    """The date to resolve as of, or None when nothing tells it."""
    try:
        day = git_last_change(root, paths)
    except (subprocess.SubprocessError, OSError):
        day = None
    if day is not None and _plausible(day):
        return Cutoff((day + _DAY).isoformat(),
                      f"the last commit that touched the notebooks ({day.isoformat()})")
    stamps = [d for nb in notebooks for d in _execution_dates(nb) if _plausible(d)]
    if stamps:
        newest = max(stamps)
        return Cutoff((newest + _DAY).isoformat(),
                      f"the newest execution time stored in the notebooks ({newest.isoformat()})")
    return None


def _plausible(day: date) -> bool:
    return _OLDEST <= day <= date.today()


def _execution_dates(nb: Any) -> list[date]:
    found: list[date] = []
    papermill = (nb.get("metadata") or {}).get("papermill") if isinstance(nb, dict) else None
    if isinstance(papermill, dict):
        found += [d for key in ("start_time", "end_time") if (d := _day(papermill.get(key)))]
    for cell in (nb.get("cells") or [])[:_CELLS_READ] if isinstance(nb, dict) else []:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        execution = meta.get("execution") if isinstance(meta, dict) else None
        if isinstance(execution, dict):
            found += [d for value in list(execution.values())[:8] if (d := _day(value))]
    return found


def _day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    match = _STAMP.match(value[:40])
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None
