"""A local audit worker: `python -m nbrepro.audit.worker`, started by the process pool.

Reads one task (JSON) per line on stdin and writes messages (JSON lines) on its
original stdout; anything else printed goes to stderr (the worker's log). It dies
with the audit: a worker never outlives the process that started it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from typing import Any


def _die_with_parent() -> None:
    parent = int(os.environ.get("NBREPRO_AUDIT_PARENT", "0"))
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent and os.getppid() != parent:  # the parent went before the line above ran
        os._exit(1)


def main() -> None:
    _die_with_parent()
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints must not corrupt the message stream
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when to stop

    def emit(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    from nbrepro.audit.executors import warm_up
    from nbrepro.audit.tasks import run_repository

    warm_up()

    for line in sys.stdin:
        if not line.strip():
            continue
        outcome = run_repository(json.loads(line), emit)
        emit({"type": "done", "outcome": outcome})


if __name__ == "__main__":
    main()
