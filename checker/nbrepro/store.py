"""Results storage: SQLAlchemy, SQLite by default, any SQLAlchemy URL for shared use.

One row per check (an invocation of `nbrepro check` or a check started from
JupyterLab), with its repository, environment, notebooks, runs and cells. Each
notebook's result is written in its own transaction as soon as it is known, so a
check that is interrupted keeps everything that finished and the database stays
consistent. The check row also carries live progress for the JupyterLab panel.
"""

from __future__ import annotations

import json
import os
import re
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

from nbrepro.errors import InputError
from nbrepro.isolation.confine import alive
from nbrepro.model import (
    CheckResult,
    CheckState,
    EnvironmentResult,
    Lock,
    NotebookInfo,
    NotebookResult,
    RepositoryInfo,
    Spec,
    Verdict,
)

# `running` rows whose process is gone are turned into `interrupted`.
ACTIVE_STATES = tuple(s for s in CheckState if s.active)


# A stored result in which some notebook's `restored` list is not empty, found in its
# JSON text (strings escape their quotes: a notebook's output cannot fake it).
RESTORED_SOMETHING = re.compile(r'"restored":\s*\[\s*"')


def restored_by_notebook(result: object) -> dict[str, list[str]]:
    """Notebook path -> what `--restore` added for it, from one stored result (its JSON
    text, or the data); a text in which nothing was restored is not decoded."""
    if isinstance(result, str):
        if not RESTORED_SOMETHING.search(result):
            return {}
        try:
            result = json.loads(result)
        except ValueError:
            return {}
    if not isinstance(result, dict):
        return {}
    return {str(nb.get("path")): [str(item) for item in nb["restored"]]
            for nb in result.get("notebooks") or []
            if isinstance(nb, dict) and isinstance(nb.get("restored"), list) and nb["restored"]}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class RepositoryRow(Base):
    __tablename__ = "repositories"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(2048), index=True)
    commit: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(4096))


class CheckRow(Base):
    __tablename__ = "checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int | None] = mapped_column(ForeignKey("repositories.id"))
    source: Mapped[str] = mapped_column(String(2048))
    # Stored as the enum's strings (VARCHAR(16), as before the enum existed).
    state: Mapped[CheckState] = mapped_column(
        Enum(CheckState, native_enum=False, length=16,
             values_callable=lambda states: [s.value for s in states]),
        default=CheckState.QUEUED, index=True)
    stage: Mapped[str | None] = mapped_column(String(16))
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verdict: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the full CheckResult

    repository: Mapped[RepositoryRow | None] = relationship()
    notebooks: Mapped[list[NotebookRow]] = relationship(
        back_populates="check", cascade="all, delete-orphan", order_by="NotebookRow.id"
    )
    environment: Mapped[EnvironmentRow | None] = relationship(
        back_populates="check", cascade="all, delete-orphan"
    )


class EnvironmentRow(Base):
    __tablename__ = "environments"
    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"), index=True)
    key: Mapped[str | None] = mapped_column(String(64))
    backend: Mapped[str | None] = mapped_column(String(32))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    python_version: Mapped[str | None] = mapped_column(String(32))
    requested_python: Mapped[str | None] = mapped_column(String(32))
    declared_files: Mapped[list[str]] = mapped_column(JSON, default=list)
    requirements: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    resolver: Mapped[str | None] = mapped_column(String(16))
    lock: Mapped[str | None] = mapped_column(Text)
    failed_requirement: Mapped[str | None] = mapped_column(String(512))
    message: Mapped[str | None] = mapped_column(Text)
    build_log: Mapped[str | None] = mapped_column(Text)
    resolve_seconds: Mapped[float | None] = mapped_column(Float)
    build_seconds: Mapped[float | None] = mapped_column(Float)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    sandbox: Mapped[str | None] = mapped_column(String(32))
    network: Mapped[bool] = mapped_column(Boolean, default=False)
    check: Mapped[CheckRow] = relationship(back_populates="environment")


