"""Confinement of kernels: resource limits and the end of every process they start.

Kernels get a `Confinement` (a cgroup, else rlimits) that bounds memory, CPU and the
number of processes, and kills every process of the kernel at the end, so a fork
bomb or a daemon started by a cell cannot outlive its notebook.

Every kernel is started by a supervisor (`nbrepro.isolation.supervisor`) that hangs
on a `Lifeline` from the check: when the check ends, however it ends, the supervisor
kills the kernel's whole tree. The processes of a kernel carry a marker in their
environment (`NBREPRO_OWNER`, the check process that started them, and
`NBREPRO_KERNEL`), so that what a killed supervisor could not end is found and ended
by the next nbrepro (`sweep_orphans`), never by a guess from a process name.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import select
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import psutil

from nbrepro.errors import ConfigError

log = logging.getLogger("nbrepro")

GiB = 1024**3
OWNER_VARIABLE = "NBREPRO_OWNER"  # "<host>:<pid>:<start>" of the check process
KERNEL_VARIABLE = "NBREPRO_KERNEL"  # one kernel of that check
SUPERVISOR = Path(__file__).with_name("supervisor.py")
# Seconds a supervisor may take to kill its kernel's tree and remove its container.
END_SECONDS = 90.0


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie has finished and counts as gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process: it exists
        return True


def started(pid: int) -> str | None:
    """When `pid` started (clock ticks after boot on Linux): tells a process from a
    later one that was given the same pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return stat.rpartition(b")")[2].split()[19].decode()
    except (OSError, IndexError):
        pass
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return None


def owner_token(pid: int | None = None) -> str:
    """`<host>:<pid>:<start>`: names one nbrepro process, also after its pid is reused."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{started(pid) or ''}"


def owner_alive(token: str) -> bool:
    """Whether the nbrepro process an owner token names still runs. A token of another
    host, or one that cannot be read, counts as alive: nothing is done to its processes.
    Tokens without a start time (`<host>:<pid>`) are judged by the pid alone."""
    host, _, rest = token.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if not alive(int(pid)):
        return False
    return not start or started(int(pid)) == start


@dataclass(frozen=True)
class Marked:
    """A process nbrepro started for a kernel (found by its environment marker)."""

    pid: int
    owner: str
    kernel: str


def marked_processes() -> Iterator[Marked]:
    """This user's processes that carry nbrepro's kernel marker."""
    owner_key, kernel_key = f"{OWNER_VARIABLE}=".encode(), f"{KERNEL_VARIABLE}=".encode()
    uid = os.getuid()
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:  # no procfs here: nothing can be found this way
        return
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if owner_key not in environ:
            continue
        found = {}
        for var in environ.split(b"\0"):
            for key in (owner_key, kernel_key):
                if var.startswith(key):
                    found[key] = var[len(key):].decode(errors="replace")
        if owner_key in found:
            yield Marked(int(entry.name), found[owner_key], found.get(kernel_key, ""))


def kill_marked(marked: Marked) -> bool:
    """SIGKILL a marked process, making sure it is the one that was marked: through a
    pidfd where the system has them, after reading its marker again."""
    opened = getattr(os, "pidfd_open", None)
    try:
        fd = opened(marked.pid) if opened else None
    except OSError:
        return False  # gone already
    try:
        try:
            environ = Path(f"/proc/{marked.pid}/environ").read_bytes()
        except OSError:
            return False
        if f"{OWNER_VARIABLE}={marked.owner}".encode() not in environ.split(b"\0"):
            return False
        if fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(marked.pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        if fd is not None:
            os.close(fd)


def sweep_orphans() -> list[Marked]:
    """Kill the kernel processes of nbrepro processes that are gone (a check that was
    SIGKILLed together with its supervisor), and their cgroups. Only processes nbrepro
    marked, of this user, on this host, whose owner no longer runs."""
    killed = [m for m in marked_processes() if not owner_alive(m.owner) and kill_marked(m)]
    if killed:
        log.info("nbrepro: ended %d process(es) left by nbrepro checks that were killed",
                 len(killed))
    for kind in (CgroupV2, CgroupV1):
        with contextlib.suppress(OSError):
            if kind.available():
                kind.sweep()
    return killed


@functools.cache
def _sweep_once() -> None:
    sweep_orphans()


@dataclass
class KernelTeardown:
    """What a kernel's supervisor does beyond killing the kernel's processes."""

    # cgroup.procs files the kernel joins before it runs its first instruction
    cgroups: list[Path] = field(default_factory=list)
    # run once the processes are dead (e.g. the removal of the kernel's container)
    command: list[str] | None = None
    # run `command` only when the supervisor ended the processes (the check is gone),
    # not when they ended by themselves (a build container the check still needs)
    only_when_cut: bool = False


class Lifeline:
    """The tie between a check and one kernel's supervisor (`nbrepro.isolation.supervisor`).

    Create it before the kernel is started, start `command(...)` with `stdin` as its
    standard input and `environment()` added to its environment, and call `cut()` on
    every path out. A check that dies without calling `cut()` cuts it all the same:
    the operating system closes the check's end."""

    def __init__(self) -> None:
        _sweep_once()
        self.kernel = uuid.uuid4().hex[:16]
        self.owner = owner_token()
        # Both ends are close-on-exec: no other child of the check inherits one.
        self._ours, self._theirs = socket.socketpair()
        self._cut = False

    @property
    def stdin(self) -> int:
        """The supervisor's end, to be its standard input."""
        return self._theirs.fileno()

    def environment(self) -> dict[str, str]:
        return {OWNER_VARIABLE: self.owner, KERNEL_VARIABLE: self.kernel}

    @staticmethod
    def command(argv: list[str], teardown: KernelTeardown | None = None) -> list[str]:
        """`argv` started by a supervisor (the harness's interpreter, isolated mode)."""
        args = [sys.executable, "-I", "-S", str(SUPERVISOR)]
        teardown = teardown or KernelTeardown()
        for procs in teardown.cgroups:
            args += ["--cgroup", str(procs)]
        if teardown.command:
            args += ["--cleanup", json.dumps(teardown.command)]
            if teardown.only_when_cut:
                args += ["--cleanup-when", "cut"]
        return [*args, "--", *argv]

    def launched(self) -> None:
        """The start attempt is over: only the supervisor (if any) keeps its end."""
        self._theirs.close()

    def cut(self, timeout: float = END_SECONDS) -> bool:
        """End the kernel: the supervisor kills its processes (and runs the teardown
        command), then exits; wait for that, then kill anything still marked as this
        kernel's. True when nothing of the kernel is left."""
        self._theirs.close()
        if not self._cut:
            self._cut = True
            with contextlib.suppress(OSError):
                self._ours.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + timeout
            with contextlib.suppress(OSError):
                while (remaining := deadline - time.monotonic()) > 0:
                    readable, _, _ = select.select([self._ours], [], [], remaining)
                    if readable and self._ours.recv(4096) == b"":
                        break  # the supervisor has exited
            self._ours.close()
        # What escaped a supervisor that was killed before it could end its tree.
        left = [m for m in marked_processes()
                if m.kernel == self.kernel and m.owner == self.owner]
        for marked in left:
            kill_marked(marked)
        return not left


