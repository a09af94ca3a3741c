"""Where an audit's repositories come from, and the audit's input errors: link
normalisation, text and CSV lists, GitHub's search (with a rate limit to wait out)
and PubMed Central (recorded E-utilities answers), all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbrepro.audit.collect import read_sources
from nbrepro.audit.pmc import PubMedCentral
from nbrepro.audit.sources import normalise
from nbrepro.errors import InputError
from tests.stand_ins import Services, bare_repository, services

BASE = "https://github.com"


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    root = tmp_path_factory.mktemp("git")
    bare_repository(root, "lab/reproduces", {"README.md": "x\n"})
    with services(root) as running:
        saved = {k: os.environ.get(k) for k in running.env}
        os.environ.update(running.env)
        yield running
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.parametrize("written", [
    "owner/repo",
    "https://github.com/owner/repo",
    "https://github.com/owner/repo.git",
    "https://github.com/owner/repo/",
    "https://github.com/owner/repo/tree/main/notebooks/analysis",
    "https://github.com/owner/repo/blob/master/README.md#usage",
    "http://www.github.com/owner/repo).",
    "github.com/owner/repo,",
    "<https://github.com/owner/repo>",
    "git@github.com:owner/repo.git",
    "https://owner.github.io/repo/",
    "owner.github.io/repo/docs/index.html",
])
def test_every_link_style_is_one_repository(written: str) -> None:
    assert normalise(written, BASE) == (f"{BASE}/owner/repo", "owner/repo")


def test_a_user_page_is_the_repository_named_after_it() -> None:
    assert normalise("https://owner.github.io", BASE) == (
        f"{BASE}/owner/owner.github.io", "owner/owner.github.io")


def test_other_git_hosts_and_files_are_kept_as_written() -> None:
    assert normalise("https://gitlab.com/group/project/", BASE) == (
        "https://gitlab.com/group/project", None)
    assert normalise("file:///srv/repos/a.git", BASE) == ("file:///srv/repos/a.git", None)


@pytest.mark.parametrize("written", [
    "not a repository", "https://github.com/owner", "https://github.com/orgs/lab",
    "https://github.com/topics/jupyter", "ftp://example.org/repo", "owner/re po",
])
def test_what_names_no_repository_is_refused(written: str) -> None:
    with pytest.raises(InputError):
        normalise(written, BASE)


def test_a_text_list_skips_comments_and_reports_bad_and_duplicate_lines(tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("# a list\n\nowner/a\nhttps://github.com/owner/b  # inline comment\n"
                       "nonsense!\nhttps://github.com/owner/a/tree/main\n")
    found = read_sources([str(listing)])
    assert [r.full_name for r in found.repositories] == ["owner/a", "owner/b"]
    assert found.entries == 4
    assert [(p.line, p.reason) for p in found.problems] == [
        (5, "not a repository URL or owner/name"),
        (6, f"duplicate of {os.environ.get('NBREPRO_GITHUB_URL', BASE)}/owner/a"),
    ]


def test_a_csv_keeps_the_publication_metadata(tmp_path: Path) -> None:
    table = tmp_path / "articles.csv"
    table.write_text("DOI,PMCID,Journal,Year,Repository,Title,Field\n"
                     "10.1/a,PMC1,GigaScience,2021,owner/a,First,biology\n"
                     "10.1/b,PMC2,eLife,2020,https://github.com/owner/a,Second,\n"
                     "10.1/c,PMC3,eLife,2020,,No code,\n")
    found = read_sources([str(table)])
    (repo,) = found.repositories
    assert [(p.doi, p.pmcid, p.journal, p.year, p.title) for p in repo.publications] == [
        ("10.1/a", "PMC1", "GigaScience", 2021, "First"),
        ("10.1/b", "PMC2", "eLife", 2020, "Second")]
    assert repo.publications[0].extra == {"field": "biology"}
    assert [p.reason for p in found.problems] == ["no repository in this row"]


def test_a_csv_without_a_repository_column_is_an_input_error(tmp_path: Path) -> None:
    table = tmp_path / "articles.csv"
    table.write_text("doi,title\n10.1/a,First\n")
    with pytest.raises(InputError, match="no repository column"):
        read_sources([str(table)])


def test_github_search_waits_out_the_rate_limit_and_follows_pages(stand_in: Services) -> None:
    stand_in.server.rate_limit_once = True
    said: list[str] = []
    started = time.monotonic()
    found = read_sources([], github_queries=["language:jupyter-notebook reproducibility"],
                         say=said.append)
    assert time.monotonic() - started >= 1.0  # the recorded reset is a second ahead
    assert any("rate limit" in s and "waiting" in s for s in said)
    assert [r.full_name for r in found.repositories] == [
        "lab/reproduces", "lab/differs", "lab/with-deps"]
    assert found.repositories[0].url == f"{stand_in.base}/lab/reproduces"
    meta = found.repositories[2].metadata
    assert meta == {"default_branch": "master", "stars": 13, "license": "GPL-3.0",
                    "created_at": "2018-11-12T13:14:15Z", "pushed_at": "2022-09-10T11:12:13Z"}
    pages = [r for r in stand_in.server.requests if r.startswith("/api/github/search")]
    assert len(pages) == 3 and "page=2" in pages[-1]  # the refused one, then two pages


def test_github_search_respects_the_limit(stand_in: Services) -> None:
    found = read_sources([], github_queries=["language:jupyter-notebook reproducibility"],
                         limit=1)
    assert [r.full_name for r in found.repositories] == ["lab/reproduces"]


def test_pmc_search_finds_every_link_style_with_the_article(stand_in: Services) -> None:
    found = read_sources([], pmc_queries=["ipynb AND github"])
    names = {r.full_name: r for r in found.repositories}
    assert list(names) == ["lab/reproduces", "lab/differs", "lab/equivalent", "lab/with-deps"]
    pubs = [(p.pmcid, p.pmid, p.doi, p.journal, p.year)
            for p in names["lab/reproduces"].publications]
    # linked by two articles: both are kept with it
    assert pubs == [("PMC9876543", "38123456", "10.1093/gigascience/giad113", "GigaScience",
                     2024),
                    ("PMC9123456", "37001122", "10.1371/journal.pcbi.1011234",
                     "PLoS Computational Biology", 2023)]
    assert names["lab/reproduces"].publications[0].title == \
        "Re-running published notebooks at scale"
    assert any("orgs" in p.text for p in found.problems)  # an organisation page


def test_pmc_requests_keep_to_ncbis_rate(stand_in: Services) -> None:
    stand_in.server.eutils_times.clear()
    client = PubMedCentral()
    client.search_ids("ipynb AND github", None)
    list(client.articles(["1", "2", "3"]))
    client.search_ids("ipynb AND github", None)
    times = stand_in.server.eutils_times
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 3 and min(gaps) >= 0.33  # at most 3 a second without a key


@dataclass
class Ran:
    returncode: int
    stderr: str


def _audit(*args: str, env: dict[str, str] | None = None) -> Ran:
    """The command line in this process (the same `main` the `nbrepro` script runs):
    input errors end it before any work, so no subprocess is needed to see them."""
    from nbrepro.cli import main

    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stopped:
            main(["audit", *args])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Ran(int(stopped.value.code or 0), err.getvalue())


def _one_line_exit_2(proc: Ran, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


def test_the_installed_command_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbrepro", "audit", str(tmp_path / "nope.txt")],
                          capture_output=True, text=True, timeout=300)
    _one_line_exit_2(Ran(proc.returncode, proc.stderr), "no such source file")


def test_a_missing_source_file_is_one_line_exit_2(tmp_path: Path) -> None:
    _one_line_exit_2(_audit(str(tmp_path / "nope.txt"), "--db",
                            f"sqlite:///{tmp_path / 'a.sqlite'}"), "no such source file")


def test_an_empty_source_is_one_line_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here yet\n\n")
    _one_line_exit_2(_audit(str(empty), "--db", f"sqlite:///{tmp_path / 'a.sqlite'}"),
                     "no repositories found")


def test_searches_that_find_nothing_are_one_line_exit_2(stand_in: Services,
                                                        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.sqlite'}"
    _one_line_exit_2(_audit("--github-search", "zzqqxx", "--db", db, env=stand_in.env),
                     "no repositories found")
    _one_line_exit_2(_audit("--pmc-search", "zzqqxx", "--db", db, env=stand_in.env),
                     "no repositories found")
    _one_line_exit_2(_audit("--github-search", "<bad", "--db", db, env=stand_in.env),
                     "GitHub rejected the query")


def test_an_unwritable_database_is_one_line_exit_2(tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("owner/a\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.sqlite").write_text("this is not a database")
    _one_line_exit_2(_audit(str(listing), "--db", f"sqlite:///{locked / 'a.sqlite'}"),
                     "cannot open database")
    _one_line_exit_2(_audit(str(listing), "--db", f"sqlite:///{tmp_path}/no/such/a.sqlite"),
                     "database folder does not exist")
    _one_line_exit_2(_audit(str(listing), "--db", "nosuchdialect://x"), "database")


def test_no_sources_and_conflicting_executors_are_usage_errors(tmp_path: Path) -> None:
    _one_line_exit_2(_audit(), "no sources")
    listing = tmp_path / "repos.txt"
    listing.write_text("owner/a\n")
    _one_line_exit_2(_audit(str(listing), "--dask-local", "2", "--scheduler", "tcp://x:1"),
                     "exclude each other")


def test_hostile_lines_in_a_list_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    listing = tmp_path / "repos.txt"
    listing.write_text(f"ext::sh -c touch% {marker}\n"
                       f"--upload-pack=touch {marker}\n"
                       f"-u touch {marker}\n"
                       "https://github.com/-oProxyCommand=x/y\n"
                       "owner/ok\n")
    found = read_sources([str(listing)])
    assert [r.full_name for r in found.repositories] == ["owner/ok"]
    assert len(found.problems) == 4


def test_a_hostile_url_reaching_git_runs_no_command(tmp_path: Path) -> None:
    from nbrepro.audit.tasks import run_repository

    marker = tmp_path / "pwned"
    for url in (f"ssh://-oProxyCommand=touch%20{marker}/x/y", f"ext::sh -c touch% {marker}",
                f"--upload-pack=touch {marker}"):
        outcome = run_repository({"id": 1, "url": url, "github_metadata": False})
        assert outcome["status"] == "unreachable", outcome
    assert not marker.exists()


def test_an_entity_bomb_from_the_search_service_is_refused(stand_in: Services) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match="unreadable XML"):
        read_sources([], pmc_queries=["laughs"])
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_keeps_what_was_read(tmp_path: Path) -> None:
    # The Dask client connects in the background while the audit reads its sources; the
    # failure still reaches the user as one line, and the audit read so far is kept.
    import socket
    import sqlite3

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listing = tmp_path / "repos.txt"
    listing.write_text(f"file://{tmp_path / 'gone.git'}\n")
    db = tmp_path / "audit.sqlite"
    proc = subprocess.run([sys.executable, "-m", "nbrepro", "audit", str(listing), "--db",
                           f"sqlite:///{db}", "--quiet", "--scheduler",
                           f"tcp://127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=300)
    _one_line_exit_2(Ran(proc.returncode, proc.stderr), "cannot reach Dask scheduler")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT url, status FROM audit_repositories").fetchall() == [
            (f"file://{tmp_path / 'gone.git'}", "pending")]


def test_githubs_rate_limit_never_holds_up_a_repository(stand_in: Services,
                                                        tmp_path: Path) -> None:
    """Without a token GitHub allows 60 requests an hour: a worker that waited out the
    limit for a repository's metadata would sit for up to an hour, past its time limit."""
    listing = tmp_path / "repos.txt"
    listing.write_text("lab/reproduces\n")
    db = tmp_path / "limited.sqlite"
    stand_in.server.repos_rate_limited_until = time.time() + 3600
    try:
        ran = _audit(str(listing), "--db", f"sqlite:///{db}", "--jobs", "1",
                     "--repo-timeout", "60", env=stand_in.env)
    finally:
        stand_in.server.repos_rate_limited_until = 0.0
    assert ran.returncode == 0, ran.stderr
    said = [line for line in ran.stderr.splitlines() if "rate limit" in line]
    assert len(said) == 1 and "GITHUB_TOKEN" in said[0], ran.stderr
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status, stars, license FROM audit_repositories").fetchone()
    assert row == ("checked", None, None)