class NotebookRow(Base):
    __tablename__ = "notebooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"), index=True)
    path: Mapped[str] = mapped_column(String(4096))
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text)
    nbformat: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(64))
    kernel_name: Mapped[str | None] = mapped_column(String(128))
    python_version: Mapped[str | None] = mapped_column(String(32))
    cells: Mapped[int] = mapped_column(Integer, default=0)
    code_cells: Mapped[int] = mapped_column(Integer, default=0)
    has_outputs: Mapped[bool] = mapped_column(Boolean, default=False)
    top_down: Mapped[bool] = mapped_column(Boolean, default=True)
    imports: Mapped[list[str]] = mapped_column(JSON, default=list)
    check: Mapped[CheckRow] = relationship(back_populates="notebooks")
    run: Mapped[RunRow | None] = relationship(
        back_populates="notebook", cascade="all, delete-orphan"
    )


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    notebook_id: Mapped[int] = mapped_column(ForeignKey("notebooks.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    exception: Mapped[str | None] = mapped_column(String(256), index=True)
    message: Mapped[str | None] = mapped_column(Text)
    failing_cell: Mapped[int | None] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    finished_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    notebook: Mapped[NotebookRow] = relationship(back_populates="run")
    cells: Mapped[list[CellRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="CellRow.index"
    )


class CellRow(Base):
    __tablename__ = "cells"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    run: Mapped[RunRow] = relationship(back_populates="cells")


# Values from audited repositories (kernel names, exception names, paths, reasons)
# can be longer than their column or hold NUL characters, which PostgreSQL refuses:
# every string is made to fit before it is written, so storing a result never fails.
@event.listens_for(Base, "before_insert", propagate=True)
@event.listens_for(Base, "before_update", propagate=True)
def _fit_strings(mapper: Any, connection: Any, target: Any) -> None:
    for prop in mapper.column_attrs:
        value = getattr(target, prop.key, None)
        if isinstance(value, str):
            fitted = _fit(prop.columns[0], value)
            if fitted != value:
                setattr(target, prop.key, fitted)


def _fit(column: Any, value: str) -> str:
    if not isinstance(column.type, String):  # Text is a String without a length
        return value
    fitted = value.replace("\x00", "\ufffd")
    length = column.type.length
    if length and len(fitted) > length:
        fitted = fitted[: length - 1] + "\u2026"
    return fitted


def _fitted(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    """`row` made to fit `table`'s columns, for rows inserted without the ORM (which
    fits them in `_fit_strings`)."""
    return {key: _fit(table.c[key], value) if isinstance(value, str) else value
            for key, value in row.items()}


# --- audits (`nbrepro audit`): a batch of repositories, each linked to its check ----

# Per-repository states of an audit. `checked` has a check; `unreachable` and `empty`
# are results about the repository; `error` and `timeout` are nbrepro's side and are
# redone by `--retry-failed`.
PENDING, CLAIMED, CHECKED, UNREACHABLE, EMPTY, REPO_ERROR, REPO_TIMEOUT = (
    "pending", "running", "checked", "unreachable", "empty", "error", "timeout",
)
DONE_STATES = (CHECKED, UNREACHABLE, EMPTY, REPO_ERROR, REPO_TIMEOUT)


class AuditRow(Base):
    __tablename__ = "audits"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    # input lines that named no repository, or one already listed: {line, text, reason}
    input_problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    entries: Mapped[int] = mapped_column(Integer, default=0)  # lines/results read
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    repositories: Mapped[list[AuditRepositoryRow]] = relationship(
        back_populates="audit", cascade="all, delete-orphan", order_by="AuditRepositoryRow.id"
    )


class AuditRepositoryRow(Base):
    __tablename__ = "audit_repositories"
    __table_args__ = (UniqueConstraint("audit_id", "url", name="uq_audit_repository_url"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    full_name: Mapped[str | None] = mapped_column(String(255))  # owner/name on GitHub
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    options_key: Mapped[str | None] = mapped_column(String(64))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id"), index=True)
    owner: Mapped[str | None] = mapped_column(String(255))  # host:pid of the claiming client
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    seconds: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(255))
    # what git and the GitHub API say of the repository
    commit: Mapped[str | None] = mapped_column(String(64))
    commit_date: Mapped[str | None] = mapped_column(String(40))
    default_branch: Mapped[str | None] = mapped_column(String(255))
    stars: Mapped[int | None] = mapped_column(Integer)
    license: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[str | None] = mapped_column(String(40))
    pushed_at: Mapped[str | None] = mapped_column(String(40))
    audit: Mapped[AuditRow] = relationship(back_populates="repositories")
    check: Mapped[CheckRow | None] = relationship()
    publications: Mapped[list[PublicationRow]] = relationship(
        back_populates="repository", cascade="all, delete-orphan", order_by="PublicationRow.id"
    )


class PublicationRow(Base):
    """An article that links an audited repository (from a CSV list or PubMed Central)."""

    __tablename__ = "audit_publications"
    __table_args__ = (UniqueConstraint("audit_repository_id", "key", name="uq_publication"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    audit_repository_id: Mapped[int] = mapped_column(
        ForeignKey("audit_repositories.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))  # hash of (doi, pmcid, pmid, title)
    doi: Mapped[str | None] = mapped_column(String(255))
    pmcid: Mapped[str | None] = mapped_column(String(32))
    pmid: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(Text)
    journal: Mapped[str | None] = mapped_column(String(512))
    year: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    repository: Mapped[AuditRepositoryRow] = relationship(back_populates="publications")


def _fill_environment(
    e: EnvironmentRow, spec: Spec | None, lock: Lock | None, env: EnvironmentResult | None
) -> None:
    if spec is not None:
        e.declared_files = spec.files
        e.requirements = [r.to_dict() for r in spec.requirements]
        e.requested_python = spec.python_version
    if lock is not None:
        e.resolver = lock.resolver
        e.lock = lock.text
        e.resolve_seconds = lock.seconds
        e.failed_requirement = lock.failed_requirement
        e.message = lock.message
        e.python_version = lock.python_version
    if env is not None:
        e.key = env.key
        e.backend = env.backend
        e.ok = env.ok
        e.python_version = env.python_version or e.python_version
        e.requested_python = env.requested_python or e.requested_python
        e.build_log = env.log
        e.build_seconds = env.seconds
        e.cached = env.cached
        e.sandbox = env.sandbox
        e.network = env.network
        e.failed_requirement = env.failed_requirement or e.failed_requirement
        e.message = env.message or e.message


def _notebook_rows(check_id: int, result: NotebookResult) -> tuple[NotebookRow, RunRow]:
    info = result.info or NotebookInfo(path=result.path)
    nb = NotebookRow(
        check_id=check_id, path=result.path, valid=info.valid, error=info.error,
        nbformat=info.nbformat, language=info.language, kernel_name=info.kernel_name,
        python_version=info.python_version, cells=info.cells,
        code_cells=info.code_cells, has_outputs=info.has_outputs,
        top_down=info.top_down, imports=info.imports,
    )
    nb.run = run = RunRow(
        verdict=result.verdict.value, reason=result.reason, exception=result.exception,
        message=result.message, failing_cell=result.failing_cell, seconds=result.seconds,
    )
    return nb, run


def _add_notebooks(s: Session, check_id: int, results: list[NotebookResult]) -> None:
    """Add notebooks and their runs to `s`; their cells, the many rows, go in one INSERT
    of many rows (the ORM's unit of work cost about 0.2 ms a cell)."""
    cells = []
    for result in results:
        row, run = _notebook_rows(check_id, result)
        s.add(row)
        cells += [(run, cell) for cell in result.cells]
    if not cells:
        return
    s.flush()  # the runs' ids
    table = Base.metadata.tables[CellRow.__tablename__]
    s.execute(insert(table), [_fitted(table, {
        "run_id": run.id, "index": cell.index, "status": cell.status.value,
        "reason": cell.reason, "detail": cell.detail, "seconds": cell.execution_seconds,
    }) for run, cell in cells])


def default_url() -> str:
    """`$NBREPRO_DB`, else a SQLite file in the user data dir, shared by the command
    line and the JupyterLab extension."""
    from platformdirs import user_data_dir

    default = Path(user_data_dir("nbrepro")) / "nbrepro.sqlite"
    return os.environ.get("NBREPRO_DB") or f"sqlite:///{default}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the JupyterLab panel read while a check writes; the busy timeout makes
    # concurrent writers (parallel checks, the server) wait instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def database_url(text: str) -> str:
    """`text` as a SQLAlchemy URL: a URL as it is, anything else the path of a SQLite
    file (`--db results.sqlite`, as `nbrepro report` reads it)."""
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


class Store:
    """All reads and writes of results go through here."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url or default_url())
        try:
            if self.url.startswith("sqlite:///") and self.url != "sqlite:///:memory:":
                db_path = Path(self.url.removeprefix("sqlite:///"))
                if not db_path.parent.is_dir():
                    if url is not None:  # the user named a folder that does not exist
                        raise InputError(f"database folder does not exist: {db_path.parent}")
                    db_path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url)
        except ArgumentError as exc:
            raise InputError(f"not a database URL: {self.url!r}") from exc
        except ImportError as exc:
            raise InputError(f"no driver for database URL {self.url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._create_tables()
        except DBAPIError as exc:  # not a database, no such server, refused login...
            raise InputError(f"cannot open database {self.url!r}: {exc.orig}") from exc

    def _create_tables(self) -> None:
        # New, old (written before migrations) and current databases alike: see
        # nbrepro.migrations. One migrator at a time, so concurrent openers do not race.
        from nbrepro.migrations import ensure_schema

        ensure_schema(self.engine, Base.metadata)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- check lifecycle ------------------------------------------------------

    def create_check(self, source: str, options: dict[str, Any] | None = None) -> int:
        with self.session() as s, s.begin():
            row = CheckRow(source=source, options=options or {}, state=CheckState.QUEUED,
                           progress={})
            s.add(row)
            s.flush()
            return row.id

    def start_check(self, check_id: int, repo: RepositoryInfo) -> None:
        with self.session() as s, s.begin():
            row = s.get(CheckRow, check_id)
            if row is None:
                raise InputError(f"no check with id {check_id} in {self.url}")
            # A repository is the real folder that was checked (a clone's, for a URL),
            # never the name it was typed as: two folders typed `repo2` are two.
            where = (RepositoryRow.path == repo.path if repo.path
                     else RepositoryRow.source == repo.source)
            repo_row = s.scalar(select(RepositoryRow).where(
                where, RepositoryRow.commit == repo.commit).limit(1))
            if repo_row is None:
                repo_row = RepositoryRow(source=repo.source, commit=repo.commit, path=repo.path)
                s.add(repo_row)
            row.repository = repo_row
            row.state = CheckState.RUNNING
            row.pid = os.getpid()
            row.host = socket.gethostname()
            row.started_at = row.started_at or utcnow()  # the server may have set it at spawn

    def mark_running(self, check_id: int, pid: int) -> bool:
        """A runner started the check's process: it is running from now on (its
        pipeline records the repository when it gets there). False when the check
        was no longer queued."""
        with self.session() as s, s.begin():
            row = s.get(CheckRow, check_id)
            if row is None or row.state is not CheckState.QUEUED:
                return False
            row.state = CheckState.RUNNING
            row.pid = pid
            row.host = socket.gethostname()
            row.started_at = utcnow()
            return True

    def set_progress(self, check_id: int, stage: str, progress: dict[str, Any]) -> None:
        with self.session() as s, s.begin():
            row = s.get(CheckRow, check_id)
            if row is not None:
                row.stage = stage
                row.progress = progress

    def record_environment(
        self, check_id: int, spec: Spec | None, lock: Lock | None, env: EnvironmentResult | None
    ) -> None:
        with self.session() as s, s.begin():
            row = s.get(CheckRow, check_id)
            if row is None:
                return
            e = row.environment or EnvironmentRow(check_id=check_id)
            _fill_environment(e, spec, lock, env)
            row.environment = e

    def record_notebook(self, check_id: int, result: NotebookResult) -> None:
        """Write one notebook's result, atomically."""
        with self.session() as s, s.begin():
            _add_notebooks(s, check_id, [result])

    def finish_check(
        self, check_id: int, state: CheckState, result: CheckResult | None = None,
        error: str | None = None,
    ) -> None:
        with self.session() as s, s.begin():
            row = s.get(CheckRow, check_id)
            if row is None:
                return
            row.state = state
            row.stage = None if state is CheckState.FINISHED else row.stage
            row.finished_at = utcnow()
            row.error = error
            if result is not None:
                row.result = result.to_dict()
                verdict = result.verdict
                row.verdict = verdict.value if verdict else None

    def mark_stale(self, include_queued: bool = False) -> list[int]:
        """Turn `running` checks of this host whose process is gone into `interrupted`
        (with `include_queued`, also checks queued by a server that is gone). Returns
        their ids."""
        host = socket.gethostname()
        stale: list[int] = []
        with self.session() as s, s.begin():
            rows = s.scalars(select(CheckRow).where(CheckRow.state.in_(ACTIVE_STATES))).all()
            for row in rows:
                if row.host not in (None, host):
                    continue
                if row.pid is not None and alive(row.pid):
                    continue
                if row.pid is None and row.state is CheckState.QUEUED and not include_queued:
                    continue  # not started yet: its runner owns it
                row.state = CheckState.INTERRUPTED
                row.finished_at = utcnow()
                row.error = row.error or "the process running this check ended before it finished"
                stale.append(row.id)
        return stale

    # --- reads ----------------------------------------------------------------

    def get_check(self, check_id: int, full: bool = True) -> dict[str, Any] | None:
        """One check; with `full`, its whole result too (what is known so far)."""
        with self.session() as s:
            row = s.get(CheckRow, check_id)
            return _check_dict(row, full=full) if row else None

    def list_checks(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.session() as s:
            query = (
                select(CheckRow)
                .options(selectinload(CheckRow.repository),
                         selectinload(CheckRow.notebooks).selectinload(NotebookRow.run))
                .order_by(CheckRow.id.desc()).limit(limit)
            )
            rows = s.scalars(query).all()
            return [_check_dict(r, full=False) for r in rows]

    def restored(self, check_ids: list[int]) -> dict[tuple[int, str], list[str]]:
        """(check id, notebook path) -> what `--restore` added for that notebook, for
        the notebooks it added something for (kept only in the stored result)."""
        found: dict[tuple[int, str], list[str]] = {}
        with self.session() as s:
            for start in range(0, len(check_ids), 900):  # SQLite's bound-parameter limit
                for check_id, raw in s.execute(
                        select(CheckRow.id, type_coerce(CheckRow.result, Text))
                        .where(CheckRow.id.in_(check_ids[start:start + 900]))):
                    for path, added in restored_by_notebook(raw).items():
                        found[(check_id, path)] = added
        return found

    def latest_id(self) -> int | None:
        """The id of the newest check, whatever its state (None in an empty database)."""
        with self.session() as s:
            return s.scalar(select(CheckRow.id).order_by(CheckRow.id.desc()).limit(1))

    def latest_notebooks(self, path: str | Path) -> list[NotebookResult]:
        """The result of each notebook at or below the absolute `path` (a notebook or a
        folder), from the newest finished check that judged it, as that check stored
        it. Checks are matched by the real folder they checked, never by the name it
        was typed as."""
        target = Path(path)
        with self.session() as s:
            # Repositories that hold the target, or that the target folder holds.
            repos = {r.id: Path(r.path) for r in s.scalars(select(RepositoryRow).where(or_(
                RepositoryRow.path.in_([str(target), *map(str, target.parents)]),
                RepositoryRow.path.startswith(str(target).rstrip("/") + "/", autoescape=True),
            ))) if r.path}
            if not repos:
                return []
            rows = s.execute(
                select(CheckRow.id, CheckRow.repository_id, NotebookRow.path)
                .join(NotebookRow, NotebookRow.check_id == CheckRow.id)
                .where(CheckRow.repository_id.in_(list(repos)),
                       CheckRow.state == CheckState.FINISHED)
                .order_by(CheckRow.id.desc())
            ).all()
            newest: dict[Path, tuple[int, str]] = {}
            for check_id, repository_id, rel in rows:
                if repository_id is None:
                    continue
                notebook = repos[repository_id] / rel
                if notebook == target or target in notebook.parents:
                    newest.setdefault(notebook, (check_id, rel))
            stored: dict[int, dict[str, NotebookResult]] = {}
            for check_id in {c for c, _ in newest.values()}:
                row = s.get(CheckRow, check_id)
                assert row is not None
                result = CheckResult.from_dict(row.result) if row.result else _partial_result(row)
                stored[check_id] = {nb.path: nb for nb in result.notebooks}
        return [stored[c][rel] for _, (c, rel) in sorted(newest.items())
                if rel in stored[c]]

    def latest_finished(self, path: str | Path) -> int | None:
        """The newest finished check of the repository in the absolute folder `path`."""
        with self.session() as s:
            return s.scalar(
                select(CheckRow.id)
                .join(RepositoryRow, CheckRow.repository_id == RepositoryRow.id)
                .where(RepositoryRow.path == str(path), CheckRow.state == CheckState.FINISHED)
                .order_by(CheckRow.id.desc()).limit(1))

    def get_result(self, check_id: int, stored_only: bool = False) -> CheckResult | None:
        """The full result of a check; for an unfinished check, what is known so far
        (with `stored_only`, None until the check's own result is stored: the rows
        known so far carry no cell diffs or images)."""
        with self.session() as s:
            row = s.get(CheckRow, check_id)
            if row is None:
                return None
            if row.result:
                return CheckResult.from_dict(row.result)
            return None if stored_only else _partial_result(row)

    def record_check(
        self, result: CheckResult, options: dict[str, Any] | None = None,
        state: CheckState = CheckState.FINISHED, error: str | None = None,
    ) -> int:
        """Write a whole check that ran elsewhere (an audit's worker) in one transaction."""
        with self.session() as s, s.begin():
            return write_check(s, result, options, state, error).id

    def set_pid(self, check_id: int, pid: int) -> None:
        with self.session() as s, s.begin():
            row = s.get(CheckRow, check_id)
            if row is not None:
                row.pid = pid
                row.host = socket.gethostname()


def write_check(
    s: Session, result: CheckResult, options: dict[str, Any] | None, state: CheckState,
    error: str | None,
) -> CheckRow:
    """Add a finished check with its repository, environment, notebooks, runs and cells
    to the session `s` (the caller's transaction decides when it is committed)."""
    repo = result.repository
    repo_row = s.scalar(select(RepositoryRow).where(
        RepositoryRow.source == repo.source, RepositoryRow.commit == repo.commit))
    if repo_row is None:
        repo_row = RepositoryRow(source=repo.source, commit=repo.commit, path=repo.path)
        s.add(repo_row)
    started = (datetime.fromisoformat(result.started_at).astimezone(timezone.utc)
               .replace(tzinfo=None) if result.started_at else None)
    verdict = result.verdict
    row = CheckRow(
        source=repo.source, repository=repo_row, state=state, progress={},
        options=options or {}, verdict=verdict.value if verdict else None, error=error,
        host=None, created_at=started or utcnow(), started_at=started,
        finished_at=utcnow(), result=result.to_dict(),
    )
    s.add(row)
    s.flush()
    if result.spec is not None or result.lock is not None or result.environment is not None:
        env = EnvironmentRow(check_id=row.id, declared_files=[], requirements=[])
        _fill_environment(env, result.spec, result.lock, result.environment)
        row.environment = env
    _add_notebooks(s, row.id, result.notebooks)
    return row


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=timezone.utc).isoformat() if value else None


def _check_dict(row: CheckRow, full: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "source": row.source,
        "state": row.state,
        "stage": row.stage,
        "progress": row.progress or {},
        "verdict": row.verdict,
        "error": row.error,
        "options": row.options or {},
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "commit": row.repository.commit if row.repository else None,
        "notebooks": [
            {"path": nb.path, "verdict": nb.run.verdict if nb.run else None}
            for nb in row.notebooks
        ],
    }
    data["root"] = row.repository.path if row.repository else None  # absolute
    if full:  # a finished check's result is stored as this very dict
        data["result"] = row.result or _partial_result(row).to_dict()
    return data


def _partial_result(row: CheckRow) -> CheckResult:
    from nbrepro.model import CellResult, CellStatus

    repo = row.repository
    result = CheckResult(
        repository=RepositoryInfo(
            source=row.source, commit=repo.commit if repo else None,
            path=repo.path if repo else None,
        )
    )
    for nb in row.notebooks:
        if nb.run is None:
            continue
        result.notebooks.append(
            NotebookResult(
                path=nb.path, verdict=Verdict(nb.run.verdict), reason=nb.run.reason,
                exception=nb.run.exception, message=nb.run.message,
                failing_cell=nb.run.failing_cell, seconds=nb.run.seconds,
                cells=[
                    CellResult(index=c.index, status=CellStatus(c.status), reason=c.reason,
                               detail=c.detail, execution_seconds=c.seconds)
                    for c in nb.run.cells
                ],
            )
        )
    return result


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
