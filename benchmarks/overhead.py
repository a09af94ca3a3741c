"""Overhead of `nbrepro check` over plain `jupyter nbconvert --execute`.

Side by side, in one run, on a notebook of 30 quick cells, in the same environment:
  A. `nbrepro check REPO` with a warm environment cache (the whole command: scan,
     spec, cached lock, cached environment, scratch copy, execution, comparison,
     database, report);
  B. `jupyter nbconvert --to notebook --execute` of the same notebook with a kernel
     from the same environment nbrepro built.
Also: the build stage alone with a warm cache (target < 1 s).

Run:  python benchmarks/overhead.py [--repeat 5]
Writes benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent


def make_repo(root: Path, cells: int = 30) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("import math\ntotal = 0"))
    for i in range(1, cells):
        nb.cells.append(nbformat.v4.new_code_cell(
            f"total += math.factorial({i % 12})\nprint({i}, total)\n[{i} * k for k in range(5)]"))
    NotebookClient(nb, kernel_name="python3", timeout=60).execute()
    root.mkdir(parents=True)
    nbformat.write(nb, str(root / "quick.ipynb"))
    return root / "quick.ipynb"


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:3]} failed: {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="nbrepro-bench-"))
    env = dict(os.environ, NBREPRO_CACHE_DIR=str(tmp / "cache"),
               NBREPRO_DB=f"sqlite:///{tmp / 'bench.sqlite'}")
    repo = tmp / "repo"
    notebook = make_repo(repo)
    nbrepro = [sys.executable, "-m", "nbrepro", "check", str(repo), "--quiet",
               "--json", str(tmp / "result.json")]

    # Warm the caches (lock and environment) once, then find the environment it built.
    cold = timed(nbrepro, env)
    result = json.loads((tmp / "result.json").read_text())
    verdict = result["notebooks"][0]["verdict"]
    env_python = result["environment"]["python"]

    # A kernelspec for the same environment, for nbconvert.
    kernels = tmp / "jupyter" / "kernels" / "bench"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [env_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bench", "language": "python"}))
    nbconvert_env = dict(env, JUPYTER_PATH=str(tmp / "jupyter"))
    nbconvert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                 str(notebook), "--output", str(tmp / "out.ipynb"),
                 "--ExecutePreprocessor.kernel_name=bench"]

    a_times, b_times = [], []
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        a_times.append(timed(nbrepro, env))
        b_times.append(timed(nbconvert, nbconvert_env))

    build_times = warm_build_times(env, tmp, args.repeat)

    a, b = statistics.median(a_times), statistics.median(b_times)
    report = {
        "cells": 30,
        "verdict": verdict,
        "first_check_cold_cache_s": round(cold, 3),
        "nbrepro_check_warm_s": [round(t, 3) for t in a_times],
        "nbconvert_execute_s": [round(t, 3) for t in b_times],
        "median_nbrepro_s": round(a, 3),
        "median_nbconvert_s": round(b, 3),
        "ratio_nbrepro_over_nbconvert": round(a / b, 3),
        "target_ratio": 1.2,
        "warm_build_stage_s": [round(t, 4) for t in build_times],
        "median_warm_build_s": round(statistics.median(build_times), 4),
        "target_build_s": 1.0,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"notebook: 30 quick cells, verdict {verdict}; first check (cold cache) {cold:.2f} s")
    print(f"nbrepro check, warm cache   median {a:.2f} s  {a_times}")
    print(f"nbconvert --execute         median {b:.2f} s  {b_times}")
    print(f"ratio nbrepro / nbconvert   {a / b:.2f}  (target <= 1.2)")
    print(f"build stage, warm cache     median {statistics.median(build_times) * 1000:.1f} ms "
          "(target < 1 s)")


def warm_build_times(env: dict[str, str], tmp: Path, repeat: int) -> list[float]:
    """The build stage alone (resolve from cache + environment from cache), in-process."""
    code = """
import json, sys, time
from pathlib import Path
from nbrepro.isolation import get_backend
from nbrepro.isolation.base import BuildRequest, find_python
from nbrepro.stages.resolve import resolve
from nbrepro.stages.spec import read_spec
repo = Path(sys.argv[1]); times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    spec = read_spec(repo)
    python = find_python("%d.%d" % sys.version_info[:2])  # as a notebook's metadata asks
    lock = resolve(spec, python.minor)
    env = get_backend("venv").build(BuildRequest(lock=lock, python=python))
    assert env.ok and env.cached, env
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
    proc = subprocess.run([sys.executable, "-c", code, str(tmp / "repo"), str(repeat)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