def parse_size(text: str) -> int:
    """'512m', '4g', '1.5G', '1000000' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise ConfigError(f"not a size (like 512m or 4g): {text!r}")
    scale = {"": 1, "k": 1024, "m": 1024**2, "g": GiB, "t": 1024**4}[m.group(2)]
    return int(float(m.group(1)) * scale)


@dataclass(frozen=True)
class ResourceLimits:
    """Bounds for one kernel: memory (bytes), CPUs and processes (tasks, i.e. threads)."""

    memory: int | None = 4 * GiB
    cpus: float | None = 2.0
    pids: int | None = 1024

    @staticmethod
    def parse_size(text: str) -> int:
        """A kernel's memory limit: '512m', '4g', '1.5G', '1000000' -> bytes."""
        size = parse_size(text)
        if size < 64 * 1024**2:
            raise ConfigError(f"memory limit too small for a kernel (at least 64m): {text!r}")
        return size


class Confinement:
    """Limits for one kernel and its descendants; `close` kills whatever is left."""

    name: ClassVar[str]

    @classmethod
    def available(cls) -> bool:
        raise NotImplementedError

    def __init__(self, limits: ResourceLimits, label: str) -> None:
        self.limits, self.label = limits, label

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` with the limits a process sets on itself (rlimits)."""
        return list(argv)

    def procs_files(self) -> list[Path]:
        """Files a process writes its pid into to join this confinement before exec
        (see `KernelTeardown.cgroups`)."""
        return []

    def pids(self) -> list[int]:
        """Processes still running under this confinement (if it can tell)."""
        return []

    def close(self) -> None:
        """Kill every process left and release the confinement."""


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _own_cgroups(proc_cgroup: Path = Path("/proc/self/cgroup")) -> dict[str, str]:
    """controller -> this process's cgroup path ('' is the cgroup v2 entry)."""
    own: dict[str, str] = {}
    for line in _read(proc_cgroup).splitlines():
        _, controllers, path = line.split(":", 2)
        for ctrl in controllers.split(",") if controllers else [""]:
            own[ctrl] = path
    return own


def _cgroup_name(label: str) -> str:
    # The creator in the name (pid and start time): a later nbrepro can tell a cgroup
    # left by a killed one from one another live nbrepro is about to fill.
    pid = os.getpid()
    return f"nbrepro-{pid}.{started(pid) or 0}-{label}"


def _creator_gone(name: str) -> bool:
    """Whether the nbrepro process that created the kernel cgroup `name` has ended
    (`nbrepro-<pid>.<start>-<label>`, or `nbrepro-<pid>-<label>` from older versions)."""
    parts = name.split("-")
    if len(parts) < 3:
        return False
    pid, _, start = parts[1].partition(".")
    if not pid.isdigit():  # a probe, or not ours
        return False
    if not alive(int(pid)):
        return True
    return bool(start) and start != "0" and started(int(pid)) != start


def _can_create_in(base: Path) -> bool:
    """Whether this user may create (and remove) a cgroup below `base`."""
    probe = base / f"nbrepro-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


def _sweep(parent: Path) -> None:
    """Kernel cgroups under `parent` of nbrepro processes that died: kill what is still
    in them (a kernel whose check was SIGKILLed), then remove them."""
    for d in parent.glob("nbrepro-*-*"):
        if not d.is_dir() or not _creator_gone(d.name):
            continue
        for control, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0"),
                               ("cgroup.kill", "1")):  # a kill left half done
            with contextlib.suppress(OSError):
                if (d / control).exists():
                    (d / control).write_text(f"{value}\n")
        for _ in range(20):
            pids = [int(p) for p in _read(d / "cgroup.procs").split() if p.isdigit()]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:  # busy until the last task has exited
                time.sleep(0.05)


class _Cgroup(Confinement):
    """Shared by cgroup v1 and v2: a directory per controller, processes listed in
    cgroup.procs, killed with SIGKILL until none is left."""

    root = Path("/sys/fs/cgroup")
    dirs: list[Path]

    @classmethod
    def sweep(cls) -> None:
        """Clear the cgroups of nbrepro processes that died (see `_sweep`)."""

    def procs_files(self) -> list[Path]:
        # Joined by the kernel's supervisor before exec: every descendant is inside.
        return [d / "cgroup.procs" for d in self.dirs]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.dirs:
            found.update(int(p) for p in _read(d / "cgroup.procs").split())
        return sorted(found)

    def _freeze(self, frozen: bool) -> None:
        pass

    def close(self) -> None:
        deadline = time.monotonic() + 10
        self._freeze(True)  # a fork bomb cannot outrun the killing while frozen
        try:
            while time.monotonic() < deadline:
                left = self.pids()
                if not left:
                    break
                for pid in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self._freeze(False)  # killed tasks only die once thawed
                time.sleep(0.05)
        finally:
            self._freeze(False)
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy until the last task has exited
                    time.sleep(0.1)

    @staticmethod
    def _write(path: Path, value: object) -> None:
        path.write_text(f"{value}\n")


class CgroupV1(_Cgroup):
    """Legacy hierarchies: a cgroup per controller under this process's own cgroup."""

    name = "cgroup-v1"
    required = ("pids", "memory")
    optional = ("cpu", "freezer")

    @classmethod
    def _base(cls, controller: str) -> Path | None:
        own = _own_cgroups().get(controller)
        mount = cls.root / controller
        if own is None or not (mount / "cgroup.procs").is_file():
            return None
        return mount / own.lstrip("/")

    @classmethod
    def sweep(cls) -> None:
        for ctrl in (*cls.required, *cls.optional):
            base = cls._base(ctrl)
            if base is not None:
                _sweep(base)

    @classmethod
    @functools.cache
    def available(cls) -> bool:
        for ctrl in cls.required:
            base = cls._base(ctrl)
            if base is None:
                return False
            if not _can_create_in(base):
                return False
        return True

    def __init__(self, limits: ResourceLimits, label: str) -> None:
        super().__init__(limits, label)
        self.dirs = []
        self.freezer: Path | None = None
        try:
            for ctrl in (*self.required, *self.optional):
                base = self._base(ctrl)
                if base is None:
                    continue
                _sweep(base)
                d = base / _cgroup_name(label)
                d.mkdir()
                self.dirs.append(d)
                self._configure(ctrl, d)
        except OSError:
            self.close()
            raise

    def _configure(self, ctrl: str, d: Path) -> None:
        lim = self.limits
        if ctrl == "pids" and lim.pids:
            self._write(d / "pids.max", lim.pids)
        elif ctrl == "memory" and lim.memory:
            self._write(d / "memory.limit_in_bytes", lim.memory)
            if (d / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
                self._write(d / "memory.memsw.limit_in_bytes", lim.memory)
        elif ctrl == "cpu" and lim.cpus and (d / "cpu.cfs_quota_us").exists():
            self._write(d / "cpu.cfs_period_us", 100_000)
            self._write(d / "cpu.cfs_quota_us", int(lim.cpus * 100_000))
        elif ctrl == "freezer":
            self.freezer = d

    def _freeze(self, frozen: bool) -> None:
        if self.freezer is None:
            return
        try:
            self._write(self.freezer / "freezer.state", "FROZEN" if frozen else "THAWED")
        except OSError:
            return
        if frozen:
            for _ in range(100):
                if _read(self.freezer / "freezer.state") == "FROZEN":
                    break
                time.sleep(0.01)


class CgroupV2(_Cgroup):
    """The unified hierarchy: a sibling of this process's cgroup (a cgroup with
    processes cannot hold child cgroups with controllers), e.g. a delegated
    systemd user slice, or the root for root."""

    name = "cgroup-v2"

    @classmethod
    def _parent(cls) -> Path | None:
        own = _own_cgroups().get("")
        if own is None or not (cls.root / "cgroup.controllers").is_file():
            return None
        mine = cls.root / own.lstrip("/")
        return mine.parent if mine != cls.root else cls.root

    @classmethod
    def sweep(cls) -> None:
        parent = cls._parent()
        if parent is not None:
            _sweep(parent)

    @classmethod
    @functools.cache
    def available(cls) -> bool:
        parent = cls._parent()
        if parent is None:
            return False
        if not {"pids", "memory"} <= set(_read(parent / "cgroup.subtree_control").split()):
            return False
        return _can_create_in(parent)

    def __init__(self, limits: ResourceLimits, label: str) -> None:
        super().__init__(limits, label)
        parent = self._parent()
        assert parent is not None
        _sweep(parent)
        d = parent / _cgroup_name(label)
        d.mkdir(exist_ok=True)  # labels are unique per kernel
        self.dirs = [d]
        try:
            lim = limits
            if lim.pids:
                self._write(d / "pids.max", lim.pids)
            if lim.memory:
                self._write(d / "memory.max", lim.memory)
                if (d / "memory.swap.max").exists():
                    self._write(d / "memory.swap.max", 0)
            if lim.cpus and (d / "cpu.max").exists():
                self._write(d / "cpu.max", f"{int(lim.cpus * 100_000)} 100000")
        except OSError:
            self.close()
            raise

    def _freeze(self, frozen: bool) -> None:
        d = self.dirs[0]
        if frozen and (d / "cgroup.kill").exists():
            try:  # kills every task at once, including ones forked meanwhile
                self._write(d / "cgroup.kill", 1)
                return
            except OSError:
                pass
        if (d / "cgroup.freeze").exists():
            with contextlib.suppress(OSError):
                self._write(d / "cgroup.freeze", 1 if frozen else 0)


class Rlimits(Confinement):
    """Fallback without a writable cgroup: per-process limits via `prlimit`.

    RLIMIT_DATA bounds each process's memory; RLIMIT_NPROC bounds the user's process
    count, which the kernel does not enforce for root, so as root this does not stop
    a fork bomb (the sandbox's PID namespace still kills every process at the end)."""

    name = "rlimit"

    @classmethod
    def available(cls) -> bool:
        return shutil.which("prlimit") is not None

    def wrap(self, argv: list[str]) -> list[str]:
        args = [shutil.which("prlimit") or "prlimit"]
        if self.limits.memory:
            args.append(f"--data={self.limits.memory}")
        if self.limits.pids and os.getuid() != 0:
            # Per user, so it must leave room for the user's other processes.
            args.append(f"--nproc={self.limits.pids + _user_processes()}")
        return [*args, "--", *argv]


def _user_processes() -> int:
    uid, count = os.getuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    count += int(line.split()[1]) == uid
                    break
        except (OSError, ValueError):
            continue
    return count


class NoLimits(Confinement):
    name = "none"

    @classmethod
    def available(cls) -> bool:
        return True


CONFINEMENTS: tuple[type[Confinement], ...] = (CgroupV2, CgroupV1, Rlimits, NoLimits)


def confine(limits: ResourceLimits, label: str | None = None) -> Confinement:
    """A confinement for one kernel: the first strategy that works here."""
    label = label or uuid.uuid4().hex[:12]
    for kind in CONFINEMENTS:
        if kind.available():
            try:
                return kind(limits, label)
            except OSError as exc:
                log.debug("cannot use %s: %s", kind.name, exc)
    return NoLimits(limits, label)


