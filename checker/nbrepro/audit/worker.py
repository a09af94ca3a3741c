"""A local audit worker, forked by the process pool from its warm process.

The pool runs one multiprocessing fork server whose preload is this module: it imports
the pipeline once, and every worker is a fork of it, ready at once. A second worker,
or the replacement of one stopped at a time limit, costs a fork instead of the
pipeline's imports (about half a second of CPU each).

A worker reads one task (JSON) per line from its task pipe and writes messages (JSON
lines) to its message pipe; anything else it prints goes to its log. It dies with
the audit: a worker never outlives the process that started it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
from multiprocessing.connection import Connection
from typing import Any

from nbrepro.audit.tasks import run_repository, warm_up

warm_up()  # in the fork server, once, before any worker is forked from it


def _die_with(audit: int) -> None:
    """Killed when the fork server goes, which goes when the audit does."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    try:
        os.kill(audit, 0)
    except ProcessLookupError:  # the audit went before the line above ran
        os._exit(1)
    except PermissionError:
        pass


def _take(connection: Connection) -> int:
    """The connection's pipe as a plain descriptor (the protocol is JSON lines)."""
    fd = os.dup(connection.fileno())
    connection.close()
    return fd


def serve(tasks: Connection, messages: Connection, log: str, environ: dict[str, str],
          cwd: str, audit: int) -> None:
    """The worker's life, in the forked process: run each task it is given."""
    os.setsid()  # a session of its own: stopped with everything it started
    _die_with(audit)
    # The fork server kept the environment and folder of the audit that started it.
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.dup2(fd, 1)  # stray prints must not corrupt the message stream
    os.dup2(fd, 2)
    os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when to stop
    inbox = os.fdopen(_take(tasks), "r")
    channel = os.fdopen(_take(messages), "w", buffering=1)

    def emit(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    for line in inbox:
        if not line.strip():
            continue
        outcome = run_repository(json.loads(line), emit)
        emit({"type": "done", "outcome": outcome})
