"""The one task every executor runs: check one repository of an audit.

`run_repository(task, emit)` takes a plain dict (a `RepoTask`) and returns a plain
dict (an `Outcome`) whose `result` is the results model (`CheckResult`) as JSON, so
it can run in a local worker process or on a Dask worker that has no access to the
audit's database; the audit's one writer stores it. When the repository was checked
before with the same options it asks `git ls-remote` for the commit and reuses that
check if nothing changed; otherwise it clones shallow into the cache (filed by commit,
removed afterwards unless kept), fetches the repository's GitHub metadata, and runs
`nbrepro.check.check()` on the clone.
Problems of the repository are results (`unreachable`, `empty`, verdicts); only
nbrepro's own failures are `error`, and a repository that runs out of time is
`timeout`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbrepro import cache
from nbrepro.errors import CheckCancelled
from nbrepro.progress import Progress

# Outcome states (the audit_repositories states of nbrepro.store).
CHECKED, REUSED, UNREACHABLE, EMPTY, ERROR, TIMEOUT = (
    "checked", "reused", "unreachable", "empty", "error", "timeout",
)
GIT_TIMEOUT = 300

Emit = Callable[[dict[str, Any]], None]


@dataclass
class RepoTask:
    id: int  # the audit_repositories row
    url: str
    full_name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # CheckOptions, as a dict
    timeout: float | None = None  # seconds for the whole repository
    keep_clone: bool = False
    known_commits: list[str] = field(default_factory=list)  # checked with these options
    github_metadata: bool = True  # ask the GitHub API (when it is a GitHub repository)
    attempt: int = 1
    # A clone the audit made ahead on this machine (`prefetch_clone`'s answer): the task
    # uses it instead of cloning, and owns it.
    cloned: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepoTask:
        return cls(**data)


@dataclass
class Outcome:
    id: int
    status: str
    reason: str | None = None
    commit: str | None = None
    commit_date: str | None = None
    default_branch: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_missing: str | None = None  # why GitHub's API gave none (its rate limit)
    result: dict[str, Any] | None = None  # CheckResult.to_dict()
    worker: str = ""
    seconds: float = 0.0
    check_seconds: float = 0.0  # time inside nbrepro.check.check()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(**data)


class RepositoryTimeout(CheckCancelled):
    """The repository's time limit ran out (raised between stages and notebooks)."""


class _TaskProgress(Progress):
    """Forwards a check's progress to the audit's live view and enforces the
    repository's time limit at each step, keeping finished notebooks."""

    def __init__(self, task_id: int, emit: Emit, deadline: float | None) -> None:
        self.task_id, self.emit, self.deadline = task_id, emit, deadline
        self.notebooks: list[Any] = []
        self.where = ""
        self._last = 0.0

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise RepositoryTimeout(self.where or "checking")

    def _send(self, stage: str, force: bool = True, **extra: Any) -> None:
        now = time.monotonic()
        if force or now - self._last > 0.5:
            self._last = now
            self.emit({"type": "progress", "id": self.task_id, "stage": stage, **extra})

    def stage(self, stage: str, detail: str | None = None) -> None:
        self.where = stage
        self._check_time()
        self._send(stage)

    def notebook_started(self, path: str, index: int, total: int, cells: int,
                         labels: Mapping[int, str] | None = None) -> None:
        self.where = f"notebook {path}"
        self._check_time()
        self._send("execute", notebook=path, index=index, total=total)

    def cell_done(self, path: str, index: int, done: int, total: int) -> None:
        self._send("execute", force=False, notebook=path, cell=done, cells=total)

    def notebook_done(self, result: Any) -> None:
        self.notebooks.append(result)
        self.emit({"type": "notebook", "id": self.task_id, "verdict": result.verdict.value})


# The longest rate-limit wait (GitHub's short secondary limits) a repository's task
# sits out for its metadata.
METADATA_WAIT = 10.0


