"""Restoration: how many notebooks run without error with `--restore none` and with
`--restore`, side by side in one run, and what `--restore` costs where nothing needs
restoring.

  1. Every fixture repository of the test suite (tests/fixtures/repos) plus two
     written here that declare nothing (imports only: `yaml`, `six`), checked with
     `--restore none` and with `--restore` (both `--as-of none`, so that only
     restoration differs): notebooks that ran without error (reproduced,
     reproduced-equivalent or differs) under each.
  2. The warm cost: `with-deps` (declares everything it needs), checked alternately
     with and without `--restore`, median of --repeat (target: < 5 % more).

Run:  python benchmarks/restore.py [--repeat 5]
Writes benchmarks/results/restore.json.
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

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from tests.helpers.cli import REPOS  # noqa: E402
from tests.security.helpers import write_notebook  # noqa: E402

RAN = {"reproduced", "reproduced-equivalent", "differs"}
# Repositories whose notebooks loop or wait on purpose: they say nothing about imports.
SKIPPED = {"infinite-loop", "slow", "kernel-dies"}


def check(repo: Path, tmp: Path, env: dict[str, str], *extra: str) -> tuple[float, dict]:
    out = tmp / "result.json"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbrepro", "check", str(repo), "--quiet",
                    "--as-of", "none", "--json", str(out), *extra],
                   env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    return seconds, json.loads(out.read_text()) if out.is_file() else {"notebooks": []}


def undeclared_repos(tmp: Path) -> list[Path]:
    made = []
    for name, code, output in (("imports-yaml", "import yaml\nprint(yaml.safe_load('a: 1'))",
                                "{'a': 1}\n"),
                               ("imports-six", "import six\nprint(six.PY3)", "True\n")):
        root = tmp / "repos" / name
        write_notebook(root / "analysis.ipynb", [(code, output)])
        made.append(root)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nbrepro-bench-restore-"))
    env = dict(os.environ, NBREPRO_DB=f"sqlite:///{tmp / 'bench.sqlite'}")
    repos = []
    for folder in sorted(REPOS.iterdir()):
        if folder.is_dir() and folder.name not in SKIPPED:
            repos.append(shutil.copytree(folder, tmp / "repos" / folder.name))
    repos += undeclared_repos(tmp)
    ran = {"none": 0, "auto": 0}
    total = 0
    per_repo: dict[str, dict[str, list[str]]] = {}
    for repo in repos:
        verdicts = {}
        for mode in ("none", "auto"):
            _, result = check(repo, tmp, env, "--restore", mode)
            verdicts[mode] = [nb["verdict"] for nb in result.get("notebooks", [])]
            ran[mode] += sum(v in RAN for v in verdicts[mode])
        total += len(verdicts["none"])
        per_repo[repo.name] = verdicts
    warm: dict[str, list[float]] = {"none": [], "auto": []}
    repo = tmp / "repos" / "with-deps"
    for mode in ("none", "auto"):  # warm both caches first
        check(repo, tmp, env, "--restore", mode)
    for _ in range(args.repeat):  # interleaved: machine noise hits both alike
        for mode in ("none", "auto"):
            seconds, _ = check(repo, tmp, env, "--restore", mode)
            warm[mode].append(round(seconds, 3))
    a, b = statistics.median(warm["none"]), statistics.median(warm["auto"])
    report = {
        "load_average_at_start": os.getloadavg(),
        "notebooks": total,
        "ran_without_error": ran,
        "per_repository": per_repo,
        "warm_with_deps_s": warm,
        "median_none_s": a, "median_restore_s": b,
        "restore_overhead": round(b / a - 1, 3), "target_overhead": 0.05,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "restore.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "per_repository"}, indent=2))


if __name__ == "__main__":
    main()
