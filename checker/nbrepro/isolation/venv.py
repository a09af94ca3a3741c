"""The venv backend: a uv virtual environment per lock, kernels in the host sandbox.

A build runs in two phases, never interleaved:

1. on the host, what runs no audited code: `uv venv` with the interpreter nbrepro
   chose, then the lock's wheels (`uv pip sync --no-build`) when the lock holds
   nothing but exact pins (a direct URL or an option line would be fetched from
   the host's network); from the user's uv cache, hardlinked when no build code
   runs after it, copied otherwise (a hardlinked file edited through the
   environment would edit the cache);
2. in the sandbox, what runs build code: sdists the wheels step could not install,
   the local project.

What a kernel may see of the environment is decided here and recorded outside
the environment (`envs/<key>.json`, which build code cannot write): the
environment's folder and the base interpreter's installation, never what the
environment's own files (`pyvenv.cfg`, `bin/python`) say after build code ran.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from nbrepro import cache
from nbrepro.isolation.base import (
    Backend,
    BackendOptions,
    BuildRequest,
    KernelContext,
    ipykernel_argv,
    project_hash,
)
from nbrepro.isolation.confine import Confinement, KernelTeardown, confine
from nbrepro.isolation.sandbox import Mounts, python_prefixes
from nbrepro.isolation.tools import (
    BUILD_TIMEOUT,
    host_tool_run,
    private_folder,
    strip_ansi,
    tool_env,
    user_package_caches,
    uv_binary,
)
from nbrepro.model import EnvironmentResult
from nbrepro.stages.resolve import blame

# Bump when the layout of a built environment changes, so old entries are not reused.
# 3: environments carry compiled bytecode (kernels run with PYTHONDONTWRITEBYTECODE and
# a read-only environment, so without it every kernel start compiled ipykernel anew).
ENV_FORMAT = 3
# A lock line the host may install from: `name==version`, extras, markers, hashes.
_PIN_LINE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9._,\s-]*\])?==[A-Za-z0-9.+!_-]+"
    r"(?:\s*;[^@\\/]*)?(?:\s+--hash=[a-z0-9]+:[a-f0-9]+)*(?:\s*\\)?")
_HASH_LINE = re.compile(r"--hash=[a-z0-9]+:[a-f0-9]+(?:\s*\\)?")


def pins_only(lock: str) -> bool:
    """Whether every line of `lock` is an exact pin from the index (no URL, no path,
    no option such as --index-url or --find-links)."""
    for raw in lock.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line and not (_PIN_LINE.fullmatch(line) or _HASH_LINE.fullmatch(line)):
            return False
    return True


class VenvBackend(Backend):
    """A virtual environment per lock, built with uv."""

    name = "venv"

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)
        self._confined: dict[Path, Confinement] = {}
        self.host_sandbox  # noqa: B018 - fail before any work when no sandbox works here

    def key(self, request: BuildRequest) -> str:
        return cache.content_key(
            "venv", ENV_FORMAT, request.lock.text, request.python.version,
            project_hash(request.project_dir),
        )

    @staticmethod
    def _record(key: str) -> Path:
        """What nbrepro knows about a finished environment, next to it (not inside)."""
        return cache.entry("envs", f"{key}.json")

    def build(self, request: BuildRequest) -> EnvironmentResult:
        key = self.key(request)
        location = cache.entry("envs", key)
        result = EnvironmentResult(
            ok=False, backend=self.name, key=key, location=str(location),
            python=str(location / "bin" / "python"), python_version=request.python.version,
            requested_python=request.python.requested, sandbox=self.host_sandbox.name,
        )
        started = time.monotonic()
        record = self._record(key)
        with cache.locked(location):
            if request.use_cache and record.is_file() and location.is_dir():
                result.ok = result.cached = True
                result.log = str(json.loads(record.read_text()).get("log", ""))
                result.seconds = time.monotonic() - started
                return result
            record.unlink(missing_ok=True)
            shutil.rmtree(location, ignore_errors=True)
            log: list[str] = []
            ok = self._create(request, location, log, result)
            result.log = "\n".join(log)
            result.seconds = time.monotonic() - started
            if ok:
                # Decided from the interpreter nbrepro chose, before any build code ran.
                mounts = [str(p) for p in python_prefixes(request.python.executable)]
                record.write_text(json.dumps({"log": result.log, "mounts": mounts}))
                result.ok = True
            else:
                shutil.rmtree(location, ignore_errors=True)
        return result

    def _create(
        self, request: BuildRequest, location: Path, log: list[str], result: EnvironmentResult
    ) -> bool:
        uv = uv_binary()
        python = str(location / "bin" / "python")
        builds = request.project_dir is not None  # build code writes the environment
        with private_folder("nbrepro-build-") as tmp:
            lockfile = tmp / "requirements.txt"
            lockfile.write_text(request.lock.text)
            # Phase 1, on the host: no audited code runs.
            venv = [uv, "venv", "--quiet", "--no-config", "--python",
                    request.python.executable, str(location)]
            if not self._host_step(venv, log, result, request):
                return False
            synced = pins_only(request.lock.text) and self._sync_wheels(
                [uv, "pip", "sync", "--no-config", "--compile-bytecode", "--python", python,
                 str(lockfile)],
                log, copy=builds)
            # Phase 2, sandboxed: whatever runs build code.
            steps = []
            if not synced:
                steps.append([uv, "pip", "sync", "--no-config", "--link-mode", "copy",
                              "--compile-bytecode", "--python", python, str(lockfile)])
            if request.project_dir is not None:
                steps.append([uv, "pip", "install", "--no-config", "--no-deps",
                              "--link-mode", "copy", "--python", python,
                              str(request.project_dir)])
            if not steps:
                return True
            writable = [location] + ([request.project_dir] if request.project_dir else [])
            runner = self.tool_runner(request.python, writable)
            for cmd in steps:
                log.append("$ " + " ".join(cmd[1:]))
                try:
                    proc = runner.run(cmd, cwd=tmp, timeout=BUILD_TIMEOUT, env=tool_env())
                except subprocess.TimeoutExpired:
                    result.message = f"installing took longer than {BUILD_TIMEOUT} s"
                    log.append(result.message)
                    return False
                if not self._finished(proc, log, result, request):
                    return False
        return True

    def _host_step(self, cmd: list[str], log: list[str], result: EnvironmentResult,
                   request: BuildRequest) -> bool:
        log.append("$ " + " ".join(cmd[1:]))
        try:
            proc = host_tool_run(cmd, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            result.message = f"installing took longer than {BUILD_TIMEOUT} s"
            log.append(result.message)
            return False
        return self._finished(proc, log, result, request)

    @staticmethod
    def _finished(proc: subprocess.CompletedProcess[str], log: list[str],
                  result: EnvironmentResult, request: BuildRequest) -> bool:
        # Logs are read as text (JSON, HTML, the database): no terminal codes.
        log.append(strip_ansi(proc.stdout + proc.stderr).strip())
        if proc.returncode != 0:
            result.message = strip_ansi(proc.stderr or proc.stdout).strip()
            result.failed_requirement = blame(result.message, request.lock.text.splitlines())
            return False
        return True

    @staticmethod
    def _sync_wheels(cmd: list[str], log: list[str], copy: bool) -> bool:
        """Install the lock on the host when it is wheels only (`--no-build`): installing
        wheels runs no code of the audited repository, and only here can uv link files
        from the user's cache. Anything to build (sdists) fails here and is installed
        by a sandboxed step instead."""
        log.append("$ " + " ".join(cmd[1:]) + " --no-build")
        link = ["--link-mode", "copy"] if copy else []
        try:
            proc = host_tool_run([*cmd, "--no-build", *link], timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            return False
        if proc.returncode == 0:
            log.append(strip_ansi(proc.stdout + proc.stderr).strip())
        else:
            log.append("(not installable from wheels alone: installing in the sandbox)")
        return proc.returncode == 0

    def _mounts(self, env: EnvironmentResult) -> list[Path]:
        """What a kernel may read besides the environment: recorded at build time."""
        record: dict[str, Any] = json.loads(self._record(env.key).read_text())
        return [Path(p) for p in record.get("mounts", [])]

    def kernel_command(self, env: EnvironmentResult, ctx: KernelContext) -> list[str]:
        assert env.python and env.location, "a built environment has an interpreter"
        argv = ipykernel_argv(env.python, str(ctx.connection_file))
        # Writable: the scratch copy and the runtime dir (IPC sockets, private home).
        # Readable: the system, the environment and its base interpreter.
        mounts = Mounts(
            writable=[ctx.scratch, ctx.runtime_dir],
            readable=[Path(env.location), *self._mounts(env)],
            hidden=[*self.options.hidden, *user_package_caches()],
        )
        argv = self.host_sandbox.kernel_argv(argv, mounts, ctx.cwd, ctx.network)
        confinement = confine(self.options.limits, label=ctx.runtime_dir.name)
        self._confined[ctx.runtime_dir] = confinement
        return confinement.wrap(argv)

    def kernel_teardown(self, ctx: KernelContext) -> KernelTeardown:
        confinement = self._confined.get(ctx.runtime_dir)
        return KernelTeardown(cgroups=confinement.procs_files() if confinement else [])

    def cleanup(self, ctx: KernelContext) -> None:
        confinement = self._confined.pop(ctx.runtime_dir, None)
        if confinement is not None:
            confinement.close()
