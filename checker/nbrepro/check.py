"""One check, end to end: source -> scan -> spec -> resolve -> build -> execute ->
compare -> verdict -> store. Each stage's result is kept in the `CheckResult`.

Progress is reported through a `Progress` object (the terminal shows it; the
database keeps it for the JupyterLab panel). Interruption (Ctrl-C, SIGTERM) keeps
what finished: every notebook's result is stored as soon as it is known, and
`CheckInterrupted` carries the result so far (marked interrupted) to the caller.

One notebook never ends the check: whatever goes wrong in nbrepro while it reads,
runs or judges a notebook becomes that notebook's result, and the others go on.
The repository's own settings (`[tool.nbrepro]`, sanitize files) are recorded,
and a verdict they decided carries them (`NotebookResult.repo_settings`).
"""

from __future__ import annotations

import copy
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from packaging.utils import canonicalize_name

from nbrepro import __version__, repoconfig
from nbrepro.compare import CompareOptions
from nbrepro.compare.markers import apply_execution_tags
from nbrepro.errors import CheckInterrupted, InputError, NbreproError
from nbrepro.isolation import get_backend
from nbrepro.isolation.base import Backend, BackendOptions, BuildRequest
from nbrepro.isolation.tools import PythonChoice, available_pythons
from nbrepro.model import (
    STORED_COUNT,
    TOP_DOWN,
    CellStatus,
    CheckResult,
    CheckState,
    EnvironmentResult,
    NotebookInfo,
    NotebookResult,
    Requirement,
    RunAttempt,
    Spec,
    Verdict,
    cell_label,
)
from nbrepro.options import CheckOptions
from nbrepro.progress import Progress
from nbrepro.selection import OUTPUT_MARKER, Selection
from nbrepro.stages.as_of import Cutoff, cutoff
from nbrepro.stages.causes import rewrite_cause, rewrites
from nbrepro.stages.execute import NotebookRun, Outcome, run_notebook
from nbrepro.stages.install_failure import InstallFailure, describe
from nbrepro.stages.parameters import (
    PAPERMILL_REASON,
    Parameterised,
    ParameterProblem,
    parameterise,
    without_inserted,
)
from nbrepro.stages.resolve import check_resolver, resolve
from nbrepro.stages.restore import (
    MAX_ATTEMPTS,
    MAX_RESTORED,
    RESTORE_MODES,
    Restorer,
    candidate_files,
    declared_names,
    missing_module,
    not_declared_hint,
    read_candidates,
    uncovered_imports,
)
from nbrepro.stages.scan import SKIP_DIRS, find_notebooks, output_folders, scan_notebook
from nbrepro.stages.source import Source, open_source, scratch_copy
from nbrepro.stages.spec import read_spec, requirement_name
from nbrepro.stages.verdict import (
    install_failed,
    judge,
    needs_network,
    not_checked,
    not_runnable,
    second_run_ended_early,
)

if TYPE_CHECKING:  # the store is the caller's; a worker that writes none never imports it
    from nbrepro.store import Store


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

    def notebook_started(self, path: str, index: int, total: int, cells: int,
                         labels: Mapping[int, str] | None = None) -> None:
        self.current = {"notebook": path, "notebook_index": index, "notebooks": total,
                        "cell": 0, "cells": cells}
        self._stage = "execute"
        self._write(force=True)
        self.inner.notebook_started(path, index, total, cells, labels)

    def cell_done(self, path: str, index: int, done: int, total: int) -> None:
        self.current.update(cell=done, cells=total)
        self._write()
        self.inner.cell_done(path, index, done, total)

    def notebook_done(self, result: NotebookResult) -> None:
        self.store.record_notebook(self.check_id, result)
        self.inner.notebook_done(result)

    def warning(self, message: str) -> None:
        self.inner.warning(message)


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
    # What the user asked for that cannot be done is an input error: fail before work.
    _check_restore(options.restore)
    selection = Selection(list(options.exclude), options.keyword)
    check_resolver(options.resolver, options.exclude_newer)
    backend = get_backend(options.backend, BackendOptions(
        sandbox=options.sandbox, limits=options.limits, base_image=options.base_image))
    chosen = _explicit_python(backend, options.python)
    src = source if isinstance(source, Source) else open_source(source, options.subdir,
                                                                options.within)
    backend.options.hidden += _hidden_paths(src, store)
    if options.output_dir is not None:
        _prepare_output_dir(options.output_dir)
    started = time.monotonic()
    result = CheckResult(
        repository=src.info, nbrepro_version=__version__,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        restore=options.restore,
    )
    if store is not None:
        check_id = check_id or store.create_check(src.info.source, _options_record(options))
        store.start_check(check_id, src.info)
        progress = StoreProgress(store, check_id, progress)
    result.check_id = check_id
    progress = _Warnings(result, progress)
    scratch: list[Path] = []
    found: list[str] = []
    try:
        _run_stages(src, options, backend, result, progress, scratch, store, check_id,
                    selection, chosen, found)
    except (KeyboardInterrupt, SystemExit) as exc:
        # Never a verdict for what was not checked: the rest is listed as unfinished.
        judged = {n.path for n in result.notebooks}
        result.interrupted = True
        result.unfinished = [path for path in found if path not in judged]
        _finish(store, check_id, CheckState.INTERRUPTED, result, started, "interrupted")
        raise CheckInterrupted(result, check_id) from exc
    except BaseException as exc:
        _finish(store, check_id, CheckState.ERROR, result, started, f"{type(exc).__name__}: {exc}")
        raise
    else:
        _finish(store, check_id, CheckState.FINISHED, result, started)
    finally:
        for folder in scratch:
            shutil.rmtree(folder.parent, ignore_errors=True)
    return result


