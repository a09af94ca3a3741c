"""The resolve stage: declared requirements -> a lock of exact pins.

`uv pip compile` by default; `pip-compile` (pip-tools) when asked. Locks are cached
by the hash of what went into them, so an unchanged repository is not re-resolved.
A resolution failure is a result naming the requirement that could not be met.

With a cut-off date (`exclude_newer`) the date applies to the repository's own
requirements only: they are resolved first, as of the date; then the kernel
nbrepro adds (ipykernel and what it needs) is resolved without the date, with the
repository's pins as constraints. An old date would otherwise pick an old pyzmq
with no wheel for today's Python. `Lock.kernel_pins` says what was added so.

A failure of the tools themselves (an option they do not know, a pip too old for
what is asked) is nbrepro's problem: `ToolError`, never the repository's result.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from packaging.utils import canonicalize_name

from nbrepro import cache
from nbrepro.errors import ConfigError, ToolError
from nbrepro.isolation.tools import strip_ansi, tool_env, uv_binary
from nbrepro.model import Lock, Spec
from nbrepro.stages.install_failure import failing_name, short_message
from nbrepro.stages.spec import requirement_name

if TYPE_CHECKING:
    from nbrepro.isolation.tools import ToolRunner

# The kernel itself: resolved together with the audited requirements so that it
# never fights them, but it is the only thing nbrepro adds to the environment.
KERNEL_REQUIREMENT = "ipykernel"
RESOLVE_TIMEOUT = 900
# pip learnt `--uploaded-prior-to` (what pip-tools needs for a cut-off date) in 26.0.
PIP_FOR_EXCLUDE_NEWER = (26, 0)
# What a tool says when it was called wrongly (nbrepro's fault, not the repository's).
_TOOL_USAGE = re.compile(
    r"no such option|unexpected argument|unrecognized arguments?|No module named '?piptools"
)


@dataclass
class ResolverRun:
    ok: bool
    text: str
    message: str


class Resolver:
    name: ClassVar[str]

    def __init__(self, runner: ToolRunner | None = None) -> None:
        # Resolving runs the audited repository's build code (metadata of a local
        # project, of sdists): `runner` sandboxes it.
        self.runner = runner

    def compile(
        self, requirements_in: Path, python_version: str, exclude_newer: str | None,
        forward: tuple[str, ...] = (),
    ) -> ResolverRun:
        """`forward`: packages the `exclude_newer` date does not apply to (uv only)."""
        raise NotImplementedError

    @classmethod
    def check_usable(cls, exclude_newer: str | None) -> None:
        """Raise `ToolError` before any work when this resolver cannot do what is asked."""

    def _run(self, cmd: list[str], cwd: Path) -> ResolverRun:
        try:
            if self.runner is not None:
                proc = self.runner.run(cmd, cwd=cwd, timeout=RESOLVE_TIMEOUT, env=tool_env())
            else:
                proc = subprocess.run(
                    cmd, cwd=cwd, capture_output=True, text=True, timeout=RESOLVE_TIMEOUT,
                    env=tool_env(),
                )
        except subprocess.TimeoutExpired:
            return ResolverRun(False, "", f"resolution took longer than {RESOLVE_TIMEOUT} s")
        if proc.returncode != 0:
            return ResolverRun(False, "", (proc.stderr or proc.stdout).strip())
        return ResolverRun(True, proc.stdout, proc.stderr.strip())


class UvResolver(Resolver):
    name = "uv"

    def compile(
        self, requirements_in: Path, python_version: str, exclude_newer: str | None,
        forward: tuple[str, ...] = (),
    ) -> ResolverRun:
        cmd = [
            uv_binary(), "pip", "compile", str(requirements_in), "--quiet", "--no-header",
            "--no-annotate", "--no-config", "--python-version", python_version,
        ]
        if exclude_newer:
            cmd += ["--exclude-newer", exclude_newer]
            tomorrow = (date.today() + timedelta(days=1)).isoformat()
            for name in forward:  # today's releases of these
                cmd += ["--exclude-newer-package", f"{name}={tomorrow}"]
        return self._run(cmd, requirements_in.parent)


class PipToolsResolver(Resolver):
    name = "pip-tools"

    @classmethod
    def check_usable(cls, exclude_newer: str | None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            version("pip-tools")
        except PackageNotFoundError:
            raise ToolError(
                "the pip-tools resolver needs pip-tools: pip install 'nbrepro[pip-tools]'"
            ) from None
        if exclude_newer:
            try:
                pip = version("pip")
            except PackageNotFoundError:
                pip = "none"
            if _version_tuple(pip) < PIP_FOR_EXCLUDE_NEWER:
                wanted = ".".join(map(str, PIP_FOR_EXCLUDE_NEWER))
                raise ToolError(
                    f"--resolver pip-tools with --exclude-newer needs pip >= {wanted} "
                    f"(this one has pip {pip}): pip install 'nbrepro[pip-tools]', "
                    "or use --resolver uv"
                )

    def compile(
        self, requirements_in: Path, python_version: str, exclude_newer: str | None,
        forward: tuple[str, ...] = (),
    ) -> ResolverRun:
        out = requirements_in.with_suffix(".txt")
        cmd = [
            sys.executable, "-m", "piptools", "compile", "--quiet", "--no-header",
            "--no-annotate", "--no-config", "--strip-extras", "--no-emit-index-url",
            "--no-emit-find-links",
            "--output-file", str(out), str(requirements_in),
        ]
        if exclude_newer:
            cmd += ["--pip-args", f"--uploaded-prior-to={exclude_newer}"]
        run = self._run(cmd, requirements_in.parent)
        if run.ok:
            run.text = out.read_text()
        return run


RESOLVERS: dict[str, type[Resolver]] = {r.name: r for r in (UvResolver, PipToolsResolver)}


def check_resolver(resolver: str, exclude_newer: str | None) -> None:
    """Refuse, before any work, a resolver that is unknown or cannot do what is asked."""
    if resolver not in RESOLVERS:
        raise ConfigError(f"unknown resolver {resolver!r} (choose from {', '.join(RESOLVERS)})")
    RESOLVERS[resolver].check_usable(exclude_newer)


def _version_tuple(text: str) -> tuple[int, ...]:
    numbers = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if not digits:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)


def requirements_in(spec: Spec, project_dir: Path | None) -> list[str]:
    lines = [r.spec for r in spec.requirements]
    if project_dir is not None:
        lines.append(str(project_dir))
    if not any(requirement_name(line) == KERNEL_REQUIREMENT for line in lines):
        lines.append(KERNEL_REQUIREMENT)
    return lines


def project_fingerprint(project_dir: Path | None) -> str | None:
    """A hash of the files that define a local project's metadata."""
    if project_dir is None:
        return None
    names = ("setup.py", "setup.cfg", "pyproject.toml")
    parts = [(n, (project_dir / n).read_bytes().hex())
             for n in names if (project_dir / n).is_file()]
    return cache.content_key(parts)


