"""Cost of isolation: the venv backend (bubblewrap, and without a sandbox) and the
docker backend, side by side in one run, on one fixture repository (numpy and a
notebook of 30 cells):
  - first check with nbrepro's cache empty and `--no-cache` (cold: resolve, build the
    environment or image, run); uv's own package cache stays as it is;
  - second and later checks (warm: lock and environment/image reused);
  - the 30-cell notebook's run time (kernel start to last cell) sandboxed vs not.
Targets: sandbox overhead <= 10 %, warm docker check <= 1.5 x warm venv check.

Run:  python benchmarks/isolation.py [--repeat 7] [--base-image IMAGE]
(the docker engine must answer: scripts/docker-engine.sh; without a registry, build a
base image with scripts/base-image.sh). Writes benchmarks/results/isolation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
CELLS = 30
# name -> extra `nbrepro check` options
SETUPS: dict[str, list[str]] = {
    "venv+bubblewrap": ["--backend", "venv"],
    "venv, no sandbox": ["--backend", "venv", "--no-sandbox"],
    "docker": ["--backend", "docker"],
}


def make_repo(repo: Path) -> None:
    """numpy, and a notebook of 30 cells with outputs that reproduce exactly."""
    repo.mkdir(parents=True)
    (repo / "requirements.txt").write_text("numpy\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python",
                                    "version": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    nb.cells.append(nbformat.v4.new_code_cell("import numpy as np", execution_count=1))
    for i in range(1, CELLS):
        n = 20_000 * i
        cell = nbformat.v4.new_code_cell(f"print(int(np.arange({n}).sum()))",
                                         execution_count=i + 1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                               text=f"{n * (n - 1) // 2}\n")]
        nb.cells.append(cell)
    nbformat.write(nb, str(repo / "analysis.ipynb"))


def check(repo: Path, work: Path, options: list[str], env: dict[str, str]) -> dict[str, object]:
    out = work / "result.json"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nbrepro", "check", str(repo), "-q",
                           "--db", f"sqlite:///{work / 'bench.sqlite'}", "--json", str(out),
                           *options], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"check {' '.join(options)} failed ({proc.returncode}): "
                         f"{proc.stderr[-2000:]}")
    result = json.loads(out.read_text())
    nb = result["notebooks"][0]
    assert nb["verdict"] in ("reproduced", "reproduced-equivalent"), nb["verdict"]
    return {"wall_s": wall, "notebook_s": nb["seconds"],
            "environment_s": result["environment"]["seconds"],
            "cached": result["environment"]["cached"],
            "sandbox": result["environment"]["sandbox"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--base-image", default=os.environ.get("NBREPRO_BASE_IMAGE"),
                        help="docker base image (default: python:X.Y-slim; here the offline "
                             "nbrepro-test-base:bookworm when it exists)")
    args = parser.parse_args()
    base_image = args.base_image or _local_test_image()
    if base_image:
        SETUPS["docker"] += ["--base-image", base_image]

    root = Path(tempfile.mkdtemp(prefix="nbrepro-isolation-", dir="/var/tmp"))
    try:
        repo = root / "repo"
        make_repo(repo)
        runs: dict[str, dict[str, object]] = {}
        envs: dict[str, dict[str, str]] = {}
        for name, options in SETUPS.items():
            work = root / name.replace(" ", "").replace(",", "-").replace("+", "-")
            work.mkdir()
            envs[name] = dict(os.environ, NBREPRO_CACHE_DIR=str(work / "cache"))
            cold = check(repo, work, [*options, "--no-cache"], envs[name])
            runs[name] = {"work": work, "cold": cold, "warm": []}
        # Warm checks interleaved, so that machine noise hits every setup alike.
        for _ in range(args.repeat):
            for name, options in SETUPS.items():
                warm = check(repo, runs[name]["work"], options, envs[name])  # type: ignore[arg-type]
                assert warm["cached"], (name, warm)
                runs[name]["warm"].append(warm)  # type: ignore[union-attr]
        report = summarise(runs, base_image)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "isolation.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)


def summarise(runs: dict[str, dict[str, object]], base_image: str | None) -> dict[str, object]:
    setups = {}
    for name, run in runs.items():
        warm: list[dict[str, float]] = run["warm"]  # type: ignore[assignment]
        cold: dict[str, float] = run["cold"]  # type: ignore[assignment]
        setups[name] = {
            "sandbox": cold["sandbox"],
            "cold_check_s": round(cold["wall_s"], 2),
            "cold_environment_s": round(cold["environment_s"], 2),
            "warm_check_s": [round(w["wall_s"], 3) for w in warm],
            "median_warm_check_s": round(statistics.median(w["wall_s"] for w in warm), 3),
            "notebook_s": [round(w["notebook_s"], 3) for w in warm],
            "median_notebook_s": round(statistics.median(w["notebook_s"] for w in warm), 3),
            "min_notebook_s": round(min(w["notebook_s"] for w in warm), 3),
        }
    sandboxed, bare = setups["venv+bubblewrap"], setups["venv, no sandbox"]
    overhead = sandboxed["median_notebook_s"] / bare["median_notebook_s"] - 1
    # The machine may be shared: the fastest runs show the intrinsic cost best.
    overhead_min = sandboxed["min_notebook_s"] / bare["min_notebook_s"] - 1
    overhead_check = sandboxed["median_warm_check_s"] / bare["median_warm_check_s"] - 1
    ratio = setups["docker"]["median_warm_check_s"] / sandboxed["median_warm_check_s"]
    return {
        "cells": CELLS, "requirements": ["numpy"], "base_image": base_image,
        "setups": setups,
        "sandbox_overhead_notebook_pct": round(100 * overhead, 1),
        "sandbox_overhead_notebook_fastest_pct": round(100 * overhead_min, 1),
        "sandbox_overhead_warm_check_pct": round(100 * overhead_check, 1),
        "target_sandbox_overhead_pct": 10,
        "warm_docker_over_warm_venv": round(ratio, 2),
        "target_warm_docker_over_warm_venv": 1.5,
    }


def print_report(report: dict[str, object]) -> None:
    setups: dict[str, dict[str, object]] = report["setups"]  # type: ignore[assignment]
    print(f"{'setup':<18} {'sandbox':<11} {'cold check':>11} {'warm check':>11} "
          f"{f'{CELLS}-cell notebook':>17}")
    for name, s in setups.items():
        print(f"{name:<18} {s['sandbox']!s:<11} {s['cold_check_s']:>10.2f}s "
              f"{s['median_warm_check_s']:>10.2f}s {s['median_notebook_s']:>16.2f}s")
    print(f"sandbox overhead on the notebook: {report['sandbox_overhead_notebook_pct']} % "
          f"(medians; fastest runs: {report['sandbox_overhead_notebook_fastest_pct']} %; "
          f"whole warm check: {report['sandbox_overhead_warm_check_pct']} %; target <= 10 %)")
    print(f"warm docker / warm venv check: {report['warm_docker_over_warm_venv']} "
          "(target <= 1.5)")


def _local_test_image() -> str | None:
    """The offline base image scripts/base-image.sh builds, if it is here."""
    image = "nbrepro-test-base:bookworm"
    if shutil.which("docker") is None:
        return None
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return image if found.returncode == 0 else None


if __name__ == "__main__":
    main()
