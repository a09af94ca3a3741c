"""`nbrepro audit` on the fixture audit (13 repositories of tests/stand_ins.py, served
over HTTP on 127.0.0.1), in one run:

  1. a cold audit (empty cache): environments used vs built, i.e. builds saved by
     sharing environments with identical locks;
  2. warm audits with `--jobs 1`, `--jobs 2` and a 2-worker local Dask cluster, each
     into a fresh database, `--rounds` times interleaved (medians): wall times and
     speed-ups (target: 2 workers >= 1.7x one), and the same from the first
     repository's start to the last one's end (the audit without its fixed cost);
  3. the per-repository overhead of the audit around the check itself, from the
     `--jobs 1` runs: (time of the repositories' tasks - time inside
     nbrepro.check.check()) / that time (target < 5 %). A task's time is its worker's;
     a clone the audit made ahead, while the worker checked the previous repository,
     is not in it. Also the wall-clock view: (wall - time inside check()) / that time,
     which adds the audit's fixed cost (start-up, database, final report);
  4. the fixed cost of one check: a warm `nbrepro check` of a 3-cell notebook vs
     `jupyter nbconvert --execute` of it with a kernel of the same environment
     (target <= 1.1x).

Run:  python benchmarks/audit.py [--repeat 5]
Writes benchmarks/results/audit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from tests.stand_ins import build_fixture_audit, services  # noqa: E402

from benchmarks.overhead import make_repo  # noqa: E402


def audit(sources: list[str], db: Path, env: dict[str, str], *extra: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nbrepro", "audit", *sources, "--db",
                           f"sqlite:///{db}", "--name", "bench", "--quiet", *extra],
                          env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"audit {extra} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return elapsed


def check_seconds(db: Path) -> tuple[float, float, int]:
    """(time inside check() summed, task time summed, repositories) of an audit."""
    with sqlite3.connect(db) as conn:
        results = [json.loads(r[0]) for r in conn.execute(
            "SELECT c.result FROM checks c JOIN audit_repositories r ON r.check_id = c.id")]
        tasks = conn.execute("SELECT sum(seconds), count(*) FROM audit_repositories").fetchone()
    return sum(r["seconds"] for r in results), float(tasks[0] or 0), int(tasks[1])


def busy_span(db: Path) -> float:
    """Seconds from the first repository's start to the last one's end: the audit
    without its fixed cost (start-up, the executor's start and stop, the report)."""
    from datetime import datetime

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT finished_at, seconds FROM audit_repositories "
                            "WHERE finished_at IS NOT NULL").fetchall()
    ends = [datetime.fromisoformat(str(end)).timestamp() for end, _ in rows]
    starts = [end - (seconds or 0.0) for end, (_, seconds) in zip(ends, rows, strict=True)]
    return max(ends) - min(starts)


