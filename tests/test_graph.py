"""Results as a knowledge graph: `nbrepro export` and `nbrepro query` on a database
of real checks of the fixture repositories (plus audit metadata written beside
them), checked against SQL over the same database and against independent RDF
tools (rdflib, pyld) and an RO-Crate validator."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rdflib
from sqlalchemy import (
    select,
)

from nbrepro.graph import identifiers
from nbrepro.graph.examples import EXAMPLES
from nbrepro.graph.query import run as run_query
from nbrepro.stages.spec import requirement_name
from nbrepro.store import AuditRepositoryRow, AuditRow, CheckRow, PublicationRow, Store
from tests.helpers.cli import REPOS, nbrepro

# The module's database comes from real checks, which take minutes on a busy machine.
pytestmark = pytest.mark.timeout(1800)

DEMO = Path(__file__).parent.parent / "examples" / "demo-repo"
OK = ("reproduced", "reproduced-equivalent")
RAN = ("reproduced", "reproduced-equivalent", "differs")
# A notebook name an audited repository could choose to break IRIs and formats.
HOSTILE_NAME = 'we ird/<x> "q"#?%2F..\u00e9 \\ end.ipynb'


# --- the database: real checks, then audit metadata --------------------------------

def _git(folder: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "fixture"]):
        subprocess.run(["git", *args], cwd=folder, check=True, env=env, capture_output=True)


# Three checks give every kind of result the examples count (each check costs a
# kernel start per notebook, so notebooks share repositories):
# - "mixed": the demo repository (declared requirements, built; reproduced,
#   reproduced-equivalent by memory-address, differs) plus an unseeded notebook
#   (volatile cells, with --twice) and notebooks with crafted names;
# - "failures": a ModuleNotFoundError and a FileNotFoundError;
# - "no-such-package": install-failed, declared in requirements.txt.
CHECKS: list[tuple[str, tuple[str, ...]]] = [
    ("mixed", ("--twice",)),
    ("failures", ()),
    ("no-such-package", ()),
]


def _make(name: str, folder: Path) -> None:
    if name == "mixed":
        shutil.copytree(DEMO, folder)
        shutil.copy(REPOS / "volatile" / "unseeded.ipynb", folder / "05_unseeded.ipynb")
        (folder / "we ird").mkdir()
        shutil.copy(REPOS / "reproduces" / "analysis.ipynb", folder / HOSTILE_NAME)
    elif name == "failures":
        shutil.copytree(REPOS / "missing-file", folder)
        shutil.copy(REPOS / "undeclared-module" / "uses_requests.ipynb", folder)
    else:
        shutil.copytree(REPOS / name, folder)


# Per repository: stars, licence, created, and the articles (doi, pmcid, journal, year).
META: dict[str, tuple[int, str, str, list[tuple[str, str, str, int]]]] = {
    "mixed": (250, "Apache-2.0", "2017-03-01T10:00:00Z",
              [("10.1000/a.1", "PMC100", "GigaScience", 2018)]),
    "failures": (12, "NOASSERTION", "2018-06-01T10:00:00Z",
                 [("10.1000/a.2", "PMC200", "PLOS ONE", 2019),
                  ("10.1000/a.3", "PMC300", "GigaScience", 2020)]),
    "no-such-package": (3, "MIT", "2020-02-02T00:00:00Z",
                        [("10.1000/a.4", "PMC400", "Bioinformatics", 2021)]),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("graph")
    url = f"sqlite:///{root / 'results.sqlite'}"
    folders: dict[str, Path] = {}
    for name, args in CHECKS:
        folder = root / name
        _make(name, folder)
        _git(folder)
        folders[name] = folder
        result = nbrepro("check", str(folder), "--db", url, "-q", *args)
        assert result.code in (0, 1), result.stderr
    store = Store(url)
    with store.session() as s, s.begin():
        checks = {row.source: row for row in s.scalars(select(CheckRow))}
        audit = AuditRow(id=1, name="fixture-audit", options={}, sources=[])
        s.add(audit)
        for name, folder in folders.items():
            check = checks[str(folder)]
            if name == "mixed":
                # What restoration records for a notebook that reproduced after it.
                result = json.loads(json.dumps(check.result))
                first = next(nb for nb in result["notebooks"] if nb["verdict"] in OK)
                first["restored"] = ["pandas==2.2.3", "python 3.11"]
                check.result = result
            if name not in META:
                continue
            stars, licence, created, articles = META[name]
            committed = created.replace(created[:4], str(int(created[:4]) + 2), 1)
            repo = AuditRepositoryRow(
                audit=audit, url=str(folder), check_id=check.id, stars=stars, license=licence,
                created_at=created, default_branch="main", commit_date=committed,
                status="checked",
            )
            repo.publications = [
                PublicationRow(key=doi, doi=doi, pmcid=pmcid, journal=journal, year=year,
                               title=f"On {doi}")
                for doi, pmcid, journal, year in articles
            ]
            s.add(repo)
    yield {"url": url, "path": root / "results.sqlite", "folders": folders, "root": root}


# --- the same questions in SQL ----------------------------------------------------

def _rows(con: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(sql).fetchall()]


def _python3(language: str | None, kernel: str | None, version: str | None) -> bool:
    kernel, language, version = (kernel or "").lower(), (language or "").lower(), version or ""
    if kernel.startswith("python2") or version.startswith("2."):
        return False
    return language == "python" or kernel in ("python", "python3")


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


NOTEBOOK_RUNS = """FROM runs r JOIN notebooks n ON r.notebook_id = n.id
                   JOIN checks c ON n.check_id = c.id"""
BY_AUDIT = """JOIN audit_repositories ar ON ar.check_id = c.id"""


def sql_top_exceptions(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return _rows(con, "SELECT exception, COUNT(*) FROM runs WHERE exception IS NOT NULL "
                      "GROUP BY exception")


def sql_exceptions_by_journal(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return _rows(con, f"""SELECT p.journal, r.exception, COUNT(DISTINCT r.id) {NOTEBOOK_RUNS}
        {BY_AUDIT} JOIN audit_publications p ON p.audit_repository_id = ar.id
        WHERE r.exception IS NOT NULL AND p.journal IS NOT NULL
        GROUP BY p.journal, r.exception""")


def sql_verdicts_by_year(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return _rows(con, f"""SELECT CAST(substr(ar.commit_date, 1, 4) AS INTEGER), r.verdict,
        COUNT(*) {NOTEBOOK_RUNS} {BY_AUDIT} WHERE ar.commit_date IS NOT NULL
        GROUP BY 1, 2""")


def sql_python_versions_by_year(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    seen: set[tuple[str, str, int, str]] = set()
    for year, version, repo, path in con.execute(f"""SELECT p.year, n.python_version,
            c.repository_id, n.path {NOTEBOOK_RUNS} {BY_AUDIT}
            JOIN audit_publications p ON p.audit_repository_id = ar.id
            WHERE p.year IS NOT NULL AND n.python_version IS NOT NULL"""):
        seen.add((str(year), _major_minor(version), repo, path))
    return [(*key, n) for key, n in Counter((y, v) for y, v, _, _ in seen).items()]


def sql_notebooks_per_repository(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return _rows(con, """SELECT c.source, COUNT(DISTINCT rep."commit" || '/' || n.path)
        FROM notebooks n JOIN checks c ON n.check_id = c.id
        JOIN repositories rep ON c.repository_id = rep.id GROUP BY c.repository_id""")


def sql_install_failures(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    failed = _rows(con, "SELECT failed_requirement FROM environments "
                        "WHERE ok = 0 AND failed_requirement IS NOT NULL")
    return list(Counter(requirement_name(f) for (f,) in failed).items())


def sql_reproduced_after_restoration(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    out = []
    for (result,) in con.execute("SELECT result FROM checks WHERE result IS NOT NULL"):
        for nb in json.loads(result)["notebooks"]:
            if nb.get("restored") and nb["verdict"] in OK:
                out.append((nb["path"], nb["verdict"], ", ".join(nb["restored"])))
    return out


def sql_normalisers(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return _rows(con, "SELECT reason, COUNT(*), COUNT(DISTINCT run_id) FROM cells "
                      "WHERE status = 'equivalent' AND reason IS NOT NULL GROUP BY reason")


def _bucket(stars: int) -> str:
    return "100+" if stars >= 100 else "10-99" if stars >= 10 else "1-9" if stars else "0"


def sql_repositories_by_stars(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    rows = _rows(con, """SELECT ar.stars, c.verdict, c.repository_id FROM audit_repositories ar
        JOIN checks c ON ar.check_id = c.id
        WHERE ar.stars IS NOT NULL AND c.verdict IS NOT NULL""")
    return [(*key, n) for key, n in Counter((_bucket(s), v) for s, v, _ in set(rows)).items()]


def sql_top_down_by_outcome(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    rows = _rows(con, f"SELECT r.verdict, COUNT(*), SUM(n.top_down) {NOTEBOOK_RUNS} "
                      "GROUP BY r.verdict")
    return [(v, n, td, round(1000 * td / n) / 10) for v, n, td in rows]


def sql_volatile_cells(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return _rows(con, """SELECT n.path, x."index" FROM cells x JOIN runs r ON x.run_id = r.id
        JOIN notebooks n ON r.notebook_id = n.id WHERE x.status = 'volatile'""")


def sql_funnel(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    counts = Counter()
    for language, kernel, version, valid, declared, built, verdict in con.execute(f"""
            SELECT n.language, n.kernel_name, n.python_version, n.valid,
                   json_array_length(e.declared_files), e.ok, r.verdict {NOTEBOOK_RUNS}
            LEFT JOIN environments e ON e.check_id = c.id"""):
        counts["notebooks"] += 1
        if not (valid and _python3(language, kernel, version)):
            continue
        counts["python"] += 1
        if not declared:
            continue
        counts["dependencies declared"] += 1
        if not built:
            continue
        counts["environment built"] += 1
        if verdict in RAN:
            counts["ran without error"] += 1
            counts[verdict] += 1
    stages = ["notebooks", "python", "dependencies declared", "environment built",
              "ran without error", *RAN]
    return [(i + 1, stage, counts[stage]) for i, stage in enumerate(stages)]


def sql_verdicts(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return _rows(con, "SELECT verdict, COUNT(*) FROM runs GROUP BY verdict")


# The graph's answer cut to what SQL computes (IRIs of runs and repositories are the
# graph's own).
SQL: dict[str, tuple[Callable[[sqlite3.Connection], list[tuple[Any, ...]]],
                     Callable[[tuple[Any, ...]], tuple[Any, ...]]]] = {
    "top-exceptions": (sql_top_exceptions, lambda r: r),
    "exceptions-by-journal": (sql_exceptions_by_journal, lambda r: r),
    "verdicts-by-year": (sql_verdicts_by_year, lambda r: r),
    "python-versions-by-year": (sql_python_versions_by_year, lambda r: r),
    "notebooks-per-repository": (sql_notebooks_per_repository, lambda r: r[1:]),
    "install-failures": (sql_install_failures, lambda r: r),
    "reproduced-after-restoration": (sql_reproduced_after_restoration, lambda r: r[1:]),
    "normalisers": (sql_normalisers, lambda r: r),
    "repositories-by-stars": (sql_repositories_by_stars, lambda r: r),
    "top-down-by-outcome": (sql_top_down_by_outcome, lambda r: r),
    "volatile-cells": (sql_volatile_cells, lambda r: (r[1], r[2])),
    "funnel": (sql_funnel, lambda r: r),
    "verdicts": (sql_verdicts, lambda r: r),
}


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda r: json.dumps(r, default=str))


@pytest.mark.slow
def test_every_example_answers_what_sql_answers(db):
    assert set(SQL) == set(EXAMPLES) and len(EXAMPLES) >= 12
    con = sqlite3.connect(db["path"])
    for name, example in EXAMPLES.items():
        expected_fn, cut = SQL[name]
        expected = expected_fn(con)
        assert expected, f"the fixture database gives {name} nothing to count"
        answer = run_query(db["url"], example.sparql)
        got = [cut(row) for row in answer.rows]
        assert _sorted(got) == _sorted(expected), name


@pytest.mark.slow
def test_the_fixture_covers_what_the_examples_ask(db):
    con = sqlite3.connect(db["path"])
    verdicts = dict(sql_verdicts(con))
    assert {"reproduced", "reproduced-equivalent", "differs", "failed",
            "install-failed"} <= set(verdicts)
    assert {"ModuleNotFoundError", "FileNotFoundError"} <= {e for e, _ in
                                                            sql_top_exceptions(con)}
    assert ("memory-address" in {n for n, *_ in sql_normalisers(con)})
    assert sql_volatile_cells(con)


# --- formats, parsed by independent tools --------------------------------------------

def _export(db: dict[str, Any], *args: str) -> Any:
    return nbrepro("export", db["url"], *args)


@pytest.mark.slow
def test_turtle_ntriples_and_jsonld_carry_the_same_graph(db, tmp_path):
    counts = {}
    for fmt, rdflib_format in (("turtle", "turtle"), ("nt", "nt"), ("jsonld", "json-ld")):
        out = tmp_path / f"graph.{fmt}"
        result = _export(db, "--format", fmt, "-o", str(out))
        assert result.code == 0, result.stderr
        graph = rdflib.Graph()
        graph.parse(out, format=rdflib_format)
        counts[fmt] = len(graph)
    assert counts["turtle"] == counts["nt"] == counts["jsonld"] > 500
    answer = run_query(db["url"], "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert answer.rows[0][0] == counts["turtle"]


@pytest.mark.slow
def test_jsonld_expands_with_pyld(db, tmp_path):
    from pyld import jsonld

    out = tmp_path / "graph.jsonld"
    assert _export(db, "--format", "jsonld", "-o", str(out)).code == 0
    expanded = jsonld.expand(json.loads(out.read_text()))
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    types = {t for node in expanded for t in node.get("@type", [])}
    types |= {v["@id"] for node in expanded for v in node.get(rdf_type, [])}
    assert "https://w3id.org/reproduceme#Notebook" in types
    assert "http://usefulinc.com/ns/doap#GitRepository" in types
    assert "http://purl.org/spar/fabio/JournalArticle" in types


@pytest.mark.slow
def test_two_exports_give_the_same_iris(db, tmp_path):
    first, second = tmp_path / "1.nt", tmp_path / "2.nt"
    assert _export(db, "--format", "nt", "-o", str(first)).code == 0
    assert _export(db, "--format", "nt", "-o", str(second)).code == 0
    assert sorted(first.read_text().splitlines()) == sorted(second.read_text().splitlines())


@pytest.mark.slow
def test_vocabularies_and_links_in_the_turtle(db, tmp_path):
    out = tmp_path / "graph.ttl"
    assert _export(db, "-o", str(out)).code == 0
    g = rdflib.Graph().parse(out, format="turtle")
    # A run used its notebook (a P-Plan plan of REPRODUCE-ME) and generated outputs;
    # the article that cites the repository carries its DOI and journal.
    rows = list(g.query("""
        PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX repr: <https://w3id.org/reproduceme#>
        PREFIX p-plan: <http://purl.org/net/p-plan#> PREFIX dcterms: <http://purl.org/dc/terms/>
        PREFIX prism: <http://prismstandard.org/namespaces/basic/2.0/>
        PREFIX fabio: <http://purl.org/spar/fabio/>
        SELECT ?doi ?journal ?nb WHERE {
          ?run a repr:Trial ; prov:used ?nb ; prov:generated ?out ;
               prov:qualifiedAssociation/prov:hadPlan ?nb .
          ?nb a repr:Notebook, p-plan:Plan ; dcterms:isPartOf/prov:specializationOf ?repo .
          ?article a fabio:JournalArticle ; dcterms:references ?repo ; prism:doi ?doi ;
                   prism:publicationName ?journal .
        }"""))
    assert ("10.1000/a.1", "GigaScience") in {(str(d), str(j)) for d, j, _ in rows}
    assert rdflib.URIRef("https://doi.org/10.1000/a.1") in set(g.subjects())
    licences = set(g.objects(predicate=rdflib.URIRef("http://purl.org/dc/terms/license")))
    assert rdflib.URIRef("https://spdx.org/licenses/MIT") in licences
    # GitHub's NOASSERTION is not a licence
    assert not any("NOASSERTION" in str(x) for x in licences)


@pytest.mark.slow
def test_crafted_notebook_names_stay_inside_their_iris(db, tmp_path):
    out = tmp_path / "graph.nt"
    assert _export(db, "--format", "nt", "-o", str(out)).code == 0
    g = rdflib.Graph().parse(out, format="nt")
    paths = {str(o) for o in g.objects(predicate=rdflib.URIRef(
        "https://w3id.org/nbrepro/terms#path"))}
    assert HOSTILE_NAME.replace("\\", "/") in paths or HOSTILE_NAME in paths
    for s in g.subjects():
        if isinstance(s, rdflib.URIRef) and "/mixed/" in s:
            assert not any(ch in str(s) for ch in ' <>"{}|^`\\'), s
            assert "/../" not in str(s)


@pytest.mark.slow
def test_export_of_one_audit_and_of_one_check(db, tmp_path):
    whole = tmp_path / "all.nt"
    one = tmp_path / "audit.nt"
    assert _export(db, "--format", "nt", "-o", str(whole)).code == 0
    assert _export(db, "--format", "nt", "--audit", "fixture-audit", "-o", str(one)).code == 0
    audited = rdflib.Graph().parse(one, format="nt")
    everything = rdflib.Graph().parse(whole, format="nt")
    sources = {str(o) for o in audited.objects(predicate=rdflib.URIRef(
        "https://w3id.org/nbrepro/terms#source"))}
    assert sources == {str(db["folders"][name]) for name in META}
    assert len(audited) == len(everything)  # every check of the fixture is in the audit
    result = _export(db, "--audit", "no-such-audit")
    assert result.code == 2 and "fixture-audit" in result.stderr


# --- RO-Crate ----------------------------------------------------------------------

def validate_crate(folder: Path) -> list[str]:
    """RO-Crate 1.1 validation with the maintained validator (roc-validator). Its
    checks fetch the RO-Crate JSON-LD context from w3id.org, which this machine
    cannot reach: that one document is served from the copy ro-crate-py ships."""
    import requests
    import rocrate
    from requests.adapters import BaseAdapter
    from rocrate_validator import models, services
    from rocrate_validator.utils.http import HttpRequester

    context = Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld"

    class RecordedContext(BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> requests.Response:
            response = requests.Response()
            response.url, response.request = request.url, request
            if request.url.rstrip("/") == "https://w3id.org/ro/crate/1.1/context":
                response.status_code = 200
                response._content = context.read_bytes()
                response.headers["Content-Type"] = "application/ld+json"
            else:
                response.status_code, response._content = 404, b""
            return response

        def close(self) -> None:
            pass

    settings = services.ValidationSettings(
        rocrate_uri=str(folder), requirement_severity=models.Severity.REQUIRED,
        profile_identifier="ro-crate-1.1", no_cache=True, skip_availability_check=True)
    session = HttpRequester().session
    session.mount("https://", RecordedContext())
    session.mount("http://", RecordedContext())
    result = services.validate(settings)
    return [issue.message for issue in result.get_issues()]


def _check_id(db: dict[str, Any], name: str) -> int:
    con = sqlite3.connect(db["path"])
    return con.execute("SELECT id FROM checks WHERE source = ?",
                       (str(db["folders"][name]),)).fetchone()[0]


@pytest.mark.slow
def test_rocrate_of_one_check_is_valid(db, tmp_path):
    crate = tmp_path / "crate"
    result = _export(db, "--format", "rocrate", "--check", str(_check_id(db, "mixed")),
                     "-o", str(crate))
    assert result.code == 0, result.stderr
    assert validate_crate(crate) == []
    meta = json.loads((crate / "ro-crate-metadata.json").read_text())
    by_id = {e["@id"]: e for e in meta["@graph"]}
    assert by_id["./"]["license"] == {"@id": "https://spdx.org/licenses/Apache-2.0"}
    runs = [e for e in meta["@graph"] if e["@type"] == "CreateAction" and e["@id"] != "#check"]
    assert len(runs) == 6
    verdicts = {by_id[r["result"]["@id"]]["value"] for r in runs}
    assert {"reproduced", "reproduced-equivalent", "differs"} <= verdicts
    # the notebooks are in the crate, as checked
    assert (crate / "03_objects.ipynb").read_bytes() == (
        db["folders"]["mixed"] / "03_objects.ipynb").read_bytes()
    assert (crate / HOSTILE_NAME).read_bytes() == (
        db["folders"]["mixed"] / HOSTILE_NAME).read_bytes()
    assert "#environment" in by_id and by_id["#environment"]["softwareRequirements"]
    # the validator does catch a broken crate
    del by_id["./"]["datePublished"]
    (crate / "ro-crate-metadata.json").write_text(json.dumps(meta))
    assert validate_crate(crate)


@pytest.mark.slow
def test_rocrate_never_copies_a_notebook_that_became_a_link_out(db, tmp_path):
    folder = db["root"] / "reproduces-linked"
    shutil.copytree(REPOS / "reproduces", folder)
    secret = tmp_path / "secret.ipynb"
    secret.write_text('{"secret": "do not copy"}')
    result = nbrepro("check", str(folder), "--db", db["url"], "-q")
    assert result.code == 0, result.stderr
    (folder / "analysis.ipynb").unlink()
    (folder / "analysis.ipynb").symlink_to(secret)
    crate = tmp_path / "crate"
    con = sqlite3.connect(db["path"])
    cid = con.execute("SELECT id FROM checks WHERE source = ?", (str(folder),)).fetchone()[0]
    assert _export(db, "--format", "rocrate", "--check", str(cid), "-o", str(crate)).code == 0
    assert not (crate / "analysis.ipynb").exists()
    assert "do not copy" not in (crate / "ro-crate-metadata.json").read_text()
    assert validate_crate(crate) == []


@pytest.mark.slow
def test_rocrate_needs_one_check(db, tmp_path):
    result = _export(db, "--format", "rocrate", "-o", str(tmp_path / "crate"))
    assert result.code == 2 and "--check" in result.stderr


# --- the query cache ---------------------------------------------------------------

@pytest.mark.slow
def test_queries_reuse_the_store_until_the_database_changes(tmp_path):
    url = f"sqlite:///{tmp_path / 'grow.sqlite'}"
    cache = Path(os.environ["NBREPRO_CACHE_DIR"]) / "graph"
    assert nbrepro("check", str(REPOS / "reproduces"), "--db", url, "-q").code == 0

    def count() -> int:
        result = nbrepro("query", url, "--example", "verdicts", "--format", "json")
        assert result.code == 0, result.stderr
        return sum(row["runs"] for row in json.loads(result.stdout))

    def stores() -> set[Path]:
        return {p for p in cache.rglob("*") if p.is_dir() and (p / "complete").exists()}

    before = stores()
    assert count() == 1
    built = stores() - before
    assert len(built) == 1
    (store_dir,) = built
    mtime = store_dir.stat().st_mtime_ns
    assert count() == 1
    assert stores() - before == built and store_dir.stat().st_mtime_ns == mtime
    assert nbrepro("check", str(REPOS / "differs"), "--db", url, "-q").code == 1
    assert count() == 2  # a new check: rebuilt


# --- bad input ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One check written through the store, for the command line's error paths."""
    from nbrepro.model import CheckResult, NotebookResult, RepositoryInfo, Verdict

    path = tmp_path_factory.mktemp("small") / "small.sqlite"
    store = Store(f"sqlite:///{path}")
    repo = RepositoryInfo(source="https://github.com/example/small.git", commit="ab" * 20)
    cid = store.create_check(repo.source)
    store.start_check(cid, repo)
    result = CheckResult(repository=repo, nbrepro_version="0.1.0")
    for name in ("a.ipynb", "b.ipynb"):
        nb = NotebookResult(path=name, verdict=Verdict.REPRODUCED)
        store.record_notebook(cid, nb)
        result.notebooks.append(nb)
    store.finish_check(cid, "finished", result)
    return str(path)


