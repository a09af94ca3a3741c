"""Isolation on the host: a sandbox for audited code, and resource limits for kernels.

Audited notebooks, `setup.py` files and build backends are untrusted code. The venv
backend runs all of them through a `Sandbox` strategy:

- `Bubblewrap` (when `bwrap` works here): the whole system read-only, the user's
  home, nbrepro's cache and database, `/run` (the Docker socket, the user's runtime
  sockets) and secret system files hidden, a private `/tmp`, `/proc` and PID
  namespace (no other process is visible or can be signalled), no capabilities, no
  network unless asked for; only the paths a step needs are bound back, read-only
  or writable.
- `NoSandbox`: runs as the user, with a one-time warning; recorded as `none`.

Kernels also get a `Confinement` (a cgroup, else rlimits) that bounds memory, CPU
and the number of processes, and kills every process of the kernel at the end, so
a fork bomb or a daemon started by a cell cannot outlive its notebook.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from nbrepro.errors import ConfigError

log = logging.getLogger("nbrepro")

GiB = 1024**3

# Environment variables a resolver or installer may need (index, proxy and TLS
# settings); everything else the user has (tokens, cloud credentials) stays out of
# reach of the audited repository's setup.py and build backends.
TOOL_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "SOURCE_DATE_EPOCH",
                 "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                 "PIP_CERT", "NIX_SSL_CERT_FILE", "GIT_SSL_CAINFO")
TOOL_ENV_PREFIXES = ("UV_", "PIP_", "LC_")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
                   "http_proxy", "https_proxy", "no_proxy", "all_proxy")
_SECRET = re.compile(r"TOKEN|PASSWORD|SECRET|CREDENTIAL", re.I)

# Readable by uid 0 even without capabilities (owned by root); masked in the sandbox.
SECRET_SYSTEM_PATHS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-",
                       "/etc/ssh", "/etc/sudoers.d", "/var/lib/docker", "/root")


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


# --- what the sandbox hides ----------------------------------------------------------


def user_homes() -> list[Path]:
    """The user's home as $HOME says and as the password database says."""
    homes = [Path.home()]
    with contextlib.suppress(KeyError):
        homes.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return homes


def nbrepro_private_dirs() -> list[Path]:
    """nbrepro's own state: the cache root and the default database folder."""
    from platformdirs import user_data_dir

    from nbrepro.cache import cache_root

    return [cache_root(), Path(user_data_dir("nbrepro"))]


def docker_socket_dirs() -> list[Path]:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return [Path(host.removeprefix("unix://")).parent]
    return []


def _existing(paths: Iterable[Path]) -> list[Path]:
    """Existing, absolute, symlink-resolved paths, without those inside another one."""
    resolved: list[Path] = []
    for path in paths:
        try:
            real = Path(os.path.realpath(path))
        except OSError:
            continue
        if real.exists() and real != Path("/") and real not in resolved:
            resolved.append(real)
    return [p for p in resolved if not any(q != p and q in p.parents for q in resolved)]


def python_prefixes(python: str | Path | None) -> list[Path]:
    """What an interpreter needs to start: its venv (if any) and its base installation."""
    if not python:
        return []
    exe = Path(python)
    found: list[Path] = []
    venv = exe.parent.parent
    cfg = venv / "pyvenv.cfg"
    if cfg.is_file():
        found.append(venv)
        for line in cfg.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                found.append(Path(value.strip()).parent)
    real = Path(os.path.realpath(exe))
    found.append(real.parent.parent if real.parent.name == "bin" else real.parent)
    return found


# --- sandboxes ---------------------------------------------------------------------


@dataclass
class Mounts:
    """Paths a sandboxed step may see beyond the read-only system."""

    writable: list[Path] = field(default_factory=list)
    readable: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)


class Sandbox:
    """How audited code runs on the host. One instance per backend; stateless."""

    name: ClassVar[str]

    @classmethod
    def available(cls) -> bool:
        raise NotImplementedError

    def kernel_argv(self, argv: list[str], mounts: Mounts, cwd: Path, network: bool) -> list[str]:
        """`argv` (a kernel) wrapped so that it runs sandboxed."""
        raise NotImplementedError

    def tool_argv(self, argv: list[str], mounts: Mounts, cwd: Path, home: Path) -> list[str]:
        """`argv` (a resolver or installer, which runs the audited repository's build
        code) wrapped: network allowed, writes only to `mounts.writable`."""
        raise NotImplementedError