class NotebookSession:
    """A repository's environment prepared once, then its notebooks checked one at a
    time, in one scratch copy, in the order asked: how the pytest plugin runs one test
    item per notebook without building anything twice.

    `paths` (relative to `root`) are the notebooks the session expects to be asked
    about: their metadata picks the Python version and their imports are recorded,
    as in `check`. Nothing is resolved or built before the first notebook is asked
    for. `close()` removes the scratch copy.
    """

    def __init__(self, root: str | Path, paths: list[str], options: CheckOptions | None = None,
                 progress: Progress | None = None) -> None:
        self.options = options or CheckOptions()
        _check_restore(self.options.restore)
        self.backend = get_backend(self.options.backend, BackendOptions(
            sandbox=self.options.sandbox, limits=self.options.limits,
            base_image=self.options.base_image))
        self._chosen = _explicit_python(self.backend, self.options.python)
        # the notebooks' paths are relative to `root`: it is the project, whatever encloses it
        self.src = open_source(str(root), within=Path(root))
        self.backend.options.hidden += _hidden_paths(self.src, None)
        self.result = CheckResult(
            repository=self.src.info, nbrepro_version=__version__,
            started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            restore=self.options.restore,
        )
        self.progress = _Warnings(self.result, progress or Progress())
        self.paths = list(paths)
        self._scanned: dict[str, tuple[NotebookInfo, nbformat.NotebookNode | None]] = {}
        self._config: repoconfig.RepoConfig | None = None
        self._scratch_dirs: list[Path] = []
        self._failure: InstallFailure | None = None  # why the environment could not be had
        self._made: _Environment | None = None
        self._ready = False  # resolved and built (or failed to)

    def _scan(self, path: str) -> tuple[NotebookInfo, nbformat.NotebookNode | None]:
        if path not in self._scanned:
            self._scanned[path] = _scan(self.src.root, path)
        return self._scanned[path]

    def _runnable(self, info: NotebookInfo, nb: nbformat.NotebookNode | None) -> bool:
        assert self._config is not None
        return not_runnable(info) is None and nb is not None and \
            not self._config.skipped(info.path)

    def _load_settings(self) -> repoconfig.RepoConfig:
        if self._config is None:
            scanned = [self._scan(p) for p in self.paths]
            self.result.spec = _read_spec(self.src.root,
                                          {m for info, _ in scanned for m in info.imports},
                                          self.options.restore == "auto")
            self._config = _repo_config(self.src.root, self.result.spec, self.options,
                                        self.progress)
            self.result.repo_settings = self._config.described
        return self._config

    def check_notebook(self, path: str) -> NotebookResult:
        """Check one notebook (relative to the root, POSIX separators)."""
        config = self._load_settings()
        info, nb = self._scan(path)
        not_run = not_runnable(info)
        if not_run is not None or nb is None:
            outcome = not_run or not_checked(info, "unreadable")
        elif config.skipped(info.path):
            outcome = _skipped_by_settings(info, config)
        else:
            if not self._ready:
                self._ready = True
                infos = [i for i, n in (self._scan(p) for p in self.paths)
                         if self._runnable(i, n)] or [info]
                self._made = _prepare(self.src, self.options, self.backend, self.result,
                                      self.progress, self._scratch_dirs, None, None, infos,
                                      self._chosen)
                self._failure = self._made.failure
            if self._failure is not None:
                outcome = install_failed(info, self._failure)
            else:
                self.progress.notebook_started(info.path, len(self.result.notebooks),
                                               len(self.paths), info.code_cells,
                                               _labels(nb))
                outcome = _check_one(info, nb, self._scratch_dirs, self.result, self.backend,
                                     self.options, config, self.progress, self._made)
        self.result.notebooks.append(outcome)
        self.progress.notebook_done(outcome)
        return outcome

    def close(self) -> None:
        for folder in self._scratch_dirs:
            shutil.rmtree(folder.parent, ignore_errors=True)
        self._scratch_dirs.clear()

    def __enter__(self) -> NotebookSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Warnings(Progress):
    """Keeps every warning in the result (reports show them) and passes it on."""

    def __init__(self, result: CheckResult, inner: Progress) -> None:
        self.result, self.inner = result, inner

    def stage(self, stage: str, detail: str | None = None) -> None:
        self.inner.stage(stage, detail)

    def notebook_started(self, path: str, index: int, total: int, cells: int,
                         labels: Mapping[int, str] | None = None) -> None:
        self.inner.notebook_started(path, index, total, cells, labels)

    def cell_done(self, path: str, index: int, done: int, total: int) -> None:
        self.inner.cell_done(path, index, done, total)

    def notebook_done(self, result: NotebookResult) -> None:
        self.inner.notebook_done(result)

    def warning(self, message: str) -> None:
        self.result.warnings.append(message)
        self.inner.warning(message)


