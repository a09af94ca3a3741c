"""`nbrepro audit` end to end: 13 fixture repositories served over HTTP on 127.0.0.1
(and one by file://) with every kind of outcome, real checks, real databases.

The funnel of the fixture audit is known in advance (see `build_fixture_audit`):
12 notebooks found, 11 in Python (one R), 7 in repositories that declare their
dependencies, 5 with an environment built (one install failure, one Python 2
notebook), 4 ran without error (one FileNotFoundError), 2 identical (one equal after
the memory-address normaliser, one different).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from nbrepro.audit.render import load_report
from tests.postgres import fresh_database
from tests.stand_ins import REPOS, FixtureAudit, bare_repository, build_fixture_audit, services

pytestmark = pytest.mark.slow


@dataclass
class World:
    fixture: FixtureAudit
    env: dict[str, str]
    base: str
    tmp: Path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float


def audit(world: World, *args: str, timeout: float = 600) -> Run:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "nbrepro", "audit", *args],
                          capture_output=True, text=True, timeout=timeout, env=world.env)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("audit")
    fixture = build_fixture_audit(tmp)
    with services(fixture.git_root) as running:
        yield World(fixture, {**os.environ, **running.env}, running.base, tmp)


@pytest.fixture(scope="module")
def pool_db(world: World) -> str:
    """The fixture audit, once, with the local process pool (2 workers) on SQLite."""
    db = f"sqlite:///{world.tmp / 'pool.sqlite'}"
    run = audit(world, *world.fixture.sources, "--db", db, "--jobs", "2", "--name", "fixture")
    assert run.code == 0, run.stderr
    return db


def outcomes(db: str, name: str = "fixture") -> dict[str, tuple[str, list[str]]]:
    """repository -> (status, sorted notebook verdicts), as the database has them."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT r.url, r.status, n.path, u.verdict FROM audit_repositories r "
            "JOIN audits a ON a.id = r.audit_id "
            "LEFT JOIN notebooks n ON n.check_id = r.check_id "
            "LEFT JOIN runs u ON u.notebook_id = n.id WHERE a.name = :name"), {"name": name})
        found: dict[str, tuple[str, list[str]]] = {}
        for url, status, _path, verdict in rows:
            found.setdefault(url, (status, []))
            if verdict:
                found[url][1].append(verdict)
    engine.dispose()
    return {url: (status, sorted(v)) for url, (status, v) in found.items()}


def _rows(report: dict[str, Any], table: str) -> list[list[Any]]:
    return report["tables"][table]["rows"]


def test_the_fixture_audit_gives_the_expected_funnel(world: World, pool_db: str) -> None:
    report = load_report(pool_db, "fixture").to_dict()
    assert report["funnel"] == {"found": 12, "python": 11, "declared": 7, "built": 5,
                                "ran": 4, "identical": 2}
    assert report["split"] == {"identical": 2, "equivalent": 1, "volatile": 0, "differs": 1}
    assert [row[:3] for row in _rows(report, "funnel")] == [
        ["notebooks found", 12, ""], ["Python notebooks", 11, "91.7 %"],
        ["in repositories with declared dependencies", 7, "63.6 %"],
        ["environment built", 5, "71.4 %"], ["ran without error", 4, "80.0 %"],
        ["identical", 2, "50.0 %"]]
    assert dict(_rows(report, "repositories")) == {
        "entries read": 16, "not a repository (malformed)": 1, "duplicate entries": 1,
        "repositories": 13, "unreachable": 1, "empty (no commits)": 1, "nbrepro error": 0,
        "timed out": 0, "not yet checked": 0, "checked": 11,
        "checked, without notebooks": 1, "checked, with notebooks": 10}
    assert {r[0]: r[1] for r in _rows(report, "verdicts")} == {
        "reproduced": 5, "reproduced-equivalent": 1, "differs": 1, "failed": 2,
        "install-failed": 1, "not-checked": 2}
    exceptions = {r[0]: (r[1], r[3]) for r in _rows(report, "exceptions")}
    assert set(exceptions) == {"FileNotFoundError", "ModuleNotFoundError"}
    assert exceptions["ModuleNotFoundError"] == (
        1, f"{world.base}/lab/undeclared uses_requests.ipynb")
    assert [r[:3] for r in _rows(report, "install_failures")] == [["not-found", 1, 1]]
    assert _rows(report, "normalisers") == [["memory-address", 1]]
    journals = {r[0]: r[1:4] for r in _rows(report, "by_journal")}
    # GigaScience: lab/equivalent and lab/reproduces; PLoS: lab/with-deps
    assert journals == {"GigaScience": [2, 1, 1], "PLoS Computational Biology": [1, 1, 0],
                        "unknown": [9, 3, 0]}
    assert {r[0]: r[1] for r in _rows(report, "by_year")} == {"2022": 12}
    assert {r[0]: r[1] for r in _rows(report, "by_python")} == {
        "2.7": 1, "3.11": 10, "unknown": 1}  # the R notebook has no Python version


