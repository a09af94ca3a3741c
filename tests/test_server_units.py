"""The server extension's parts without a server: check states, the store they live
in, the runner's settings and the service's refusals."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psutil
import pytest

from jupyter_nbrepro import errors
from jupyter_nbrepro.app import NbreproApp
from jupyter_nbrepro.paths import relative_to_root, resolve_inside
from jupyter_nbrepro.runner import Runner, SubprocessRunner
from nbrepro.model import CheckState, RepositoryInfo
from nbrepro.store import Store
from tests.conftest import REPOS

OLD_STRINGS = ["queued", "running", "finished", "cancelled", "interrupted", "error"]


def test_check_states_keep_the_strings_databases_hold():
    assert [s.value for s in CheckState] == OLD_STRINGS
    assert [s for s in CheckState if s.active] == [CheckState.QUEUED, CheckState.RUNNING]


def test_a_database_written_before_the_enum_reads_as_states(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    Store(url)  # the tables
    with sqlite3.connect(tmp_path / "old.sqlite") as db:  # rows as an older nbrepro wrote them
        for state in OLD_STRINGS:
            db.execute("INSERT INTO checks (source, state, progress, options, created_at) "
                       "VALUES (?, ?, '{}', '{}', '2026-01-01 00:00:00')", (state, state))
    store = Store(url)
    rows = store.list_checks()
    assert {r["source"]: r["state"] for r in rows} == {s: CheckState(s) for s in OLD_STRINGS}
    assert all(isinstance(r["state"], CheckState) for r in rows)
    store.finish_check(rows[0]["id"], CheckState.INTERRUPTED)
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        stored = db.execute("SELECT state FROM checks WHERE id = ?", (rows[0]["id"],)).fetchone()
    assert stored == ("interrupted",)  # written as the same plain string


def test_two_folders_typed_alike_are_two_repositories(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    first, second = store.create_check("repo2"), store.create_check("repo2")
    store.start_check(first, RepositoryInfo(source="repo2", path=str(tmp_path / "a" / "repo2")))
    store.start_check(second, RepositoryInfo(source="repo2", path=str(tmp_path / "b" / "repo2")))
    assert store.get_check(first, full=False)["root"] == str(tmp_path / "a" / "repo2")
    assert store.get_check(second, full=False)["root"] == str(tmp_path / "b" / "repo2")


def test_a_started_process_marks_its_check_running_once(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    check = store.create_check("x")
    assert store.mark_running(check, 4242)
    row = store.get_check(check, full=False)
    assert row["state"] is CheckState.RUNNING and row["started_at"]
    store.finish_check(check, CheckState.FINISHED)
    assert not store.mark_running(check, 4242)  # a late report never revives a check
    assert store.get_check(check, full=False)["state"] is CheckState.FINISHED


def test_max_concurrent_is_one_setting_of_the_app():
    assert "max_concurrent" in NbreproApp.class_own_traits()
    for runner in (Runner, SubprocessRunner):
        assert "max_concurrent" not in runner.class_traits()


@pytest.mark.parametrize("warm_start", [True, False])
def test_a_slot_is_taken_when_a_check_leaves_the_queue(tmp_path: Path, warm_start: bool):
    """Two submits in a row with one slot: the second waits, whatever the timing; a
    cancelled check's whole process is gone."""
    started: dict[int, int] = {}
    ended: dict[int, tuple[int, bool]] = {}

    async def on_started(check_id: int, pid: int) -> None:
        started[check_id] = pid

    async def on_finished(check_id: int, code: int, cancelled: bool) -> None:
        ended[check_id] = (code, cancelled)

    async def scenario() -> None:
        runner = SubprocessRunner(on_started=on_started, on_finished=on_finished,
                                  max_concurrent=1, warm_start=warm_start)
        args = ["check", str(REPOS / "infinite-loop"), "--quiet", "--cell-timeout", "600",
                "--db", f"sqlite:///{tmp_path / 'slots.sqlite'}"]
        runner.submit(1, args, tmp_path / "1.log")
        runner.submit(2, args, tmp_path / "2.log")
        for _ in range(600):  # the first warm start waits for the forkserver's imports
            if started:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert list(started) == [1] and runner.waiting() == 1
        assert psutil.pid_exists(started[1])
        assert await runner.cancel(2)
        assert await runner.cancel(1)
        assert runner.waiting() == 0 and not runner.is_active(1)
        assert ended == {2: (-1, True), 1: (ended[1][0], True)}
        assert not psutil.pid_exists(started[1]) or \
            psutil.Process(started[1]).status() == psutil.STATUS_ZOMBIE

    asyncio.run(scenario())