def _explicit_python(backend: Backend, requested: str | None) -> PythonChoice | None:
    """The interpreter `--python` asks for; one that is not here is an input error."""
    if not requested:
        return None
    choice = backend.choose_python(requested)
    if choice.mismatch or choice.version.split(".")[0] != "3":
        raise InputError(
            f"--python {requested}: no such Python here (found: "
            f"{', '.join(available_pythons())}; nbrepro never downloads interpreters)")
    return choice


def _run_stages(
    src: Source, options: CheckOptions, backend: Backend, result: CheckResult,
    progress: Progress, scratch_dirs: list[Path], store: Store | None, check_id: int | None,
    selection: Selection, chosen: PythonChoice | None, found: list[str],
) -> None:
    progress.stage("scan")
    # A folder inside a repository: its notebooks, named from the repository's root.
    top, prefix = (src.root / src.scope, f"{src.scope}/") if src.scope else (src.root, "")
    if src.selected is None:
        for folder in sorted(output_folders(top)):
            progress.warning(f"left out {prefix}{'/'.join(folder)}/: it holds nbrepro's output "
                             f"marker ({OUTPUT_MARKER}), so its notebooks are copies nbrepro wrote")
    paths = src.selected if src.selected is not None else \
        [prefix + p for p in find_notebooks(top)]
    found.extend(p for p in paths if selection.chosen(p))
    scanned = [_scan(src.root, p) for p in found]
    runnable: list[tuple[NotebookInfo, nbformat.NotebookNode]] = []
    for info, nb in scanned:
        skipped = not_runnable(info)
        if skipped is None and nb is not None:
            runnable.append((info, nb))
        else:
            _record(result, skipped or not_checked(info, "unreadable"), progress)

    progress.stage("spec")
    result.spec = _read_spec(src.root, {m for info, _ in scanned for m in info.imports},
                             options.restore == "auto")
    config = _repo_config(src.root, result.spec, options, progress)
    result.repo_settings = config.described
    for info, nb in list(runnable):
        if config.skipped(info.path):
            runnable.remove((info, nb))
            _record(result, _skipped_by_settings(info, config), progress)
    if not runnable:
        return

    made = _prepare(src, options, backend, result, progress, scratch_dirs, store, check_id,
                    [info for info, _ in runnable], chosen, [nb for _, nb in runnable])
    if made.failure is not None:
        for info, _ in runnable:
            _record(result, install_failed(info, made.failure), progress)
        return
    shared = _CommittedFiles(scratch_dirs[0])
    for position, (info, nb) in enumerate(runnable):
        progress.notebook_started(info.path, position, len(runnable), info.code_cells,
                                  _labels(nb))
        outcome = _check_one(info, nb, scratch_dirs, result, backend, options, config,
                             progress, made)
        earlier = dict(shared.changed_by)
        outcome.rewrote = shared.after(info.path)
        if earlier and outcome.verdict in (Verdict.FAILED, Verdict.DIFFERS):
            # An earlier notebook changed the repository's files: try this one as if it
            # ran alone, in a fresh copy.
            progress.stage("execute", "again, in a fresh copy of the repository")
            fresh = scratch_copy(src.root)
            try:
                again = _check_one(info, nb, [fresh], result, backend, options, config,
                                   progress, made)
            finally:
                shutil.rmtree(fresh.parent, ignore_errors=True)
            again.rewrote = outcome.rewrote
            outcome = _after_rewrites(outcome, again, earlier)
        _record(result, outcome, progress)


