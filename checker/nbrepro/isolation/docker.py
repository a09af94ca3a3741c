"""The docker backend: an image per environment, a container per kernel.

Images are built with the Docker SDK for Python on a configurable base image
(`python:X.Y-slim` for the notebook's Python by default), in two parts: a generated
Dockerfile holds only what runs no audited code (uv, apt packages from Debian, an
empty environment, the lock, the local project's sources without notebooks,
`postBuild`); the steps that run the repository's code (building sdists, installing
the project, `postBuild`) run in one container of that image with no network of its
own (only nbrepro's egress proxy: public addresses and the package index), no
capabilities, bounded memory and processes and no credentials, and are committed as
the environment's image. Resolving, which runs build code too, also happens in such
a container, never on the host. The image is labelled with the content hash of its
inputs, so a later check with the same inputs reuses it and changing a notebook
never rebuilds. Build failures are results naming the step.

A kernel runs in a container started by the `docker` command line (jupyter_client
launches it like any kernel): no network, memory/CPU/pids limits, a non-root user,
no new privileges, no capabilities, a read-only root; only the scratch copy and the
runtime directory (IPC sockets, connection file, private home) are bind-mounted,
at the same paths as on the host. Containers are labelled with the nbrepro process
that started them and removed after each notebook, by the kernel's supervisor, which
also does so when the check is killed (see `nbrepro.isolation.supervisor`);
containers left by an nbrepro whose supervisor was killed too are removed by the
next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbrepro import cache
from nbrepro.errors import BackendUnavailable
from nbrepro.isolation.base import (
    Backend,
    BackendOptions,
    BuildRequest,
    KernelContext,
    ipykernel_argv,
    project_hash,
)
from nbrepro.isolation.confine import KernelTeardown, Lifeline, owner_alive, owner_token
from nbrepro.isolation.environ import (
    CA_VARIABLES,
    PROXY_VARIABLES,
    TOOL_SETTINGS,
    tool_environment,
)
from nbrepro.isolation.sandbox import NoSandbox
from nbrepro.isolation.tools import (
    BUILD_PIDS,
    BUILD_TIMEOUT,
    PythonChoice,
    ToolRunner,
    strip_ansi,
    uv_binary,
)
from nbrepro.model import EnvironmentResult
from nbrepro.stages.resolve import blame
from nbrepro.stages.scan import SKIP_DIRS

if TYPE_CHECKING:
    import docker

# Bump when the generated Dockerfile changes in a way that makes old images unfit.
IMAGE_FORMAT = 2
TOOLS_FORMAT = 2
IMAGE_REPOSITORY = "nbrepro-env"
STAGE_REPOSITORY = "nbrepro-stage"  # the trusted part of an image being built
TOOLS_REPOSITORY = "nbrepro-tools"  # a base image with uv, for resolving and building
LABEL_KEY = cache.IMAGE_LABEL_KEY
LABEL_PYTHON = "org.nbrepro.python"
LABEL_KERNEL = "org.nbrepro.kernel"
LABEL_TOOLS = "org.nbrepro.tools"
LABEL_BUILD = "org.nbrepro.build"
LABEL_STAGE = "org.nbrepro.stage"
LABEL_OWNER = "org.nbrepro.owner"  # "<hostname>:<pid>:<start>" of the nbrepro that started it
ENV_DIR = "/env"
PROJECT_DIR = "/opt/nbrepro/project"
TOOLS_DIR = "/opt/nbrepro/tools"  # pip-tools, for the pip-tools resolver
CA_PATH = "/opt/nbrepro/ca-certificates.crt"
CACHE_MOUNT = "/nbrepro-cache"  # a build step's private package cache (not committed)
STEP_MARK = "::nbrepro step: "
# Settings naming certificate files of the host (a build container has its own).
TLS_PATH_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                      "PIP_CERT", "NIX_SSL_CERT_FILE", "GIT_SSL_CAINFO", "PIP_FIND_LINKS",
                      "UV_FIND_LINKS")
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
    return owner_token()


def sweep_orphans(client: docker.DockerClient) -> list[str]:
    """Remove kernel containers whose nbrepro process (on this host) is gone: what a
    killed nbrepro (SIGKILL, power loss) could not remove itself."""
    from docker.errors import APIError, NotFound

    removed: list[str] = []
    try:
        # ignore_removed: another check may remove its container while this lists them
        containers = client.containers.list(all=True, filters={"label": LABEL_OWNER},
                                            ignore_removed=True)
    except APIError:
        return removed
    for container in containers:
        if not owner_alive(container.labels.get(LABEL_OWNER, "")):
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
                steps = self._context(request, self.tools_image(reference), Path(tmp), notes)
                stage = f"{STAGE_REPOSITORY}:{key}"
                log: list[str] = []
                if self._build_stage(Path(tmp), stage, request, steps, result, log):
                    self._run_build_steps(stage, tag, key, request, result, log)
                result.log = "\n".join([*notes, *(strip_ansi(ln) for ln in log if ln.strip())])
        result.seconds = time.monotonic() - started
        return result

    # The image is built in two parts. The Dockerfile (`_context`) holds only what runs
    # no audited code: the tools, apt packages from Debian, an empty environment, the
    # lock and the project's files. What runs the repository's code (building sdists,
    # installing the project, postBuild) runs in a container of that image with no
    # network of its own (only nbrepro's egress proxy), no capabilities and a bound on
    # memory and processes, and is committed as the environment's image.

    def tools_image(self, base: str, pip_tools: bool = False) -> str:
        """An image of `base` with uv (and pip-tools) in it, nbrepro's settings and the
        host's extra certificate authority: what resolving and building start from.
        Built once per base image; runs no audited code."""
        from docker.errors import DockerException

        image = self._image(base)
        uv = uv_binary()
        ca = _ca_bundle()
        key = cache.content_key("docker-tools", TOOLS_FORMAT, image.id, _digest(Path(uv)),
                                _digest(ca) if ca else None, pip_tools)
        tag = f"{TOOLS_REPOSITORY}:{key}"
        found = self._local(tag)
        if found:
            return found
        with cache.locked(cache.entry("images", f"tools-{key}")), \
                tempfile.TemporaryDirectory(prefix="nbrepro-tools-") as tmp:
            found = self._local(tag)
            if found:  # another check built it meanwhile
                return found
            ctx = Path(tmp)
            shutil.copy2(uv, ctx / "uv")
            lines = [f"FROM {image.id}", "COPY uv /usr/local/bin/uv"]
            env = [f"{k}={v}" for k, v in TOOL_SETTINGS.items()]
            env += ["UV_LINK_MODE=copy", "DEBIAN_FRONTEND=noninteractive"]
            if ca is not None:
                shutil.copy2(ca, ctx / "ca-certificates.crt")
                lines.append(f"COPY ca-certificates.crt {CA_PATH}")
                env += [f"{name}={CA_PATH}" for name in CA_VARIABLES]
            lines.append("ENV " + " ".join(env))
            if pip_tools:
                lines.append(f"RUN uv venv --quiet --python python3 {TOOLS_DIR} && uv pip "
                             f"install --quiet --python {TOOLS_DIR}/bin/python pip-tools")
            (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
            log: list[str] = []
            try:
                error = self._docker_build(ctx, tag, {LABEL_TOOLS: key}, log,
                                           network=pip_tools)
            except DockerException as exc:
                error = str(exc)
            if error is not None:
                raise BackendUnavailable(f"cannot prepare the base image {base} for builds: "
                                         f"{_last_lines(log or [error])}")
            found = self._local(tag)
            if not found:
                raise BackendUnavailable(f"cannot prepare the base image {base} for builds")
            return found

    def _local(self, reference: str) -> str | None:
        """The id of the local image `reference`, if there is one."""
        from docker.errors import ImageNotFound

        try:
            return str(self.client.images.get(reference).id)
        except ImageNotFound:
            return None

    def tool_runner(self, python: PythonChoice, writable: list[Path]) -> ToolRunner:
        """Resolving runs the repository's build code too: in a container of the base
        image, never on the host."""
        return ContainerToolRunner(self, self.base_image(python.requested), writable)

    def _context(self, request: BuildRequest, tools: str, ctx: Path,
                 notes: list[str]) -> list[tuple[str, str]]:
        """Write the build context of the trusted part into `ctx`; returns the
        Dockerfile's instructions, each with the name of the step it belongs to."""
        (ctx / "requirements.txt").write_text(request.lock.text)
        steps: list[tuple[str, str]] = [("base image", f"FROM {tools}")]
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
        ]
        if request.project_dir is not None:
            _copy_project(request.project_dir, ctx / "project")
            steps.append(("install project", f"COPY project {PROJECT_DIR}"))
        if request.post_build is not None and request.post_build.is_file():
            shutil.copy2(request.post_build, ctx / "postBuild")
            workdir = PROJECT_DIR if request.project_dir is not None else "/opt/nbrepro"
            steps.append(("postBuild", f"COPY postBuild {workdir}/postBuild"))
        steps.append(("environment", f"ENV PATH={ENV_DIR}/bin:$PATH VIRTUAL_ENV={ENV_DIR}"))
        (ctx / "Dockerfile").write_text("\n".join(line for _, line in steps) + "\n")
        return steps

    def _docker_build(self, ctx: Path, tag: str | None, labels: dict[str, str],
                      log: list[str], network: bool, nocache: bool = False) -> str | None:
        """Build `ctx`; the error, or None. Only trusted steps are built this way."""
        from requests.exceptions import RequestException

        # The user's proxy reaches only these trusted steps (apt, pip-tools), as the
        # predefined build arguments Docker keeps out of the image's history.
        buildargs = {v: os.environ[v] for v in PROXY_VARIABLES if os.environ.get(v)} \
            if network else {}
        try:
            stream: Iterator[dict[str, Any]] = self.client.api.build(
                path=str(ctx), tag=tag, rm=True, forcerm=True, pull=False, decode=True,
                nocache=nocache, buildargs=buildargs, timeout=BUILD_TIMEOUT,
                labels=labels, use_config_proxy=False,
                network_mode=None if network else "none",
            )
            for chunk in stream:
                text = chunk.get("stream")
                if text:
                    log.append(text.rstrip("\n"))
                if "error" in chunk:
                    error = str(chunk.get("error") or chunk.get("errorDetail"))
                    log.append(error)
                    return error
        except RequestException:
            error = f"building took longer than {BUILD_TIMEOUT} s"
            log.append(error)
            return error
        return None

    def _build_stage(self, ctx: Path, stage: str, request: BuildRequest,
                     steps: list[tuple[str, str]], result: EnvironmentResult,
                     log: list[str]) -> bool:
        """The trusted part of the image (see `_context`)."""
        from docker.errors import DockerException

        try:
            error = self._docker_build(ctx, stage, {LABEL_STAGE: "1"}, log, network=True,
                                       nocache=not request.use_cache)
        except DockerException as exc:
            error = str(exc)
            log.append(error)
        # Build output is read as text (JSON, HTML, the database): no terminal codes.
        log[:] = [strip_ansi(line) for line in log]
        if error is None:
            return True
        step = 0
        for line in log:
            m = _STEP.match(line)
            if m:
                step = int(m.group(1))
        name = steps[step - 1][0] if 0 < step <= len(steps) else "build"
        result.message = f"{name} failed: {_last_lines(log)}"
        if name == "apt packages":
            result.failed_requirement = blame("\n".join(log), request.apt_packages) \
                or "apt.txt"
        return False

    def _run_build_steps(self, stage: str, tag: str, key: str, request: BuildRequest,
                         result: EnvironmentResult, log: list[str]) -> None:
        """The steps that run the repository's code, in one confined container of the
        stage image, committed as the environment's image when they all succeed."""
        from docker.errors import DockerException

        script = ["set -e", f"cd {PROJECT_DIR if request.project_dir else '/opt/nbrepro'}"]
        for name, command in self._build_commands(request):
            script += [f"echo '{STEP_MARK}{name}'", command]
        outcome = self._in_container(stage, ["/bin/sh", "-c", "\n".join(script)],
                                     writable=[], timeout=BUILD_TIMEOUT, keep=True)
        log.extend(outcome.output.splitlines())
        if outcome.note:
            log.append(outcome.note)
        failed = outcome.error or outcome.code != 0
        try:
            if not failed:
                stage_image = self.client.images.get(stage)
                config = stage_image.attrs.get("Config") or {}
                assert outcome.container is not None
                outcome.container.commit(IMAGE_REPOSITORY, key, conf={
                    # The container's own settings (its command, the owner label)
                    # are not the image's: the stage's are.
                    "Env": config.get("Env") or [], "Cmd": config.get("Cmd") or ["python3"],
                    "Entrypoint": config.get("Entrypoint"),
                    "WorkingDir": config.get("WorkingDir") or "",
                    "Labels": {LABEL_KEY: key, LABEL_PYTHON: request.python.version,
                               LABEL_OWNER: "", LABEL_BUILD: "", LABEL_STAGE: "",
                               LABEL_TOOLS: ""},
                })
        except DockerException as exc:
            failed, outcome.error = True, str(exc)
        finally:
            if outcome.container is not None:
                with contextlib.suppress(DockerException):
                    outcome.container.remove(force=True)
        if not failed:
            result.ok = True
            self._drop_replaced(key, tag)
            with contextlib.suppress(DockerException):
                self.client.images.remove(stage)  # only the tag: the layers are the image's
            return
        marks = [ln[len(STEP_MARK):] for ln in log if ln.startswith(STEP_MARK)]
        name = marks[-1] if marks else "build"
        detail = outcome.error or _last_lines([ln for ln in log if not ln.startswith(STEP_MARK)])
        result.message = f"{name} failed: {detail}"
        if name == "install requirements":
            result.failed_requirement = blame("\n".join(log), request.lock.text.splitlines())
        elif name == "postBuild":
            result.failed_requirement = "postBuild"
        elif name == "install project" and request.project_dir is not None:
            result.failed_requirement = request.project_dir.name

    @staticmethod
    def _build_commands(request: BuildRequest) -> list[tuple[str, str]]:
        python = f"{ENV_DIR}/bin/python"
        commands = [("install requirements",
                     f"uv pip sync --python {python} /opt/nbrepro/requirements.txt")]
        if request.project_dir is not None:
            commands.append(("install project",
                             f"uv pip install --no-deps --python {python} {PROJECT_DIR}"))
        if request.post_build is not None and request.post_build.is_file():
            run = "./postBuild" if request.post_build.read_bytes()[:2] == b"#!" \
                else "bash ./postBuild"
            commands.append(("postBuild", f"chmod +x postBuild && {run}"))
        commands.append(("check kernel", f"{python} -c 'import ipykernel'"))
        return commands

    def _in_container(self, image: str, command: list[str], *, writable: list[Path],
                      timeout: float, keep: bool = False, user: str = "0:0",
                      workdir: str | None = None,
                      environ: Mapping[str, str] | None = None) -> ContainerRun:
        """Run `command` (which may run audited code) in a container of `image`: no
        network of its own (only nbrepro's egress proxy), no capabilities, no new
        privileges, bounded memory and processes, a private package cache, nbrepro's
        settings and the index settings without credentials. `keep`: leave the
        container (stopped) for the caller to commit and remove."""
        from docker.errors import DockerException, NotFound

        from nbrepro.isolation.egress import EgressProxy

        limits = self.options.limits
        variables = tool_environment(os.environ if environ is None else environ,
                                     Path("/tmp"))
        # The image's own PATH and certificate settings: the host's name host paths.
        for name in ("PATH", *TLS_PATH_VARIABLES):
            variables.pop(name, None)
        variables.update(UV_CACHE_DIR=f"{CACHE_MOUNT}/uv", PIP_CACHE_DIR=f"{CACHE_MOUNT}/pip",
                         TMPDIR=f"{CACHE_MOUNT}/tmp", UV_LINK_MODE="copy")
        run = ContainerRun()
        with tempfile.TemporaryDirectory(prefix="nbrepro-cache-") as cache_dir, \
                EgressProxy() as proxy:
            Path(cache_dir).chmod(0o777)  # the container's user may be another uid
            (Path(cache_dir) / "tmp").mkdir(mode=0o777)
            (Path(cache_dir) / "tmp").chmod(0o777)
            # Settings in a mounted file, not `-e`: a committed image keeps neither.
            settings = proxy.folder / "settings.sh"
            settings.write_text("".join(f"export {k}={shlex.quote(v)}\n"
                                        for k, v in variables.items()))
            settings.chmod(0o644)
            inner = ["/bin/sh", "-c", f'. {shlex.quote(str(settings))} && exec "$@"', "nbrepro",
                     *command]
            volumes = {str(proxy.folder): {"bind": str(proxy.folder), "mode": "ro"},
                       cache_dir: {"bind": CACHE_MOUNT, "mode": "rw"}}
            for path in writable:
                volumes[str(path)] = {"bind": str(path), "mode": "rw"}
            try:
                run.container = self.client.containers.create(
                    image, proxy.wrap("python3", inner), name=f"nbrepro-build-{proxy.folder.name}",
                    labels={LABEL_OWNER: owner(), LABEL_BUILD: "1"}, network_mode="none",
                    cap_drop=["ALL"], security_opt=["no-new-privileges"], init=True,
                    pids_limit=BUILD_PIDS, user=user, working_dir=workdir,
                    mem_limit=limits.memory, memswap_limit=limits.memory,
                    nano_cpus=int(limits.cpus * 1e9) if limits.cpus else None,
                    tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={TMPFS_SIZE}"}, volumes=volumes,
                )
                code = self._start_guarded(run.container, timeout)
                if code is None:
                    run.error = f"took longer than {timeout:g} s"
                else:
                    run.code = code
                run.stdout = run.container.logs(stdout=True, stderr=False).decode(
                    errors="replace")
                run.stderr = run.container.logs(stdout=False, stderr=True).decode(
                    errors="replace")
                run.output = run.container.logs(stdout=True, stderr=True).decode(
                    errors="replace")
            except DockerException as exc:
                run.error = str(exc)
            finally:
                if not keep and run.container is not None:
                    with contextlib.suppress(NotFound, DockerException):
                        run.container.remove(force=True)
                    run.container = None
            run.note = proxy.report()
        return run

    def _start_guarded(self, container: Any, timeout: float) -> int | None:
        """Start a created build container and wait for it; its exit code, or None
        when it ran out of time (and was killed).

        The engine runs the container, not this process: it is started by a
        `docker start --attach` under a supervisor on a lifeline, so a check that is
        killed takes its build container with it (the supervisor removes it). A
        container that ends by itself is kept for the caller to commit."""
        lifeline = Lifeline()
        try:
            guard = subprocess.Popen(
                lifeline.command([self.cli, "start", "--attach", container.id], KernelTeardown(
                    command=[self.cli, "rm", "--force", container.id], only_when_cut=True)),
                stdin=lifeline.stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**_client_environment(), **lifeline.environment()})
            lifeline.launched()
            try:
                guard.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(Exception):
                    container.kill()
                guard.wait(timeout=60)
                return None
            return int(container.wait(timeout=60).get("StatusCode", 1))
        finally:
            lifeline.cut()

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
        argv += [env.location, *ipykernel_argv(f"{ENV_DIR}/bin/python", str(ctx.connection_file))]
        if handover:
            argv = ["/bin/sh", "-c", f'chown {uid}:{gid} "$1" && shift && exec "$@"',
                    "nbrepro-docker", str(ctx.connection_file), *argv]
        return argv

    def _container_env(self, env: EnvironmentResult, ctx: KernelContext) -> dict[str, str]:
        variables = super().kernel_env(env, ctx)
        variables.update(PATH=f"{ENV_DIR}/bin:/usr/local/bin:/usr/bin:/bin", VIRTUAL_ENV=ENV_DIR)
        return variables

    def kernel_teardown(self, ctx: KernelContext) -> KernelTeardown:
        # The container is not a process of the supervisor's tree: it goes by name.
        name = self._containers.get(ctx.runtime_dir)
        return KernelTeardown(command=[self.cli, "rm", "--force", name] if name else None)

    def kernel_env(self, env: EnvironmentResult, ctx: KernelContext) -> dict[str, str]:
        """The environment of the `docker` client process (not of the kernel, which
        gets `_container_env` through `-e`): only what reaches the engine."""
        return _client_environment()

    def cleanup(self, ctx: KernelContext) -> None:
        from docker.errors import APIError, NotFound

        name = self._containers.pop(ctx.runtime_dir, None)
        self._handed_over.discard(ctx.runtime_dir)
        try:
            leftovers = self.client.containers.list(
                all=True, filters={"label": f"{LABEL_KERNEL}={ctx.runtime_dir.name}"},
                ignore_removed=True)
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


