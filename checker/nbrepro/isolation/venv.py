"""The venv backend: a uv virtual environment per lock, kernels in the host sandbox."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from nbrepro import cache
from nbrepro.isolation.base import (
    Backend,
    BackendOptions,
    BuildRequest,
    KernelContext,
    project_hash,
)
from nbrepro.isolation.confine import Confinement, confine
from nbrepro.isolation.sandbox import Mounts, python_prefixes
from nbrepro.isolation.tools import BUILD_TIMEOUT, strip_ansi, tool_env, uv_binary
from nbrepro.model import EnvironmentResult
from nbrepro.stages.resolve import blame

# Bump when the layout of a built environment changes, so old entries are not reused.
ENV_FORMAT = 1


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
                [uv, "pip", "sync", "--python", str(location / "bin" / "python"), str(lockfile)],
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
                # Logs are read as text (JSON, HTML, the database): no terminal codes.
                log.append(strip_ansi(proc.stdout + proc.stderr).strip())
                if proc.returncode != 0:
                    result.message = strip_ansi(proc.stderr or proc.stdout).strip()
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
            log.append(strip_ansi(proc.stdout + proc.stderr).strip())
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
