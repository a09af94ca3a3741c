"""The local process pool: workers forked from one warm process, each a worker of the
audit that started it (its environment), ending with the pool."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from nbrepro.audit.executors import LocalPool
from tests.stand_ins import bare_repository


def _run(pool: LocalPool, task: dict[str, Any]) -> dict[str, Any]:
    pool.submit(task)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for message in pool.poll(0.25):
            if message.get("type") in ("done", "lost"):
                return message
    raise AssertionError("the worker never answered")


def test_each_audit_s_workers_use_its_environment_not_the_fork_server_s(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"file://{bare_repository(tmp_path, 'kept.git', {'README.md': 'no notebooks'})}"
    task = {"id": 1, "url": url, "github_metadata": False, "keep_clone": True}
    for name in ("first", "second"):  # the fork server outlives the first pool
        cache = tmp_path / f"cache-{name}"
        monkeypatch.setenv("NBREPRO_CACHE_DIR", str(cache))
        pool = LocalPool(1)
        pool.start()
        try:
            message = _run(pool, task)
        finally:
            pool.stop()
        assert message["type"] == "done" and message["outcome"]["status"] == "checked"
        assert [p.name for p in (cache / "clones").iterdir()], f"no clone in the {name} cache"


def test_workers_end_with_the_pool(tmp_path: Path) -> None:
    url = f"file://{bare_repository(tmp_path, 'r.git', {'a.txt': 'a'})}"
    pool = LocalPool(2)
    pool.start()
    try:
        _run(pool, {"id": 1, "url": url, "github_metadata": False})
        workers = [psutil.Process(w.process.pid) for w in pool.workers]
        assert len(workers) == 2 and all(w.is_running() for w in workers)
    finally:
        pool.stop()
    _gone, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == []


def test_the_fork_server_does_not_hold_the_audit_s_output(tmp_path: Path) -> None:
    """The fork server outlives an audit by its teardown: holding the audit's stdout and
    stderr, it kept whoever reads them to their end (a pipe, a CI log) waiting."""
    from multiprocessing import forkserver, resource_tracker

    pool = LocalPool(1)
    pool.start()
    try:
        servers = [forkserver._forkserver._forkserver_pid,  # type: ignore[attr-defined]
                   resource_tracker._resource_tracker._pid]  # type: ignore[attr-defined]
        assert servers[0], "no fork server started"
        ours = {os.readlink(f"/proc/self/fd/{fd}") for fd in (1, 2)}
        for pid in filter(None, servers):
            theirs = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (1, 2)}
            assert theirs == {os.devnull}, (pid, theirs, ours)
        assert ours != {os.devnull}  # and this process still writes where it did
    finally:
        pool.stop()


def test_a_worker_that_cannot_import_the_pipeline_says_why_in_its_log(tmp_path: Path) -> None:
    # Its output goes nowhere (see above): the pool reports a dead worker's last log line.
    log = tmp_path / "worker.log"
    code = ("import sys; sys.modules['nbrepro.audit.worker'] = None\n"
            "from nbrepro.audit.executors import _serve\n"
            f"_serve(None, None, {str(log)!r}, {{}}, '.', 1)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in log.read_text().splitlines()[-1]
