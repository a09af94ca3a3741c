"""Speed benchmark: compare a 1,000-cell notebook pair with nbrepro and with nbdime.

    .venv/bin/python benchmarks/compare_speed.py [--regenerate] [--repeat 3]

The pair is generated (and cached under benchmarks/results/speed_pair/): 400 cells
whose reprs carry a memory address, 400 cells showing a 20x4 DataFrame (HTML and
text) - 20 of them with two floats moved in their last digits, the others
reproduced exactly - and 200 cells with a 432x288 PNG plot, re-rendered for the
new notebook with different font hinting (new bytes, same plot). Stored and new
notebooks share their sources, as a re-run does. (nbdime needs 0.7 s for a table
with two changed floats and 8 s for one with all 80 changed, so a pair of noisy
tables everywhere would take nbdime from minutes to an hour.)

nbrepro's side is `compare_notebook` with default options - every cell gets a
status and a reason, every non-identical cell its nbdime-format diff, every changed
image its difference PNG - plus assembling the notebook's nbdime diff. nbdime's
side is `nbdime.diff_notebooks` with its defaults. Prints both times (wall and CPU
time of the process; the ratio is of CPU times, which other work on the machine
does not inflate) and writes benchmarks/results/compare_speed.json.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import nbformat

RESULTS = Path(__file__).resolve().parent / "results"
PAIR_DIR = RESULTS / "speed_pair"
VERSION = "3"  # bump when the generated pair changes


def generate() -> None:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    stored, new = nbformat.v4.new_notebook(), nbformat.v4.new_notebook()

    def add(source: str, count: int, old: list, fresh: list) -> None:
        stored.cells.append(nbformat.v4.new_code_cell(source, execution_count=count, outputs=old))
        new.cells.append(nbformat.v4.new_code_cell(source, execution_count=count, outputs=fresh))

    def result(data: dict, count: int):
        return nbformat.v4.new_output("execute_result", data=data, execution_count=count)

    def address() -> str:
        return f"0x7f{rng.integers(16**9, 16**10):010x}"

    def png(values, hinting: str) -> str:
        with plt.rc_context({"figure.figsize": (6, 4), "figure.dpi": 72, "text.hinting": hinting}):
            fig, ax = plt.subplots()
            ax.plot(values)
            ax.set_title("run")
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            plt.close(fig)
        return base64.b64encode(buffer.getvalue()).decode()

    for i in range(1000):
        count = i + 1
        if i % 5 in (0, 1):  # 400 reprs with memory addresses
            old, fresh = (
                f"Sequential(depth={i % 7})\n<model.Layer object at {address()}>\n"
                f"params: {1000 + i}"
                for _ in range(2)
            )
            add(
                f"model[{i}]",
                count,
                [result({"text/plain": old}, count)],
                [result({"text/plain": fresh}, count)],
            )
        elif i % 5 in (2, 3):  # 400 numeric tables; in every 20th two floats moved
            values = rng.normal(size=(20, 4))
            noisy = values.copy()
            if i % 50 == 2:
                for row, column in rng.integers(0, (20, 4), size=(2, 2)):
                    noisy[row, column] *= 1 + 1e-13
            frames = [pd.DataFrame(v, columns=list("abcd")) for v in (values, noisy)]
            with pd.option_context("display.precision", 15):
                outs = [
                    [result({"text/plain": repr(f), "text/html": f._repr_html_()}, count)]
                    for f in frames
                ]
            add(f"tables[{i}]", count, *outs)
        else:  # 200 images, 432x288, re-rendered
            values = np.cumsum(rng.normal(size=50))
            outs = [
                [
                    nbformat.v4.new_output(
                        "display_data",
                        data={
                            "text/plain": "<Figure size 432x288 with 1 Axes>",
                            "image/png": png(values, h),
                        },
                    )
                ]
                for h in ("force_autohint", "default")
            ]
            add(f"plot({i})", count, *outs)
    PAIR_DIR.mkdir(parents=True, exist_ok=True)
    nbformat.write(stored, PAIR_DIR / "stored.ipynb")
    nbformat.write(new, PAIR_DIR / "new.ipynb")
    (PAIR_DIR / "VERSION").write_text(VERSION)


def load() -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    return (
        nbformat.read(PAIR_DIR / "stored.ipynb", as_version=4),
        nbformat.read(PAIR_DIR / "new.ipynb", as_version=4),
    )


def time_nbrepro(stored, new) -> tuple[float, float, Counter]:
    """(wall seconds, CPU seconds of this process, statuses): CPU time is what to
    compare across machines or runs when other work shares the machine."""
    from nbrepro.compare import compare_notebook

    started, cpu = time.perf_counter(), time.process_time()
    result = compare_notebook(stored, new)
    diff = result.nbdime_diff()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert diff, "the pair differs, so there is a diff"
    return seconds, cpu, Counter(
        f"{c.comparison.status.value} ({c.comparison.reason})" for c in result.cells
    )


def time_nbdime(stored, new) -> tuple[float, float, int]:
    import nbdime

    started, cpu = time.perf_counter(), time.process_time()
    diff = nbdime.diff_notebooks(stored, new)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    cells = sum(len(e["diff"]) for e in diff if e["key"] == "cells")
    return seconds, cpu, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="rebuild the notebook pair")
    parser.add_argument("--repeat", type=int, default=3, help="nbrepro runs (median is kept)")
    parser.add_argument("--skip-nbdime", action="store_true", help="time nbrepro only")
    args = parser.parse_args(argv)
    version = PAIR_DIR / "VERSION"
    if args.regenerate or not version.exists() or version.read_text() != VERSION:
        started = time.perf_counter()
        generate()
        print(f"generated the pair in {time.perf_counter() - started:.1f} s")
    stored, new = load()
    runs = [time_nbrepro(stored, new) for _ in range(args.repeat)]
    nbrepro_seconds = statistics.median(s for s, _, _ in runs)
    nbrepro_cpu = statistics.median(c for _, c, _ in runs)
    statuses = runs[0][2]
    print(
        f"nbrepro  {nbrepro_seconds:7.2f} s, CPU {nbrepro_cpu:.2f} s  (median of {args.repeat}; "
        f"runs: {', '.join(f'{s:.2f}' for s, _, _ in runs)})"
    )
    for status, n in statuses.most_common():
        print(f"           {n:5} {status}")
    report = {
        "cells": len(stored.cells),
        "nbrepro_seconds": nbrepro_seconds,
        "nbrepro_cpu_seconds": nbrepro_cpu,
        "nbrepro_runs": [s for s, _, _ in runs],
        "nbrepro_statuses": dict(statuses),
    }
    if not args.skip_nbdime:
        nbdime_seconds, nbdime_cpu, changed = time_nbdime(stored, new)
        ratio = nbdime_cpu / nbrepro_cpu
        print(
            f"nbdime   {nbdime_seconds:7.2f} s, CPU {nbdime_cpu:.2f} s  "
            f"(diff_notebooks; {changed} cells in its diff)"
        )
        print(f"ratio    {ratio:7.1f}x  (nbdime CPU time / nbrepro CPU time; target >= 10x)")
        report.update(nbdime_seconds=nbdime_seconds, nbdime_cpu_seconds=nbdime_cpu, ratio=ratio)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compare_speed.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
