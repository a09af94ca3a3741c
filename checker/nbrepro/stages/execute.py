"""The execute stage: run a notebook's cells in an environment, with time limits.

nbclient drives a kernel that the backend starts (the kernel runs in the audited
environment; the harness stays here). The kernel and the harness talk over IPC
sockets in a private runtime directory, which works across sandboxes and avoids
port races between parallel checks. The outcome of a run (completed, failed,
timeout, kernel died) is a result, never an exception.

Every kernel is started by a supervisor on a lifeline from this process
(`nbrepro.isolation.confine.Lifeline`), created before the kernel is and cut on every
path out of `run_notebook`: the end of the notebook, a time limit (also one that
expires while the kernel is still starting), the kernel's death, Ctrl-C, SIGTERM and
any exception; and by the operating system when this process is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any, BinaryIO

import nbformat
import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets import Type

from nbrepro.isolation.base import Backend, KernelContext
from nbrepro.isolation.confine import Lifeline
from nbrepro.model import EnvironmentResult, cell_label
from nbrepro.options import ExecutionOptions

KERNEL_NAME = "nbrepro"
# nbclient's tag for cells that must not run; such cells are reported, not compared.
SKIP_TAG = "skip-execution"
# Seconds allowed for a kernel to start (a cold environment imports a lot).
STARTUP_TIMEOUT = 120
# While a kernel starts: how often ZeroMQ tries to connect to its sockets (its default
# is 100 ms), and how long to listen on IOPub before asking the kernel again.
RECONNECT_MS = 10
IOPUB_WAIT = 0.02


class Outcome(str, enum.Enum):
    COMPLETED = "completed"  # every cell ran (unexpected errors only with keep_going)
    FAILED = "failed"  # stopped at an unexpected exception
    TIMEOUT = "timeout"
    KERNEL_DIED = "kernel-died"


@dataclass
class CellRun:
    index: int
    seconds: float
    error: tuple[str, str] | None = None  # (ename, evalue) when the cell raised
    expected_error: bool = False  # the stored outputs hold the same exception
    skipped: bool = False


@dataclass
class NotebookRun:
    outcome: Outcome
    executed: nbformat.NotebookNode
    cells: dict[int, CellRun] = field(default_factory=dict)
    failing_cell: int | None = None
    exception: str | None = None
    message: str | None = None
    seconds: float = 0.0
    home: str | None = None  # the kernel's private $HOME: its paths in outputs are noise


# Hooks, in the spirit of nbclient's on_cell_executed: (cell index, code cells done, total).
CellHook = Callable[[int, int, int], None]


def stored_error(cell: dict[str, Any]) -> str | None:
    """The exception name a cell's stored outputs show, if any."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return str(out.get("ename", ""))
    return None


def run_notebook(
    nb: nbformat.NotebookNode,
    cwd: Path,
    scratch: Path,
    env: EnvironmentResult,
    backend: Backend,
    options: ExecutionOptions,
    on_cell: CellHook | None = None,
    network: bool = False,
    order: list[int] | None = None,
) -> NotebookRun:
    """Execute a copy of `nb` with its working directory at `cwd` (inside `scratch`).

    `order`: the indices of the code cells to run, in that order (the others are not
    run); None runs every code cell from top to bottom."""
    executed = copy.deepcopy(nb)
    # Short path: unix socket paths are limited to about 100 bytes.
    runtime = Path(tempfile.mkdtemp(prefix="nbr-"))
    try:
        ctx = KernelContext(
            connection_file=runtime / "kernel.json", runtime_dir=runtime, scratch=scratch,
            cwd=cwd, home=runtime / "home", network=network,
        )
        (ctx.home / "tmp").mkdir(parents=True)
        run = asyncio.run(_run(executed, nb, ctx, env, backend, options, on_cell, order))
        run.home = str(ctx.home)
        return run
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