def test_each_repository_keeps_what_git_and_github_said(world: World, pool_db: str) -> None:
    path = pool_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = {r["url"]: r for r in conn.execute("SELECT * FROM audit_repositories")}
        reproduces = rows[f"{world.base}/lab/reproduces"]
        assert (reproduces["status"], reproduces["stars"], reproduces["license"],
                reproduces["default_branch"], reproduces["created_at"],
                reproduces["pushed_at"]) == ("checked", 42, "MIT", "main",
                                             "2019-03-04T10:11:12Z", "2024-05-06T07:08:09Z")
        assert reproduces["commit_date"].startswith("2022-03-04T05:06:07")
        assert len(reproduces["commit"]) == 40
        gone = rows[f"{world.base}/lab/gone"]
        assert gone["status"] == "unreachable" and "not found" in gone["reason"]
        assert rows[f"{world.base}/lab/empty"]["status"] == "empty"
        assert rows[f"file://{world.fixture.file_repo}"]["status"] == "checked"
        pubs = conn.execute(
            "SELECT p.doi, p.journal, p.year, p.extra FROM audit_publications p JOIN "
            "audit_repositories r ON r.id = p.audit_repository_id WHERE r.url = ?",
            (f"{world.base}/lab/equivalent",)).fetchall()
        assert [tuple(p[:3]) for p in pubs] == [("10.1000/j.1", "GigaScience", 2021)]
        assert json.loads(pubs[0][3]) == {"field": "biology"}
        problems = json.loads(conn.execute("SELECT input_problems FROM audits").fetchone()[0])
        assert [(p["line"], p["text"]) for p in problems] == [
            (14, "this is not a repository"), (15, "https://github.com/lab/differs")]


def test_environments_with_identical_locks_are_built_at_most_once(pool_db: str) -> None:
    path = pool_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT key, cached FROM environments WHERE ok = 1").fetchall()
    keys = [k for k, _ in rows]
    assert len(keys) == 8 and len(set(keys)) == 2  # six==1.16.0 (5 repositories), none (3)
    for key in set(keys):
        assert sum(1 for k, cached in rows if k == key and not cached) <= 1


def test_running_the_audit_again_checks_nothing_again(world: World, pool_db: str) -> None:
    path = pool_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT url, check_id, status FROM audit_repositories "
                              "ORDER BY url").fetchall()
    run = audit(world, *world.fixture.sources, "--db", pool_db, "--jobs", "2",
                "--name", "fixture")
    assert run.code == 0, run.stderr
    assert "13 repositories, 13 already done, 0 to check" in run.stderr
    with sqlite3.connect(path) as conn:
        after = conn.execute("SELECT url, check_id, status FROM audit_repositories "
                             "ORDER BY url").fetchall()
        assert conn.execute("SELECT count(*) FROM checks").fetchone() == (11,)
    assert after == before