def resolve(
    spec: Spec,
    python_version: str,
    *,
    resolver: str = "uv",
    exclude_newer: str | None = None,
    project_dir: Path | None = None,
    use_cache: bool = True,
    runner: ToolRunner | None = None,
    forward: tuple[str, ...] = (),
) -> Lock:
    """Resolve `spec` for `python_version` (X.Y). `project_dir` is a scratch copy of a
    local project to include; its path never enters the cached lock. `forward`:
    packages taken as of today although `exclude_newer` dates the rest (uv)."""
    check_resolver(resolver, exclude_newer)
    lines = requirements_in(spec, project_dir)
    stable = [ln for ln in lines if project_dir is None or ln != str(project_dir)]
    # The repository names the kernel itself: then the date applies to it too.
    kernel_apart = bool(exclude_newer) and not any(
        requirement_name(r.spec) == KERNEL_REQUIREMENT for r in spec.requirements
    )
    key = cache.content_key(
        "lock", resolver, python_version, exclude_newer, sorted(stable),
        project_fingerprint(project_dir), "kernel-apart" if kernel_apart else None,
        sorted(forward) if exclude_newer else None,
    )
    lock = Lock(ok=False, resolver=resolver, python_version=python_version, key=key,
                exclude_newer=exclude_newer)
    cached = cache.entry("locks", key + ".txt")
    cached_kernel = cache.entry("locks", key + ".kernel.json")
    # Parallel checks (an audit's workers) needing the same lock resolve it once.
    with cache.locked(cached):
        return _resolve_locked(lock, cached, cached_kernel, kernel_apart, spec, lines,
                               python_version, resolver, exclude_newer, project_dir,
                               use_cache, runner, forward)