class _ReadyClient(AsyncKernelClient):
    """A kernel client that is ready as soon as the kernel answers: jupyter_client's
    own readiness check ends by waiting for 0.2 s of silence on IOPub, which every
    kernel start pays in full (a quarter of a short notebook's check). A reply to our
    kernel_info request, and a message about one of our requests on IOPub, prove what
    that wait was for: IOPub is connected. Leftover startup messages do no harm, as
    nbclient only reads the messages of the requests it sends."""

    def start_channels(self, *args: Any, **kwargs: Any) -> None:
        # for the sockets made from here on: the kernel binds its own a moment later
        self.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        super().start_channels(*args, **kwargs)

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        asked: set[str] = set()
        reply: dict[str, Any] | None = None
        while True:
            asked.add(self.kernel_info())
            if reply is None:
                reply = await self._first(self.shell_channel, asked, 1.0, "kernel_info_reply")
            # IOPub misses what the kernel says before IOPub's subscription reaches it:
            # ask again soon rather than wait long.
            if reply is not None and await self._first(self.iopub_channel, asked, IOPUB_WAIT):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    @staticmethod
    async def _first(channel: Any, asked: set[str], wait: float,
                     kind: str | None = None) -> dict[str, Any] | None:
        """The first message on `channel` about one of our requests (of `kind`), or
        None when none comes within `wait` seconds of the last message."""
        try:
            while True:
                message: dict[str, Any] = await channel.get_msg(timeout=wait)
                if message["parent_header"].get("msg_id") in asked \
                        and kind in (None, message["msg_type"]):
                    return message
        except Empty:
            return None

    wait_for_ready = _async_wait_for_ready


