"""The docker backend: an image per environment, a container per kernel.

Images are built with the Docker SDK for Python from a generated Dockerfile on a
configurable base image (`python:X.Y-slim` for the notebook's Python by default).
The build context holds only what the environment needs (the lock, `uv`, the local
project's sources without notebooks, `postBuild`), and the image is labelled with
the content hash of those inputs, so a later check with the same inputs reuses it
and changing a notebook never rebuilds. Build failures are results naming the step.

A kernel runs in a container started by the `docker` command line (jupyter_client
launches it like any kernel): no network, memory/CPU/pids limits, a non-root user,
no new privileges, no capabilities, a read-only root; only the scratch copy and the
runtime directory (IPC sockets, connection file, private home) are bind-mounted,
at the same paths as on the host. Containers are labelled with the nbrepro process
that started them and removed after each notebook; containers left by an nbrepro
that was killed are removed by the next one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbrepro import cache
from nbrepro.errors import BackendUnavailable
from nbrepro.isolation.base import (
    Backend,
    BackendOptions,
    BuildRequest,
    KernelContext,
    project_hash,
)
from nbrepro.isolation.confine import alive
from nbrepro.isolation.environ import CA_VARIABLES, INDEX_VARIABLES, PROXY_VARIABLES
from nbrepro.isolation.tools import BUILD_TIMEOUT, PythonChoice, strip_ansi, uv_binary
from nbrepro.model import EnvironmentResult
from nbrepro.stages.resolve import blame
from nbrepro.stages.scan import SKIP_DIRS

if TYPE_CHECKING:
    import docker

# Bump when the generated Dockerfile changes in a way that makes old images unfit.
IMAGE_FORMAT = 1
IMAGE_REPOSITORY = "nbrepro-env"
LABEL_KEY = "org.nbrepro.key"
LABEL_PYTHON = "org.nbrepro.python"
LABEL_KERNEL = "org.nbrepro.kernel"
LABEL_OWNER = "org.nbrepro.owner"  # "<hostname>:<pid>" of the nbrepro that started it
ENV_DIR = "/env"
# The kernel's user when nbrepro runs as root (otherwise the user's own uid/gid).
UNPRIVILEGED_UID = 65534
ENGINE_TIMEOUT = 120
TMPFS_SIZE = "1g"
_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(?::[a-z0-9]+)?(?:=[A-Za-z0-9.+~:\-]+)?$")
_STEP = re.compile(r"^Step (\d+)/\d+ : ")


def _engine_hint() -> str:
    return ("start it (`sudo systemctl start docker`; in nbrepro's repository "
            "`scripts/docker-engine.sh`) or point DOCKER_HOST at one, or use --backend venv")


def connect() -> docker.DockerClient:
    """A client of a Docker engine that answers, else `BackendUnavailable`."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise BackendUnavailable(
            "the docker backend needs the Docker SDK for Python: pip install 'docker>=7'"
        ) from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT)
        client.ping()
    except DockerException as exc:
        reason = "permission denied" if "ermission denied" in str(exc) else "no answer"
        raise BackendUnavailable(
            f"the Docker engine at {where} cannot be used ({reason}): {_engine_hint()}"
        ) from None
    return client


def docker_cli() -> str:
    found = shutil.which("docker")
    if not found:
        raise BackendUnavailable(
            "the docker backend starts kernels with the `docker` command, which is not on "
            "PATH: install the Docker client (Debian: docker.io, or docker-ce-cli)"
        )
    return found


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sweep_orphans(client: docker.DockerClient) -> list[str]:
    """Remove kernel containers whose nbrepro process (on this host) is gone: what a
    killed nbrepro (SIGKILL, power loss) could not remove itself."""
    from docker.errors import APIError, NotFound

    removed = []
    host = socket.gethostname()
    try:
        containers = client.containers.list(all=True, filters={"label": LABEL_OWNER})
    except APIError:
        return removed
    for container in containers:
        name, _, pid = container.labels.get(LABEL_OWNER, "").rpartition(":")
        if name == host and pid.isdigit() and not alive(int(pid)):
            try:
                container.remove(force=True)
                removed.append(container.name)
            except (NotFound, APIError):
                pass
    return removed


def _minor(version: str | None) -> str:
    if not version:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    return ".".join(version.split(".")[:2])


