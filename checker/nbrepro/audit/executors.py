"""Where an audit's tasks run, behind one interface: a local process pool or Dask
distributed (a local cluster, or an existing scheduler). Both run the same task
function, `nbrepro.audit.tasks.run_repository`, and hand back messages:

- `{"type": "started" | "progress" | "notebook", "id": ..., ...}` for the live view;
- `{"type": "done", "outcome": {...}}` with the task's `Outcome` (results model inside);
- `{"type": "lost", "id": ..., "kind": "died" | "timeout", "reason": ...}` when the
  process running a task died or had to be stopped; the runner decides what next.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import selectors
import signal
import sys
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO, Any

from nbrepro.errors import InputError

Message = dict[str, Any]
TOPIC = "nbrepro-audit"
# After a repository's own time limit, how long a local worker gets to stop by itself
# before it is killed (the limit is checked between stages and notebooks).
GRACE = 30.0
GiB = 1024**3


class Executor(ABC):
    description = ""
    # Workers on this machine, reading its files: the audit can clone ahead for them.
    shares_files = True

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many tasks can run at once."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def submit(self, task: dict[str, Any]) -> None: ...

    @abstractmethod
    def poll(self, timeout: float) -> list[Message]:
        """Messages that arrived, waiting up to `timeout` seconds for the first."""

    @abstractmethod
    def stop(self) -> None:
        """Stop every task and worker now."""


def default_jobs(kernel_memory: int | None) -> tuple[int, str]:
    """Workers for this machine: one per core, fewer when memory would not hold a
    kernel at its limit (plus the harness) for each."""
    import psutil

    cores = os.cpu_count() or 1
    memory = psutil.virtual_memory().total
    per_job = (kernel_memory or 4 * GiB) + GiB
    jobs = max(1, min(cores, memory // per_job))
    return jobs, f"{cores} cores, {memory / GiB:.1f} GiB memory"


def make_executor(jobs: int | None = None, scheduler: str | None = None,
                  dask_local: int | None = None, timeout: float | None = None,
                  kernel_memory: int | None = None) -> Executor:
    """The executor the options ask for: Dask (an existing scheduler or a local
    cluster), else the local pool with `jobs` workers (default: from the machine)."""
    if scheduler or dask_local:
        return DaskExecutor(scheduler, dask_local)
    if jobs:
        return LocalPool(jobs, timeout)
    jobs, machine = default_jobs(kernel_memory)
    pool = LocalPool(jobs, timeout)
    pool.description += f" (from {machine})"
    return pool


# --- local process pool ----------------------------------------------------------------


@dataclass
class _Worker:
    process: BaseProcess
    tasks: IO[str]  # our end of its task pipe
    messages: IO[str]  # our end of its message pipe (non-blocking)
    log: Path
    name: str
    task: dict[str, Any] | None = None
    started: float = 0.0
    buffer: str = ""


def _serve(*args: Any) -> None:
    """A worker's entry point, run in a process forked from the warm fork server."""
    try:
        from nbrepro.audit.worker import serve
    except BaseException:  # a broken install: the pool tells why from the worker's log
        import traceback

        with open(args[2], "a") as log:
            traceback.print_exc(file=log)
        raise
    serve(*args)


def _fork_server(*preload: str) -> ForkServerContext:
    """multiprocessing's fork server, started now (it imports the pipeline, and what
    else `preload` names, while the audit reads its sources); workers are forked from
    it, warm. One per process: the first start decides what it imports."""
    import multiprocessing
    from multiprocessing import forkserver

    context: ForkServerContext = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*preload, "nbrepro.audit.worker"])
    with _output_elsewhere():
        forkserver.ensure_running()
    return context