class _SupervisedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel process is the supervisor on `lifeline`: killing
    the kernel cuts the lifeline (the supervisor ends the whole tree and then exits)
    instead of SIGKILLing the supervisor alone."""

    lifeline: Lifeline | None = None
    client_factory = Type(_ReadyClient, klass=AsyncKernelClient)

    async def _async_kill_kernel(self, restart: bool = False) -> None:
        if self.lifeline is not None:
            self.lifeline.cut()
        await super()._async_kill_kernel(restart=restart)


def _kernel_manager(
    ctx: KernelContext, env: EnvironmentResult, backend: Backend, lifeline: Lifeline
) -> _SupervisedKernelManager:
    spec_dir = ctx.runtime_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    argv = backend.kernel_command(env, ctx)  # first: it may set up what the teardown names
    spec = {
        "argv": lifeline.command(argv, backend.kernel_teardown(ctx)),
        "display_name": "nbrepro audited environment",
        "language": "python",
        "interrupt_mode": "signal",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    km = _SupervisedKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(ctx.runtime_dir / "kernels")]),
        transport="ipc",
        ip=str(ctx.runtime_dir / "k"),
        connection_file=str(ctx.connection_file),
    )
    km.lifeline = lifeline
    return km


async def _start_kernel(
    client: NotebookClient, ctx: KernelContext, env: EnvironmentResult, backend: Backend,
    lifeline: Lifeline, kernel_log: Any,
) -> None:
    try:
        await client.async_start_new_kernel(
            cwd=str(ctx.cwd), env={**backend.kernel_env(env, ctx), **lifeline.environment()},
            stdin=lifeline.stdin, stdout=kernel_log, stderr=subprocess.STDOUT,
        )
    finally:
        lifeline.launched()
    await client.async_start_new_kernel_client()


async def _run(
    executed: nbformat.NotebookNode,
    stored: nbformat.NotebookNode,
    ctx: KernelContext,
    env: EnvironmentResult,
    backend: Backend,
    options: ExecutionOptions,
    on_cell: CellHook | None,
    order: list[int] | None = None,
) -> NotebookRun:
    started = time.monotonic()
    deadline = started + options.notebook_timeout
    stop = _StopOnSignal(asyncio.current_task())
    run = NotebookRun(outcome=Outcome.COMPLETED, executed=executed)
    code = [i for i, c in enumerate(executed.cells) if c.cell_type == "code"]

    def where(index: int) -> str:  # as the notebook shows the cell: In [n]
        return cell_label(index, stored.cells[index].get("execution_count"))

    for index in code:  # a cell that is never reached must not keep its stored outputs
        executed.cells[index].outputs = []
        executed.cells[index].execution_count = None
    if order is not None:
        runnable = set(code)
        code = [index for index in order if index in runnable]
    # The kernel's own stdout/stderr (not the cells'): kept for the failure message.
    kernel_log = _open_log(ctx.runtime_dir / "kernel.log")
    # Before anything is started: from here on, every path out ends the kernel.
    try:
        lifeline = Lifeline()
    except BaseException:
        kernel_log.close()
        raise
    km: AsyncKernelManager | None = None
    client: NotebookClient | None = None
    try:
        km = _kernel_manager(ctx, env, backend, lifeline)
        client = NotebookClient(
            executed, km=km, allow_errors=True, timeout=_whole_seconds(options.cell_timeout),
            startup_timeout=STARTUP_TIMEOUT, record_timing=False, kernel_name=KERNEL_NAME,
            resources={"metadata": {"path": str(ctx.cwd)}},
        )
        # The notebook's time limit counts from here: a kernel that takes longer to
        # start than the notebook may run is a time-out like any other.
        startup_limit = max(deadline - time.monotonic(), 0.001)
        try:
            await asyncio.wait_for(
                _start_kernel(client, ctx, env, backend, lifeline, kernel_log), startup_limit)
        except asyncio.TimeoutError:
            run.outcome = Outcome.TIMEOUT
            run.message = (f"the kernel did not start within the notebook's time limit "
                           f"({options.notebook_timeout:g} s)")
            return run
        except Exception as exc:  # a kernel that cannot start is a dead kernel
            run.outcome = Outcome.KERNEL_DIED
            tail = _tail(kernel_log)
            run.message = (f"the kernel did not start: {type(exc).__name__}: {exc}"
                           + (f" ({tail})" if tail else ""))[:500]
            return run
        for done, index in enumerate(code):
            cell = executed.cells[index]
            if SKIP_TAG in cell.get("metadata", {}).get("tags", []):
                run.cells[index] = CellRun(index, 0.0, skipped=True)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _stop(run, Outcome.TIMEOUT, index,
                      f"the notebook ran longer than {options.notebook_timeout:g} s")
                break
            client.timeout = _whole_seconds(min(options.cell_timeout, remaining))
            cell_started = time.monotonic()
            try:
                await client.async_execute_cell(cell, index)
            except CellTimeoutError:
                # Name the limit the user set, not what was left of it for this cell.
                if remaining < options.cell_timeout:
                    limit, seconds = "the notebook's", options.notebook_timeout
                else:
                    limit, seconds = "the cell's", options.cell_timeout
                _stop(run, Outcome.TIMEOUT, index, f"{where(index)} exceeded {limit} time limit "
                      f"({seconds:g} s)")
                break
            except (DeadKernelError, asyncio.CancelledError):
                # nbclient reports our own cancellation (Ctrl-C) as a dead kernel
                stop.raise_if_signalled()
                _stop(run, Outcome.KERNEL_DIED, index,
                      f"the kernel died while running {where(index)}")
                break
            except (RuntimeError, OSError, ValueError) as exc:  # lost the kernel's channels
                _stop(run, Outcome.KERNEL_DIED, index,
                      f"lost contact with the kernel in {where(index)}: "
                      f"{type(exc).__name__}: {exc}")
                break
            cell_run = CellRun(index, time.monotonic() - cell_started)
            run.cells[index] = cell_run
            error = stored_error(cell)
            if error is not None:
                cell_run.error = (error, _evalue(cell))
                tags = cell.get("metadata", {}).get("tags", [])
                cell_run.expected_error = (
                    stored_error(stored.cells[index]) == error or "raises-exception" in tags
                )
                if not cell_run.expected_error and run.outcome is Outcome.COMPLETED:
                    run.outcome = Outcome.FAILED
                    run.failing_cell, run.exception, run.message = index, error, _evalue(cell)
                    if not options.keep_going:
                        break
            if on_cell:
                on_cell(index, done + 1, len(code))
    except asyncio.CancelledError:
        # Ctrl-C anywhere outside a cell (e.g. while the kernel starts): same as inside
        stop.raise_if_signalled()
        raise
    finally:
        stop.remove()
        try:
            await _shutdown(lifeline, km, client)
        finally:
            backend.cleanup(ctx)
            kernel_log.close()
            run.seconds = time.monotonic() - started
    stop.raise_if_signalled()
    return run


class _StopOnSignal:
    """SIGINT/SIGTERM while cells run: cancel the run, shut the kernel down, then raise
    KeyboardInterrupt so the caller records the check as interrupted."""

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.signalled = False
        self.loop = asyncio.get_running_loop()
        self.installed: list[tuple[int, Any]] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous = signal.getsignal(sig)
                self.loop.add_signal_handler(sig, self._on_signal, task)
                self.installed.append((sig, previous))
            except (RuntimeError, ValueError):  # not the main thread: default handling
                pass
        self.loop.set_exception_handler(self._on_loop_error)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # nbclient's background poll of the kernel fails when the run is cancelled under
        # it; that is the stop we asked for, not an error for the user's terminal.
        task = context.get("future") or context.get("task")
        coro = getattr(task, "get_coro", lambda: None)()
        if self.signalled and "_async_poll" in getattr(coro, "__qualname__", ""):
            return
        loop.default_exception_handler(context)

    def _on_signal(self, task: asyncio.Task[Any] | None) -> None:
        self.signalled = True
        if task is not None:
            task.cancel()

    def remove(self) -> None:
        # asyncio would leave SIGTERM at its default (die at once): put back the
        # caller's handler (the command line's turns SIGTERM into an orderly stop).
        for sig, previous in self.installed:
            self.loop.remove_signal_handler(sig)
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self.installed = []

    def raise_if_signalled(self) -> None:
        if self.signalled:
            raise KeyboardInterrupt


def _open_log(path: Path) -> BinaryIO:
    """A new log file, never through a link. It is read back only through this
    descriptor: the folder it is in is the kernel's to write, and a kernel could put
    a link to the user's secrets in its place."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    return os.fdopen(fd, "w+b")