class NoSandbox(Sandbox):
    """Runs audited code as the user: only the limits and the allow-listed environment."""

    name = "none"

    @classmethod
    def available(cls) -> bool:
        return True

    def kernel_argv(self, argv: list[str], mounts: Mounts, cwd: Path, network: bool) -> list[str]:
        return list(argv)

    def tool_argv(self, argv: list[str], mounts: Mounts, cwd: Path, home: Path) -> list[str]:
        return list(argv)


class Bubblewrap(Sandbox):
    """bubblewrap: mount, PID, IPC, UTS (and network) namespaces, no capabilities."""

    name = "bubblewrap"

    @classmethod
    @functools.cache
    def available(cls) -> bool:
        # `bwrap` may be installed and still unusable (user namespaces disabled, a
        # container without CAP_SYS_ADMIN): try the options we need.
        exe = shutil.which("bwrap")
        if not exe:
            return False
        try:
            proc = subprocess.run(
                [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                 "--unshare-pid", "--unshare-net", "--unshare-ipc", "--cap-drop", "ALL",
                 "--die-with-parent", "true"],
                capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return proc.returncode == 0

    def _common(self, mounts: Mounts, cwd: Path, network: bool) -> list[str]:
        args = [
            shutil.which("bwrap") or "bwrap",
            "--die-with-parent",  # the sandbox goes when the harness goes
            "--new-session",  # no access to the harness's terminal (TIOCSTI)
            # A private PID namespace: the sandbox sees and signals only its own
            # processes (not the harness, not /proc/<pid>/environ of anything else),
            # and all of them die with it.
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "nbrepro",
            # As root bwrap would keep every capability: drop them all, so read-only
            # mounts stay read-only and nothing can be remounted.
            "--cap-drop", "ALL",
            "--ro-bind", "/", "/",
            "--dev", "/dev", "--proc", "/proc",
        ]
        if not network:
            args.append("--unshare-net")
        # /tmp first: hidden paths inside it are hidden already.
        tmp = Path(os.path.realpath("/tmp"))
        hidden = _existing([tmp, Path("/run"), Path("/var/run"), *user_homes(),
                            *nbrepro_private_dirs(), *docker_socket_dirs(), *mounts.hidden,
                            *map(Path, SECRET_SYSTEM_PATHS)])
        for path in hidden:
            if path.is_dir():
                args += ["--tmpfs", str(path)]
            else:  # not /dev/null: writes to a device would succeed (into nothing)
                args += ["--ro-bind", str(_empty_file()), str(path)]
        if network:  # name resolution may live under /run (systemd-resolved)
            resolv = Path(os.path.realpath("/etc/resolv.conf"))
            if resolv.is_file() and any(h in resolv.parents for h in hidden):
                args += ["--ro-bind", str(resolv), str(resolv)]
        # Later mounts win: what a step needs is bound back after hiding.
        for path in _existing(mounts.readable):
            args += ["--ro-bind", str(path), str(path)]
        for path in _existing(mounts.writable):
            args += ["--bind", str(path), str(path)]
        # Hidden folders are empty and read-only, so that writes to them fail instead
        # of vanishing silently; /tmp stays the sandbox's private, writable temp dir.
        for path in hidden:
            if path.is_dir() and path != tmp:
                args += ["--remount-ro", str(path)]
        args += ["--chdir", str(cwd)]
        return args

    def kernel_argv(self, argv: list[str], mounts: Mounts, cwd: Path, network: bool) -> list[str]:
        # ipykernel polls for its parent (JPY_PARENT_PID) and would see the PID
        # namespace's init as "parent exited"; the sandbox dies with the harness anyway.
        return [*self._common(mounts, cwd, network), "--unsetenv", "JPY_PARENT_PID",
                "--", *argv]

    def tool_argv(self, argv: list[str], mounts: Mounts, cwd: Path, home: Path) -> list[str]:
        return [*self._common(mounts, cwd, network=True), "--setenv", "HOME", str(home),
                "--", *argv]


@functools.cache
def _empty_file() -> Path:
    """An empty read-only file to mount over files audited code must not see."""
    fd, name = tempfile.mkstemp(prefix="nbrepro-empty-")
    os.close(fd)
    os.chmod(name, 0o444)
    atexit.register(lambda: Path(name).unlink(missing_ok=True))
    return Path(name)


SANDBOXES: dict[str, type[Sandbox]] = {s.name: s for s in (Bubblewrap, NoSandbox)}
_warned = False


def detect(enabled: bool = True) -> Sandbox:
    """The best sandbox available here (`NoSandbox` when `enabled` is false).

    When none is available, checks still run, with a one-time warning."""
    global _warned
    if not enabled:
        return NoSandbox()
    if Bubblewrap.available():
        return Bubblewrap()
    if not _warned:
        _warned = True
        log.warning(
            "nbrepro: warning: no sandbox available (bubblewrap's `bwrap` is missing or "
            "cannot create namespaces here): audited code runs as you, with your "
            "network. Install bubblewrap, use --backend docker, or pass --no-sandbox "
            "to accept this."
        )
    return NoSandbox()


def tool_environment(base: Mapping[str, str], home: Path | None = None) -> dict[str, str]:
    """An allow-listed copy of `base` for resolver/installer subprocesses."""
    env = {
        k: v for k, v in base.items()
        if (k in TOOL_ENV_KEEP or k in PROXY_VARIABLES or k.startswith(TOOL_ENV_PREFIXES))
        and not _SECRET.search(k)
    }
    if home is not None:
        env["HOME"] = str(home)
    return env


@functools.cache
def uv_cache_dir(uv: str) -> Path | None:
    """uv's package cache, so that a sandboxed install (another $HOME) still uses it."""
    try:
        proc = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = proc.stdout.strip()
    return Path(out) if proc.returncode == 0 and out else None


def pip_cache_dir() -> Path:
    env = os.environ.get("PIP_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pip"))


