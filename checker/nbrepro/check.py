"""One check, end to end: source -> scan -> spec -> resolve -> build -> execute ->
compare -> verdict -> store. Each stage's result is kept in the `CheckResult`.

Progress is reported through a `Progress` object (the terminal shows it; the
database keeps it for the JupyterLab panel). Interruption (Ctrl-C, SIGTERM) keeps
what finished: every notebook's result is stored as soon as it is known.

One notebook never ends the check: whatever goes wrong in nbrepro while it reads,
runs or judges a notebook becomes that notebook's result, and the others go on.
The repository's own settings (`[tool.nbrepro]`, sanitize files) are recorded,
and a verdict they decided carries them (`NotebookResult.repo_settings`).
"""

from __future__ import annotations

import copy
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from nbrepro import __version__, repoconfig
from nbrepro.compare import CompareOptions
from nbrepro.compare.markers import apply_execution_tags
from nbrepro.errors import ConfigError, NbreproError
from nbrepro.isolation import get_backend
from nbrepro.isolation.base import Backend, BackendOptions, BuildRequest
from nbrepro.isolation.confine import ResourceLimits
from nbrepro.model import (
    CheckResult,
    EnvironmentResult,
    Lock,
    NotebookInfo,
    NotebookResult,
    Spec,
)
from nbrepro.progress import Progress
from nbrepro.stages.execute import ExecutionOptions, NotebookRun, run_notebook
from nbrepro.stages.resolve import resolve, short_message
from nbrepro.stages.scan import find_notebooks, scan_notebook
from nbrepro.stages.source import Source, open_source, scratch_copy
from nbrepro.stages.spec import read_spec
from nbrepro.stages.verdict import install_failed, judge, not_checked, why_not_runnable
from nbrepro.store import ERROR, FINISHED, INTERRUPTED, Store


@dataclass
class CheckOptions:
    resolver: str = "uv"
    backend: str = "venv"
    exclude_newer: str | None = None  # resolve as of this date (YYYY-MM-DD)
    python: str | None = None  # override the Python version the repository asks for
    use_cache: bool = True
    network: bool = False  # let notebooks reach the network (recorded in the results)
    sandbox: bool = True  # venv backend: sandbox audited code when bubblewrap works here
    base_image: str | None = None  # docker backend: default python:X.Y-slim
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    output_dir: Path | None = None  # where stored and re-run notebooks are written
    twice: bool = False  # run each notebook twice: outputs that differ are `volatile`
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    ignore_repo_config: bool = False  # judge by nbrepro's defaults, not [tool.nbrepro]
    # A single notebook's repository is searched for no higher than this folder (the
    # Jupyter server passes its root; None: the filesystem root).
    within: Path | None = None


class StoreProgress(Progress):
    """Keeps the check row's stage and progress current, at most a few writes a second."""

    def __init__(self, store: Store, check_id: int, inner: Progress) -> None:
        self.store, self.check_id, self.inner = store, check_id, inner
        self.current: dict[str, object] = {}
        self._stage = "scan"
        self._last = 0.0

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last > 0.25:
            self._last = now
            self.store.set_progress(self.check_id, self._stage, dict(self.current))

    def stage(self, stage: str, detail: str | None = None) -> None:
        self._stage = stage
        self._write(force=True)
        self.inner.stage(stage, detail)

    def notebook_started(self, path: str, index: int, total: int, cells: int) -> None:
        self.current = {"notebook": path, "notebook_index": index, "notebooks": total,
                        "cell": 0, "cells": cells}
        self._stage = "execute"
        self._write(force=True)
        self.inner.notebook_started(path, index, total, cells)

    def cell_done(self, path: str, index: int, done: int, total: int) -> None:
        self.current.update(cell=done, cells=total)
        self._write()
        self.inner.cell_done(path, index, done, total)

    def notebook_done(self, result: NotebookResult) -> None:
        self.store.record_notebook(self.check_id, result)
        self.inner.notebook_done(result)


def requested_python(spec_version: str | None, infos: list[NotebookInfo]) -> str | None:
    """The declared Python version, else the most common X.Y among the notebooks."""
    if spec_version:
        return spec_version
    versions = [".".join(i.python_version.split(".")[:2]) for i in infos if i.python_version]
    return Counter(versions).most_common(1)[0][0] if versions else None