def warm_up() -> None:
    """Run once by every worker (local or Dask) before its first task: import the
    pipeline once, instead of inside the first repository's time."""
    from nbrepro.lazyimport import skip_unused_imports

    skip_unused_imports()
    import nbrepro.check  # noqa: F401


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_repository(task_data: dict[str, Any], emit: Emit | None = None) -> dict[str, Any]:
    """Check one repository; never raises for the repository's problems or nbrepro's
    (those are outcomes too). Returns `Outcome.to_dict()`."""
    emit = emit or (lambda _e: None)
    task = RepoTask.from_dict(task_data)
    started = time.monotonic()
    deadline = started + task.timeout if task.timeout else None
    outcome = Outcome(id=task.id, status=ERROR, worker=worker_name())
    emit({"type": "started", "id": task.id, "url": task.url, "worker": outcome.worker})
    clone_dir: Path | None = None
    try:
        emit({"type": "progress", "id": task.id, "stage": "clone"})
        if task.github_metadata and task.full_name:
            outcome.metadata, outcome.metadata_missing = _github_metadata(task.full_name)
        if task.cloned is not None:
            clone_dir, cloned = _prefetched(task.cloned)
        else:
            if task.known_commits:  # a check of this commit may exist: ask before cloning
                head = ls_remote(task.url)
                if isinstance(head, str):
                    outcome.status, outcome.reason = UNREACHABLE, head
                    return _done(outcome, started)
                outcome.commit, outcome.default_branch = head
                if outcome.commit in task.known_commits:
                    outcome.status = REUSED
                    return _done(outcome, started)
            clone_dir, cloned = clone(task.url, outcome.commit)
        if isinstance(cloned, str):
            outcome.status, outcome.reason = UNREACHABLE, cloned
            return _done(outcome, started)
        if cloned.commit is None:
            outcome.status, outcome.reason = EMPTY, "the repository has no commits"
            return _done(outcome, started)
        outcome.commit, outcome.commit_date = cloned.commit, cloned.date
        outcome.default_branch = cloned.branch or outcome.default_branch
        if cloned.commit in task.known_commits:  # known only now, from a clone made ahead
            outcome.status = REUSED
            return _done(outcome, started)
        assert clone_dir is not None  # a clone, not a reason
        _check(task, outcome, clone_dir, emit, deadline)
    except RepositoryTimeout as exc:
        outcome.status = TIMEOUT
        outcome.reason = f"the repository took longer than {task.timeout:g} s (at {exc})"
    except Exception as exc:  # nbrepro's own failure: recorded, the audit goes on
        outcome.status = ERROR
        outcome.reason = f"{type(exc).__name__}: {exc}".strip()
    finally:
        if clone_dir is not None and not task.keep_clone:
            shutil.rmtree(clone_dir, ignore_errors=True)
    return _done(outcome, started)


def _done(outcome: Outcome, started: float) -> dict[str, Any]:
    outcome.seconds = time.monotonic() - started
    return outcome.to_dict()


def _check(task: RepoTask, outcome: Outcome, root: Path, emit: Emit,
           deadline: float | None) -> None:
    from nbrepro.audit.options import options_from_dict
    from nbrepro.check import check
    from nbrepro.model import CheckResult, RepositoryInfo
    from nbrepro.stages.source import Source

    options = options_from_dict(task.options)
    if task.timeout:  # no notebook may outlast the repository
        options.execution.notebook_timeout = min(options.execution.notebook_timeout,
                                                 task.timeout)
    progress = _TaskProgress(task.id, emit, deadline)
    info = RepositoryInfo(source=task.url, commit=outcome.commit, path=str(root))
    check_started = time.monotonic()
    try:
        result = check(Source(root, None, info), options, progress=progress)
    except RepositoryTimeout:
        # keep what finished: the notebooks judged before the time ran out
        partial = CheckResult(repository=info, notebooks=list(progress.notebooks),
                              seconds=time.monotonic() - check_started)
        outcome.result = partial.to_dict()
        raise
    finally:
        outcome.check_seconds = time.monotonic() - check_started
    outcome.status = CHECKED
    outcome.result = result.to_dict()


def _github_metadata(full_name: str) -> tuple[dict[str, Any], str | None]:
    """What GitHub's API says of the repository, or why it said nothing. A rate limit
    is not waited out here: the check would wait with it (up to an hour without a
    token, long past a repository's time limit)."""
    from nbrepro.audit.github import GitHub
    from nbrepro.errors import NbreproError, RateLimited

    try:
        return GitHub(max_wait=METADATA_WAIT).repository(full_name) or {}, None
    except RateLimited as exc:
        return {}, str(exc)
    except NbreproError:
        return {}, None  # the metadata is a bonus: an unreachable API does not stop the check


