"""Confinement of kernels: resource limits and the end of every process they start.

Kernels get a `Confinement` (a cgroup, else rlimits) that bounds memory, CPU and the
number of processes, and kills every process of the kernel at the end, so a fork
bomb or a daemon started by a cell cannot outlive its notebook.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shlex
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psutil

from nbrepro.errors import ConfigError

log = logging.getLogger("nbrepro")

GiB = 1024**3


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie has finished and counts as gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process: it exists
        return True


@dataclass(frozen=True)
class ResourceLimits:
    """Bounds for one kernel: memory (bytes), CPUs and processes (tasks, i.e. threads)."""

    memory: int | None = 4 * GiB
    cpus: float | None = 2.0
    pids: int | None = 1024

    @staticmethod
    def parse_size(text: str) -> int:
        """'512m', '4g', '1.5G', '1000000' -> bytes."""
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
        if not m:
            raise ConfigError(f"not a size (like 512m or 4g): {text!r}")
        scale = {"": 1, "k": 1024, "m": 1024**2, "g": GiB, "t": 1024**4}[m.group(2)]
        size = int(float(m.group(1)) * scale)
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
        return list(argv)

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
    # The creator's pid in the name: a later nbrepro can tell a cgroup left by a killed
    # one (empty, creator gone) from one another live nbrepro is about to fill.
    return f"nbrepro-{os.getpid()}-{label}"


def _sweep(parent: Path) -> None:
    """Remove empty kernel cgroups left under `parent` by nbrepro processes that died."""
    for d in parent.glob("nbrepro-*-*"):
        pid = d.name.split("-")[1]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        with contextlib.suppress(OSError):  # not empty, or gone: leave it
            d.rmdir()


def _join_script(procs_files: list[Path]) -> str:
    # Join the cgroups first, then become the kernel: every descendant is inside.
    joins = "".join(f"echo $$ > {shlex.quote(str(p))} && " for p in procs_files)
    return joins + 'exec "$@"'


class _Cgroup(Confinement):
    """Shared by cgroup v1 and v2: a directory per controller, processes listed in
    cgroup.procs, killed with SIGKILL until none is left."""

    root = Path("/sys/fs/cgroup")
    dirs: list[Path]

    def wrap(self, argv: list[str]) -> list[str]:
        procs = [d / "cgroup.procs" for d in self.dirs]
        return ["/bin/sh", "-c", _join_script(procs), "nbrepro-confine", *argv]

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
    @functools.cache
    def available(cls) -> bool:
        for ctrl in cls.required:
            base = cls._base(ctrl)
            if base is None:
                return False
            probe = base / f"nbrepro-probe-{os.getpid()}"
            try:
                probe.mkdir()
                probe.rmdir()
            except OSError:
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
    @functools.cache
    def available(cls) -> bool:
        parent = cls._parent()
        if parent is None:
            return False
        if not {"pids", "memory"} <= set(_read(parent / "cgroup.subtree_control").split()):
            return False
        probe = parent / f"nbrepro-probe-{os.getpid()}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError:
            return False
        return True

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


