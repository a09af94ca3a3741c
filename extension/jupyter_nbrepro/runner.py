"""The executor: runs checks out of process, a few at a time.

Each check is an `nbrepro check --check-id N` process (the same command line users
run), in its own session, so cancelling can kill its whole process tree. The
process writes its state and results to the shared database itself; the runner
only starts, cancels and reaps.

A new Python process spends seconds importing the pipeline before it does anything
(nbformat's schema validator alone compiles grammars on import), so by default
check processes are forked from a process that has imported it already (a
multiprocessing forkserver, started with the server): a check starts working within
a fraction of a second of its slot coming free.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil
from traitlets import Bool, Float
from traitlets.config import LoggingConfigurable

# Called when a check's process has started: (check id, pid).
Started = Callable[[int, int], Awaitable[None]]
# Called when a check's process has ended: (check id, return code, cancelled?).
Finished = Callable[[int, int, bool], Awaitable[None]]


class Runner(LoggingConfigurable):
    """Interface: `submit` queues a check, `cancel` stops it, `shutdown` stops all.

    How many checks run at once is the app's setting (`NbreproApp.max_concurrent`),
    handed to the runner it creates.
    """

    def __init__(self, *, on_started: Started, on_finished: Finished, max_concurrent: int,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.on_started = on_started
        self.on_finished = on_finished
        self.max_concurrent = max_concurrent

    def submit(self, check_id: int, args: list[str], log_path: Path) -> None:
        """Queue `nbrepro ARGS` (the command line without the program) for a check;
        its output goes to `log_path`."""
        raise NotImplementedError

    async def cancel(self, check_id: int) -> bool:
        raise NotImplementedError

    async def shutdown(self) -> None:
        raise NotImplementedError

    def is_active(self, check_id: int) -> bool:
        raise NotImplementedError

    def waiting(self) -> int:
        """Checks submitted but not started yet."""
        raise NotImplementedError


# Seconds the supervisors get to end what a killed check started (their own limit).
LIFELINE_SECONDS = 10.0

# What the process checks are forked from imports once (see the module's docstring).
PRELOAD = ["nbrepro.cli", "nbrepro.check", "nbrepro.report", "jupyter_nbrepro.runner"]

# A check's process: its pid, and how to wait for its exit code.
Spawned = tuple[int, Callable[[], Awaitable[int]]]


class SubprocessRunner(Runner):
    grace_seconds = Float(10.0, config=True,
                          help="Seconds a cancelled check gets to stop before it is killed.")
    warm_start = Bool(True, config=True,
                      help="Fork check processes from a process that has imported nbrepro "
                           "already (off: run `python -m nbrepro` afresh for each check, "
                           "which spends seconds on imports). Checks see the server's "
                           "environment as it was when the server started.")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.queue: deque[tuple[int, list[str], Path]] = deque()
        self.slots: set[int] = set()  # checks holding a slot: starting or running
        self.processes: dict[int, int] = {}  # check id -> pid
        self.cancelled: set[int] = set()
        self.tasks: dict[int, asyncio.Task[None]] = {}
        if self.warm_start:
            warm_up(self.log)  # the forkserver imports the pipeline while nothing waits

    def is_active(self, check_id: int) -> bool:
        return check_id in self.slots or any(q[0] == check_id for q in self.queue)

    def waiting(self) -> int:
        return len(self.queue)

    def submit(self, check_id: int, args: list[str], log_path: Path) -> None:
        self.queue.append((check_id, args, log_path))
        self._pump()

    def _pump(self) -> None:
        # A slot is taken when the check leaves the queue, not when its process exists:
        # two submits in a row must not both see a free slot.
        while self.queue and len(self.slots) < self.max_concurrent:
            check_id, args, log_path = self.queue.popleft()
            self.slots.add(check_id)
            task = asyncio.ensure_future(self._run(check_id, args, log_path))
            self.tasks[check_id] = task
            task.add_done_callback(functools.partial(self._forget, check_id))

    def _forget(self, check_id: int, _task: asyncio.Task[None]) -> None:
        self.tasks.pop(check_id, None)

    async def _run(self, check_id: int, args: list[str], log_path: Path) -> None:
        code = -1
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            # Until the forkserver has its imports, a fresh process starts no later.
            launch = self._fork if self.warm_start and WARM.is_set() else self._exec
            pid, wait = await launch(args, log_path)
            self.processes[check_id] = pid
            if check_id in self.cancelled:  # cancelled while it was starting
                await kill_tree(pid, self.grace_seconds)
            else:
                await self._report_started(check_id, pid)
            code = await wait()
        except OSError as exc:
            self.log.error("nbrepro: cannot start check %s: %s", check_id, exc)
        finally:
            self.processes.pop(check_id, None)
            self.slots.discard(check_id)
            cancelled = check_id in self.cancelled
            self.cancelled.discard(check_id)
            try:
                await self.on_finished(check_id, code, cancelled)
            finally:
                self._pump()

    async def _exec(self, args: list[str], log_path: Path) -> Spawned:
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nbrepro", *args, stdout=log,
                stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        return proc.pid, proc.wait

    async def _fork(self, args: list[str], log_path: Path) -> Spawned:
        process = warm_context().Process(target=run_nbrepro, args=(args, str(log_path)),
                                         name="nbrepro-check")
        # The first start waits for the forkserver's imports: never on the event loop.
        await asyncio.to_thread(process.start)
        pid = process.pid
        assert pid is not None

        async def wait() -> int:
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[None] = loop.create_future()

            def exited() -> None:
                if not ended.done():
                    ended.set_result(None)

            loop.add_reader(process.sentinel, exited)
            try:
                await ended
            finally:
                loop.remove_reader(process.sentinel)
            process.join()
            code = process.exitcode
            process.close()
            return -1 if code is None else code

        return pid, wait

    async def _report_started(self, check_id: int, pid: int) -> None:
        try:
            await self.on_started(check_id, pid)
        except Exception:  # the check runs on; its own process records its state too
            self.log.exception("nbrepro: could not mark check %s running", check_id)

    async def cancel(self, check_id: int) -> bool:
        for item in list(self.queue):
            if item[0] == check_id:
                self.queue.remove(item)
                await self.on_finished(check_id, -1, True)
                return True
        if check_id not in self.slots:
            return False
        self.cancelled.add(check_id)
        pid = self.processes.get(check_id)
        if pid is not None:  # else `_run` kills it as soon as it has started
            await kill_tree(pid, self.grace_seconds)
        task = self.tasks.get(check_id)
        if task is not None:  # answer once the check's end is recorded
            await asyncio.wait({task}, timeout=self.grace_seconds + 5)
        return True

    async def shutdown(self) -> None:
        self.queue.clear()
        for check_id in list(self.slots):
            await self.cancel(check_id)
        if self.tasks:  # checks that ended just now: let their end be recorded
            await asyncio.wait(list(self.tasks.values()), timeout=self.grace_seconds + 5)


# Set once a process has been forked with the pipeline imported.
WARM = threading.Event()


@functools.cache
def warm_context() -> multiprocessing.context.ForkServerContext:
    """The multiprocessing context checks are forked from, its server started."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
    return context


