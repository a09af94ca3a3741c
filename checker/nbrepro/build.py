"""The build stage: a lock -> an environment that can start a kernel.

A backend builds environments and says how to start a kernel in one. Environments
are cached by the hash of what made them (lock, interpreter, backend, local project
sources) and reused by every later check; a file lock per entry makes concurrent
builders of the same environment wait for the first instead of racing. The harness
(nbrepro, nbclient) never lives inside an audited environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from nbrepro import cache
from nbrepro.model import EnvironmentResult, Lock
from nbrepro.resolve import blame, tool_env, uv_binary
from nbrepro.sandbox import (
    Confinement,
    Mounts,
    ResourceLimits,
    Sandbox,
    ToolRunner,
    confine,
    detect,
    python_prefixes,
)
from nbrepro.scan import SKIP_DIRS

BUILD_TIMEOUT = 1800
# Bump when the layout of a built environment changes, so old entries are not reused.
# 2: environments carry compiled bytecode (kernels run with PYTHONDONTWRITEBYTECODE and
# a read-only environment, so without it every kernel start compiled ipykernel anew).
ENV_FORMAT = 2


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
        if not self.requested:
            return False
        want = self.requested.split(".")
        return self.version.split(".")[: len(want)] != want


def find_python(requested: str | None) -> PythonChoice:
    """The interpreter closest to `requested` (X, X.Y or X.Y.Z) that exists here.

    Interpreters are never downloaded. Without a match, the harness's own Python is
    used and the mismatch is recorded by the caller.
    """
    own = ".".join(map(str, sys.version_info[:3]))
    base = getattr(sys, "_base_executable", None) or sys.executable
    candidates = []
    if requested:
        parts = requested.split(".")
        candidates = [".".join(parts[:n]) for n in (min(len(parts), 3), 2) if n <= len(parts)]
    if not candidates or own.split(".")[: len(candidates[0].split("."))] == parts[:3]:
        # nbrepro's own interpreter is what is asked for: no need to search (saves ~0.3 s)
        return PythonChoice(base, own, requested)
    for want in dict.fromkeys(candidates):
        proc = subprocess.run(
            [uv_binary(), "python", "find", "--system", want],
            capture_output=True, text=True, env=tool_env(), timeout=60,
        )
        if proc.returncode == 0 and proc.stdout.strip():
            exe = proc.stdout.strip()
            return PythonChoice(exe, _version_of(exe), requested)
    return PythonChoice(base, own, requested)


def _version_of(exe: str) -> str:
    out = subprocess.run(
        [exe, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
        capture_output=True, text=True, timeout=60,
    )
    return out.stdout.strip() or "unknown"


@dataclass
class BuildRequest:
    lock: Lock
    python: PythonChoice
    project_dir: Path | None = None  # a scratch copy of a local project to install
    apt_packages: list[str] = field(default_factory=list)
    post_build: Path | None = None
    use_cache: bool = True


@dataclass
class BackendOptions:
    """How a backend isolates audited code (set from `CheckOptions`)."""

    sandbox: bool = True  # sandbox kernels and build steps on the host when possible
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    base_image: str | None = None  # docker: the image environments are built on
    # More paths audited code must not see (the results database, the real repository).
    hidden: list[Path] = field(default_factory=list)


@dataclass
class KernelContext:
    """Where one kernel runs: everything a backend needs to start it."""

    connection_file: Path
    runtime_dir: Path  # holds the IPC sockets and the connection file; shared with the kernel
    scratch: Path  # the writable copy of the repository
    cwd: Path  # the notebook's folder inside `scratch`
    home: Path  # a private home directory for the kernel
    network: bool = False


class Backend:
    """Builds environments and starts kernels in them."""

    name: ClassVar[str]

    def __init__(self, options: BackendOptions | None = None) -> None:
        self.options = options or BackendOptions()
        self._host_sandbox: Sandbox | None = None

    @property
    def host_sandbox(self) -> Sandbox:
        """The sandbox for audited code that runs on this machine (resolving; for the
        venv backend also installing and the kernel)."""
        if self._host_sandbox is None:
            self._host_sandbox = detect(self.options.sandbox)
        return self._host_sandbox

    def choose_python(self, requested: str | None) -> PythonChoice:
        """The interpreter environments will be built with, for `requested` (X.Y...)."""
        return find_python(requested)

    def tool_runner(self, python: PythonChoice, writable: list[Path]) -> ToolRunner:
        """How to run a resolver or installer for this backend on this machine."""
        return ToolRunner(self.host_sandbox, writable=writable, hidden=self.options.hidden,
                          python=python.executable,
                          readable=python_prefixes(python.executable)
                          if os.path.isabs(python.executable) else [])

    def build(self, request: BuildRequest) -> EnvironmentResult:
        raise NotImplementedError

    def kernel_command(self, env: EnvironmentResult, ctx: KernelContext) -> list[str]:
        """argv that starts ipykernel with `ctx.connection_file`."""
        raise NotImplementedError

    def kernel_env(self, env: EnvironmentResult, ctx: KernelContext) -> dict[str, str]:
        """The kernel's environment variables: a small allow-list, so the harness's
        secrets (tokens, credentials) never reach audited code."""
        keep = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE")
        variables = {k: os.environ[k] for k in keep if k in os.environ}
        bindir = str(Path(env.python).parent) if env.python else ""
        variables.update(
            PATH=os.pathsep.join(p for p in (bindir, "/usr/local/bin", "/usr/bin", "/bin") if p),
            HOME=str(ctx.home),
            IPYTHONDIR=str(ctx.home / ".ipython"),
            MPLCONFIGDIR=str(ctx.home / ".matplotlib"),
            PYTHONNOUSERSITE="1",
            PYTHONDONTWRITEBYTECODE="1",
            JUPYTER_RUNTIME_DIR=str(ctx.runtime_dir),
            TMPDIR=str(ctx.home / "tmp"),
        )
        if env.location:
            variables["VIRTUAL_ENV"] = env.location
        return variables

    def cleanup(self, ctx: KernelContext) -> None:
        """Remove anything left after a kernel ends (containers, processes)."""


def project_hash(project_dir: Path | None) -> str | None:
    """Content hash of a local project's files (notebooks and VCS data excluded)."""
    if project_dir is None:
        return None
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        rel = path.relative_to(project_dir)
        if any(p in SKIP_DIRS for p in rel.parts) or path.suffix == ".ipynb":
            continue
        if path.is_file() and not path.is_symlink():
            digest.update(rel.as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:20]


