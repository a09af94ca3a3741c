"""A pytest plugin for the whole test session: the run fails if any kernel process or
container nbrepro started outlives the tests.

Processes are found by the marker nbrepro puts in the environment of every process it
starts for a kernel (`NBREPRO_OWNER`, `NBREPRO_KERNEL`), containers by their owner
label; never by a process name. One counts as this session's when its owner (the
nbrepro process that started it) is gone, is this process, or carries this session's
id in its environment (every check the tests start inherits it: command lines, the
JupyterLab server of the browser tests and the checks that server runs). Whatever is
left gets a grace period (a supervisor needs a moment to end its kernel), is then
reported, killed, and fails the run. Registered by `tests/conftest.py` and
`extension/ui-tests/conftest.py`.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from nbrepro.isolation.confine import Marked, kill_marked, marked_processes, owner_alive

SESSION_VARIABLE = "NBREPRO_TEST_SESSION"
# Seconds left to supervisors to end what they are ending when the tests finish.
GRACE_SECONDS = float(os.environ.get("NBREPRO_LEAK_GUARD_GRACE", "20"))


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ.setdefault(SESSION_VARIABLE, uuid.uuid4().hex)


def _of_this_session(owner: str) -> bool:
    if not owner_alive(owner):
        return True  # an orphan, of this session or of no live one: a leak either way
    pid = owner.split(":")[1]
    if pid == str(os.getpid()):
        return True
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{SESSION_VARIABLE}={os.environ[SESSION_VARIABLE]}".encode() in environ


def _processes() -> list[Marked]:
    return [m for m in marked_processes() if _of_this_session(m.owner)]


def _containers() -> list[Any]:
    from nbrepro.isolation.docker import LABEL_OWNER

    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        found = client.containers.list(all=True, filters={"label": LABEL_OWNER},
                                       ignore_removed=True)
    except Exception:  # no SDK or no engine here: no containers either
        return []
    return [c for c in found if _of_this_session(c.labels.get(LABEL_OWNER, ""))]


def _describe(marked: Marked) -> str:
    try:
        argv = Path(f"/proc/{marked.pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        argv = b"(gone)"
    return f"process {marked.pid} of {marked.owner}: {argv.decode(errors='replace')[:200]}"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SESSION_VARIABLE not in os.environ:
        return
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        processes, containers = _processes(), _containers()
        if not (processes or containers) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not (processes or containers):
        return
    lines = [_describe(m) for m in processes]
    lines += [f"container {c.name} of {c.labels.get('org.nbrepro.owner')}" for c in containers]
    for marked in processes:
        kill_marked(marked)
    for container in containers:
        with contextlib.suppress(Exception):
            container.remove(force=True)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = (f"nbrepro leak guard: {len(lines)} kernel process(es) or container(s) "
               "outlived the tests (now killed):\n  " + "\n  ".join(lines))
    if reporter is not None:
        reporter.write_sep("=", "kernels outlived the tests", red=True)
        reporter.write_line(message)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def register(config: pytest.Config) -> None:
    """Register this plugin once, whichever conftest asks first."""
    import sys

    module = sys.modules[__name__]
    if not config.pluginmanager.is_registered(module):
        config.pluginmanager.register(module, "nbrepro-leak-guard")