class _CommittedFiles:
    """The repository's own files in the copy the notebooks run in, one after the other,
    and which notebook first changed each (size or modification time)."""

    LIMIT = 20_000  # files followed at most (a stat of each, after each notebook)

    def __init__(self, copy: Path) -> None:
        self.copy = copy
        self.changed_by: dict[str, str] = {}
        self.state: dict[str, tuple[int, int] | None] = {}
        for folder, dirs, files in os.walk(copy):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(files):
                rel = os.path.relpath(os.path.join(folder, name), copy)
                self.state[rel] = self._stat(rel)
                if len(self.state) > self.LIMIT:
                    self.state.clear()  # too many to follow: nothing is blamed
                    return

    def _stat(self, rel: str) -> tuple[int, int] | None:
        try:
            info = os.lstat(self.copy / rel)
        except OSError:
            return None  # removed
        return info.st_size, info.st_mtime_ns

    def after(self, notebook: str) -> list[str]:
        """The files `notebook` changed that no earlier notebook had changed."""
        changed = [rel for rel, seen in self.state.items()
                   if rel not in self.changed_by and self._stat(rel) != seen]
        for rel in changed:
            self.changed_by[rel] = notebook
        return changed


def _after_rewrites(shared: NotebookResult, fresh: NotebookResult,
                    changed_by: dict[str, str]) -> NotebookResult:
    """The verdict of a notebook that failed or differed after earlier notebooks changed
    the repository's files: the fresh copy's when it gets further there, said so."""
    if _how_far(fresh) <= _how_far(shared):
        shared.reason = f"{shared.reason} (the same in a fresh copy of the repository)"
        return shared
    rewrote = rewrites(changed_by)
    # the cells it lost in the shared copy, said once
    fresh.causes.insert(0, rewrite_cause(changed_by, shared))
    if fresh.verdict.ok:
        note = f"reproduces in a fresh copy of the repository; it {shared.verdict.value} " \
               f"after {rewrote} ({shared.reason})"
        fresh.reason = f"{fresh.reason}; {note}" if fresh.reason else note
    else:
        fresh.reason = f"{shared.verdict.value} after {rewrote}; in a fresh copy: {fresh.reason}"
    return fresh


def _how_far(outcome: NotebookResult) -> float:
    """How far a run got: reproducing beats differing, which beats failing (later is
    further)."""
    if outcome.verdict.ok:
        return float("inf")
    if outcome.verdict is Verdict.DIFFERS:
        return 1e9
    if outcome.verdict is Verdict.FAILED and outcome.failing_cell is not None:
        return float(outcome.failing_cell)
    return -1.0


def _read_spec(root: Path, imports: set[str], restore: bool = False) -> Spec:
    """The spec stage, with the files that look like dependency files but are not read
    (a ModuleNotFoundError's reason names them; `--restore` reads them)."""
    spec = read_spec(root, imports)
    spec.candidate_files = candidate_files(root, spec.files)
    if restore:
        read_candidates(root, spec)
    return spec


def _check_restore(mode: str) -> None:
    if mode not in RESTORE_MODES:
        raise InputError(f"--restore {mode!r}: choose from {', '.join(RESTORE_MODES)}")


# Packages the dated-resolution ladder takes as of today one by one before it takes
# today's packages for the whole environment.
FORWARDED = 3