def test_the_report_in_every_format(world: World, pool_db: str, tmp_path: Path) -> None:
    db_file = pool_db.removeprefix("sqlite:///")
    proc = subprocess.run([sys.executable, "-m", "nbrepro", "report", db_file, "--audit",
                           "fixture", "--format", "markdown"], capture_output=True, text=True,
                          env=world.env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "| notebooks found | 12 |  | 27271 |  |" in proc.stdout
    assert "| ModuleNotFoundError | 1 | 50.0 % |" in proc.stdout
    # grouped by reason; what is particular to a notebook is in its example
    assert (f"| a Python 2 notebook | 1 | {world.base}/lab/mixed legacy.ipynb (kernel "
            "python2; its code is Python 2: print statement in In [1]) |") in proc.stdout
    assert (f"| not a Python notebook | 1 | {world.base}/lab/mixed analysis.ipynb "
            "(kernel ir) |") in proc.stdout
    from nbrepro.audit.render import render_audit_report

    render_audit_report(pool_db, "fixture", "csv", str(tmp_path / "tables"))
    funnel = (tmp_path / "tables" / "funnel.csv").read_text().splitlines()
    assert funnel[0] == "stage,notebooks,share of previous,published study,study share"
    assert funnel[-1] == "identical,2,50.0 %,879,73.1 %"
    assert (tmp_path / "tables" / "by_journal.csv").is_file()
    render_audit_report(pool_db, "fixture", "csv", str(tmp_path / "audit.csv"))
    assert (tmp_path / "audit-exceptions.csv").read_text().startswith("exception,notebooks")
    render_audit_report(pool_db, None, "json", str(tmp_path / "audit.json"))
    data = json.loads((tmp_path / "audit.json").read_text())
    assert data["funnel"]["identical"] == 2 and data["audit"]["name"] == "fixture"
    render_audit_report(pool_db, "fixture", "html", str(tmp_path / "audit.html"))
    page = (tmp_path / "audit.html").read_text()
    assert page.count("src='data:image/png;base64,") == 3  # funnel, exceptions, by year
    assert "<td>environment built</td><td>5</td>" in page
    render_audit_report(pool_db, "fixture", "table", str(tmp_path / "audit.txt"))
    assert "in repositories with declared dependencies" in (tmp_path / "audit.txt").read_text()


def test_the_dask_local_cluster_gives_the_same_verdicts(world: World, pool_db: str) -> None:
    # one repository of each outcome (kernels are what costs time)
    names = ["reproduces", "equivalent", "differs", "missing-file", "no-such-package",
             "mixed", "no-notebooks", "empty", "gone"]
    listing = world.tmp / "dask.txt"
    listing.write_text("".join(f"lab/{n}\n" for n in names))
    db = f"sqlite:///{world.tmp / 'dask.sqlite'}"
    run = audit(world, str(listing), "--db", db, "--dask-local", "2", "--name", "fixture")
    assert run.code == 0, run.stderr
    assert "Dask local cluster, 2 workers" in run.stderr
    pool = outcomes(pool_db)
    assert outcomes(db) == {f"{world.base}/lab/{n}": pool[f"{world.base}/lab/{n}"]
                            for n in names}


def test_two_clients_on_one_postgresql_database_lose_nothing(world: World,
                                                             pool_db: str) -> None:
    with fresh_database() as db:
        args = [sys.executable, "-m", "nbrepro", "audit", *world.fixture.sources, "--db", db,
                "--jobs", "1", "--name", "fixture"]
        clients = [subprocess.Popen(args, env=world.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [c.communicate(timeout=600) for c in clients]
        assert [c.returncode for c in clients] == [0, 0], results
        assert outcomes(db) == outcomes(pool_db)
        assert load_report(db, "fixture").to_dict()["tables"] == \
            load_report(pool_db, "fixture").to_dict()["tables"]
        from sqlalchemy import create_engine, text

        engine = create_engine(db)
        with engine.connect() as conn:
            # every repository checked once: no check twice, none lost
            assert conn.execute(text("SELECT count(*) FROM checks")).scalar() == 11
            assert conn.execute(text("SELECT count(*) FROM audits")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM audit_publications")).scalar() == 3
        engine.dispose()
        # both did a share of the work
        checked = [int(re.search(r"(\d+) checked now", out).group(1))  # type: ignore[union-attr]
                   for out, _err in results]
        assert sum(checked) == 13 and min(checked) >= 1, checked


def _small_list(world: World, names: list[str]) -> Path:
    listing = world.tmp / f"small-{len(list(world.tmp.iterdir()))}.txt"
    lines = []
    for name in names:
        bare = world.tmp / "local" / f"{name}.git"
        if not bare.exists():
            bare_repository(world.tmp / "local", f"{name}.git", REPOS / name)
        lines.append(f"file://{bare}")
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _checked(db_file: Path) -> dict[str, int]:
    try:
        with sqlite3.connect(db_file, timeout=30) as conn:
            return dict(conn.execute("SELECT url, check_id FROM audit_repositories "
                                     "WHERE status = 'checked'").fetchall())
    except sqlite3.OperationalError:  # not created yet
        return {}


def test_sigkill_then_resume_loses_and_redoes_nothing(world: World) -> None:
    listing = _small_list(world, ["reproduces", "slow", "differs"])
    db_file = world.tmp / "killed.sqlite"
    args = [sys.executable, "-m", "nbrepro", "audit", str(listing), "--db",
            f"sqlite:///{db_file}", "--jobs", "1", "--name", "killed"]
    proc = subprocess.Popen(args, env=world.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(_checked(db_file)) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    family = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _checked(db_file)
    assert 1 <= len(first) < 3
    _gone, alive = psutil.wait_procs(family, timeout=15)
    assert alive == [], "the audit's workers and kernels outlived it"
    run = audit(world, str(listing), "--db", f"sqlite:///{db_file}", "--jobs", "1",
                "--name", "killed")
    assert run.code == 0, run.stderr
    after = _checked(db_file)
    assert len(after) == 3
    assert {url: after[url] for url in first} == first  # finished ones kept, not redone
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT count(*) FROM checks").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone() == (3,)


def test_a_repository_over_its_time_limit_is_retried_on_request(world: World) -> None:
    listing = _small_list(world, ["slow"])
    db = f"sqlite:///{world.tmp / 'timeout.sqlite'}"
    run = audit(world, str(listing), "--db", db, "--repo-timeout", "1", "--name", "t")
    assert run.code == 1, run.stderr
    assert "1 nbrepro error(s) or timeout(s)" in run.stdout
    status = outcomes(db, "t")
    assert [s for s, _ in status.values()] == ["timeout"]
    again = audit(world, str(listing), "--db", db, "--name", "t")
    assert "0 to check" in again.stderr  # a timeout is an outcome until asked to retry
    retried = audit(world, str(listing), "--db", db, "--name", "t", "--retry-failed")
    assert retried.code == 0, retried.stderr
    assert list(outcomes(db, "t").values()) == [("checked", ["reproduced"])]


@pytest.mark.parametrize(("executor", "death"), [
    (["--jobs", "1"], "killed by signal 9"),
    # its nanny forks a new worker from the fork server; the scheduler says the task died
    (["--dask-local", "1"], "KilledWorker"),
], ids=["pool", "dask"])
def test_a_killed_worker_is_retried_once_then_recorded_as_error(
        world: World, executor: list[str], death: str) -> None:
    listing = _small_list(world, ["slow"])
    db_file = world.tmp / f"worker-killed-{executor[0].strip('-')}.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbrepro", "audit", str(listing), "--db",
         f"sqlite:///{db_file}", *executor, "--name", "w"],
        env=world.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed: list[int] = []

    def kill_busy_workers() -> None:
        deadline = time.monotonic() + 300
        while len(killed) < 2 and time.monotonic() < deadline and proc.poll() is None:
            # A busy worker: whatever process started a kernel's supervisor (not the
            # supervisor itself, whose child runs supervisor.py too until it execs).
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    kernel = "supervisor.py" in " ".join(child.cmdline())
                    worker = child.parent() if kernel else None
                    if worker is None or "supervisor.py" in " ".join(worker.cmdline()):
                        continue
                except psutil.NoSuchProcess:
                    continue
                if worker.pid not in killed:
                    killed.append(worker.pid)
                    with contextlib.suppress(psutil.NoSuchProcess):
                        worker.kill()
            time.sleep(0.05)

    killer = threading.Thread(target=kill_busy_workers)
    killer.start()
    _stdout, stderr = proc.communicate(timeout=600)
    killer.join()
    assert len(killed) == 2
    assert proc.returncode == 1, stderr
    assert "trying once more" in stderr
    with sqlite3.connect(db_file) as conn:
        status, reason, attempts = conn.execute(
            "SELECT status, reason, attempts FROM audit_repositories").fetchone()
    assert (status, attempts) == ("error", 2)
    assert death in reason and "(twice)" in reason


def test_another_audit_reuses_checks_of_the_same_commit_and_options(world: World,
                                                                     pool_db: str) -> None:
    run = audit(world, *world.fixture.sources, "--db", pool_db, "--jobs", "2",
                "--name", "second")
    assert run.code == 0, run.stderr
    path = pool_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM checks").fetchone() == (11,)  # none new
        pairs = conn.execute(
            "SELECT a.check_id, b.check_id FROM audit_repositories a JOIN audit_repositories b "
            "ON a.url = b.url WHERE a.audit_id = 1 AND b.audit_id = 2").fetchall()
    assert len(pairs) == 13 and all(a == b for a, b in pairs)
    assert load_report(pool_db, "second").funnel == load_report(pool_db, "fixture").funnel


def test_an_audit_with_restore_counts_what_reproduced_only_after_restoration(
        world: World) -> None:
    listing = _small_list(world, ["undeclared-module"])
    db = f"sqlite:///{world.tmp / 'restore.sqlite'}"
    run = audit(world, str(listing), "--db", db, "--restore", "--name", "r")
    assert run.code == 0, run.stderr
    assert list(outcomes(db, "r").values()) == [("checked", ["reproduced"])]
    report = load_report(db, "r").to_dict()
    assert report["funnel"]["reproduced_after_restoration"] == 1
    assert ["reproduced after restoration (of ran without error)", 1, "100.0 %"] in \
        [row[:3] for row in _rows(report, "funnel")]
    plain = audit(world, str(listing), "--db", db, "--name", "plain")
    assert plain.code == 0, plain.stderr
    assert list(outcomes(db, "plain").values()) == [("checked", ["failed"])]
    assert "reproduced_after_restoration" not in load_report(db, "plain").to_dict()["funnel"]