def test_a_forked_check_runs_the_command_line(tmp_path: Path):
    """A warm start runs the same `nbrepro check` as a fresh process: same exit code,
    output in the log, result in the database."""
    ended: dict[int, int] = {}

    async def on_started(check_id: int, pid: int) -> None:
        pass

    async def on_finished(check_id: int, code: int, cancelled: bool) -> None:
        ended[check_id] = code

    async def scenario() -> None:
        runner = SubprocessRunner(on_started=on_started, on_finished=on_finished,
                                  max_concurrent=2)
        db = f"sqlite:///{tmp_path / 'fork.sqlite'}"
        runner.submit(1, ["check", str(REPOS / "differs"), "--db", db], tmp_path / "1.log")
        runner.submit(2, ["check", str(tmp_path / "missing")], tmp_path / "2.log")
        while runner.is_active(1) or runner.is_active(2):
            await asyncio.sleep(0.2)

    asyncio.run(scenario())
    assert ended == {1: 1, 2: 2}  # differs; a usage error
    assert "model.ipynb" in (tmp_path / "1.log").read_text()
    assert "no such file or directory" in (tmp_path / "2.log").read_text()
    (check,) = Store(f"sqlite:///{tmp_path / 'fork.sqlite'}").list_checks()
    assert (check["state"], check["verdict"]) == (CheckState.FINISHED, "differs")


@pytest.mark.parametrize("rel, error", [
    ("", errors.BadRequest), ("a\x00b", errors.BadRequest), ("/etc", errors.Forbidden),
    ("../x", errors.Forbidden), ("~/x", errors.Forbidden), ("missing", errors.NotFound),
])
def test_paths_are_refused_in_domain_terms(tmp_path: Path, rel: str, error: type) -> None:
    with pytest.raises(error):
        resolve_inside(tmp_path, rel)


def test_every_refusal_maps_to_one_http_status():
    statuses = {cls: cls.status for cls in errors.ServiceError.__subclasses__()}
    assert statuses == {errors.BadRequest: 400, errors.Forbidden: 403, errors.NotFound: 404,
                        errors.Conflict: 409, errors.Busy: 429}


def test_api_paths_are_relative_to_the_root(tmp_path: Path):
    assert relative_to_root(tmp_path, tmp_path) == "."
    assert relative_to_root(tmp_path, tmp_path / "a" / "b.ipynb") == "a/b.ipynb"
    assert relative_to_root(tmp_path, tmp_path.parent) is None
    assert relative_to_root(tmp_path, "relative/typed") is None


def test_a_check_that_ignores_cancel_is_killed_but_its_supervisors_finish_their_work(
        tmp_path: Path) -> None:
    """After the grace period only the check is SIGKILLed: the supervisors of its
    kernels see their lifeline cut and run their teardown (a container's removal),
    which SIGKILLing them along with it would skip."""
    import subprocess
    import sys
    import textwrap
    import time

    from jupyter_nbrepro.runner import kill_tree

    removed = tmp_path / "container-removed"
    started = tmp_path / "kernel-started"
    script = textwrap.dedent(f"""
        import signal, subprocess, sys, time
        from nbrepro.isolation.confine import KernelTeardown, Lifeline
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a check stuck in a system call
        lifeline = Lifeline()
        kernel = [sys.executable, "-c",
                  "import time; open({str(started)!r}, 'w').close(); time.sleep(600)"]
        teardown = KernelTeardown(command=["touch", {str(removed)!r}])
        subprocess.Popen(lifeline.command(kernel, teardown), stdin=lifeline.stdin,
                         env=lifeline.environment())
        lifeline.launched()
        time.sleep(600)
    """)
    check = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(300):
            if started.exists():
                break
            time.sleep(0.1)
        assert started.exists(), "the kernel never started"
        tree = psutil.Process(check.pid).children(recursive=True)
        asyncio.run(kill_tree(check.pid, grace=0.5))
        check.wait(timeout=30)
        assert removed.exists(), "the supervisor was killed before its teardown"
        _gone, alive = psutil.wait_procs(tree, timeout=15)
        assert alive == []
    finally:
        check.kill()