def _resolve_locked(
    lock: Lock, cached: Path, cached_kernel: Path, kernel_apart: bool, spec: Spec,
    lines: list[str], python_version: str, resolver: str, exclude_newer: str | None,
    project_dir: Path | None, use_cache: bool, runner: ToolRunner | None,
    forward: tuple[str, ...] = (),
) -> Lock:
    if use_cache and cached.is_file():
        lock.ok, lock.cached, lock.text = True, True, cached.read_text()
        lock.pins = parse_pins(lock.text)
        if cached_kernel.is_file():
            lock.kernel_pins = json.loads(cached_kernel.read_text())
        return lock

    started = time.monotonic()
    compiler = RESOLVERS[resolver](runner)
    with tempfile.TemporaryDirectory(prefix="nbrepro-resolve-") as tmp:
        constraints: dict[str, str] = {}
        if kernel_apart:
            repo_lines = [ln for ln in lines if ln != KERNEL_REQUIREMENT]
            if repo_lines:  # the repository's requirements, as of the date
                run = _compile(compiler, Path(tmp) / "dated", repo_lines, python_version,
                               exclude_newer, forward=forward)
                if not run.ok:
                    return _failed(lock, run, spec, started)
                constraints = parse_pins(_without_project(run.text, project_dir))
            exclude_newer = None  # the kernel: whatever installs with those pins
        run = _compile(compiler, Path(tmp) / "lock", lines, python_version, exclude_newer,
                       constraints, forward if exclude_newer else ())
    if not run.ok:
        return _failed(lock, run, spec, started)
    lock.seconds = time.monotonic() - started
    lock.ok = True
    lock.text = _without_project(run.text, project_dir)
    lock.pins = parse_pins(lock.text)
    if kernel_apart:
        lock.kernel_pins = {name: version for name, version in lock.pins.items()
                            if name not in constraints}
        # Written before the lock: a reader that finds the lock finds its kernel pins.
        _write_whole(cached_kernel, json.dumps(lock.kernel_pins))
    _write_whole(cached, lock.text)
    return lock


def _write_whole(path: Path, text: str) -> None:
    """Write through a `.part` file: readers never see half a file."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    partial.replace(path)


def _compile(
    compiler: Resolver, folder: Path, lines: list[str], python_version: str,
    exclude_newer: str | None, constraints: dict[str, str] | None = None,
    forward: tuple[str, ...] = (),
) -> ResolverRun:
    folder.mkdir()
    infile = folder / "requirements.in"
    if constraints:
        (folder / "constraints.txt").write_text(
            "".join(f"{name}=={version}\n" for name, version in sorted(constraints.items())))
        lines = [*lines, "-c constraints.txt"]
    infile.write_text("\n".join(lines) + "\n")
    run = compiler.compile(infile, python_version, exclude_newer, forward)
    if not run.ok and _TOOL_USAGE.search(run.message):
        raise ToolError(f"{compiler.name} failed as nbrepro ran it (not the repository's "
                        f"doing): {short_message(run.message)}")
    return run


def _failed(lock: Lock, run: ResolverRun, spec: Spec, started: float) -> Lock:
    lock.seconds = time.monotonic() - started
    lock.message = strip_ansi(run.message)
    lock.failed_requirement = blame(run.message, [r.spec for r in spec.requirements])
    return lock


def _without_project(text: str, project_dir: Path | None) -> str:
    """Drop the local project's own line: it is installed from the scratch copy."""
    if project_dir is None:
        return text
    marker = project_dir.as_posix()
    return "".join(ln for ln in text.splitlines(keepends=True) if marker not in ln)


_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def parse_pins(text: str) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in _PIN.findall(text)}


def blame(message: str, requirements: list[str]) -> str | None:
    """The requirement the tool says failed (`Failed to build `numpy==1.14.3``), else
    the one its message mentions first, if any."""
    named = failing_name(message)
    for req in requirements:
        if named is not None and canonicalize_name(requirement_name(req)) == named:
            return req
    lowered = message.lower()
    best: tuple[int, str] | None = None
    for req in requirements:
        name = requirement_name(req)
        pattern = re.compile(
            r"(?<![\w\-.])" + re.escape(name).replace(r"\-", "[-_.]") + r"(?![\w\-])"
        )
        m = pattern.search(lowered)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), req)
    return best[1] if best else None
