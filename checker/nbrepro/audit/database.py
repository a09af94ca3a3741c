"""An audit's reads and writes: its repositories, their claims and their outcomes.

One writer per client stores outcomes; each outcome (the check with its notebooks,
runs and cells, and the repository row pointing at it) is one transaction, so a
killed audit leaves nothing half-written. A repository is claimed before it is
dispatched (compare-and-set on its row), so two clients running the same audit on
one PostgreSQL database share the work instead of doing it twice.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nbrepro.audit.sources import Publication, Repository
from nbrepro.audit.tasks import REUSED, Outcome
from nbrepro.cache import content_key
from nbrepro.errors import InputError
from nbrepro.isolation.confine import alive
from nbrepro.model import CheckResult, CheckState
from nbrepro.store import (
    CHECKED,
    CLAIMED,
    DONE_STATES,
    PENDING,
    REPO_ERROR,
    REPO_TIMEOUT,
    AuditRepositoryRow,
    AuditRow,
    PublicationRow,
    Store,
    utcnow,
    write_check,
)

STALE_CLAIM = timedelta(hours=6)  # a claim by another machine older than this is void


def client_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Planned:
    id: int
    url: str
    full_name: str | None
    status: str
    owner: str | None
    attempts: int


class AuditDatabase:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.owner = client_name()

    # --- setting up ------------------------------------------------------------

    def open_audit(self, name: str, options: dict[str, Any], sources: list[str],
                   problems: list[dict[str, Any]], entries: int) -> int:
        for _attempt in range(2):
            try:
                with self.store.session() as s, s.begin():
                    row = s.scalar(select(AuditRow).where(AuditRow.name == name))
                    if row is None:
                        row = AuditRow(name=name)
                        s.add(row)
                    row.options, row.sources = options, sources
                    row.input_problems, row.entries = problems, entries
                    row.updated_at = utcnow()
                    s.flush()
                    return row.id
            except IntegrityError:  # another client created it at the same moment
                continue
        raise InputError(f"cannot create audit {name!r}")

    def add_repositories(self, audit_id: int, repos: list[Repository]) -> None:
        """Insert the repositories and publications not yet in the audit (clients
        running the same audit at once insert the same ones: unique keys decide), and
        what a search said of each repository."""
        with self.store.session() as s, s.begin():
            _insert_new(s, AuditRepositoryRow, ["audit_id", "url"], [
                {"audit_id": audit_id, "url": r.url, "full_name": r.full_name,
                 "status": PENDING, "attempts": 0} for r in repos])
        with self.store.session() as s, s.begin():
            rows = {r.url: r for r in s.scalars(
                select(AuditRepositoryRow).where(AuditRepositoryRow.audit_id == audit_id))}
            publications = []
            for repo in repos:
                row = rows[repo.url]
                _apply_metadata(row, repo.metadata)
                publications += [_publication(row.id, pub) for pub in repo.publications]
            _insert_new(s, PublicationRow, ["audit_repository_id", "key"], publications)

    # --- planning and claiming ---------------------------------------------------

    def plan(self, audit_id: int, options_key: str, urls: list[str], retry_failed: bool,
             force: bool) -> tuple[list[Planned], int]:
        """The repositories of `urls` that need a check now, in order, and how many are
        already done (same options)."""
        order = {url: i for i, url in enumerate(urls)}
        todo: list[Planned] = []
        done = 0
        with self.store.session() as s:
            rows = s.scalars(select(AuditRepositoryRow).where(
                AuditRepositoryRow.audit_id == audit_id,
                AuditRepositoryRow.url.in_(urls) if len(urls) < 900 else true(),
            )).all()
            for row in sorted((r for r in rows if r.url in order), key=lambda r: order[r.url]):
                if self._needs_check(row, options_key, retry_failed, force):
                    todo.append(Planned(row.id, row.url, row.full_name, row.status,
                                        row.owner, row.attempts))
                else:
                    done += 1
        return todo, done

    def _needs_check(self, row: AuditRepositoryRow, key: str, retry_failed: bool,
                     force: bool) -> bool:
        if row.status == CLAIMED:
            return self._stale(row)
        if force or row.status == PENDING:
            return True
        if row.status in DONE_STATES and row.options_key != key:
            return True  # checked with other options
        return retry_failed and row.status in (REPO_ERROR, REPO_TIMEOUT)

    def _stale(self, row: AuditRepositoryRow) -> bool:
        host, _, pid = (row.owner or "").rpartition(":")
        if host == socket.gethostname() and pid.isdigit():
            return not alive(int(pid))
        return row.claimed_at is None or utcnow() - row.claimed_at > STALE_CLAIM

    def claim(self, planned: Planned) -> bool:
        """Take the repository if nobody else did since it was planned."""
        with self.store.session() as s, s.begin():
            owner_cond = (AuditRepositoryRow.owner.is_(None) if planned.owner is None
                          else AuditRepositoryRow.owner == planned.owner)
            result = s.execute(
                update(AuditRepositoryRow)
                .where(AuditRepositoryRow.id == planned.id,
                       AuditRepositoryRow.status == planned.status, owner_cond)
                .values(status=CLAIMED, owner=self.owner, claimed_at=utcnow())
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    def release(self, ids: list[int]) -> None:
        """Give back claimed repositories (the audit stops before checking them)."""
        if not ids:
            return
        with self.store.session() as s, s.begin():
            s.execute(update(AuditRepositoryRow)
                      .where(AuditRepositoryRow.id.in_(ids),
                             AuditRepositoryRow.owner == self.owner,
                             AuditRepositoryRow.status == CLAIMED)
                      .values(status=PENDING, owner=None, claimed_at=None))

    def known_commits(self, url: str, key: str) -> list[str]:
        """Commits of `url` already checked with these options (by any audit)."""
        with self.store.session() as s:
            return sorted({c for c in s.scalars(select(AuditRepositoryRow.commit).where(
                AuditRepositoryRow.url == url, AuditRepositoryRow.options_key == key,
                AuditRepositoryRow.status == CHECKED,
                AuditRepositoryRow.check_id.is_not(None))) if c})

    # --- the writer --------------------------------------------------------------

    def record(self, outcome: Outcome, options: dict[str, Any], key: str,
               attempts: int) -> bool:
        """Store one outcome in one transaction; False when the repository is no longer
        this client's (another client took over a claim it thought stale)."""
        with self.store.session() as s, s.begin():
            row = s.get(AuditRepositoryRow, outcome.id, with_for_update=True)
            if row is None or row.status != CLAIMED or row.owner != self.owner:
                return False
            status, check_id = outcome.status, None
            if status == REUSED:
                check_id = s.scalar(select(AuditRepositoryRow.check_id).where(
                    AuditRepositoryRow.url == row.url, AuditRepositoryRow.commit ==
                    outcome.commit, AuditRepositoryRow.options_key == key,
                    AuditRepositoryRow.status == CHECKED,
                    AuditRepositoryRow.check_id.is_not(None)).limit(1))
                status = CHECKED
            elif outcome.result is not None:
                result = CheckResult.from_dict(outcome.result)
                state = CheckState.INTERRUPTED if status == REPO_TIMEOUT else CheckState.FINISHED
                error = outcome.reason if state is not CheckState.FINISHED else None
                check_id = write_check(s, result, options, state, error).id
            row.status = status
            row.check_id = check_id
            row.reason = outcome.reason
            row.commit = outcome.commit or row.commit
            row.commit_date = outcome.commit_date or row.commit_date
            row.default_branch = outcome.default_branch or row.default_branch
            _apply_metadata(row, outcome.metadata)
            row.options_key = key
            row.attempts = attempts
            row.worker = outcome.worker
            row.seconds = outcome.seconds
            row.finished_at = utcnow()
            row.owner = None
            row.claimed_at = None
            return True

    # --- reading -------------------------------------------------------------------

    def find_audit(self, name_or_id: str | None) -> AuditRow:
        with self.store.session() as s:
            query = select(AuditRow)
            if name_or_id is None:
                row = s.scalars(query.order_by(AuditRow.id.desc()).limit(1)).first()
            else:
                row = s.scalar(query.where(AuditRow.name == name_or_id))
                if row is None and name_or_id.isdigit():
                    row = s.get(AuditRow, int(name_or_id))
            if row is None:
                what = f"no audit {name_or_id!r}" if name_or_id else "no audit"
                raise InputError(f"{what} in {self.store.url}")
            return row

    def count_failed(self, audit_id: int) -> int:
        """Repositories that ended in an nbrepro-side error or timeout."""
        with self.store.session() as s:
            return len(s.scalars(select(AuditRepositoryRow.id).where(
                AuditRepositoryRow.audit_id == audit_id,
                AuditRepositoryRow.status.in_((REPO_ERROR, REPO_TIMEOUT)))).all())

    def has_audits(self) -> bool:
        with self.store.session() as s:
            return s.scalar(select(AuditRow.id).limit(1)) is not None