@dataclass
class _Environment:
    """How the check's environment is made: `--restore` makes it again with a verified
    distribution added to the requirements."""

    src: Source
    options: CheckOptions
    backend: Backend
    result: CheckResult
    progress: Progress
    store: Store | None
    check_id: int | None
    python: PythonChoice
    project_dir: Path | None
    scratch: Path
    restorer: Restorer | None = None
    dated: Cutoff | None = None  # `--as-of auto`: the cut-off, until it cannot be built
    forwarded: list[str] = field(default_factory=list)  # packages taken as of today
    failure: InstallFailure | None = None  # why the environment could not be had
    imports_looked_up: bool = False

    def make(self) -> InstallFailure | None:
        """Resolve and build into the result; why it could not be had, or None."""
        result, options, spec = self.result, self.options, self.result.spec
        assert spec is not None
        self.progress.stage("resolve")
        result.lock = resolve(
            spec, self.python.minor, resolver=options.resolver,
            exclude_newer=self.dated.date if self.dated else options.exclude_newer,
            project_dir=self.project_dir, forward=tuple(self.forwarded),
            use_cache=options.use_cache,
            # setup.py may write into its own project (egg-info), nowhere else
            runner=self.backend.tool_runner(self.python,
                                            [self.project_dir] if self.project_dir else []),
        )
        if self.dated is not None:
            result.lock.as_of_source, result.lock.dating = self.dated.source, "as-of"
            result.lock.forwarded = list(self.forwarded)
        if not result.lock.ok:
            return self._step_forward(
                describe("could not resolve", result.lock, spec, self.python.minor))
        if self.restorer is not None and not self.imports_looked_up:
            # First resolution under --restore: what the notebooks import and nothing
            # provides is looked up, and the verified distributions resolved with the rest.
            self.imports_looked_up = True
            if self._infer_from_imports():
                failure = self.make()
                if failure is None:
                    return None
                self._drop_inferred(failure)
                return self.make()
        self.progress.stage("build")
        result.environment = self.backend.build(BuildRequest(
            lock=result.lock, python=self.python, project_dir=self.project_dir,
            apt_packages=spec.apt_packages, use_cache=options.use_cache,
            post_build=self.scratch / spec.post_build if spec.post_build else None,
        ))
        result.environment.network = options.network
        if self.store is not None and self.check_id is not None:
            self.store.record_environment(self.check_id, spec, result.lock, result.environment)
        if not result.environment.ok:
            return self._step_forward(
                describe("could not install", result.environment, spec, self.python.minor))
        return None

    def _step_forward(self, failure: InstallFailure) -> InstallFailure | None:
        """The dated environment cannot be had: the next rung of the ladder. First the
        package that failed is taken as of today, the rest stay dated (uv; up to
        `FORWARDED` packages); then all of today's packages. None when a rung works;
        the lock records the rung of each package and why."""
        if self.dated is None:
            return failure
        lock, env = self.result.lock, self.result.environment
        failed = lock if lock is not None and not lock.ok else env
        name = requirement_name(failed.failed_requirement) \
            if failed is not None and failed.failed_requirement else None
        if self.options.resolver == "uv" and name and name not in self.forwarded \
                and len(self.forwarded) < FORWARDED:
            self.forwarded.append(name)
            self.progress.warning(f"as of {self.dated.date}, {name} cannot be had "
                                  f"({failure.reason}): taking today's {name}")
            return self.make()
        dated, self.dated = self.dated, None
        self.forwarded = []
        self.progress.warning(f"resolving as of {dated.date} failed ({failure.reason}): "
                              "resolving with today's packages")
        again = self.make()
        lock = self.result.lock
        if lock is not None:
            lock.as_of_source = dated.source
            lock.dating = (f"today's packages: as of {dated.date} it failed "
                           f"({failure.reason})")
        return again

    def _infer_from_imports(self) -> bool:
        """Add verified distributions for uncovered imports; True when any was added."""
        assert self.restorer is not None and self.result.spec and self.result.lock
        spec = self.result.spec
        missing = uncovered_imports(spec, self.result.lock.pins, self.restorer.local)
        added = False
        for module in missing:
            answer = self.restorer.look_up(module)
            spec.inferred.append(answer)
            if answer.accepted and answer.distribution:
                spec.requirements.append(Requirement(
                    answer.distribution, "inferred from the notebooks' imports",
                    inferred=True))
                added = True
            else:
                self.progress.warning(f"--restore: not installing anything for {module}: "
                                      f"{answer.detail}")
        return added

    def _drop_inferred(self, failure: InstallFailure) -> None:
        """What was inferred cannot be had with what is declared: the environment is
        made as declared, and the inferences say why they were not installed."""
        spec = self.result.spec
        assert spec is not None
        spec.requirements = [r for r in spec.requirements if not r.inferred]
        for answer in spec.inferred:
            if answer.accepted:
                answer.accepted = False
                answer.detail += f"; not installed: {failure.reason}"
        self.progress.warning(f"--restore: the inferred distributions could not be added "
                              f"({failure.reason}); the environment is made as declared")

    def add(self, distribution: str, notebook: str) -> str | None:
        """Add one verified distribution and make the environment again. When that
        fails, the distribution is taken out again (the environment made as before)
        and the reason returned."""
        spec = self.result.spec
        assert spec is not None
        requirement = Requirement(distribution, f"inferred from a ModuleNotFoundError in "
                                                f"{notebook}", inferred=True)
        spec.requirements.append(requirement)
        failure = self.make()
        if failure is not None:
            spec.requirements.remove(requirement)
            self.make()  # cached: the environment every other notebook used
        return failure.reason if failure is not None else None


