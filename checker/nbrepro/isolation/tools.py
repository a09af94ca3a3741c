"""The tools nbrepro runs to resolve and install: uv (and pip-tools), interpreters.

`ToolRunner` runs a resolver or installer the way a backend wants it (sandboxed on
the host for the venv backend) with an allow-listed environment; `find_python`
finds an interpreter that exists here (interpreters are never downloaded).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nbrepro.errors import ConfigError
from nbrepro.isolation.environ import tool_environment
from nbrepro.isolation.sandbox import Mounts, NoSandbox, Sandbox, python_prefixes

# Seconds one environment build (all its install steps) may take.
BUILD_TIMEOUT = 1800


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
    """Environment for resolver/installer subprocesses: never download interpreters."""
    env = dict(os.environ)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.pop("VIRTUAL_ENV", None)
    return env


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_PYTHON_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}$")


def strip_ansi(text: str) -> str:
    """A tool's output without terminal colour and cursor codes (logs are read as text)."""
    return _ANSI.sub("", text)


def parse_python_version(text: str) -> str:
    """`X`, `X.Y` or `X.Y.Z`, else `ConfigError` (a malformed `--python`)."""
    text = text.strip()
    if not _PYTHON_VERSION.match(text):
        raise ConfigError(f"--python: not a Python version (like 3.11): {text!r}")
    return text


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


def find_python(requested: str | None) -> PythonChoice:
    """The interpreter closest to `requested` (X, X.Y or X.Y.Z) that exists here.

    Interpreters are never downloaded. Without a match, the harness's own Python is
    used; `PythonChoice.mismatch` says so and the caller decides what that means.
    """
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
    for want in dict.fromkeys([requested, ".".join(parts[:2])]):
        proc = subprocess.run(
            [uv_binary(), "python", "find", "--system", want],
            capture_output=True, text=True, env=tool_env(), timeout=60,
        )
        if proc.returncode == 0 and proc.stdout.strip():
            exe = proc.stdout.strip()
            version = _version_of(exe)
            if version.split(".")[:2] == parts[:2]:
                return PythonChoice(exe, version, requested)
    return PythonChoice(base, own, requested)


def available_pythons() -> list[str]:
    """The X.Y.Z of every interpreter found here (never downloaded), newest first."""
    found = {".".join(map(str, sys.version_info[:3]))}
    try:
        proc = subprocess.run(
            [uv_binary(), "python", "list", "--only-installed", "--output-format", "json"],
            capture_output=True, text=True, env=tool_env(), timeout=60,
            stdin=subprocess.DEVNULL,
        )
        entries = json.loads(proc.stdout) if proc.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError, ConfigError):
        entries = []
    for entry in entries if isinstance(entries, list) else []:
        version = entry.get("version") if isinstance(entry, dict) else None
        if isinstance(version, str) and _PYTHON_VERSION.match(version):
            found.add(version)
    return sorted(found, key=lambda v: [int(p) for p in v.split(".")], reverse=True)


def _version_of(exe: str) -> str:
    out = subprocess.run(
        [exe, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
        capture_output=True, text=True, timeout=60,
    )
    return out.stdout.strip() or "unknown"


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