def _publication(repository_id: int, pub: Publication) -> dict[str, Any]:
    return {"audit_repository_id": repository_id, "key": content_key(*pub.identity()),
            "doi": pub.doi, "pmcid": pub.pmcid, "pmid": pub.pmid, "title": pub.title,
            "journal": pub.journal, "year": pub.year, "extra": dict(pub.extra)}


def _insert_new(s: Session, model: type[Any], unique: list[str],
                rows: list[dict[str, Any]]) -> None:
    """Insert `rows`, skipping those whose `unique` columns are already taken (also by
    another client at this very moment)."""
    if not rows:
        return
    dialect = s.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # any other database: one at a time, a taken key is skipped
        for row in rows:
            try:
                with s.begin_nested():
                    s.add(model(**row))
            except IntegrityError:
                pass
        return
    seen: set[tuple[Any, ...]] = set()
    unique_rows = []
    for row in rows:  # one statement may not name the same key twice (PostgreSQL)
        marker = tuple(row[c] for c in unique)
        if marker not in seen:
            seen.add(marker)
            unique_rows.append(row)
    for first in range(0, len(unique_rows), 500):
        s.execute(insert(model).on_conflict_do_nothing(index_elements=unique),
                  unique_rows[first:first + 500])


def _apply_metadata(row: AuditRepositoryRow, meta: dict[str, Any]) -> None:
    for key in ("default_branch", "stars", "license", "created_at", "pushed_at"):
        if meta.get(key) is not None:
            setattr(row, key, meta[key])