def _client_environment() -> dict[str, str]:
    """The environment of a `docker` client process: only what reaches the engine."""
    keep = ("PATH", "HOME", "LANG", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG",
            "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_API_VERSION")
    return {k: os.environ[k] for k in keep if k in os.environ}


@dataclass
class ContainerRun:
    """What a confined build container did."""

    code: int = 1
    stdout: str = ""
    stderr: str = ""
    output: str = ""  # both, in order
    error: str | None = None  # nbrepro's side: the engine failed, or the time ran out
    note: str = ""  # connections the egress proxy refused
    container: Any = None  # kept for a commit when asked


class ContainerToolRunner(ToolRunner):
    """Resolver and installer commands in a container of the base image (with uv),
    confined like the docker backend's build steps (`DockerBackend._in_container`);
    `writable` and the working folder are bind-mounted at the same paths."""

    def __init__(self, backend: DockerBackend, base: str, writable: list[Path]) -> None:
        super().__init__(NoSandbox(), writable=writable)
        self.backend, self.base = backend, base

    @property
    def sandboxed(self) -> bool:
        return True

    def run(self, cmd: list[str], *, cwd: Path, timeout: float,
            env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        pip_tools = cmd[1:3] == ["-m", "piptools"]
        image = self.backend.tools_image(self.base, pip_tools=pip_tools)
        if pip_tools:
            program = f"{TOOLS_DIR}/bin/python"
        elif cmd[0] == uv_binary():
            program = "/usr/local/bin/uv"
        else:
            program = cmd[0]
        uid, gid = os.getuid(), os.getgid()
        user = "0:0" if uid == 0 or self.backend.rootless else f"{uid}:{gid}"
        run = self.backend._in_container(image, [program, *cmd[1:]],
                                         writable=[cwd, *self.writable], timeout=timeout,
                                         user=user, workdir=str(cwd), environ=env)
        if run.error and run.error.startswith("took longer"):
            raise subprocess.TimeoutExpired(cmd, timeout)
        stderr = "\n".join(t for t in (run.stderr.rstrip(), run.note, run.error or "") if t)
        return subprocess.CompletedProcess(cmd, 1 if run.error else run.code, run.stdout,
                                           stderr)


def _ca_bundle() -> Path | None:
    """The extra certificate authority the host trusts (a proxy's), if any."""
    return next((Path(os.environ[v]) for v in CA_VARIABLES
                 if os.environ.get(v) and Path(os.environ[v]).is_file()), None)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