def _one_line_error(result: Any, *needles: str) -> str:
    assert result.code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_malformed_query_is_one_line_with_the_position(small_db):
    line = _one_line_error(nbrepro("query", small_db, "SELECT ?x WHERE { ?x ?p }"),
                           "malformed SPARQL query")
    assert "1:" in line  # line:column of the parser


def test_unknown_example_lists_the_known_ones(small_db):
    line = _one_line_error(nbrepro("query", small_db, "--example", "nope"), "nope")
    for name in EXAMPLES:
        assert name in line


def test_list_examples(small_db):
    result = nbrepro("query", small_db, "--list-examples")
    assert result.code == 0
    names = [ln.split()[0] for ln in result.stdout.splitlines()]
    assert names == list(EXAMPLES) and len(names) >= 12


def test_missing_database_is_one_line_and_creates_nothing(tmp_path):
    missing = tmp_path / "nope.sqlite"
    _one_line_error(nbrepro("export", str(missing)), "no such database")
    _one_line_error(nbrepro("query", str(missing), "--example", "verdicts"), "no such database")
    assert not missing.exists()


def test_export_to_a_missing_folder_is_one_line(small_db, tmp_path):
    _one_line_error(nbrepro("export", small_db, "-o", str(tmp_path / "no" / "x.ttl")),
                    "folder does not exist")


