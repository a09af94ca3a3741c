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
from collections.abc import Callable
from pathlib import Path

import psutil
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

# Called when a check's process has ended: (check id, return code, cancelled?).
Finished = Callable[[int, int, bool], None]


class Runner(LoggingConfigurable):
    """Interface: `submit` queues a check, `cancel` stops it, `shutdown` stops all."""

    max_concurrent = Integer(2, config=True, help="Checks that may run at once.")

    def __init__(self, on_finished: Finished, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.on_finished = on_finished

    def submit(self, check_id: int, argv: list[str], log_path: Path) -> None:
        raise NotImplementedError

    async def cancel(self, check_id: int) -> bool:
        raise NotImplementedError

    async def shutdown(self) -> None:
        raise NotImplementedError

    def is_active(self, check_id: int) -> bool:
        raise NotImplementedError


class SubprocessRunner(Runner):
    grace_seconds = Float(10.0, config=True,
                          help="Seconds a cancelled check gets to stop before it is killed.")

    def __init__(self, on_finished: Finished, **kwargs: object) -> None:
        super().__init__(on_finished, **kwargs)
        self.queue: deque[tuple[int, list[str], Path]] = deque()
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.cancelled: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def is_active(self, check_id: int) -> bool:
        return check_id in self.processes or any(q[0] == check_id for q in self.queue)

    def submit(self, check_id: int, argv: list[str], log_path: Path) -> None:
        self.queue.append((check_id, argv, log_path))
        self._pump()

    def _pump(self) -> None:
        while self.queue and len(self.processes) < self.max_concurrent:
            check_id, argv, log_path = self.queue.popleft()
            task = asyncio.ensure_future(self._run(check_id, argv, log_path))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _run(self, check_id: int, argv: list[str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdout=log, stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
                )
            except OSError as exc:
                self.log.error("nbrepro: cannot start check %s: %s", check_id, exc)
                self.on_finished(check_id, -1, False)
                self._pump()
                return
            self.processes[check_id] = proc
            code = await proc.wait()
        self.processes.pop(check_id, None)
        cancelled = check_id in self.cancelled
        self.cancelled.discard(check_id)
        try:
            self.on_finished(check_id, code, cancelled)
        finally:
            self._pump()

    async def cancel(self, check_id: int) -> bool:
        for item in list(self.queue):
            if item[0] == check_id:
                self.queue.remove(item)
                self.on_finished(check_id, -1, True)
                return True
        proc = self.processes.get(check_id)
        if proc is None:
            return False
        self.cancelled.add(check_id)
        await kill_tree(proc.pid, self.grace_seconds)
        return True

    async def shutdown(self) -> None:
        self.queue.clear()
        for check_id in list(self.processes):
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