def tool_config_paths() -> list[Path]:
    """The user's resolver/installer configuration (index URLs): readable in the sandbox."""
    home = Path.home()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [config / "uv", config / "pip", home / ".pip", home / ".pydistutils.cfg"]


class ToolRunner:
    """Runs resolver and installer commands, which execute the audited repository's
    build code (`setup.py`, build backends), in a sandbox: network allowed, the
    user's home hidden, writes only to `writable`, the package caches and a private
    home; an allow-listed environment."""

    def __init__(self, sandbox: Sandbox, *, writable: Iterable[Path] = (),
                 readable: Iterable[Path] = (), hidden: Iterable[Path] = (),
                 python: str | None = None) -> None:
        self.sandbox = sandbox
        self.writable, self.readable, self.hidden = list(writable), list(readable), list(hidden)
        self.python = python  # the interpreter builds should use, when known

    @property
    def sandboxed(self) -> bool:
        return not isinstance(self.sandbox, NoSandbox)

    def run(self, cmd: list[str], *, cwd: Path, timeout: float,
            env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """Like `subprocess.run(cmd, capture_output=True, text=True)`, sandboxed.
        Raises `subprocess.TimeoutExpired` like it."""
        from nbrepro.resolve import uv_binary

        uv = uv_binary()
        with tempfile.TemporaryDirectory(prefix="nbrepro-tool-") as tmp:
            home = Path(tmp)
            variables = tool_environment(env, home if self.sandboxed else None)
            variables["TMPDIR"] = str(home)
            caches: list[Path] = []
            if self.sandboxed:
                # The caches live under the real home, which the sandbox hides.
                uv_cache = uv_cache_dir(uv)
                if uv_cache is not None:
                    variables.setdefault("UV_CACHE_DIR", str(uv_cache))
                variables.setdefault("PIP_CACHE_DIR", str(pip_cache_dir()))
                # Hardlinks cannot cross the sandbox's bind mounts: copy, without warning.
                variables.setdefault("UV_LINK_MODE", "copy")
                caches = [Path(variables["UV_CACHE_DIR"]), Path(variables["PIP_CACHE_DIR"])] \
                    if "UV_CACHE_DIR" in variables else [Path(variables["PIP_CACHE_DIR"])]
                for folder in caches:
                    folder.mkdir(parents=True, exist_ok=True)
            if self.python and os.path.isabs(self.python):
                variables.setdefault("UV_PYTHON", self.python)
            mounts = Mounts(
                writable=[*self.writable, cwd, home, *caches],
                readable=[*self.readable, *python_prefixes(self.python),
                          *python_prefixes(sys.executable), Path(uv), *tool_config_paths()],
                hidden=self.hidden,
            )
            argv = self.sandbox.tool_argv(cmd, mounts, cwd, home)
            return subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                                  timeout=timeout, env=variables, stdin=subprocess.DEVNULL)


# --- resource limits and process cleanup ------------------------------------------


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


__all__ = [
    "Bubblewrap", "Confinement", "Mounts", "NoSandbox", "ResourceLimits", "Sandbox",
    "ToolRunner", "confine", "detect", "python_prefixes", "tool_environment",
]
