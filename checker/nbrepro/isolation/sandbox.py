"""The sandbox for audited code on the host (bubblewrap).

Audited notebooks, `setup.py` files and build backends are untrusted code. The venv
backend runs all of them through a `Sandbox` strategy:

- `Bubblewrap` (when `bwrap` works here): the whole system read-only, the user's
  home, nbrepro's cache and database, `/run` (the Docker socket, the user's runtime
  sockets) and secret system files hidden, a private `/tmp`, `/proc` and PID
  namespace (no other process is visible or can be signalled), no capabilities and
  a network namespace of its own (kernels: no network unless asked for; build steps:
  only through nbrepro's egress proxy); only the paths a step needs are bound back,
  read-only or writable.
- `NoSandbox`: runs as the user; only when the user asks for it (`--no-sandbox`).

Without a working bubblewrap, `detect` refuses (fail closed): audited code never
runs unsandboxed unless the user said so.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from nbrepro.isolation.confine import KERNEL_VARIABLE, OWNER_VARIABLE

# Readable by uid 0 even without capabilities (owned by root), or system-wide package
# tool settings that may hold index credentials; masked in the sandbox.
SECRET_SYSTEM_PATHS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-",
                       "/etc/ssh", "/etc/sudoers.d", "/var/lib/docker", "/root",
                       "/etc/pip.conf", "/etc/xdg/pip", "/etc/uv", "/etc/netrc")


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
    """What an interpreter needs to start: its venv (if any) and its base installation.

    Only for interpreters nbrepro chose itself: the answer comes from the
    interpreter's files (`pyvenv.cfg`, its symlink), which audited build code can
    rewrite in an environment it installs into."""
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
        code) wrapped: no network of its own, writes only to `mounts.writable`."""
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
        # namespace's init as "parent exited"; the sandbox dies with the harness anyway
        # (its supervisor kills it). nbrepro's marker stays outside: bwrap's processes
        # carry it, audited code need not learn the harness's host and pid.
        return [*self._common(mounts, cwd, network), "--unsetenv", "JPY_PARENT_PID",
                "--unsetenv", OWNER_VARIABLE, "--unsetenv", KERNEL_VARIABLE, "--", *argv]

    def tool_argv(self, argv: list[str], mounts: Mounts, cwd: Path, home: Path) -> list[str]:
        # Its own network namespace: the host's loopback services (a Jupyter server),
        # its private networks and cloud metadata stay out of reach; `argv` reaches the
        # package index through nbrepro's egress proxy (see `egress`).
        return [*self._common(mounts, cwd, network=False), "--setenv", "HOME", str(home),
                "--unsetenv", OWNER_VARIABLE, "--unsetenv", KERNEL_VARIABLE, "--", *argv]


@functools.cache
def _empty_file() -> Path:
    """An empty read-only file to mount over files audited code must not see."""
    fd, name = tempfile.mkstemp(prefix="nbrepro-empty-")
    os.close(fd)
    os.chmod(name, 0o444)
    atexit.register(lambda: Path(name).unlink(missing_ok=True))
    return Path(name)


SANDBOXES: dict[str, type[Sandbox]] = {s.name: s for s in (Bubblewrap, NoSandbox)}
NO_SANDBOX_MESSAGE = (
    "no working sandbox for audited code: bubblewrap (`bwrap`) is missing or cannot "
    "create namespaces here; install bubblewrap, use --backend docker, or pass "
    "--no-sandbox to run the audited repository's code unsandboxed, as you"
)


def detect(enabled: bool = True) -> Sandbox:
    """The sandbox for audited code on this machine: bubblewrap, or `NoSandbox` when
    `enabled` is false. Fails closed: without a working bubblewrap it raises
    `BackendUnavailable` rather than run audited code unprotected."""
    if not enabled:
        return NoSandbox()
    if Bubblewrap.available():
        return Bubblewrap()
    from nbrepro.errors import BackendUnavailable

    raise BackendUnavailable(NO_SANDBOX_MESSAGE)