def _git(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # Never prompt for credentials: a private or deleted repository is unreachable. Only
    # plain transports: a listed `ext::` URL (or a redirect to one) runs no command.
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true",
               GIT_CONFIG_NOSYSTEM="1", GIT_ALLOW_PROTOCOL="http:https:git:ssh:file")
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=GIT_TIMEOUT, env=env, stdin=subprocess.DEVNULL)


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    """git's own reason: its first fatal or error line (the lines after it are advice)."""
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else f"git exited with {proc.returncode}"


def ls_remote(url: str) -> tuple[str | None, str | None] | str:
    """(commit of HEAD, default branch), (None, None) for an empty repository, or why
    the repository cannot be reached."""
    try:
        proc = _git(["ls-remote", "--symref", "--", url, "HEAD"])
    except subprocess.TimeoutExpired:
        return f"no answer within {GIT_TIMEOUT} s"
    if proc.returncode != 0:
        return _last_line(proc)
    commit = branch = None
    for line in proc.stdout.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            branch = line[5:].split("\t")[0].removeprefix("refs/heads/")
        elif line.endswith("\tHEAD"):
            commit = line.split("\t")[0]
    return commit, branch


@dataclass
class Clone:
    commit: str | None  # None: the repository has no commits
    date: str | None = None
    branch: str | None = None


def prefetch_clone(url: str) -> dict[str, Any]:
    """Clone `url` for a task to come (`RepoTask.cloned`): the folder and what was
    cloned, or why the repository cannot be reached."""
    folder, cloned = clone(url)
    if isinstance(cloned, str):
        return {"reason": cloned}
    return {"path": str(folder), **asdict(cloned)}


def _prefetched(data: dict[str, Any]) -> tuple[Path | None, Clone | str]:
    if "reason" in data:
        return None, str(data["reason"])
    return Path(data["path"]), Clone(data.get("commit"), data.get("date"), data.get("branch"))


def clone(url: str, commit: str | None = None) -> tuple[Path, Clone | str]:
    """A shallow clone of `url`'s default branch in the cache, keyed by the commit when
    it is known (a kept clone of it is reused), else cloned afresh. Returns (folder,
    what was cloned) or (folder, why the repository cannot be reached)."""
    key = cache.content_key("audit-clone", url, commit) if commit else \
        f"tmp-{uuid.uuid4().hex}"
    target = cache.entry("clones", key)
    try:
        return _clone_locked(url, commit, target)
    finally:
        if not commit:  # nobody else waits for a clone of an unknown commit
            Path(str(target) + ".lock").unlink(missing_ok=True)


def _clone_locked(url: str, commit: str | None, target: Path) -> tuple[Path, Clone | str]:
    with cache.locked(target):
        if not (target / ".git").is_dir():
            shutil.rmtree(target, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(prefix="clone-", dir=target.parent))
            try:
                proc = _git(["clone", "--quiet", "--depth", "1", "--no-tags", "--", url,
                             str(tmp / "repo")])
            except subprocess.TimeoutExpired:
                shutil.rmtree(tmp, ignore_errors=True)
                return target, f"cloning took longer than {GIT_TIMEOUT} s"
            if proc.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                return target, _last_line(proc)
            (tmp / "repo").rename(target)
            shutil.rmtree(tmp, ignore_errors=True)
        log = _git(["log", "-1", "--format=%H %cI"], cwd=target)
    head, _, date = log.stdout.strip().partition(" ") if log.returncode == 0 else ("", "", "")
    if not commit and head:  # file a fresh clone under its commit, for later checks
        final = cache.entry("clones", cache.content_key("audit-clone", url, head))
        # One there already may be in use by another task, which removes it when done:
        # this clone stays where it is, this task's own.
        with contextlib.suppress(OSError):
            target.rename(final)
            target = final
    branch = None
    head_file = target / ".git" / "HEAD"
    if head_file.is_file():  # "ref: refs/heads/main": the default branch, as cloned
        ref = head_file.read_text(errors="replace").strip()
        branch = ref.removeprefix("ref: refs/heads/") if ref.startswith("ref: ") else None
    return target, Clone(head or None, date or None, branch)