def test_query_answers_and_formats(small_db):
    sparql = "SELECT ?path WHERE { ?nb a repr:Notebook ; nbr:path ?path } ORDER BY ?path"
    as_csv = nbrepro("query", small_db, sparql, "--format", "csv")
    assert as_csv.code == 0 and as_csv.stdout.splitlines() == ["path", "a.ipynb", "b.ipynb"]
    table = nbrepro("query", small_db, sparql)
    assert "a.ipynb" in table.stdout and "2 row(s)" in table.stdout
    ask = nbrepro("query", small_db, "ASK { ?r a doap:GitRepository }")
    assert ask.stdout.strip() == "true"


def test_database_of_plain_checks_exports_without_audit(small_db, tmp_path):
    out = tmp_path / "small.ttl"
    result = nbrepro("export", small_db, "-o", str(out))
    assert result.code == 0, result.stderr
    g = rdflib.Graph().parse(out, format="turtle")
    repo = rdflib.URIRef(identifiers.repository("https://github.com/example/small.git"))
    assert (repo, rdflib.RDF.type, rdflib.URIRef("http://usefulinc.com/ns/doap#GitRepository")
            ) in g
    assert (repo, rdflib.URIRef("http://usefulinc.com/ns/doap#location"),
            rdflib.URIRef("https://github.com/example/small.git")) in g
    _one_line_error(nbrepro("export", small_db, "--audit", "x"), "no audit")


