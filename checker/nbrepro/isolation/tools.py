"""The tools nbrepro runs to resolve and install: uv (and pip-tools), interpreters.

Two kinds of calls, never mixed up:

- on the host, calls that run no audited code (finding an interpreter, creating a
  venv, installing wheels): `host_tool_run`, with the user's own settings and caches;
- everything that may run the audited repository's build code (`setup.py`, build
  backends: resolving, building sdists, installing the local project): a
  `ToolRunner`, sandboxed, without credentials, with a private package cache of its
  own and the network only through nbrepro's egress proxy.

Both run in a private, empty working folder and never read uv's or pip's
configuration files. `find_python` finds an interpreter that exists here
(interpreters are never downloaded); the version it is asked for must be a version
number (`python_version`), whatever the repository says.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from nbrepro.errors import ConfigError
from nbrepro.isolation.confine import KernelTeardown, Lifeline, ResourceLimits, confine
from nbrepro.isolation.egress import EgressProxy
from nbrepro.isolation.environ import host_tool_environment, tool_environment
from nbrepro.isolation.sandbox import Mounts, NoSandbox, Sandbox, python_prefixes

# Seconds one environment build (all its install steps) may take.
BUILD_TIMEOUT = 1800
# Processes (tasks) one sandboxed build step may have at once.
BUILD_PIDS = 4096
# The only interpreter requests nbrepro passes on: X, X.Y or X.Y.Z.
_VERSION = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4}){0,2}")


def python_version(value: object) -> str | None:
    """`value` when it is a version number (X, X.Y or X.Y.Z), else None.

    Every interpreter request read from an audited repository goes through here:
    anything else (a path such as `./evil`, a name) would make uv run it."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text if _VERSION.fullmatch(text) else None


def uv_binary() -> str:
    """The uv executable installed with nbrepro (the `uv` package), else one on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            raise ConfigError("uv is not installed: pip install uv") from None
        return found


def tool_env() -> dict[str, str]:
    """Environment for uv on the host (no audited code): never a config file, never
    an interpreter download."""
    return host_tool_environment(os.environ)


@contextlib.contextmanager
def private_folder(prefix: str = "nbrepro-tool-") -> Iterator[Path]:
    """An empty folder of nbrepro's own to run a tool in: no `uv.toml`, `pyproject.toml`
    or `.python-version` of anyone else in it or above it that the tool could find."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def host_tool_run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a tool on the host that runs no audited code (uv finding an interpreter,
    creating a venv, installing wheels only), in a private folder."""
    with private_folder() as cwd:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env=tool_env(), stdin=subprocess.DEVNULL)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    """A tool's output without terminal colour and cursor codes (logs are read as text)."""
    return _ANSI.sub("", text)


def parse_python_version(text: str) -> str:
    """`X`, `X.Y` or `X.Y.Z`, else `ConfigError` (a malformed `--python`)."""
    version = python_version(text)
    if version is None:
        raise ConfigError(f"--python: not a Python version (like 3.11): {text!r}")
    return version


@dataclass
class PythonChoice:
    executable: str
    version: str  # X.Y.Z of the interpreter that will be used
    requested: str | None  # what the repository or notebooks asked for

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def mismatch(self) -> bool:
        """The interpreter is not the X.Y asked for (a patch release never decides)."""
        if not self.requested:
            return False
        want = self.requested.split(".")[:2]
        return self.version.split(".")[: len(want)] != want


# The oldest Python a kernel environment is built with: today's ipykernel and uv need
# it. A repository asking for an older one gets the nearest newer one, recorded.
OLDEST_PYTHON = (3, 8)

Version = tuple[int, int, int]


def find_python(requested: str | None) -> PythonChoice:
    """The interpreter closest to `requested` (X, X.Y or X.Y.Z) that exists here: that
    version, else the nearest newer one, else the newest (`PythonChoice.mismatch`
    says so and the caller decides what that means).

    Interpreters are never downloaded; they are found by uv's discovery and in
    pyenv's versions folder (which uv does not search). Anything but a version
    number is refused (`ConfigError`): uv would run a path it is given.
    """
    if requested is not None and python_version(requested) is None:
        raise ConfigError(f"not a Python version (X, X.Y or X.Y.Z): {requested!r}")
    own = ".".join(map(str, sys.version_info[:3]))
    base = getattr(sys, "_base_executable", None) or sys.executable
    if not requested:
        return PythonChoice(base, own, requested)
    parts = requested.split(".")
    if own.split(".")[: min(len(parts), 2)] == parts[:2]:
        # nbrepro's own interpreter is what is asked for: no need to search (saves ~0.3 s)
        return PythonChoice(base, own, requested)
    if parts[0] != "3":  # uv refuses Python 2 requests; kernels need Python 3 anyway
        return PythonChoice(base, own, requested)
    for version in closest_versions(requested, list(interpreters())):
        exe = interpreters()[version]
        found = _version_of(exe)  # a folder's name is not proof of what it holds
        if found == ".".join(map(str, version)):
            return PythonChoice(exe, found, requested)
    return PythonChoice(base, own, requested)


def closest_versions(requested: str, available: Iterable[Version]) -> list[Version]:
    """`available` Python 3 versions in the order `find_python` tries them for
    `requested`: exactly X.Y.Z when named, then its X.Y (newest patch first: a patch
    release never decides), then the nearest newer minor versions, then older ones,
    newest first."""
    want = [int(p) for p in requested.split(".")]
    usable = sorted((v for v in set(available) if v[0] == 3 and v[:2] >= OLDEST_PYTHON),
                    reverse=True)
    named = sorted((v for v in usable if list(v[: min(len(want), 2)]) == want[:2]),
                   key=lambda v: (list(v) != want, [-p for p in v]))
    newer = sorted((v for v in usable if v[:2] > tuple(want[:2]) and v not in named),
                   key=lambda v: (v[1], -v[2]))
    older = [v for v in usable if v not in named and v not in newer]
    return [*named, *newer, *older]