@contextlib.contextmanager
def _output_elsewhere() -> Iterator[None]:
    """Processes started meanwhile write to /dev/null, not to this process's stdout and
    stderr. The fork server, and multiprocessing's resource tracker started with it,
    outlive the audit by their teardown (a tenth of a second with the pipeline
    imported): holding the audit's output open, they kept whoever reads it to its end
    (a pipe, a CI log) waiting. Workers write to their own logs."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved: list[int] = []
    try:
        for fd in (1, 2):
            saved.append(os.dup(fd))
    except OSError:  # no output to protect
        for fd in saved:
            os.close(fd)
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


class LocalPool(Executor):
    """N long-lived worker processes, each checking one repository at a time, forked
    from one process that imported the pipeline (`nbrepro.audit.worker`). A worker
    that exceeds a repository's time limit is killed with its processes and replaced;
    one that dies is reported and replaced."""

    def __init__(self, jobs: int, timeout: float | None = None) -> None:
        self.jobs, self.timeout = jobs, timeout
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()
        self.logs = Path(tempfile.mkdtemp(prefix="nbrepro-audit-workers-"))
        self.description = f"local process pool, {jobs} worker{'s' * (jobs != 1)}"
        self._pending: list[Message] = []
        self._context: ForkServerContext | None = None

    @property
    def slots(self) -> int:
        return self.jobs

    def start(self) -> None:
        """Start the fork server; the workers are forked when the first task comes
        (forking waits for the server's imports: the audit meanwhile does its own)."""
        if self._context is None:
            self._context = _fork_server()

    def _forked(self) -> list[_Worker]:
        self.start()
        if not self.workers:
            self.workers = [self._spawn(number) for number in range(self.jobs)]
        return self.workers

    def _spawn(self, number: int) -> _Worker:
        assert self._context is not None
        log = self.logs / f"worker-{number}.log"
        task_in, task_out = os.pipe()
        message_in, message_out = os.pipe()
        # The worker's ends travel to it as connections (the fork server passes them on).
        theirs = Connection(task_in, writable=False), Connection(message_out, readable=False)
        process = self._context.Process(
            target=_serve, name=f"nbrepro-audit-worker-{number + 1}", daemon=True,
            args=(*theirs, str(log), dict(os.environ), os.getcwd(), os.getpid()))
        process.start()
        for end in theirs:  # the worker's exit must read as end of file here
            end.close()
        messages = os.fdopen(message_in, "r")
        os.set_blocking(message_in, False)
        worker = _Worker(process, os.fdopen(task_out, "w", buffering=1), messages, log,
                         f"worker {number + 1}")
        self.selector.register(messages, selectors.EVENT_READ, worker)
        return worker

    def submit(self, task: dict[str, Any]) -> None:
        worker = next((w for w in self._forked() if w.task is None), None)
        if worker is None:
            raise RuntimeError("no idle worker")  # the runner never oversubscribes
        worker.task, worker.started = task, time.monotonic()
        try:
            worker.tasks.write(json.dumps(task) + "\n")
            worker.tasks.flush()
        except (BrokenPipeError, OSError):
            self._replace(worker, "died", "the worker process had exited")

    def poll(self, timeout: float) -> list[Message]:
        messages, self._pending = self._pending, []
        for key, _ in self.selector.select(timeout=0 if messages else timeout):
            worker: _Worker = key.data
            messages += self._read(worker)
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.task is not None and worker.process.exitcode is not None:
                messages += self._read(worker)  # what it said before it went
                if worker.task is not None:
                    code = worker.process.exitcode
                    how = (f"killed by signal {-code}" if code < 0 else f"exited with {code}")
                    self._replace(worker, "died", f"the worker process {how}{_tail(worker)}")
            elif (worker.task is not None and self.timeout
                  and now - worker.started > self.timeout + GRACE):
                self._replace(worker, "timeout",
                              f"the repository took longer than {self.timeout:g} s "
                              "(its worker was stopped)")
        messages += self._pending
        self._pending = []
        return messages

    def _read(self, worker: _Worker) -> list[Message]:
        try:
            chunk = worker.messages.read() or ""
        except (BlockingIOError, ValueError):
            chunk = ""
        worker.buffer += chunk
        *lines, worker.buffer = worker.buffer.split("\n")
        messages: list[Message] = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("type") == "started":
                message["worker"] = worker.name
            if message.get("type") == "done":
                worker.task = None
            messages.append(message)
        return messages

    def _replace(self, worker: _Worker, kind: str, reason: str) -> None:
        task = worker.task
        self._end(worker)
        index = self.workers.index(worker)
        self.workers[index] = self._spawn(index)
        if task is not None:
            self._pending.append({"type": "lost", "id": task["id"], "kind": kind,
                                  "reason": reason, "worker": worker.name})

    def _end(self, worker: _Worker) -> None:
        # An idle worker ends by itself when its task pipe closes; a busy one is killed
        # with everything it started.
        if worker.task is not None and worker.process.pid is not None:
            _kill_tree(worker.process.pid)
        self.selector.unregister(worker.messages)
        for pipe in (worker.tasks, worker.messages):
            with contextlib.suppress(OSError):
                pipe.close()

    def stop(self) -> None:
        for worker in self.workers:
            self._end(worker)
        self.workers = []


def _kill_tree(pid: int) -> None:
    """Kill a worker with everything it started (kernels run in sessions of their own,
    so its process group alone would miss them)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        family = []
    for proc in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    psutil.wait_procs(family, timeout=5)


def _tail(worker: _Worker) -> str:
    try:
        lines = [ln for ln in worker.log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return f": {lines[-1].strip()[:200]}" if lines else ""


# --- Dask distributed --------------------------------------------------------------------


def dask_task(task: dict[str, Any]) -> dict[str, Any]:
    """The task as Dask runs it: progress goes to the client as worker events."""
    from distributed import get_worker

    from nbrepro.audit.tasks import run_repository

    worker = get_worker()

    def emit(event: dict[str, Any]) -> None:
        if event.get("type") == "started":
            event = {**event, "worker": worker.name or worker.address}
        worker.log_event(TOPIC, event)

    return run_repository(task, emit)


def _warm_up_plugin() -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmUp(WorkerPlugin):
        name = "nbrepro-warm-up"

        def setup(self, worker: Any) -> None:
            from nbrepro.audit.tasks import warm_up

            warm_up()

    return WarmUp()


class DaskExecutor(Executor):
    def __init__(self, scheduler: str | None = None, local_workers: int | None = None) -> None:
        self.scheduler, self.local_workers = scheduler, local_workers
        self.client: Any = None
        self.cluster: Any = None
        self.inbox: queue.Queue[Message] = queue.Queue()
        self.futures: dict[str, Any] = {}
        self._slots, self._slots_at = 1, -1e9
        self.description = (f"Dask scheduler {scheduler}" if scheduler
                            else f"Dask local cluster, {local_workers} workers")
        self.shares_files = not scheduler  # a scheduler's workers may be anywhere
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None

    @property
    def slots(self) -> int:
        """Worker threads of the cluster (asked again every few seconds: workers of an
        existing scheduler come and go)."""
        self._wait_started()
        if self.client is None:
            return 0
        if time.monotonic() - self._slots_at > 5:
            try:
                self._slots = max(1, sum(self.client.nthreads().values()))
            except Exception:  # the scheduler went away: the next poll says so
                self._slots = 1
            self._slots_at = time.monotonic()
        return self._slots

    def start(self) -> None:
        """Connect to the scheduler or start the local cluster in the background (its
        workers start and import the pipeline while the audit reads its sources); the
        first use of the executor waits for it and raises what went wrong."""
        if self._starting is None and self.client is None:
            if not self.scheduler:
                # The local cluster's workers are forked from a fork server that imports
                # distributed and the pipeline once, in parallel with this process's own
                # imports; spawned, each worker imported both itself (1.5 s more here).
                _fork_server("distributed")
            self._starting = threading.Thread(target=self._start_in_background,
                                              name="nbrepro-dask-start", daemon=True)
            self._starting.start()

    def _start_in_background(self) -> None:
        try:
            self._start()
        except BaseException as exc:  # handed to the main thread by _wait_started
            self._start_error = exc

    def _wait_started(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise error

    def _start(self) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("Dask is not installed: pip install 'nbrepro[audit]'") from None
        # A task whose worker dies is reported at once; the audit's own policy retries it.
        dask.config.set({"distributed.scheduler.allowed-failures": 0})
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=30)
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach Dask scheduler {self.scheduler}: {exc}") \
                    from None
        else:
            import distributed.utils

            dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
            # The fork server runs, with its preload: otherwise distributed would import
            # numpy and pandas here only to list them for a preload that comes too late.
            distributed.utils._forkserver_preload_set = True
            self.cluster = LocalCluster(
                n_workers=self.local_workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, memory_limit=0,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.cluster)
        self.client.subscribe_topic(TOPIC, self._on_event)
        self.client.register_plugin(_warm_up_plugin())  # also workers that join later
        if self.scheduler:
            count = len(self.client.nthreads())
            self.description += f" ({count} worker{'s' * (count != 1)})"

    def _on_event(self, event: Any) -> None:
        _time, message = event if isinstance(event, tuple) else (None, event)
        if isinstance(message, dict):
            self.inbox.put(message)

    def submit(self, task: dict[str, Any]) -> None:
        self._wait_started()
        key = f"nbrepro-audit-{task['id']}-{task.get('attempt', 1)}-{uuid.uuid4().hex[:8]}"
        future = self.client.submit(dask_task, task, key=key, pure=False)
        self.futures[key] = future
        future.add_done_callback(lambda f, t=task: self._on_done(f, t))

    def _on_done(self, future: Any, task: dict[str, Any]) -> None:
        self.futures.pop(future.key, None)
        try:
            self.inbox.put({"type": "done", "outcome": future.result()})
        except Exception as exc:
            from distributed import KilledWorker

            kind = "died" if isinstance(exc, KilledWorker) else "error"
            self.inbox.put({"type": "lost", "id": task["id"], "kind": kind,
                            "reason": f"{type(exc).__name__}: {exc}"})

    def poll(self, timeout: float) -> list[Message]:
        messages: list[Message] = []
        try:
            messages.append(self.inbox.get(timeout=timeout))
            while True:
                messages.append(self.inbox.get_nowait())
        except queue.Empty:
            pass
        return messages

    def stop(self) -> None:
        with contextlib.suppress(BaseException):  # a failed start has nothing to stop
            self._wait_started()
        if self.client is not None:
            try:
                for future in list(self.futures.values()):
                    future.cancel()
                self.client.close(timeout=10)
            except Exception:  # closing a cluster that is already gone
                pass
        if self.cluster is not None:
            with contextlib.suppress(Exception):  # a cluster that is already gone
                self.cluster.close(timeout=10)
        self.client = self.cluster = None