def _prepare(
    src: Source, options: CheckOptions, backend: Backend, result: CheckResult,
    progress: Progress, scratch_dirs: list[Path], store: Store | None, check_id: int | None,
    infos: list[NotebookInfo], chosen: PythonChoice | None,
    notebooks: list[nbformat.NotebookNode] | None = None,
) -> _Environment:
    """Resolve and build the environment once, into `result`, and make the scratch
    copies the notebooks run in (appended to `scratch_dirs`: one, two with --twice).
    The returned environment's `failure` says why it could not be had, or is None."""
    assert result.spec is not None
    progress.stage("resolve")
    scratch = scratch_copy(src.root)
    scratch_dirs.append(scratch)
    python = chosen or backend.choose_python(requested_python(
        result.spec.python_version, infos))
    if python.mismatch:
        where = "declares" if result.spec.python_version else "was run with (notebook metadata)"
        progress.warning(f"the repository {where} Python {python.requested}, which is not here: "
                         f"ran on Python {python.version} (nbrepro never downloads "
                         "interpreters; --python picks another one that is here)")
    project_dir = scratch / result.spec.local_project if result.spec.local_project else None
    made = _Environment(src, options, backend, result, progress, store, check_id, python,
                        project_dir, scratch,
                        Restorer(src.root, options.use_cache)
                        if options.restore == "auto" else None,
                        dated=cutoff(src.root, [i.path for i in infos], notebooks or [])
                        if options.as_of == "auto" and not options.exclude_newer else None)
    made.failure = made.make()
    # With --twice, a second scratch copy sees the notebooks run in the same order.
    if made.failure is None and options.twice:
        scratch_dirs.append(scratch_copy(src.root))
    return made


def _check_one(
    info: NotebookInfo, nb: nbformat.NotebookNode, scratches: list[Path], result: CheckResult,
    backend: Backend, options: CheckOptions, config: repoconfig.RepoConfig, progress: Progress,
    made: _Environment | None = None,
) -> NotebookResult:
    """`_check_notebook`, where a failure of nbrepro itself on this notebook becomes the
    notebook's result instead of the end of the check. With `--restore`, a notebook
    that stops at a ModuleNotFoundError is run again after the verified distribution
    is added (at most `MAX_ATTEMPTS` runs, each recorded)."""
    assert result.environment is not None
    try:
        outcome = _check_notebook(info, nb, scratches, result.environment, backend, options,
                                  config, progress)
        if made is not None and made.restorer is not None:
            return _restore(outcome, info, nb, scratches, made, config)
        _explain_missing(outcome, result)
        return outcome
    except NbreproError:
        raise
    except Exception as exc:
        return not_checked(info, "nbrepro could not check this notebook: "
                                 f"{type(exc).__name__}: {str(exc)[:300]}".rstrip(": "))


def _check_notebook(
    info: NotebookInfo, nb: nbformat.NotebookNode, scratches: list[Path],
    environment: EnvironmentResult, backend: Backend, options: CheckOptions,
    config: repoconfig.RepoConfig, progress: Progress,
) -> NotebookResult:
    """Run one notebook (twice with --twice) and judge it. A notebook whose stored
    execution counts are not top-down that does not reproduce top-down is run again
    in stored-count order."""
    try:
        prepared = parameterise(nb, options.parameters)
    except ParameterProblem as exc:
        return not_checked(info, f"cannot run it with the parameters papermill recorded: {exc}")
    stored = prepared.compare_with if prepared is not None else nb
    # nbval's execution markers become the tags nbclient knows (skip, raises).
    to_run = nbformat.from_dict(apply_execution_tags(copy.deepcopy(
        prepared.to_run if prepared is not None else nb)))
    inserted = prepared.inserted if prepared is not None else None
    if prepared is None and options.parameters:
        progress.warning(f"{info.path}: no parameters cell and no papermill metadata: "
                         "-p/-f do not apply to it")

    def on_cell(index: int, done: int, total: int) -> None:
        progress.cell_done(info.path, index, done, total)

    def run_in(where: Path, order: list[int] | None) -> NotebookRun:
        return run_notebook(to_run, (where / info.path).parent, where, environment, backend,
                            options.execution, network=options.network, on_cell=on_cell,
                            order=order)

    def judged(runs: list[NotebookRun], compare: CompareOptions) -> NotebookResult:
        # The comparer sees the run as the stored notebook's cells: a cell inserted to
        # carry the parameters is taken out again.
        seen = [without_inserted(run, inserted) if inserted is not None else run
                for run in runs]
        return _judge(info, stored, seen, scratches, compare)

    def attempt(order: list[int] | None) -> tuple[NotebookResult, list[NotebookRun]]:
        runs = [run_in(where, order) for where in scratches]
        progress.stage("compare")
        outcome = judged(runs, config.options_for(info.path))
        if not options.network:
            needs_network(outcome, runs[0])
        if len(runs) == 1 and options.rerun and outcome.verdict is Verdict.DIFFERS:
            # Again in the same scratch copy, as a user re-running the notebook would:
            # the files it wrote the first time are there, a fresh copy would cost
            # every check.
            progress.stage("execute", "second run (the first differs)")
            second = run_in(scratches[0], order)
            progress.stage("compare")
            if second.outcome is Outcome.COMPLETED:
                runs.append(second)
                outcome = judged(runs, config.options_for(info.path))
            else:  # a half-run says nothing about the cells it did not reach
                second_run_ended_early(outcome, second)
        applied = config.described_for(info.path)
        if applied:
            # The repository's settings can decide its own verdict: judge again by
            # nbrepro's defaults and say so when they did.
            plain = judged(runs, CompareOptions())
            if plain.verdict is not outcome.verdict:
                outcome.repo_settings = applied
                outcome.verdict_without_repo_settings = plain.verdict
        return outcome, runs

    outcome, runs = attempt(None)
    if not info.top_down:
        outcome, runs = _other_order(outcome, runs, stored, inserted, attempt, progress)
    if prepared is not None:
        _record_parameters(outcome, prepared)
    if options.output_dir is not None:
        _write_notebooks(options.output_dir, info.path, nb, runs[0].executed)
    return outcome