class VenvBackend(Backend):
    """A virtual environment per lock, built with uv."""

    name = "venv"

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)
        self._confined: dict[Path, Confinement] = {}

    def key(self, request: BuildRequest) -> str:
        return cache.content_key(
            "venv", ENV_FORMAT, request.lock.text, request.python.version,
            project_hash(request.project_dir),
        )

    def build(self, request: BuildRequest) -> EnvironmentResult:
        key = self.key(request)
        location = cache.entry("envs", key)
        result = EnvironmentResult(
            ok=False, backend=self.name, key=key, location=str(location),
            python=str(location / "bin" / "python"), python_version=request.python.version,
            requested_python=request.python.requested, sandbox=self.host_sandbox.name,
        )
        started = time.monotonic()
        marker = location / ".nbrepro-complete"
        with cache.locked(location):
            if request.use_cache and marker.is_file():
                result.ok = result.cached = True
                result.log = marker.read_text()
                result.seconds = time.monotonic() - started
                return result
            shutil.rmtree(location, ignore_errors=True)
            log: list[str] = []
            ok = self._create(request, location, log, result)
            result.log = "\n".join(log)
            result.seconds = time.monotonic() - started
            if ok:
                marker.write_text(result.log)
                result.ok = True
            else:
                shutil.rmtree(location, ignore_errors=True)
        return result

    def _create(
        self, request: BuildRequest, location: Path, log: list[str], result: EnvironmentResult
    ) -> bool:
        uv = uv_binary()
        # The steps run the audited repository's build code: sandboxed, writing only to
        # the new environment, the scratch project and the package caches.
        location.mkdir(parents=True, exist_ok=True)
        writable = [location] + ([request.project_dir] if request.project_dir else [])
        runner = self.tool_runner(request.python, writable)
        with tempfile.TemporaryDirectory(prefix="nbrepro-build-") as tmp:
            lockfile = Path(tmp) / "requirements.txt"
            lockfile.write_text(request.lock.text)
            steps = [
                [uv, "venv", "--quiet", "--python", request.python.executable, str(location)],
                [uv, "pip", "sync", "--compile-bytecode", "--python",
                 str(location / "bin" / "python"), str(lockfile)],
            ]
            if request.project_dir is not None:
                steps.append([uv, "pip", "install", "--no-deps", "--python",
                              str(location / "bin" / "python"), str(request.project_dir)])
            for cmd in steps:
                log.append("$ " + " ".join(cmd[1:]))
                if cmd is steps[1] and runner.sandboxed and self._sync_wheels(cmd, log):
                    continue
                try:
                    proc = runner.run(cmd, cwd=Path(tmp), timeout=BUILD_TIMEOUT, env=tool_env())
                except subprocess.TimeoutExpired:
                    result.message = f"installing took longer than {BUILD_TIMEOUT} s"
                    log.append(result.message)
                    return False
                log.append((proc.stdout + proc.stderr).strip())
                if proc.returncode != 0:
                    result.message = (proc.stderr or proc.stdout).strip()
                    result.failed_requirement = blame(
                        result.message, request.lock.text.splitlines()
                    )
                    return False
        return True

    @staticmethod
    def _sync_wheels(cmd: list[str], log: list[str]) -> bool:
        """Install the lock outside the sandbox when it is wheels only.

        Installing wheels runs no code of the audited repository, and only outside the
        sandbox can uv hardlink files from its cache (a link between two bind mounts
        fails, and uv would copy every file). Anything to build (sdists, VCS URLs)
        fails here and is installed by the sandboxed step instead."""
        try:
            proc = subprocess.run([*cmd, "--no-build"], capture_output=True, text=True,
                                  timeout=BUILD_TIMEOUT, env=tool_env(),
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False
        if proc.returncode == 0:
            log.append((proc.stdout + proc.stderr).strip())
        return proc.returncode == 0

    def kernel_command(self, env: EnvironmentResult, ctx: KernelContext) -> list[str]:
        assert env.python and env.location, "a built environment has an interpreter"
        argv = [env.python, "-m", "ipykernel_launcher", "-f", str(ctx.connection_file)]
        # Writable: the scratch copy and the runtime dir (IPC sockets, private home).
        # Readable: the system, the environment and its base interpreter.
        mounts = Mounts(
            writable=[ctx.scratch, ctx.runtime_dir],
            readable=[Path(env.location), *python_prefixes(env.python)],
            hidden=self.options.hidden,
        )
        argv = self.host_sandbox.kernel_argv(argv, mounts, ctx.cwd, ctx.network)
        confinement = confine(self.options.limits, label=ctx.runtime_dir.name)
        self._confined[ctx.runtime_dir] = confinement
        return confinement.wrap(argv)

    def cleanup(self, ctx: KernelContext) -> None:
        confinement = self._confined.pop(ctx.runtime_dir, None)
        if confinement is not None:
            confinement.close()