@functools.cache
def interpreters() -> dict[Version, str]:
    """X.Y.Z -> executable of every Python 3 found here: this one, uv's discovery
    (PATH, its managed installs), then pyenv's versions folder, whose interpreters
    its shims hide from uv unless they are the active version."""
    found: dict[Version, str] = {
        sys.version_info[:3]: getattr(sys, "_base_executable", None) or sys.executable}
    try:
        proc = host_tool_run(
            [uv_binary(), "python", "list", "--no-config", "--only-installed",
             "--output-format", "json"],
            timeout=60)
        entries = json.loads(proc.stdout) if proc.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError, ConfigError):
        entries = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("implementation") != "cpython":
            continue
        version, path = _triple(entry.get("version")), entry.get("path")
        if version and isinstance(path, str) and os.path.isabs(path):
            found.setdefault(version, path)
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    with contextlib.suppress(OSError):
        for folder in sorted(pyenv.iterdir()):
            version = _triple(folder.name)
            exe = folder / "bin" / f"python{version[0]}.{version[1]}" if version else None
            if version and exe is not None and exe.is_file() and os.access(exe, os.X_OK):
                found.setdefault(version, str(exe))
    return found


def _triple(text: object) -> Version | None:
    """X.Y.Z of a final release (what interpreters() keys by), else None."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,3}\.[0-9]{1,3}", text):
        return None
    major, minor, patch = (int(p) for p in text.split("."))
    return major, minor, patch


def available_pythons() -> list[str]:
    """The X.Y.Z of every interpreter found here that a kernel environment can be built
    with (never downloaded), newest first."""
    return [".".join(map(str, v)) for v in sorted(interpreters(), reverse=True)
            if v[0] == 3 and v[:2] >= OLDEST_PYTHON]


def _version_of(exe: str) -> str:
    out = subprocess.run(
        [exe, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
        capture_output=True, text=True, timeout=60,
    )
    return out.stdout.strip() or "unknown"


def uv_cache_dir(uv: str) -> Path | None:
    """The user's uv package cache (hidden from build code): where `uv` puts it without
    a configuration file, `$UV_CACHE_DIR` else the user cache folder."""
    env = os.environ.get("UV_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("uv"))


def pip_cache_dir() -> Path:
    env = os.environ.get("PIP_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pip"))


def user_package_caches() -> list[Path]:
    """The user's uv and pip caches: never visible to build code, so it can neither
    poison them (for the user's own later installs and other repositories'
    environments) nor read what they hold."""
    found = [pip_cache_dir()]
    uv_cache = uv_cache_dir(uv_binary())
    if uv_cache is not None:
        found.append(uv_cache)
    return found


class ToolRunner:
    """Runs resolver and installer commands, which execute the audited repository's
    build code (`setup.py`, build backends), in a sandbox: no network of its own (only
    public addresses and the package index, through nbrepro's egress proxy), the
    user's home and package caches hidden, writes only to `writable` and a private
    home, a package cache of the step's own (deleted after it), an allow-listed
    environment without credentials, a bound on processes."""

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
        with private_folder() as home:
            variables = tool_environment(env, home)
            (home / "tmp").mkdir()
            variables["TMPDIR"] = str(home / "tmp")
            # The step's own package cache, deleted with it: build code never writes
            # where the user's installs or another repository's build would read.
            variables["UV_CACHE_DIR"] = str(home / "uv-cache")
            variables["PIP_CACHE_DIR"] = str(home / "pip-cache")
            variables["UV_LINK_MODE"] = "copy"
            if self.python and os.path.isabs(self.python):
                variables["UV_PYTHON"] = self.python
            if not self.sandboxed:  # --no-sandbox: the user accepted running it as them
                return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                                      timeout=timeout, env=variables, stdin=subprocess.DEVNULL)
            base_python = getattr(sys, "_base_executable", None) or sys.executable
            confinement = confine(ResourceLimits(memory=None, cpus=None, pids=BUILD_PIDS),
                                  label=f"build-{home.name}")
            with EgressProxy() as proxy:
                mounts = Mounts(
                    writable=[*self.writable, cwd, home],
                    readable=[*self.readable, *python_prefixes(self.python),
                              *python_prefixes(sys.executable), *python_prefixes(base_python),
                              Path(uv_binary()), proxy.folder],
                    hidden=[*self.hidden, *user_package_caches()],
                )
                argv = self.sandbox.tool_argv(proxy.wrap(base_python, cmd), mounts, cwd, home)
                # Started like a kernel: by a supervisor that joins the cgroup before
                # exec and ends the step's whole tree when this check ends, however.
                lifeline = Lifeline()
                try:
                    proc = subprocess.run(
                        lifeline.command(confinement.wrap(argv),
                                         KernelTeardown(cgroups=confinement.procs_files())),
                        cwd=cwd, capture_output=True, text=True, timeout=timeout,
                        env={**variables, **lifeline.environment()}, stdin=lifeline.stdin)
                finally:
                    lifeline.cut()
                    confinement.close()
                note = proxy.report()
            if note:
                proc.stderr = f"{proc.stderr.rstrip()}\n{note}\n".lstrip()
            return proc