def check(
    source: str | Source,
    options: CheckOptions | None = None,
    *,
    store: Store | None = None,
    check_id: int | None = None,
    progress: Progress | None = None,
) -> CheckResult:
    """Check every notebook of `source` (a path or git URL). Never raises for problems
    in the audited repository; raises `NbreproError` for bad input."""
    options = options or CheckOptions()
    progress = progress or Progress()
    # An unknown backend or an unreachable engine is an input error: fail before work.
    backend = get_backend(options.backend, BackendOptions(
        sandbox=options.sandbox, limits=options.limits, base_image=options.base_image))
    src = source if isinstance(source, Source) else open_source(source, within=options.within)
    backend.options.hidden += _hidden_paths(src, store)
    started = time.monotonic()
    result = CheckResult(
        repository=src.info, nbrepro_version=__version__,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if store is not None:
        check_id = check_id or store.create_check(src.info.source, _options_record(options))
        store.start_check(check_id, src.info)
        progress = StoreProgress(store, check_id, progress)
    scratch: list[Path] = []
    try:
        _run_stages(src, options, backend, result, progress, scratch, store, check_id)
    except (KeyboardInterrupt, SystemExit):
        _finish(store, check_id, INTERRUPTED, result, started, "interrupted")
        raise
    except BaseException as exc:
        _finish(store, check_id, ERROR, result, started, f"{type(exc).__name__}: {exc}")
        raise
    else:
        _finish(store, check_id, FINISHED, result, started)
    finally:
        for folder in scratch:
            shutil.rmtree(folder.parent, ignore_errors=True)
    return result


def _run_stages(
    src: Source, options: CheckOptions, backend: Backend, result: CheckResult,
    progress: Progress, scratch_dirs: list[Path], store: Store | None, check_id: int | None,
) -> None:
    progress.stage("scan")
    paths = src.selected if src.selected is not None else find_notebooks(src.root)
    scanned = [_scan(src.root, p) for p in paths]
    runnable: list[tuple[NotebookInfo, nbformat.NotebookNode]] = []
    for info, nb in scanned:
        why = why_not_runnable(info)
        if why is None and nb is not None:
            runnable.append((info, nb))
        else:
            _record(result, not_checked(info, why or "unreadable"), progress)

    progress.stage("spec")
    result.spec = read_spec(src.root, {m for info, _ in scanned for m in info.imports})
    config = _repo_config(src.root, result.spec, options.ignore_repo_config)
    result.repo_settings = config.described
    for info, nb in list(runnable):
        if config.skipped(info.path):
            runnable.remove((info, nb))
            outcome = not_checked(info, "skipped by [tool.nbrepro] in pyproject.toml")
            outcome.repo_settings = config.described_for(info.path)
            _record(result, outcome, progress)
    if not runnable:
        return

    progress.stage("resolve")
    scratch = scratch_copy(src.root)
    scratch_dirs.append(scratch)
    python = backend.choose_python(options.python or requested_python(
        result.spec.python_version, [i for i, _ in runnable]))
    project_dir = scratch / result.spec.local_project if result.spec.local_project else None
    result.lock = resolve(
        result.spec, python.minor, resolver=options.resolver,
        exclude_newer=options.exclude_newer, project_dir=project_dir,
        use_cache=options.use_cache,
        # setup.py may write into its own project (egg-info), nowhere else
        runner=backend.tool_runner(python, [project_dir] if project_dir else []),
    )
    if not result.lock.ok:
        reason = _install_reason("could not resolve", result.lock)
        for info, _ in runnable:
            _record(result, install_failed(info, reason), progress)
        return

    progress.stage("build")
    result.environment = backend.build(BuildRequest(
        lock=result.lock, python=python, project_dir=project_dir,
        apt_packages=result.spec.apt_packages, use_cache=options.use_cache,
        post_build=scratch / result.spec.post_build if result.spec.post_build else None,
    ))
    result.environment.network = options.network
    if store is not None and check_id is not None:
        store.record_environment(check_id, result.spec, result.lock, result.environment)
    if not result.environment.ok:
        reason = _install_reason("could not install", result.environment)
        for info, _ in runnable:
            _record(result, install_failed(info, reason), progress)
        return

    # With --twice, a second scratch copy sees the notebooks run in the same order.
    scratches = [scratch]
    if options.twice:
        scratches.append(scratch_copy(src.root))
        scratch_dirs.append(scratches[1])
    for position, (info, nb) in enumerate(runnable):
        progress.notebook_started(info.path, position, len(runnable), info.code_cells)
        try:
            outcome = _check_notebook(info, nb, scratches, result.environment, backend,
                                      options, config, progress)
        except NbreproError:
            raise
        except Exception as exc:  # nbrepro failed on this notebook: its result, not the end
            outcome = not_checked(info, "nbrepro could not check this notebook: "
                                        f"{type(exc).__name__}: {str(exc)[:300]}".rstrip(": "))
        _record(result, outcome, progress)


def _check_notebook(
    info: NotebookInfo, nb: nbformat.NotebookNode, scratches: list[Path],
    environment: EnvironmentResult, backend: Backend, options: CheckOptions,
    config: repoconfig.RepoConfig, progress: Progress,
) -> NotebookResult:
    """Run one notebook (twice with --twice) and judge it."""
    # nbval's execution markers become the tags nbclient knows (skip, raises).
    to_run = nbformat.from_dict(apply_execution_tags(copy.deepcopy(nb)))

    def on_cell(index: int, done: int, total: int) -> None:
        progress.cell_done(info.path, index, done, total)

    runs = [
        run_notebook(to_run, (where / info.path).parent, where, environment, backend,
                     options.execution, network=options.network, on_cell=on_cell)
        for where in scratches
    ]
    progress.stage("compare")
    outcome = _judge(info, nb, runs, scratches, config.options_for(info.path))
    applied = config.described_for(info.path)
    if applied:
        # The repository's settings can decide its own verdict: judge again by
        # nbrepro's defaults and say so when they did.
        plain = _judge(info, nb, runs, scratches, CompareOptions())
        if plain.verdict is not outcome.verdict:
            outcome.repo_settings = applied
            outcome.verdict_without_repo_settings = plain.verdict
    if options.output_dir is not None:
        _write_notebooks(options.output_dir, info.path, nb, runs[0].executed)
    return outcome


def _judge(info: NotebookInfo, nb: nbformat.NotebookNode, runs: list[NotebookRun],
           scratches: list[Path], options: CompareOptions) -> NotebookResult:
    options.scratch_dirs = [str(where) for where in scratches]
    options.home_dirs = [run.home for run in runs if run.home]
    return judge(info, nb, runs[0], options, second_run=runs[1] if len(runs) > 1 else None)


def _scan(root: Path, rel: str) -> tuple[NotebookInfo, nbformat.NotebookNode | None]:
    """Scan one notebook; a failure of nbrepro on it makes it not-checked, nothing more."""
    try:
        return scan_notebook(root, rel)
    except Exception as exc:
        info = NotebookInfo(path=rel, valid=False,
                            error=f"nbrepro could not read this notebook: "
                                  f"{type(exc).__name__}: {str(exc)[:300]}".rstrip(": "))
        return info, None


def _repo_config(root: Path, spec: Spec, ignore: bool = False) -> repoconfig.RepoConfig:
    """The audited repository's `[tool.nbrepro]`; a malformed one is reported in the
    spec (it is the repository's problem) and the defaults are used."""
    if ignore:
        spec.skipped.append("the repository's own settings ([tool.nbrepro], sanitize files) "
                            "ignored: --ignore-repo-config")
        return repoconfig.RepoConfig(root=root)
    try:
        return repoconfig.load(root)
    except ConfigError as exc:
        spec.skipped.append(f"pyproject.toml [tool.nbrepro] ignored: {exc}")
        return repoconfig.RepoConfig(root=root)


def _hidden_paths(src: Source, store: Store | None) -> list[Path]:
    """What audited code must not see: the real repository (it runs in the scratch
    copy) and the results database."""
    hidden = [src.root]
    url = store.url if store is not None else ""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        db = Path(url.removeprefix("sqlite:///"))
        hidden += [db, *(db.with_name(db.name + s) for s in ("-journal", "-wal", "-shm"))]
    return hidden


def _finish(
    store: Store | None, check_id: int | None, state: str, result: CheckResult,
    started: float, error: str | None = None,
) -> None:
    result.seconds = time.monotonic() - started
    if store is not None and check_id is not None:
        if result.spec is not None:
            store.record_environment(check_id, result.spec, result.lock, result.environment)
        store.finish_check(check_id, state, result, error=error)


def _record(result: CheckResult, outcome: NotebookResult, progress: Progress) -> None:
    result.notebooks.append(outcome)
    progress.notebook_done(outcome)


def _install_reason(what: str, failed: Lock | EnvironmentResult) -> str:
    req = failed.failed_requirement
    head = f"{what} {req}" if req else what
    detail = short_message(failed.message)
    return f"{head}: {detail}" if detail else head


def _write_notebooks(out: Path, rel: str, stored: nbformat.NotebookNode,
                     executed: nbformat.NotebookNode) -> None:
    for kind, nb in (("stored", stored), ("rerun", executed)):
        target = out / kind / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(target))


def _options_record(options: CheckOptions) -> dict[str, object]:
    return {
        "resolver": options.resolver, "backend": options.backend,
        "exclude_newer": options.exclude_newer, "python": options.python,
        "network": options.network, "sandbox": options.sandbox,
        "base_image": options.base_image, "cell_timeout": options.execution.cell_timeout,
        "notebook_timeout": options.execution.notebook_timeout,
        "keep_going": options.execution.keep_going, "twice": options.twice,
        "ignore_repo_config": options.ignore_repo_config,
    }


__all__ = ["CheckOptions", "Progress", "check"]
