"""Is a process still there? (Used to tell finished work from work whose process died.)"""

from __future__ import annotations

import psutil


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie has finished and counts as gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process: it exists
        return True