# --- identifiers -------------------------------------------------------------------

def test_repository_iris_ignore_credentials_and_spelling():
    same = {identifiers.repository(u) for u in (
        "https://github.com/Owner/Name.git", "https://github.com/owner/name",
        "https://user:secret@github.com/owner/name/", "git@github.com:owner/name.git")}
    assert len(same) == 1
    (iri,) = same
    assert "secret" not in iri and "user" not in iri
    assert identifiers.web_location("https://user:secret@github.com/o/n.git") == \
        "https://github.com/o/n.git"
    assert identifiers.repository("/data/a") != identifiers.repository("/data/b")


def test_a_crafted_path_is_one_segment():
    nb = identifiers.notebook("https://x/c", "../../other/commit/x.ipynb")
    assert nb.startswith("https://x/c/notebook/") and nb.count("/") == 5
    assert identifiers.segment("..") == "%2E%2E"



def test_rocrate_of_a_check_whose_clone_is_gone_references_its_notebooks(small_db, tmp_path):
    crate = tmp_path / "crate"
    result = nbrepro("export", small_db, "--format", "rocrate", "-o", str(crate))
    assert result.code == 0, result.stderr
    assert validate_crate(crate) == []
    meta = json.loads((crate / "ro-crate-metadata.json").read_text())
    by_id = {e["@id"]: e for e in meta["@graph"]}
    parts = [p["@id"] for p in by_id["./"]["hasPart"]]
    assert len(parts) == 2 and all(p.startswith("https://w3id.org/nbrepro/id/") for p in parts)
    assert by_id["./"]["isBasedOn"] == {"@id": "https://github.com/example/small.git"}
    assert sorted(crate.iterdir()) == [crate / "ro-crate-metadata.json"]
