"""Everything the graph reads from the results database, as plain rows.

The only module of the graph that knows the database schema: checks with their
repository, environment, notebooks, runs and cells, and — when the database
holds audits — each audit and the publication and GitHub metadata of its
repositories. A database without audits (a single `nbrepro check`) reads fine:
the audit parts are simply empty.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, MetaData, Table, Text, func, inspect, select, type_coerce

from nbrepro.audit.sources import Publication
from nbrepro.errors import InputError
from nbrepro.store import (
    CellRow,
    CheckRow,
    EnvironmentRow,
    NotebookRow,
    RepositoryRow,
    RunRow,
    Store,
    restored_by_notebook,
)


@dataclass
class Cell:
    index: int
    status: str
    reason: str | None
    detail: str | None
    seconds: float | None


@dataclass
class Run:
    verdict: str
    reason: str | None
    exception: str | None
    message: str | None
    failing_cell: int | None
    seconds: float
    finished_at: datetime | None
    cells: list[Cell] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # what restoration added, if any


@dataclass
class Notebook:
    path: str
    valid: bool
    error: str | None
    nbformat: str | None
    language: str | None
    kernel_name: str | None
    python_version: str | None
    cells: int
    code_cells: int
    has_outputs: bool
    top_down: bool
    imports: list[str]
    run: Run | None = None


@dataclass
class Environment:
    ok: bool
    backend: str | None
    python_version: str | None
    requested_python: str | None
    declared_files: list[str]
    requirements: list[dict[str, Any]]  # {"spec", "source", "original"}
    resolver: str | None
    lock: str | None
    failed_requirement: str | None
    sandbox: str | None
    network: bool
    cached: bool


@dataclass
class RepositoryMeta:
    """What an audit knows about a repository beyond the check (GitHub, articles)."""

    stars: int | None = None
    license: str | None = None  # SPDX identifier
    default_branch: str | None = None
    commit_date: datetime | None = None
    created_at: datetime | None = None
    pushed_at: datetime | None = None
    articles: list[Publication] = field(default_factory=list)


@dataclass
class Audit:
    id: int
    name: str
    started_at: datetime | None = None


@dataclass
class Check:
    id: int
    source: str
    commit: str | None
    path: str | None
    state: str
    verdict: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    nbrepro_version: str
    environment: Environment | None = None
    notebooks: list[Notebook] = field(default_factory=list)
    meta: RepositoryMeta | None = None
    audits: list[Audit] = field(default_factory=list)


@dataclass
class Results:
    checks: list[Check]
    audits: list[Audit]


def open_store(db: str) -> Store:
    """The results database named by a SQLAlchemy URL or a SQLite file path, which
    must exist (reading never creates an empty database)."""
    from pathlib import Path

    if "://" not in db:
        if not Path(db).expanduser().is_file():
            raise InputError(f"no such database file: {db}")
    elif (db.startswith("sqlite:///") and db != "sqlite:///:memory:"
          and not Path(db.removeprefix("sqlite:///")).is_file()):
            raise InputError(f"no such database file: {db.removeprefix('sqlite:///')}")
    return Store(db)


def stamp(engine: Engine) -> list[Any]:
    """Changes whenever anything the graph shows changes: ids and times of the
    newest rows (new checks, notebooks, finished or interrupted checks)."""
    with engine.connect() as conn:
        parts: list[Any] = list(conn.execute(select(
            func.count(CheckRow.id), func.max(CheckRow.id), func.max(CheckRow.finished_at),
            func.max(CheckRow.started_at),
        )).one())
        for table in (RunRow, EnvironmentRow, CellRow):
            parts.append(conn.execute(select(func.max(table.id))).scalar())
    parts += _audit_stamp(engine)
    return [str(p) for p in parts]


def read(store: Store, audit: str | None = None, check_id: int | None = None) -> Results:
    """All checks (those of one audit, or one check) with everything below them."""
    engine = store.engine
    audits = _audits(engine)
    check_ids: set[int] | None = None
    if audit is not None:
        chosen = _find_audit(audits, audit)
        check_ids = _audit_checks(engine, chosen.id)
    if check_id is not None:
        check_ids = {check_id} if check_ids is None or check_id in check_ids else set()
    with store.session() as s:
        query = select(
            CheckRow.id, CheckRow.source, CheckRow.state, CheckRow.verdict, CheckRow.created_at,
            CheckRow.started_at, CheckRow.finished_at, RepositoryRow.commit, RepositoryRow.path,
        ).outerjoin(RepositoryRow, CheckRow.repository_id == RepositoryRow.id)
        if check_ids is not None:
            query = query.where(CheckRow.id.in_(check_ids))
        checks = {
            row.id: Check(
                id=row.id, source=row.source, commit=row.commit, path=row.path,
                state=row.state, verdict=row.verdict, created_at=row.created_at,
                started_at=row.started_at, finished_at=row.finished_at, nbrepro_version="",
            )
            for row in s.execute(query.order_by(CheckRow.id))
        }
        if check_id is not None and check_id not in checks:
            raise InputError(f"no check with id {check_id} in {store.url}")
        wanted = list(checks)
        restored = _read_results_json(s, checks, wanted)
        _read_environments(s, checks, wanted)
        _read_notebooks(s, checks, wanted, restored)
    meta = _repository_meta(engine, set(checks))
    check_audit = _check_audits(engine, audits, set(checks))
    for cid, check in checks.items():
        check.meta = meta.get(cid)
        check.audits = check_audit.get(cid, [])
    if check_ids is not None:  # only the audits of what is exported
        shown = {a.id for c in checks.values() for a in c.audits}
        audits = [a for a in audits if a.id in shown]
    return Results(checks=list(checks.values()), audits=audits)


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    # SQLite limits the number of bound parameters in one IN (...).
    return [ids[i:i + size] for i in range(0, len(ids), size)] or [[]]


# A stored result's top-level version field, read from the JSON text without decoding
# the whole result (cells included) when nothing else in it is needed. JSON strings
# escape their quotes, so text inside a notebook's output cannot fake it.
_VERSION = re.compile(r'"nbrepro_version":\s*"([^"\\]*)"')


def _read_results_json(
    s: Any, checks: dict[int, Check], ids: list[int]
) -> dict[tuple[int, str], list[str]]:
    """The version of nbrepro that made each check, and per notebook what
    restoration added — kept only in the stored result."""
    restored: dict[tuple[int, str], list[str]] = {}
    for chunk in _chunks(ids):
        for cid, raw in s.execute(
            select(CheckRow.id, type_coerce(CheckRow.result, Text))
            .where(CheckRow.id.in_(chunk))
        ):
            if isinstance(raw, str):
                versions = _VERSION.findall(raw)
                checks[cid].nbrepro_version = versions[-1] if versions else ""
            elif isinstance(raw, dict):
                checks[cid].nbrepro_version = str(raw.get("nbrepro_version") or "")
            for path, added in restored_by_notebook(raw).items():
                restored[(cid, path)] = added
    return restored


def _read_environments(s: Any, checks: dict[int, Check], ids: list[int]) -> None:
    for chunk in _chunks(ids):
        for e in s.scalars(select(EnvironmentRow).where(EnvironmentRow.check_id.in_(chunk))):
            checks[e.check_id].environment = Environment(
                ok=bool(e.ok), backend=e.backend, python_version=e.python_version,
                requested_python=e.requested_python,
                declared_files=[str(f) for f in e.declared_files or []],
                requirements=[r for r in e.requirements or [] if isinstance(r, dict)],
                resolver=e.resolver, lock=e.lock, failed_requirement=e.failed_requirement,
                sandbox=e.sandbox, network=bool(e.network), cached=bool(e.cached),
            )


def _read_notebooks(
    s: Any, checks: dict[int, Check], ids: list[int],
    restored: dict[tuple[int, str], list[str]],
) -> None:
    runs: dict[int, Run] = {}
    n, r = NotebookRow, RunRow
    for chunk in _chunks(ids):
        rows = s.execute(
            select(n.check_id, n.path, n.valid, n.error, n.nbformat, n.language, n.kernel_name,
                   n.python_version, n.cells, n.code_cells, n.has_outputs, n.top_down,
                   n.imports, r.id, r.verdict, r.reason, r.exception, r.message,
                   r.failing_cell, r.seconds, r.finished_at)
            .outerjoin(r, r.notebook_id == n.id)
            .where(n.check_id.in_(chunk))
            .order_by(n.id)
        )
        for row in rows:
            check = checks[row.check_id]
            notebook = Notebook(
                path=row.path, valid=bool(row.valid), error=row.error, nbformat=row.nbformat,
                language=row.language, kernel_name=row.kernel_name,
                python_version=row.python_version, cells=row.cells or 0,
                code_cells=row.code_cells or 0, has_outputs=bool(row.has_outputs),
                top_down=bool(row.top_down), imports=[str(i) for i in row.imports or []],
            )
            if row.id is not None:
                notebook.run = runs[row.id] = Run(
                    verdict=row.verdict, reason=row.reason, exception=row.exception,
                    message=row.message, failing_cell=row.failing_cell,
                    seconds=row.seconds or 0.0, finished_at=row.finished_at,
                    restored=restored.get((row.check_id, row.path), []),
                )
            check.notebooks.append(notebook)
    cells: dict[int, list[Cell]] = defaultdict(list)
    run_ids = list(runs)
    for chunk in _chunks(run_ids):
        for c in s.execute(
            select(CellRow.run_id, CellRow.index, CellRow.status, CellRow.reason,
                   CellRow.detail, CellRow.seconds)
            .where(CellRow.run_id.in_(chunk)).order_by(CellRow.run_id, CellRow.index)
        ):
            cells[c.run_id].append(Cell(c.index, c.status, c.reason, c.detail, c.seconds))
    for run_id, run in runs.items():
        run.cells = cells.get(run_id, [])


# --- audits -------------------------------------------------------------------------
# An audit database adds `audits`, `audit_repositories` (one row per repository of an
# audit: its check, what git and GitHub said of it) and `audit_publications` (the
# articles that link it). They are read by name, so a database of plain checks, or
# one written before audits existed, reads fine.

AUDITS, AUDIT_REPOSITORIES, PUBLICATIONS = "audits", "audit_repositories", "audit_publications"


def _table(engine: Engine, name: str) -> Table | None:
    if name not in inspect(engine).get_table_names():
        return None
    return Table(name, MetaData(), autoload_with=engine)


def _audit_stamp(engine: Engine) -> list[Any]:
    parts: list[Any] = []
    for name, columns in ((AUDITS, ("id", "updated_at")),
                          (AUDIT_REPOSITORIES, ("id", "finished_at", "check_id")),
                          (PUBLICATIONS, ("id",))):
        table = _table(engine, name)
        if table is None:
            continue
        with engine.connect() as conn:
            parts += conn.execute(select(func.count(), *(
                func.max(table.c[c]) for c in columns if c in table.c))).one()
    return parts


def _audits(engine: Engine) -> list[Audit]:
    table = _table(engine, AUDITS)
    if table is None:
        return []
    with engine.connect() as conn:
        return [Audit(id=row.id, name=str(row.name or row.id), started_at=row.created_at)
                for row in conn.execute(select(table).order_by(table.c.id))]


def _find_audit(audits: list[Audit], name_or_id: str) -> Audit:
    for a in audits:
        if name_or_id in (a.name, str(a.id)):
            return a
    if not audits:
        raise InputError("this database holds no audit (export all its checks without --audit)")
    known = ", ".join(f"{a.id} ({a.name})" for a in audits)
    raise InputError(f"no audit {name_or_id!r} in this database; known: {known}")


def _audit_checks(engine: Engine, audit_id: int) -> set[int]:
    table = _table(engine, AUDIT_REPOSITORIES)
    if table is None:
        return set()
    with engine.connect() as conn:
        return {cid for (cid,) in conn.execute(
            select(table.c.check_id).where(table.c.audit_id == audit_id,
                                           table.c.check_id.is_not(None)))}


def _moment(value: Any) -> datetime | None:
    """A time as GitHub gives it (ISO 8601 text), as naive UTC."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _year(value: Any) -> int | None:
    try:
        return int(str(value).strip()[:4]) if value not in (None, "") else None
    except ValueError:
        return None