def _tail(log: BinaryIO, limit: int = 64 * 1024) -> str:
    """The last meaningful line a kernel printed before dying (read with pread: the
    kernel shares the descriptor's offset)."""
    try:
        log.flush()
        fd = log.fileno()
        size = os.fstat(fd).st_size
        data = os.pread(fd, limit, max(0, size - limit))
    except (OSError, ValueError):
        return ""
    lines = [ln for ln in data.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _evalue(cell: dict[str, Any]) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return str(out.get("evalue", "")).splitlines()[0][:500] if out.get("evalue") else ""
    return ""


def _stop(run: NotebookRun, outcome: Outcome, index: int, message: str) -> None:
    run.outcome = outcome
    run.failing_cell = index
    run.message = message


def _whole_seconds(seconds: float) -> int:
    """nbclient counts a cell's time limit in whole seconds: round up, so a limit of
    2.5 s never ends a cell after 2 s."""
    return max(1, math.ceil(seconds))


async def _shutdown(lifeline: Lifeline, km: AsyncKernelManager | None,
                    client: NotebookClient | None) -> None:
    """End the kernel: no grace period for a timed-out or hung kernel. Cutting the
    lifeline comes first and cannot be skipped by anything that follows."""
    lifeline.cut()
    with contextlib.suppress(Exception):
        if client is not None and client.kc is not None:
            client.kc.stop_channels()
            client.kc = None
    if km is None:
        return
    with contextlib.suppress(Exception):  # the connection file and IPC sockets
        await asyncio.wait_for(km.cleanup_resources(), timeout=30)
    process = getattr(km.provisioner, "process", None)
    if process is not None:  # the supervisor has exited: collect it
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
