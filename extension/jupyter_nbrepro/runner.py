"""The executor: runs checks out of process, a few at a time.

Each check is an `nbrepro check --check-id N` process (the same command line users
run), in its own session, so cancelling can kill its whole process tree. The
process writes its state and results to the shared database itself; the runner
only starts, cancels and reaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil
from traitlets import Float
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

    def submit(self, check_id: int, argv: list[str], log_path: Path) -> None:
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


class SubprocessRunner(Runner):
    grace_seconds = Float(10.0, config=True,
                          help="Seconds a cancelled check gets to stop before it is killed.")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.queue: deque[tuple[int, list[str], Path]] = deque()
        self.slots: set[int] = set()  # checks holding a slot: starting or running
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.cancelled: set[int] = set()
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def is_active(self, check_id: int) -> bool:
        return check_id in self.slots or any(q[0] == check_id for q in self.queue)

    def waiting(self) -> int:
        return len(self.queue)

    def submit(self, check_id: int, argv: list[str], log_path: Path) -> None:
        self.queue.append((check_id, argv, log_path))
        self._pump()

    def _pump(self) -> None:
        # A slot is taken when the check leaves the queue, not when its process exists:
        # two submits in a row must not both see a free slot.
        while self.queue and len(self.slots) < self.max_concurrent:
            check_id, argv, log_path = self.queue.popleft()
            self.slots.add(check_id)
            task = asyncio.ensure_future(self._run(check_id, argv, log_path))
            self.tasks[check_id] = task
            task.add_done_callback(lambda _, c=check_id: self.tasks.pop(c, None))

    async def _run(self, check_id: int, argv: list[str], log_path: Path) -> None:
        code = -1
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdout=log, stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
                )
                self.processes[check_id] = proc
                if check_id in self.cancelled:  # cancelled while it was starting
                    await kill_tree(proc.pid, self.grace_seconds)
                else:
                    await self._report_started(check_id, proc.pid)
                code = await proc.wait()
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
        proc = self.processes.get(check_id)
        if proc is not None:  # else `_run` kills it as soon as it has started
            await kill_tree(proc.pid, self.grace_seconds)
        task = self.tasks.get(check_id)
        if task is not None:  # answer once the check's end is recorded
            await asyncio.wait({task}, timeout=self.grace_seconds + 5)
        return True

    async def shutdown(self) -> None:
        self.queue.clear()
        for check_id in list(self.slots):
            await self.cancel(check_id)


async def kill_tree(pid: int, grace: float) -> None:
    """SIGTERM the process (nbrepro then shuts its kernel down and records the check as
    interrupted), then SIGKILL whatever of its tree is left after `grace` seconds. The
    kernel runs in a session of its own, so the tree is collected before signalling."""
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
    _, alive = await loop.run_in_executor(None, lambda: psutil.wait_procs(tree, timeout=grace))
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