# One run of a notebook in the cell order given (None: top-down), judged.
_Attempt = Callable[[list[int] | None], tuple[NotebookResult, list[NotebookRun]]]
# Verdicts after which a notebook whose counts are out of order is run again in
# stored-count order (not after a time-out: that would spend the budget twice).
_RETRIED = (Verdict.FAILED, Verdict.DIFFERS, Verdict.KERNEL_DIED)


def _other_order(
    first: NotebookResult, first_runs: list[NotebookRun], stored: nbformat.NotebookNode,
    inserted: int | None, attempt: _Attempt, progress: Progress,
) -> tuple[NotebookResult, list[NotebookRun]]:
    """Top-down did not reproduce a notebook last run out of order: run it in the order
    of its stored execution counts (as the published study's pipeline did), keep the
    verdict of the order that reproduces (top-down when neither does), record both."""
    first.attempts = [RunAttempt(TOP_DOWN, first.verdict, first.reason, first.seconds)]
    if first.verdict not in _RETRIED:
        return first, first_runs
    progress.stage("execute", "again, in stored execution-count order")
    second, second_runs = attempt(stored_count_order(stored, inserted))
    attempts = [*first.attempts,
                RunAttempt(STORED_COUNT, second.verdict, second.reason, second.seconds)]
    if second.verdict.ok:
        second.execution_order, second.attempts = STORED_COUNT, attempts
        top_down = f"{first.verdict.value}: {first.reason}".rstrip(": ")
        second.reason = (f"reproduces only in stored execution-count order (the order its "
                         f"cells were last run in), not top-down ({top_down})"
                         + (f"; {second.reason}" if second.reason else ""))
        return second, second_runs
    first.attempts = attempts
    other = f"{second.verdict.value}: {second.reason}".rstrip(": ")
    first.reason = f"{first.reason}; in stored execution-count order too: {other}"
    return first, first_runs


def stored_count_order(stored: nbformat.NotebookNode, inserted: int | None = None) -> list[int]:
    """The code cells that have a stored execution count, in the order of their counts
    (cells never run before the notebook was saved are not run). Indices are those of
    the notebook that runs: with a cell `inserted` for the parameters, that cell runs
    right after the parameters cell (first, when that one has no count)."""
    counted = sorted(
        (count, index) for index, cell in enumerate(stored.cells)
        if cell.cell_type == "code"
        and isinstance(count := cell.get("execution_count"), int) and not isinstance(count, bool)
    )
    order = [index for _, index in counted]
    if inserted is None:
        return order
    shifted = [index + 1 if index >= inserted else index for index in order]
    before = inserted - 1
    at = shifted.index(before) + 1 if before in shifted else 0
    return [*shifted[:at], inserted, *shifted[at:]]


def _record_parameters(outcome: NotebookResult, prepared: Parameterised) -> None:
    """The parameters a notebook ran with, in its result; its injected cell named; an
    exploratory run said to be one."""
    record = outcome.parameters = prepared.record
    for cell in outcome.cells:
        if cell.index == record.injected_cell and cell.status is CellStatus.IDENTICAL:
            cell.reason = PAPERMILL_REASON
            cell.detail = ("papermill's injected-parameters cell, regenerated from "
                           "metadata.papermill.parameters")
    if record.exploratory:
        expected = (": differences from the stored outputs are expected, not a "
                    "reproducibility failure" if outcome.verdict is Verdict.DIFFERS else "")
        head = record.describe() + expected
        outcome.reason = f"{head}; {outcome.reason}" if outcome.reason else head


