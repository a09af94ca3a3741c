"""The isolation backend interface: build an environment, start a kernel in it.

A backend builds environments and says how to start a kernel in one. Environments
are cached by the hash of what made them (lock, interpreter, backend, local project
sources) and reused by every later check; a file lock per entry makes concurrent
builders of the same environment wait for the first instead of racing. The harness
(nbrepro, nbclient) never lives inside an audited environment.
"""

from __future__ import annotations

import abc
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from nbrepro.isolation.confine import KernelTeardown, ResourceLimits
from nbrepro.isolation.environ import KERNEL_ENV_KEEP
from nbrepro.isolation.sandbox import Sandbox, detect, python_prefixes
from nbrepro.isolation.tools import PythonChoice, ToolRunner, find_python
from nbrepro.model import EnvironmentResult, Lock
from nbrepro.stages.scan import SKIP_DIRS

# How every backend starts ipykernel: ipykernel_launcher's own steps (the notebook's
# folder is off the path while ipykernel loads; sys.argv[0] names the launcher, as
# argparse's messages in notebooks show), minus what a check never uses and every
# kernel start pays for: ipykernel's debugger, whose import of debugpy is about a
# quarter of the start (the notebook's own `import debugpy` still works), and
# IPython's history database, written to a home that is thrown away.
_LAUNCH = """\
import sys, importlib.util
if sys.path and sys.path[0] == '':
    del sys.path[0]
spec = importlib.util.find_spec('ipykernel_launcher')
if spec is not None and spec.origin:
    sys.argv[0] = spec.origin
sys.modules['debugpy'] = None
try:
    import ipykernel.debugger
except ImportError:
    pass
del sys.modules['debugpy']
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


def ipykernel_argv(python: str, connection_file: str) -> list[str]:
    """argv that starts ipykernel with `python`, connected by `connection_file`."""
    return [python, "-c", _LAUNCH, "-f", connection_file, "--HistoryManager.enabled=False"]


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

    # Sandbox audited code that runs on the host (kernels, build steps). True fails
    # closed: without a working sandbox nothing audited runs (`BackendUnavailable`).
    sandbox: bool = True
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


class Backend(abc.ABC):
    """Builds environments and starts kernels in them.

    Third-party backends register a subclass under the `nbrepro.backends` entry point
    group (see `nbrepro.isolation.backend_names`)."""

    name: ClassVar[str]

    def __init__(self, options: BackendOptions | None = None) -> None:
        self.options = options or BackendOptions()
        self._host_sandbox: Sandbox | None = None

    @property
    def host_sandbox(self) -> Sandbox:
        """The sandbox for audited code that runs on this machine (the venv backend's
        resolving, installing and kernels). Raises `BackendUnavailable` when one is
        asked for and none works here."""
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

    @abc.abstractmethod
    def build(self, request: BuildRequest) -> EnvironmentResult:
        """Build (or reuse) the environment for `request`; failures are results."""

    @abc.abstractmethod
    def kernel_command(self, env: EnvironmentResult, ctx: KernelContext) -> list[str]:
        """argv that starts ipykernel with `ctx.connection_file`."""

    def kernel_env(self, env: EnvironmentResult, ctx: KernelContext) -> dict[str, str]:
        """The kernel's environment variables: a small allow-list, so the harness's
        secrets (tokens, credentials) never reach audited code."""
        variables = {k: os.environ[k] for k in KERNEL_ENV_KEEP if k in os.environ}
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

    def kernel_teardown(self, ctx: KernelContext) -> KernelTeardown:
        """What the kernel's supervisor needs to end the kernel besides killing its
        process tree (cgroups to join before exec, a command such as the removal of a
        container). Asked for right after `kernel_command`."""
        return KernelTeardown()

    def cleanup(self, ctx: KernelContext) -> None:  # noqa: B027 - optional hook
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