def environments(db: Path) -> tuple[int, int, int]:
    """(checks that used an environment, environments built, distinct environments)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, cached FROM environments WHERE ok = 1").fetchall()
    return len(rows), sum(1 for _, cached in rows if not cached), len({k for k, _ in rows})


def fixed_cost(tmp: Path, env: dict[str, str], repeat: int) -> dict[str, object]:
    repo = tmp / "three-cells"
    notebook = make_repo(repo, cells=3)
    db = tmp / "fixed.sqlite"
    check = [sys.executable, "-m", "nbrepro", "check", str(repo), "--quiet", "--db",
             f"sqlite:///{db}", "--json", str(tmp / "three.json")]
    subprocess.run(check, env=env, capture_output=True, check=False)  # warm the caches
    result = json.loads((tmp / "three.json").read_text())
    kernels = tmp / "jupyter" / "kernels" / "bench"
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [result["environment"]["python"], "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"], "display_name": "bench", "language": "python"}))
    nbconvert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                 str(notebook), "--output", str(tmp / "out.ipynb"),
                 "--ExecutePreprocessor.kernel_name=bench"]
    nbconvert_env = dict(env, JUPYTER_PATH=str(tmp / "jupyter"))
    ours, theirs = [], []
    for _ in range(repeat):  # interleaved: machine noise hits both alike
        for cmd, cmd_env, times in ((check, env, ours), (nbconvert, nbconvert_env, theirs)):
            started = time.perf_counter()
            proc = subprocess.run(cmd, env=cmd_env, capture_output=True, text=True)
            times.append(time.perf_counter() - started)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{cmd[2:4]} failed: {proc.stderr[-2000:]}")
    a, b = statistics.median(ours), statistics.median(theirs)
    return {"verdict": result["notebooks"][0]["verdict"],
            "nbrepro_check_warm_s": [round(t, 3) for t in ours],
            "nbconvert_execute_s": [round(t, 3) for t in theirs],
            "median_nbrepro_s": round(a, 3), "median_nbconvert_s": round(b, 3),
            "ratio": round(a / b, 3), "target_ratio": 1.1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of the fixed-cost pair")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each warm audit")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nbrepro-bench-audit-"))
    env = dict(os.environ, NBREPRO_CACHE_DIR=str(tmp / "cache"),
               NBREPRO_DB=f"sqlite:///{tmp / 'default.sqlite'}")
    fixture = build_fixture_audit(tmp)
    report: dict[str, object] = {"repositories": 13, "load_average_at_start": os.getloadavg()}
    with services(fixture.git_root) as running:
        env.update(running.env)
        cold = audit(fixture.sources, tmp / "cold.sqlite", env, "--jobs", "2")
        used, built, distinct = environments(tmp / "cold.sqlite")
        report["cold_audit_jobs2_s"] = round(cold, 2)
        report["environments"] = {"checks_with_an_environment": used, "built": built,
                                  "distinct": distinct, "builds_saved": used - built}
        runs: dict[str, list[float]] = {"jobs1": [], "jobs2": [], "dask2": []}
        spans: dict[str, list[float]] = {"jobs1": [], "jobs2": [], "dask2": []}
        inside_runs, task_runs = [], []
        for round_ in range(args.rounds):  # interleaved: machine noise hits all alike
            for label, extra in (("jobs1", ("--jobs", "1")), ("jobs2", ("--jobs", "2")),
                                 ("dask2", ("--dask-local", "2"))):
                db = tmp / f"{label}-{round_}.sqlite"
                runs[label].append(audit(fixture.sources, db, env, *extra))
                spans[label].append(busy_span(db))
                if label == "jobs1":
                    inside, tasks, repos = check_seconds(db)
                    inside_runs.append(inside)
                    task_runs.append(tasks)
        walls = {label: statistics.median(times) for label, times in runs.items()}
        inside, tasks = statistics.median(inside_runs), statistics.median(task_runs)
        report["warm_wall_s"] = {k: [round(t, 2) for t in v] for k, v in runs.items()}
        report["median_wall_s"] = {k: round(v, 2) for k, v in walls.items()}
        report["speedup_jobs2_over_jobs1"] = round(walls["jobs1"] / walls["jobs2"], 2)
        report["speedup_dask2_over_jobs1"] = round(walls["jobs1"] / walls["dask2"], 2)
        # The same from each round's own runs (minutes apart at most): less moved by the
        # machine's speed drifting over the whole benchmark.
        report["speedup_jobs2_over_jobs1_per_round"] = [
            round(one / two, 2) for one, two in zip(runs["jobs1"], runs["jobs2"], strict=True)]
        report["median_round_speedup_jobs2"] = round(statistics.median(
            one / two for one, two in zip(runs["jobs1"], runs["jobs2"], strict=True)), 2)
        report["median_round_speedup_dask2"] = round(statistics.median(
            one / two for one, two in zip(runs["jobs1"], runs["dask2"], strict=True)), 2)
        report["target_speedup"] = 1.7
        # Without each audit's fixed cost: what an audit of many repositories scales by.
        span = {label: statistics.median(times) for label, times in spans.items()}
        report["median_busy_span_s"] = {k: round(v, 2) for k, v in span.items()}
        report["fixed_cost_s"] = {k: round(walls[k] - span[k], 2) for k in walls}
        report["busy_span_speedup_jobs2"] = round(span["jobs1"] / span["jobs2"], 2)
        report["busy_span_speedup_dask2"] = round(span["jobs1"] / span["dask2"], 2)
        report["jobs1"] = {
            "wall_s": round(walls["jobs1"], 2), "inside_check_s": round(inside, 2),
            "tasks_s": round(tasks, 2), "repositories": repos,
            "task_overhead_vs_check": round((tasks - inside) / inside, 3),
            "wall_overhead_vs_check": round((walls["jobs1"] - inside) / inside, 3),
            "per_repository_task_overhead_s": round((tasks - inside) / repos, 3),
        }
        report["target_overhead"] = 0.05
    report["fixed_cost_3_cells"] = fixed_cost(tmp, env, args.repeat)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "audit.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