class DockerBackend(Backend):
    """An image per (lock, Python, apt packages, postBuild, local project)."""

    name = "docker"

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)
        self.client = connect()
        self.cli = docker_cli()
        self._containers: dict[Path, str] = {}
        self._handed_over: set[Path] = set()
        # Rootless Docker maps the container's root to the (unprivileged) user who runs
        # the engine; any other container uid could not write the user's scratch copy.
        security = self.client.info().get("SecurityOptions") or []
        self.rootless = any("rootless" in str(opt) for opt in security)
        sweep_orphans(self.client)

    # --- images ----------------------------------------------------------------

    def base_image(self, requested: str | None) -> str:
        return self.options.base_image or f"python:{_minor(requested)}-slim"

    def _image(self, reference: str) -> Any:
        """The local image `reference`, pulled if missing."""
        from docker.errors import APIError, ImageNotFound

        try:
            return self.client.images.get(reference)
        except ImageNotFound:
            pass
        repository, _, tag = reference.rpartition(":")
        if not repository or "/" in tag:
            repository, tag = reference, "latest"
        try:
            return self.client.images.pull(repository, tag=tag)
        except APIError as exc:
            reason = str(getattr(exc, "explanation", None) or exc).splitlines()[0][:200]
            raise BackendUnavailable(
                f"the base image {reference} is not here and cannot be pulled ({reason}): "
                "pass --base-image with an image that is, or set $NBREPRO_BASE_IMAGE; "
                "without a registry, `scripts/base-image.sh` in nbrepro's repository "
                "builds one offline from Debian's packages"
            ) from None

    def choose_python(self, requested: str | None) -> PythonChoice:
        """The base image's python3 decides: environments are resolved for it."""
        reference = self.base_image(requested)
        image = self._image(reference)
        probe = cache.entry("images", f"python-{image.id.split(':')[-1][:24]}")
        version = probe.read_text().strip() if probe.is_file() else ""
        if not version:
            from docker.errors import DockerException

            try:
                out = self.client.containers.run(
                    image.id, ["python3", "-c",
                               "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                    network_mode="none", remove=True, stdout=True, stderr=False,
                )
            except DockerException as exc:
                raise BackendUnavailable(
                    f"the base image {reference} has no working python3 ({exc}): pass "
                    "--base-image with a Python image"
                ) from None
            version = out.decode().strip()
            probe.write_text(version)
        return PythonChoice(executable="python3", version=version, requested=requested)

    def key(self, request: BuildRequest, base_id: str) -> str:
        post_build = request.post_build.read_bytes() if request.post_build else b""
        return cache.content_key(
            "docker", IMAGE_FORMAT, request.lock.text, base_id, sorted(request.apt_packages),
            hashlib.sha256(post_build).hexdigest(), project_hash(request.project_dir),
        )

    def build(self, request: BuildRequest) -> EnvironmentResult:
        reference = self.base_image(request.python.requested)
        base = self._image(reference)
        key = self.key(request, base.id)
        tag = f"{IMAGE_REPOSITORY}:{key}"
        result = EnvironmentResult(
            ok=False, backend=self.name, key=key, location=tag,
            python=f"{ENV_DIR}/bin/python", python_version=request.python.version,
            requested_python=request.python.requested, sandbox="docker",
        )
        started = time.monotonic()
        with cache.locked(cache.entry("images", key)):
            found = self.client.images.list(filters={"label": f"{LABEL_KEY}={key}"})
            if request.use_cache and found:
                result.ok = result.cached = True
                result.python_version = found[0].labels.get(LABEL_PYTHON) or result.python_version
                result.log = f"reused image {tag} ({found[0].short_id})"
                result.seconds = time.monotonic() - started
                return result
            with tempfile.TemporaryDirectory(prefix="nbrepro-image-") as tmp:
                notes: list[str] = []
                steps = self._context(request, reference, Path(tmp), notes)
                self._build_image(Path(tmp), tag, key, request, steps, result)
                result.log = "\n".join([*notes, result.log])
        result.seconds = time.monotonic() - started
        return result

    def _context(self, request: BuildRequest, base: str, ctx: Path,
                 notes: list[str]) -> list[tuple[str, str]]:
        """Write the build context into `ctx`; returns the Dockerfile's instructions,
        each with the name of the step it belongs to."""
        shutil.copy2(uv_binary(), ctx / "uv")
        (ctx / "requirements.txt").write_text(request.lock.text)
        steps: list[tuple[str, str]] = [
            ("base image", f"FROM {base}"),
            ("tools", "COPY uv /usr/local/bin/uv"),
        ]
        env = ["UV_PYTHON_DOWNLOADS=never", "UV_NO_CACHE=1", "UV_LINK_MODE=copy",
               "DEBIAN_FRONTEND=noninteractive"]
        ca = next((Path(os.environ[v]) for v in CA_VARIABLES
                   if os.environ.get(v) and Path(os.environ[v]).is_file()), None)
        if ca is not None:
            # The host trusts an extra certificate authority (a proxy): so must builds.
            shutil.copy2(ca, ctx / "ca-certificates.crt")
            steps.append(("tools", "COPY ca-certificates.crt /opt/nbrepro/ca-certificates.crt"))
            env += ["SSL_CERT_FILE=/opt/nbrepro/ca-certificates.crt",
                    "PIP_CERT=/opt/nbrepro/ca-certificates.crt"]
        steps.append(("tools", "ENV " + " ".join(env)))
        steps += [("index settings", f"ARG {v}") for v in INDEX_VARIABLES if os.environ.get(v)]
        apt = [p.strip() for p in request.apt_packages if p.strip()]
        if apt:
            bad = [p for p in apt if not _APT_NAME.match(p)]
            if bad:  # never pasted into a shell line
                notes.append(f"apt.txt: ignored, not package names: {' '.join(bad)}")
                apt = [p for p in apt if p not in bad]
            if apt:
                steps.append(("apt packages",
                              "RUN apt-get update -qq && apt-get install -y -q "
                              "--no-install-recommends " + " ".join(apt)
                              + " && rm -rf /var/lib/apt/lists/*"))
        steps += [
            ("create environment", f"RUN uv venv --quiet --python python3 {ENV_DIR}"),
            ("install requirements", "COPY requirements.txt /opt/nbrepro/requirements.txt"),
            ("install requirements",
             f"RUN uv pip sync --python {ENV_DIR}/bin/python /opt/nbrepro/requirements.txt"),
        ]
        workdir = "/opt/nbrepro"
        if request.project_dir is not None:
            _copy_project(request.project_dir, ctx / "project")
            workdir = "/opt/nbrepro/project"
            steps += [
                ("install project", "COPY project /opt/nbrepro/project"),
                ("install project", f"RUN uv pip install --no-deps --python {ENV_DIR}/bin/python "
                                    "/opt/nbrepro/project"),
            ]
        steps.append(("environment", f"ENV PATH={ENV_DIR}/bin:$PATH VIRTUAL_ENV={ENV_DIR}"))
        if request.post_build is not None and request.post_build.is_file():
            shutil.copy2(request.post_build, ctx / "postBuild")
            shebang = request.post_build.read_bytes()[:2] == b"#!"
            run = "./postBuild" if shebang else "bash ./postBuild"
            steps += [
                ("postBuild", f"COPY postBuild {workdir}/postBuild"),
                ("postBuild", f"RUN cd {workdir} && chmod +x postBuild && {run}"),
            ]
        steps.append(("check kernel", f"RUN {ENV_DIR}/bin/python -c 'import ipykernel'"))
        (ctx / "Dockerfile").write_text("\n".join(line for _, line in steps) + "\n")
        return steps

    def _build_image(self, ctx: Path, tag: str, key: str, request: BuildRequest,
                     steps: list[tuple[str, str]], result: EnvironmentResult) -> None:
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        log: list[str] = []
        step = 0
        error: str | None = None
        buildargs = {v: os.environ[v] for v in (*PROXY_VARIABLES, *INDEX_VARIABLES)
                     if os.environ.get(v)}
        # Build steps run the repository's code too (setup.py, postBuild): bounded.
        memory = self.options.limits.memory
        limits = {"memory": memory, "memswap": memory} if memory else {}
        try:
            stream: Iterator[dict[str, Any]] = self.client.api.build(
                path=str(ctx), tag=tag, rm=True, forcerm=True, pull=False, decode=True,
                nocache=not request.use_cache, buildargs=buildargs, timeout=BUILD_TIMEOUT,
                container_limits=limits,
                labels={LABEL_KEY: key, LABEL_PYTHON: request.python.version},
            )
            for chunk in stream:
                text = chunk.get("stream")
                if text:
                    log.append(text.rstrip("\n"))
                    m = _STEP.match(text)
                    if m:
                        step = int(m.group(1))
                if "error" in chunk:
                    error = str(chunk.get("error") or chunk.get("errorDetail"))
                    log.append(error)
        except RequestException:
            error = f"building took longer than {BUILD_TIMEOUT} s"
            log.append(error)
        except DockerException as exc:
            error = str(exc)
            log.append(error)
        # Build output is read as text (JSON, HTML, the database): no terminal codes.
        log = [strip_ansi(line) for line in log]
        result.log = "\n".join(line for line in log if line.strip())
        if error is None:
            result.ok = True
            self._drop_replaced(key, tag)
            return
        name = steps[step - 1][0] if 0 < step <= len(steps) else "build"
        result.message = f"{name} failed: {_last_lines(log)}"
        if name == "install requirements":
            result.failed_requirement = blame(result.log, request.lock.text.splitlines())
        elif name == "apt packages":
            result.failed_requirement = blame(result.log, request.apt_packages) or "apt.txt"
        elif name == "postBuild":
            result.failed_requirement = "postBuild"
        elif name == "install project" and request.project_dir is not None:
            result.failed_requirement = request.project_dir.name

    def _drop_replaced(self, key: str, tag: str) -> None:
        """A rebuild (--no-cache) leaves the previous image of `key` untagged: remove it."""
        from docker.errors import APIError

        try:
            current = self.client.images.get(tag).id
            for image in self.client.images.list(filters={"label": f"{LABEL_KEY}={key}"}):
                if image.id != current:
                    self.client.images.remove(image.id)
        except APIError:  # in use by a running kernel, or gone already: keep going
            pass

    # --- kernels ---------------------------------------------------------------

    def _user(self) -> tuple[int, int]:
        if self.rootless:
            return 0, 0  # the engine's own unprivileged user on the host
        if os.getuid() == 0:
            return UNPRIVILEGED_UID, UNPRIVILEGED_UID
        return os.getuid(), os.getgid()

    def kernel_command(self, env: EnvironmentResult, ctx: KernelContext) -> list[str]:
        """`docker run` for the kernel. As root, the scratch copy and the runtime
        directory are handed to the unprivileged container user first; the connection
        file, which jupyter_client writes just before starting this command, is handed
        over by a small shell step in front of `docker run`."""
        assert env.location, "a built image"
        uid, gid = self._user()
        handover = os.getuid() == 0 and uid != 0
        if handover:
            # The scratch copy is shared by the check's notebooks: handed over once.
            for folder in (ctx.scratch, ctx.runtime_dir):
                if folder not in self._handed_over:
                    _chown_tree(folder, uid, gid)
                    self._handed_over.add(folder)
        name = f"nbrepro-kernel-{ctx.runtime_dir.name}"
        self._containers[ctx.runtime_dir] = name
        limits = self.options.limits
        argv = [
            self.cli, "run", "--rm", "--init", "--name", name,
            "--label", f"{LABEL_KERNEL}={ctx.runtime_dir.name}",
            "--label", f"{LABEL_OWNER}={owner()}",
            "--network", "bridge" if ctx.network else "none",
            "--user", f"{uid}:{gid}", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
            "--read-only", "--tmpfs", f"/tmp:rw,nosuid,nodev,size={TMPFS_SIZE}",
            "-v", f"{ctx.runtime_dir}:{ctx.runtime_dir}", "-v", f"{ctx.scratch}:{ctx.scratch}",
            "-w", str(ctx.cwd),
        ]
        if limits.memory:
            argv += ["--memory", str(limits.memory), "--memory-swap", str(limits.memory)]
        if limits.cpus:
            argv += ["--cpus", f"{limits.cpus:g}"]
        if limits.pids:
            argv += ["--pids-limit", str(limits.pids)]
        for k, v in self._container_env(env, ctx).items():
            argv += ["-e", f"{k}={v}"]
        argv += [env.location, f"{ENV_DIR}/bin/python", "-m", "ipykernel_launcher",
                 "-f", str(ctx.connection_file)]
        if handover:
            argv = ["/bin/sh", "-c", f'chown {uid}:{gid} "$1" && shift && exec "$@"',
                    "nbrepro-docker", str(ctx.connection_file), *argv]
        return argv

    def _container_env(self, env: EnvironmentResult, ctx: KernelContext) -> dict[str, str]:
        variables = super().kernel_env(env, ctx)
        variables.update(PATH=f"{ENV_DIR}/bin:/usr/local/bin:/usr/bin:/bin", VIRTUAL_ENV=ENV_DIR)
        return variables

    def kernel_env(self, env: EnvironmentResult, ctx: KernelContext) -> dict[str, str]:
        """The environment of the `docker` client process (not of the kernel, which
        gets `_container_env` through `-e`): only what reaches the engine."""
        keep = ("PATH", "HOME", "LANG", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG",
                "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_API_VERSION")
        return {k: os.environ[k] for k in keep if k in os.environ}

    def cleanup(self, ctx: KernelContext) -> None:
        from docker.errors import APIError, NotFound

        name = self._containers.pop(ctx.runtime_dir, None)
        self._handed_over.discard(ctx.runtime_dir)
        try:
            leftovers = self.client.containers.list(
                all=True, filters={"label": f"{LABEL_KERNEL}={ctx.runtime_dir.name}"})
        except APIError:
            leftovers = []
        names = {c.name for c in leftovers} | ({name} if name else set())
        for container_name in names:
            try:
                self.client.containers.get(container_name).remove(force=True)
            except NotFound:
                pass
            except APIError as exc:
                if "already in progress" not in str(exc):  # --rm got there first
                    raise


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def _copy_project(src: Path, dst: Path) -> None:
    """The local project's sources for the image: no notebooks, no VCS or caches."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n.endswith(".ipynb")}

    shutil.copytree(src, dst, ignore=ignore, symlinks=True)


def _last_lines(log: list[str], count: int = 6) -> str:
    lines = [ln.strip() for ln in log if ln.strip() and not _STEP.match(ln)
             and not ln.startswith(" ---> ")]
    return " | ".join(lines[-count:])[-800:]


__all__ = ["DockerBackend", "connect", "sweep_orphans"]
