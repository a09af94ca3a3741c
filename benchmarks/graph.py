"""Knowledge-graph benchmark: export and SPARQL on an audit the size of the published study.

    .venv/bin/python benchmarks/graph.py [--db FILE] [--repeat 3] [--queries-only]

Makes (once; kept at --db, default benchmarks/results/graph_study.sqlite) a synthetic
audit database through the store's own models: 2,660 repositories, each one check with its
environment, 27,000 notebook results of which 10,000 were executed with their cells
(about 200,000), the rest install-failed or not checked — verdicts, exceptions,
normalisers and volatile cells in the study's proportions — and, per repository, the
audit's GitHub and article metadata. Then measures: reading the database, mapping
and writing Turtle and N-Triples; building the SPARQL store (first query after a
change); opening the cached store in a new process (`nbrepro query` end to end);
and each example query's time on the open store (median of --repeat). Target: every
example query under 1 s. Prints the figures and writes benchmarks/results/graph.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from nbrepro.model import (
        CellResult,
        CheckResult,
        EnvironmentResult,
        Lock,
        NotebookResult,
        Spec,
        Verdict,
    )

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
REPOSITORIES, NOTEBOOKS, EXECUTED = 2660, 27000, 10000
INSTALL_FAILED = 6000  # notebooks in repositories whose environment did not build
EXCEPTIONS = [("ModuleNotFoundError", 5562), ("FileNotFoundError", 1102), ("ImportError", 1026),
              ("NameError", 390), ("OSError", 147), ("AttributeError", 94), ("ValueError", 91),
              ("TypeError", 85), ("KeyError", 71), ("CalledProcessError", 68)]
NORMALISERS = ["execution-count", "memory-address", "scalar-repr", "figure-size",
               "image-similar", "float-tolerance", "warnings", "dataframe-table",
               "collection-order", "timestamp"]
PACKAGES = ["numpy", "pandas", "scipy", "matplotlib", "scikit-learn", "seaborn", "torch",
            "tensorflow", "biopython", "statsmodels", "networkx", "requests", "tqdm",
            "pillow", "h5py", "numba", "plotly", "sympy", "xarray", "anndata"]
JOURNALS = [f"Journal {n}" for n in range(60)]


def synthesize(url: str, seed: int = 0) -> None:
    from sqlalchemy import insert

    from nbrepro.model import (
        CheckResult,
        EnvironmentResult,
        Lock,
        NotebookInfo,
        NotebookResult,
        RepositoryInfo,
        Requirement,
        Spec,
        Verdict,
    )
    from nbrepro.store import AuditRepositoryRow, AuditRow, PublicationRow, Store

    rng = random.Random(seed)
    store = Store(url)
    audits, repos, pubs = (AuditRow.__table__, AuditRepositoryRow.__table__,
                           PublicationRow.__table__)
    with store.engine.begin() as conn:
        conn.execute(insert(audits).values(id=1, name="study", options={}, sources=[]))
    # Notebooks per repository: skewed (many small repositories, a few large ones).
    weights = [rng.paretovariate(1.5) for _ in range(REPOSITORIES)]
    sizes = [1] * REPOSITORIES
    for r in rng.choices(range(REPOSITORIES), weights, k=NOTEBOOKS - REPOSITORIES):
        sizes[r] += 1
    exceptions = [name for name, n in EXCEPTIONS for _ in range(n)]
    install_failed = executed = 0
    session = store.session()
    for r in range(REPOSITORIES):
        source = f"https://github.com/owner{r % 997}/repo-{r}"
        commit = f"{rng.getrandbits(160):040x}"
        info = RepositoryInfo(source=source, commit=commit)
        builds = install_failed >= INSTALL_FAILED
        declared = [Requirement(spec=p, source="requirements.txt")
                    for p in rng.sample(PACKAGES, rng.randint(0, 6))]
        pins = {p: f"{rng.randint(0, 3)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
                for p in {*(q.spec for q in declared), "ipykernel", "jupyter-client",
                          "traitlets", "tornado"}}
        failed = None if builds else (declared[0].spec if declared else "numpy==1.14.0")
        lock = Lock(ok=builds, resolver="uv", python_version="3.11",
                    text="".join(f"{p}=={v}\n" for p, v in sorted(pins.items()))
                    if builds else "", failed_requirement=failed)
        env = EnvironmentResult(ok=builds, backend="venv", python_version="3.11.7",
                                requested_python="3.11", sandbox="bubblewrap",
                                failed_requirement=failed)
        spec = Spec(files=["requirements.txt"] if declared else [], requirements=declared)
        result = CheckResult(repository=info, spec=spec, lock=lock, environment=env,
                             nbrepro_version="0.1.0")
        for n in range(sizes[r]):
            version = rng.choice(["2.7.15", "3.6.8", "3.7.3", "3.8.10", "3.9.7", "3.10.4",
                                  "3.11.7"])
            code = rng.randint(5, 35)
            nb_info = NotebookInfo(path=f"notebooks/{n:03d}_analysis.ipynb", language="python",
                                   kernel_name="python3" if version[0] == "3" else "python2",
                                   python_version=version, cells=code + rng.randint(0, 15),
                                   code_cells=code, has_outputs=True,
                                   top_down=rng.random() < 0.6, imports=["numpy"])
            nb = NotebookResult(path=nb_info.path, verdict=Verdict.NOT_CHECKED, info=nb_info)
            if not builds:
                nb.verdict, nb.reason = Verdict.INSTALL_FAILED, f"could not install {failed}"
                install_failed += 1
            elif version[0] == "2" or executed >= EXECUTED:
                nb.reason = "Python 2 notebook" if version[0] == "2" else "no stored outputs"
            else:
                executed += 1
                nb.verdict, nb.cells = _run(rng, code, exceptions, nb)
            result.notebooks.append(nb)
        check_id = _write_check(session, result, spec, lock, env)
        rid = session.execute(insert(repos).values(
            audit_id=1, url=source, check_id=check_id, commit=commit,
            stars=int(rng.paretovariate(0.8)) - 1, license=rng.choice(
                ["MIT", "BSD-3-Clause", "GPL-3.0-only", "Apache-2.0", "NOASSERTION", None]),
            created_at=f"{rng.randint(2012, 2023)}-0{rng.randint(1, 9)}-15T00:00:00Z",
            default_branch="main", commit_date="2023-01-01T00:00:00Z", status="checked",
        )).inserted_primary_key[0]
        for a in range(1 + (rng.random() < 0.3)):
            session.execute(insert(pubs).values(
                audit_repository_id=rid, key=f"study.{r}.{a}", doi=f"10.1000/study.{r}.{a}",
                pmcid=f"PMC{r}{a}",
                journal=rng.choice(JOURNALS), year=rng.randint(2013, 2023),
                title=f"Article {r}.{a}"))
        if r % 250 == 249:
            session.commit()
            print(f"  {r + 1}/{REPOSITORIES} repositories", file=sys.stderr)
    session.commit()
    session.close()


def _write_check(
    session: Session, result: CheckResult, spec: Spec, lock: Lock, env: EnvironmentResult
) -> int:
    """One check as `nbrepro check` leaves it in the store (its tables and models),
    written in the caller's transaction: per-notebook commits would make building a
    study-sized database take most of an hour."""
    from nbrepro.model import CheckState
    from nbrepro.store import (
        CellRow,
        CheckRow,
        EnvironmentRow,
        NotebookRow,
        RepositoryRow,
        RunRow,
        utcnow,
    )

    repo = result.repository
    now = utcnow()
    check = CheckRow(source=repo.source, state=CheckState.FINISHED, progress={}, options={},
                     verdict=result.verdict.value if result.verdict else None,
                     created_at=now, started_at=now, finished_at=now, result=result.to_dict(),
                     repository=RepositoryRow(source=repo.source, commit=repo.commit))
    check.environment = EnvironmentRow(
        declared_files=spec.files, requirements=[q.to_dict() for q in spec.requirements],
        requested_python=env.requested_python, resolver=lock.resolver, lock=lock.text,
        failed_requirement=env.failed_requirement, python_version=env.python_version,
        backend=env.backend, ok=env.ok, sandbox=env.sandbox, network=env.network)
    for nb in result.notebooks:
        info = nb.info
        assert info is not None
        row = NotebookRow(path=nb.path, valid=info.valid, error=info.error,
                          nbformat=info.nbformat, language=info.language,
                          kernel_name=info.kernel_name, python_version=info.python_version,
                          cells=info.cells, code_cells=info.code_cells,
                          has_outputs=info.has_outputs, top_down=info.top_down,
                          imports=info.imports)
        row.run = RunRow(verdict=nb.verdict.value, reason=nb.reason, exception=nb.exception,
                         message=nb.message, failing_cell=nb.failing_cell, seconds=nb.seconds,
                         cells=[CellRow(index=c.index, status=c.status.value, reason=c.reason,
                                        detail=c.detail, seconds=c.execution_seconds)
                                for c in nb.cells])
        check.notebooks.append(row)
    session.add(check)
    session.flush()
    return check.id


def _run(
    rng: random.Random, code: int, exceptions: list[str], nb: NotebookResult
) -> tuple[Verdict, list[CellResult]]:
    from nbrepro.model import CellResult, CellStatus, Verdict

    cells = [CellResult(index=i + 1, status=CellStatus.IDENTICAL, execution_seconds=0.01)
             for i in range(code)]
    roll = rng.random()
    if roll < 0.8:  # failed at some cell; the rest did not run
        at = rng.randrange(code)
        cells[at].status = CellStatus.ERROR
        for c in cells[at + 1:]:
            c.status = CellStatus.NOT_RUN
        nb.exception, nb.failing_cell, nb.message = rng.choice(exceptions), at + 1, "synthetic"
        return Verdict.FAILED, cells
    if roll < 0.83:
        return rng.choice([Verdict.TIMEOUT, Verdict.KERNEL_DIED]), cells[:rng.randrange(code)]
    if roll < 0.90:
        return Verdict.REPRODUCED, cells
    for c in rng.sample(cells, min(code, rng.randint(1, 4))):
        c.status, c.reason = CellStatus.EQUIVALENT, rng.choice(NORMALISERS)
    if roll < 0.94:
        return Verdict.REPRODUCED_EQUIVALENT, cells
    cells[rng.randrange(code)].status = rng.choice([CellStatus.DIFFERENT, CellStatus.VOLATILE])
    if all(c.status != CellStatus.DIFFERENT for c in cells):
        return Verdict.REPRODUCED_EQUIVALENT, cells
    return Verdict.DIFFERS, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=RESULTS / "graph_study.sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--queries-only", action="store_true",
                        help="Skip the export figures (the query store is rebuilt only if the "
                             "database or the mapping changed).")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    os.environ.setdefault("NBREPRO_CACHE_DIR", tempfile.mkdtemp(prefix="nbrepro-graph-bench-"))
    url = f"sqlite:///{args.db.resolve()}"
    figures: dict[str, object] = {}
    # How fast this machine runs Python right now (other work on it slows every figure):
    # summing ten million integers takes about 0.2 s on an idle core.
    start = time.perf_counter()
    sum(range(10**7))
    figures["calibration_seconds"] = round(time.perf_counter() - start, 3)
    if not args.db.exists():
        start = time.perf_counter()
        synthesize(url)
        figures["synthesize_seconds"] = round(time.perf_counter() - start, 1)

    import sqlite3

    con = sqlite3.connect(args.db)
    figures["rows"] = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                       for t in ("checks", "notebooks", "runs", "cells", "audit_publications")}
    figures["runs_with_cells"] = con.execute(
        "SELECT COUNT(DISTINCT run_id) FROM cells").fetchone()[0]

    if not args.queries_only:
        _export_figures(url, figures)
    else:
        print("(export figures skipped)")
    _query_figures(url, args.repeat, figures)
    print(json.dumps(figures, indent=2))
    (RESULTS / "graph.json").write_text(json.dumps(figures, indent=2) + "\n")


def _export_figures(url: str, figures: dict[str, object]) -> None:
    from nbrepro.graph import source
    from nbrepro.graph.export import export
    from nbrepro.graph.mapping import quads

    start = time.perf_counter()
    results = source.read(source.open_store(url))
    figures["read_seconds"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    figures["triples"] = sum(1 for _ in quads(results))
    figures["map_seconds"] = round(time.perf_counter() - start, 2)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("turtle", "nt"):
            out = Path(tmp) / f"study.{fmt}"
            start = time.perf_counter()
            export(url, fmt, str(out))
            figures[f"export_{fmt}_seconds"] = round(time.perf_counter() - start, 2)
            figures[f"export_{fmt}_megabytes"] = round(out.stat().st_size / 1e6, 1)


def _query_figures(url: str, repeat: int, figures: dict[str, object]) -> None:
    from nbrepro.graph import query
    from nbrepro.graph.examples import EXAMPLES

    start = time.perf_counter()
    store = query.graph(url)
    figures["build_store_seconds"] = round(time.perf_counter() - start, 2)
    cli = [sys.executable, "-m", "nbrepro", "query", url, "--example", "top-exceptions",
           "--format", "csv"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "checker"), str(ROOT / "extension"), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    subprocess.run(cli, check=True, capture_output=True, env=env)
    figures["cli_query_cached_seconds"] = round(time.perf_counter() - start, 2)

    times: dict[str, float] = {}
    for name, example in EXAMPLES.items():
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            answer = query.run(url, example.sparql)
            runs.append(time.perf_counter() - start)
        times[name] = round(statistics.median(runs), 3)
        print(f"{name:30} {times[name]:7.3f} s  {len(answer.rows):5} rows")
    figures["example_seconds"] = times
    figures["slowest_example_seconds"] = max(times.values())
    figures["all_examples_under_1s"] = max(times.values()) < 1.0
    start = time.perf_counter()
    sum(range(10**7))
    figures["calibration_after_seconds"] = round(time.perf_counter() - start, 3)
    del store


if __name__ == "__main__":
    main()