def _repository_meta(engine: Engine, check_ids: set[int]) -> dict[int, RepositoryMeta]:
    """Per check, what its audits know of the repository (first known value wins
    when several audits checked it)."""
    repos = _table(engine, AUDIT_REPOSITORIES)
    if repos is None or not check_ids:
        return {}
    pubs = _table(engine, PUBLICATIONS)
    meta: dict[int, RepositoryMeta] = {}
    by_row: dict[int, RepositoryMeta] = {}
    with engine.connect() as conn:
        for chunk in _chunks(sorted(check_ids)):
            for row in conn.execute(select(repos).where(repos.c.check_id.in_(chunk))
                                    .order_by(repos.c.id)):
                m = meta.setdefault(row.check_id, RepositoryMeta())
                by_row[row.id] = m
                m.stars = m.stars if m.stars is not None else row.stars
                m.license = m.license or row.license
                m.default_branch = m.default_branch or row.default_branch
                m.commit_date = m.commit_date or _moment(row.commit_date)
                m.created_at = m.created_at or _moment(row.created_at)
                m.pushed_at = m.pushed_at or _moment(row.pushed_at)
        if pubs is not None:
            for chunk in _chunks(sorted(by_row)):
                for p in conn.execute(select(pubs).where(
                        pubs.c.audit_repository_id.in_(chunk)).order_by(pubs.c.id)):
                    article = Publication(doi=p.doi, pmcid=p.pmcid, pmid=p.pmid,
                                          title=p.title, journal=p.journal,
                                          year=_year(p.year))
                    target = by_row[p.audit_repository_id]
                    if article not in target.articles:
                        target.articles.append(article)
    return meta


def _check_audits(
    engine: Engine, audits: list[Audit], check_ids: set[int]
) -> dict[int, list[Audit]]:
    repos = _table(engine, AUDIT_REPOSITORIES)
    if repos is None or not check_ids:
        return {}
    by_id = {a.id: a for a in audits}
    found: dict[int, list[Audit]] = defaultdict(list)
    with engine.connect() as conn:
        for chunk in _chunks(sorted(check_ids)):
            for cid, aid in conn.execute(select(repos.c.check_id, repos.c.audit_id)
                                         .where(repos.c.check_id.in_(chunk))):
                if aid in by_id and by_id[aid] not in found[cid]:
                    found[cid].append(by_id[aid])
    return found
