"""`nbrepro audit`: read the sources, record the audit, check every repository that
needs it through an executor, and store each outcome as it arrives.

Resumable and idempotent: a repository already checked with the same options is not
checked again (`--retry-failed` redoes nbrepro-side errors and timeouts, `--force`
everything). A repository whose worker died is retried once, then recorded as an
`error` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from nbrepro.audit.collect import read_sources
from nbrepro.audit.database import AuditDatabase, Planned
from nbrepro.audit.executors import Executor, make_executor
from nbrepro.audit.live import AuditView
from nbrepro.audit.options import options_key, options_to_dict
from nbrepro.audit.prefetch import ClonePrefetcher
from nbrepro.audit.tasks import ERROR, TIMEOUT, Outcome, RepoTask
from nbrepro.store import Store

if TYPE_CHECKING:
    from nbrepro.options import CheckOptions

RETRIES = 1  # extra attempts for a repository whose worker died


@dataclass
class AuditConfig:
    sources: list[str]
    options: CheckOptions
    github_queries: list[str] = field(default_factory=list)
    pmc_queries: list[str] = field(default_factory=list)
    db_url: str | None = None
    name: str | None = None
    jobs: int | None = None
    scheduler: str | None = None
    dask_local: int | None = None
    repo_timeout: float | None = None
    limit: int | None = None
    retry_failed: bool = False
    force: bool = False
    keep_clones: bool = False
    github_metadata: bool = True
    quiet: bool = False


@dataclass
class AuditRun:
    audit_id: int
    name: str
    db_url: str
    repositories: int
    checked_now: int
    already_done: int
    failed: int  # nbrepro-side errors and timeouts among all repositories


def audit_name(config: AuditConfig) -> str:
    if config.name:
        return config.name
    first = next(iter(config.sources), None)
    if first and not re.match(r"^[a-z]+://", first):
        return Path(first).stem or "audit"
    query = next(iter(config.github_queries + config.pmc_queries), "")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", query).strip("-")[:60] or "audit"


def run_audit(config: AuditConfig, console: Console,
              executor: Executor | None = None) -> AuditRun:
    """Raises `InputError` for unusable sources or database; returns when every
    repository has an outcome (KeyboardInterrupt/SystemExit stop it early, keeping
    every finished repository). `executor`: one the caller made (and may have started
    already, so that its workers import the pipeline while this reads the sources);
    it is stopped here in any case."""
    try:
        return _run_audit(config, console, executor or make_executor(
            config.jobs, config.scheduler, config.dask_local, config.repo_timeout,
            config.options.limits.memory))
    finally:
        if executor is not None:
            executor.stop()


def _run_audit(config: AuditConfig, console: Console, executor: Executor) -> AuditRun:
    store = Store(config.db_url)
    quiet = config.quiet

    def say(text: str) -> None:
        if not quiet:
            console.print(text, highlight=False, markup=False, soft_wrap=True)

    found = read_sources(config.sources, config.github_queries, config.pmc_queries,
                         config.limit, say=say)
    name = audit_name(config)
    options = options_to_dict(config.options)
    key = options_key(options)
    db = AuditDatabase(store)
    audit_id = db.open_audit(
        name, {"check": options, "key": key, "repo_timeout": config.repo_timeout},
        [*config.sources, *(f"github:{q}" for q in config.github_queries),
         *(f"pmc:{q}" for q in config.pmc_queries)],
        [p.to_dict() for p in found.problems], found.entries)
    db.add_repositories(audit_id, found.repositories)
    urls = [r.url for r in found.repositories]
    todo, already = db.plan(audit_id, key, urls, config.retry_failed, config.force)
    for problem in found.problems:
        where = f"{problem.source}:{problem.line}" if problem.line else problem.source
        say(f"skipped {where}: {problem.text!r}: {problem.reason}")
    say(f"audit {name!r}: {len(urls)} repositories, {already} already done, "
        f"{len(todo)} to check; {executor.description}; results in {store.url}")
    view = AuditView(console, total=len(urls), already=already, todo=len(todo), quiet=quiet)
    checked_now = 0
    if todo:
        with view:
            executor.start()
            try:
                checked_now = _drive(executor, db, todo, config, options, key, view)
            finally:
                executor.stop()
    failed = db.count_failed(audit_id)
    return AuditRun(audit_id, name, store.url, len(urls), checked_now, already, failed)


def _drive(executor: Executor, db: AuditDatabase, todo: list[Planned], config: AuditConfig,
           options: dict[str, object], key: str, view: AuditView) -> int:
    queue = list(reversed(todo))  # pop() from the end keeps the listed order
    running: dict[int, tuple[Planned, RepoTask]] = {}
    # Claimed and being cloned ahead (only where workers share this machine's files):
    # claimed first, so no other client checks what this one clones.
    ahead: list[Planned] = []
    clones = ClonePrefetcher(executor.slots) if executor.shares_files else None
    # Finished, not yet stored (for a moment: see below).
    received: list[tuple[Outcome, Planned, RepoTask]] = []
    finished = 0
    said_metadata = False  # that GitHub's rate limit keeps its metadata out

    def claim_next() -> Planned | None:
        while queue:
            planned = queue.pop()
            if db.claim(planned):
                return planned
        return None  # another client took the rest

    def clone_ahead() -> None:
        while clones is not None and len(ahead) < executor.slots \
                and (planned := claim_next()) is not None:
            ahead.append(planned)
            clones.ahead([planned.url])

    try:
        while queue or running or ahead or received:
            clone_ahead()  # first: the first repositories clone while the workers start
            while len(running) < executor.slots:
                planned = ahead.pop(0) if ahead else claim_next()
                if planned is None:
                    break
                task = RepoTask(
                    id=planned.id, url=planned.url, full_name=planned.full_name,
                    options=options, timeout=config.repo_timeout,
                    keep_clone=config.keep_clones,
                    known_commits=[] if config.force else db.known_commits(planned.url, key),
                    github_metadata=config.github_metadata,
                    cloned=clones.take(planned.url) if clones is not None else None,
                )
                running[planned.id] = (planned, task)
                executor.submit(task.to_dict())
            # Stored after the freed workers have their next repository, not before:
            # a worker does not wait for the database.
            while received:
                outcome, planned, task = received.pop(0)
                _store(db, outcome, options, key, planned, task, view)
                finished += 1
            clone_ahead()
            if not (running or queue or ahead):
                break  # all stored: nothing to wait for
            for message in executor.poll(0.25):
                task_id = int(message.get("id") or message.get("outcome", {}).get("id", -1))
                if task_id not in running:
                    continue
                planned, task = running[task_id]
                kind = message.get("type")
                if kind == "done":
                    outcome = Outcome.from_dict(message["outcome"])
                    if outcome.metadata_missing and not said_metadata:
                        said_metadata = True
                        view.say(f"{outcome.metadata_missing}: repositories are checked "
                                 "without GitHub's metadata (stars, licence, dates) until "
                                 "it resets; GITHUB_TOKEN raises the limit")
                    received.append((outcome, planned, running.pop(task_id)[1]))
                elif kind == "lost":
                    if message.get("kind") == "died" and task.attempt <= RETRIES:
                        task.attempt += 1
                        task.cloned = None  # a fresh clone: the dead worker's may be half-used
                        view.say(f"{planned.url}: {message.get('reason')}; trying once more")
                        executor.submit(task.to_dict())
                        continue
                    status = TIMEOUT if message.get("kind") == "timeout" else ERROR
                    reason = str(message.get("reason"))
                    if message.get("kind") == "died":
                        reason = f"{reason} (twice)"
                    running.pop(task_id)
                    received.append((Outcome(id=task_id, status=status, reason=reason,
                                             worker=str(message.get("worker", ""))),
                                     planned, task))
                else:
                    view.event(message, planned.url)
            view.refresh()
    except BaseException:
        for outcome, planned, task in received:  # finished: kept, when the database lets us
            try:
                _store(db, outcome, options, key, planned, task, view)
            except Exception:
                running[planned.id] = (planned, task)  # released: checked again later
        db.release([*running, *(planned.id for planned in ahead)])
        raise
    finally:
        if clones is not None:
            clones.close()
    return finished


def _store(db: AuditDatabase, outcome: Outcome, options: dict[str, object], key: str,
           planned: Planned, task: RepoTask, view: AuditView) -> None:
    stored = db.record(outcome, options, key, planned.attempts + task.attempt)
    verdicts = [n["verdict"] for n in (outcome.result or {}).get("notebooks", [])]
    if not stored:
        view.say(f"{planned.url}: already recorded by another client")
    view.done(planned.url, planned.id, "checked" if outcome.status == "reused"
              else outcome.status, verdicts if outcome.status != "timeout" else [],
              outcome.seconds, outcome.reason)


__all__ = ["AuditConfig", "AuditRun", "run_audit"]