def _restore(
    outcome: NotebookResult, info: NotebookInfo, nb: nbformat.NotebookNode,
    scratches: list[Path], made: _Environment, config: repoconfig.RepoConfig,
) -> NotebookResult:
    """Run the notebook again after each verified distribution a ModuleNotFoundError
    asks for; record every run and what was restored for it."""
    assert made.restorer is not None and made.result.spec is not None
    spec = made.result.spec
    added: list[str] = []
    attempts = [_attempt(added, outcome)]
    while len(attempts) < MAX_ATTEMPTS:
        module = missing_module(outcome.exception, outcome.message)
        if module is None:
            break
        asked = module in made.restorer.answers
        answer = made.restorer.look_up(module, info.path)
        if not asked:
            spec.inferred.append(answer)
        name, why = answer.distribution, None
        if not answer.accepted or name is None:
            why = answer.detail
        elif canonicalize_name(name) in declared_names(spec):
            why = f"{name} is in the environment already"
        elif len(made.result.inferred_requirements) >= MAX_RESTORED:
            why = f"this check has restored {MAX_RESTORED} distributions already"
        else:
            failure = made.add(name, info.path)
            if failure is not None:
                why = f"{name} could not be added ({failure})"
        if why is not None or name is None:
            outcome.reason = f"{outcome.reason}; --restore: nothing installed for {module}: {why}"
            break
        added.append(name)
        assert made.result.environment is not None
        outcome = _check_notebook(info, nb, scratches, made.result.environment, made.backend,
                                  made.options, config, made.progress)
        attempts.append(_attempt(added, outcome))
    before = [i.distribution for i in spec.inferred if i.accepted and i.notebook is None
              and i.distribution and i.module in info.imports]
    outcome.restored = list(dict.fromkeys(before + added))
    if len(attempts) > 1:  # else the runs in other cell orders, if any
        outcome.attempts = attempts
    if outcome.restored and outcome.verdict.ok:
        note = f"reproduced after restoring {', '.join(outcome.restored)} (declared nowhere)"
        outcome.reason = f"{outcome.reason}; {note}" if outcome.reason else note
    return outcome


def _attempt(added: list[str], outcome: NotebookResult) -> RunAttempt:
    return RunAttempt(outcome.execution_order, outcome.verdict, outcome.reason,
                      outcome.seconds, list(added), outcome.exception, outcome.message)


def _explain_missing(outcome: NotebookResult, result: CheckResult) -> None:
    """Without --restore: a ModuleNotFoundError's reason says what a user can act on."""
    module = missing_module(outcome.exception, outcome.message)
    if module is None or result.spec is None or outcome.exception != "ModuleNotFoundError":
        return
    hint = not_declared_hint(module, result.spec)
    if hint:
        outcome.reason = f"{outcome.reason}; {hint}" if outcome.reason else hint


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


def _labels(nb: nbformat.NotebookNode) -> dict[int, str]:
    """Each code cell as the notebook shows it (`In [n]`), for the progress line."""
    return {i: cell_label(i, c.get("execution_count"))
            for i, c in enumerate(nb.cells) if c.cell_type == "code"}


def _skipped_by_settings(info: NotebookInfo, config: repoconfig.RepoConfig) -> NotebookResult:
    """`skip = true` in the repository's settings: a skip, carrying the settings that
    decided it."""
    outcome = not_checked(info, "skipped by [tool.nbrepro] in pyproject.toml", skipped=True)
    outcome.repo_settings = config.described_for(info.path)
    return outcome


def _repo_config(root: Path, spec: Spec, options: CheckOptions,
                 progress: Progress) -> repoconfig.RepoConfig:
    """The audited repository's `[tool.nbrepro]`. Each problem in it is a warning and
    its key is ignored (the valid keys are kept); with `--strict-config`, an error."""
    if options.ignore_repo_config:
        spec.skipped.append("the repository's own settings ([tool.nbrepro], sanitize files) "
                            "ignored: --ignore-repo-config")
        return repoconfig.RepoConfig(root=root)
    config = repoconfig.load(root, strict=options.strict_config)
    for problem in config.problems:
        progress.warning(f"{problem} (ignored)")
        # also with what else of the repository was left out (the spec's record)
        spec.skipped.append(f"{problem} (ignored)")
    return config


def _prepare_output_dir(folder: Path) -> None:
    """Create `--output-dir` with nbrepro's marker in it: the copies written there are
    never taken for notebooks to check by a later check."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / OUTPUT_MARKER
        if not marker.is_file():
            marker.write_text("nbrepro writes stored/ and rerun/ copies of checked notebooks "
                              "here; checks leave this folder out.\n")
    except OSError as exc:
        raise InputError(f"cannot write to --output-dir {folder}: {exc.strerror}") from None


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
    store: Store | None, check_id: int | None, state: CheckState, result: CheckResult,
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
        "rerun": options.rerun, "ignore_repo_config": options.ignore_repo_config,
        "exclude": list(options.exclude), "keyword": options.keyword,
        "subdir": options.subdir, "strict_config": options.strict_config,
        "parameters": dict(options.parameters),
        "restore": options.restore, "as_of": options.as_of,
    }


__all__ = ["CheckOptions", "NotebookSession", "Progress", "check"]