@functools.cache
def warm_up(log: logging.Logger) -> None:
    """Start the forkserver and, in the background, fork one process from it: when
    that has run, the imports are done and `WARM` is set."""

    def first_fork() -> None:
        started = time.monotonic()
        try:
            process = warm_context().Process(target=os.getpid, name="nbrepro-warm-up")
            process.start()
            process.join()
        except Exception as exc:  # checks then start as fresh processes
            log.warning("nbrepro: checks start as fresh processes: %s", exc)
            return
        if process.exitcode == 0:
            WARM.set()
            log.info("nbrepro: checks start warm (pipeline imported in %.1f s)",
                     time.monotonic() - started)

    threading.Thread(target=first_fork, name="nbrepro-warm-up", daemon=True).start()


def run_nbrepro(args: list[str], log_path: str) -> None:
    """In a process forked for a check: run `nbrepro ARGS` as the command line does,
    in a session of its own, its output (both streams) in `log_path`."""
    os.setsid()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    from nbrepro.cli import main

    try:
        main(args)
    finally:
        # multiprocessing ends the process without running exit handlers; nbrepro's
        # clean up temporary files.
        atexit._run_exitfuncs()


async def kill_tree(pid: int, grace: float) -> None:
    """SIGTERM the check (nbrepro then shuts its kernel down and records the check as
    interrupted); after `grace` seconds SIGKILL the check alone, which cuts the
    lifelines of its kernels and build steps: their supervisors end them and remove
    their containers, which killing the supervisors too would prevent. What is still
    left a moment later is killed. The kernel runs in a session of its own, so the
    tree is collected before signalling."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()

    async def wait(procs: list[psutil.Process], seconds: float) -> list[psutil.Process]:
        return (await loop.run_in_executor(
            None, lambda: psutil.wait_procs(procs, timeout=seconds)))[1]

    if await wait([root], grace):
        with contextlib.suppress(psutil.NoSuchProcess):
            root.kill()
    for proc in await wait(tree, LIFELINE_SECONDS):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
