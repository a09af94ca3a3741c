"""Accuracy benchmark: false alarms and misses of nbrepro, strict nbdime and nbval.

    .venv/bin/python benchmarks/accuracy/run.py [--regenerate] [--verbose]

Reads the committed corpus (`tests/fixtures/accuracy/notebooks/<name>/{stored,rerun,
rerun2}.ipynb` and its `manifest.json`, made by `generate.py`; `--regenerate`
re-runs it first; the test suite runs nbrepro's part of it too) and judges every
code cell three ways:

- nbrepro: `compare_notebook(stored, rerun, options, second_run=rerun2)` with the
  options of the item's `[tool.nbrepro]` table; a cell is flagged when its status
  is different, missing-output, extra-output or error. `volatile` cells are left
  out of the verdict, so they are neither flagged nor passed.
- strict nbdime (what the published studies did): `nbdime.diff_notebooks(stored,
  rerun)`; a cell is flagged when the diff touches its outputs.
- nbval's default comparison, run with nbval's own code
  (`IPyNbCell.compare_outputs` on `coalesce_streams`ed outputs, its default
  `skip_compare`, no sanitize file) and its marker handling: skipped and
  ignore-output cells are not checked, an exception fails a cell unless marked.

A false alarm is a flagged cell whose ground truth is `same`, `noise:*` or
`volatile:*`; a miss is an unflagged `change:*` cell (for nbrepro, a change
reported identical, equivalent, volatile or not-run). Prints a table and writes
`benchmarks/results/accuracy.json`.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import types
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RESULTS = HERE.parent / "results" / "accuracy.json"
sys.path.insert(0, str(REPO))  # the corpus lives with the tests, which run it too

from tests.fixtures.accuracy import (  # noqa: E402
    CorpusItem,
    judge_nbrepro,
    load_corpus,
    needs_second_run,
)
from tests.fixtures.accuracy import outcome as _outcome  # noqa: E402
from tests.fixtures.accuracy.corpus import ITEMS  # noqa: E402

TOOLS = ("nbrepro", "nbdime-strict", "nbval-default")


def check_up_to_date(items: list[CorpusItem]) -> None:
    sources = {item.name: [cell.source for cell in item.cells] for item in ITEMS}
    for item in items:
        if [c.source for c in item.stored.cells] != sources.get(item.name):
            print(f"warning: {item.name} is out of date with corpus.py; run with --regenerate")


# -- the three judges: each returns {cell index: (flagged, status word)} -------


def judge_nbdime(item: CorpusItem) -> dict[int, tuple[bool, str]]:
    import nbdime

    diff = nbdime.diff_notebooks(item.stored, item.rerun)
    flagged: set[int] = set()
    for entry in diff:
        if entry["key"] != "cells":
            continue
        for op in entry["diff"]:
            if op["op"] == "patch" and any(d["key"] == "outputs" for d in op["diff"]):
                flagged.add(op["key"])
            elif op["op"] == "removerange":
                flagged.update(range(op["key"], op["key"] + op["length"]))
    return {
        i: (i in flagged, "outputs differ" if i in flagged else "same")
        for i, c in enumerate(item.stored.cells)
        if c.cell_type == "code"
    }


def judge_nbval(item: CorpusItem) -> dict[int, tuple[bool, str]]:
    from nbval import plugin

    cell_stub = _nbval_cell()
    verdicts = {}
    for i, (stored, new) in enumerate(zip(item.stored.cells, item.rerun.cells, strict=True)):
        if stored.cell_type != "code":
            continue
        options = dict(check=True, check_exception=False, skip=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for marker_type, value in plugin.find_comment_markers(stored.source):
                options[marker_type] = value
            for marker_type, value in plugin.find_metadata_tags(stored.metadata):
                options[marker_type] = value
        if options["skip"]:
            verdicts[i] = (False, "skipped")
            continue
        outs = plugin.coalesce_streams(copy.deepcopy(new.outputs))
        if any(o.output_type == "error" for o in outs) and not options["check_exception"]:
            verdicts[i] = (True, "exception")
            continue
        if not options["check"] or stored.execution_count is None:
            verdicts[i] = (False, "not checked")
            continue
        same = cell_stub.compare_outputs(
            outs, plugin.coalesce_streams(copy.deepcopy(stored.outputs))
        )
        verdicts[i] = (not same, "same" if same else "outputs differ")
    return verdicts


def _nbval_cell() -> Any:
    """An object with what `IPyNbCell.compare_outputs` reads, nbval's defaults."""
    from nbval import plugin

    stub = types.SimpleNamespace()
    stub.parent = types.SimpleNamespace(
        skip_compare=(
            "metadata",
            "traceback",
            "prompt_number",
            "output_type",
            "name",
            "execution_count",
            "application/vnd.jupyter.widget-view+json",
            "image/png",
            "image/jpeg",
        ),  # nbval without --nbdime skips images
        sanitize_patterns={},
    )
    stub.colors = plugin.nocolors
    stub.comparison_traceback = []
    for name in ("compare_outputs", "sanitize"):
        setattr(stub, name, types.MethodType(getattr(plugin.IPyNbCell, name), stub))
    stub.format_output_compare = lambda *args: None  # only builds pytest's failure message
    return stub


JUDGES = {"nbrepro": judge_nbrepro, "nbdime-strict": judge_nbdime, "nbval-default": judge_nbval}


# -- scoring -------------------------------------------------------------------


def score(items: list[CorpusItem], verbose: bool) -> dict[str, Any]:
    totals = {tool: Counter() for tool in TOOLS}
    seconds = dict.fromkeys(TOOLS, 0.0)
    cells: list[dict[str, Any]] = []
    for item in items:
        verdicts = {}
        for tool, judge in JUDGES.items():
            started = time.process_time()  # CPU: other work on the machine does not count
            verdicts[tool] = judge(item)
            seconds[tool] += time.process_time() - started
        for i, label in item.labels.items():
            truth = label.split(":")[0]
            row = {"notebook": item.name, "cell": i, "label": label}
            for tool in TOOLS:
                flagged, word = verdicts[tool].get(i, (False, "not compared"))
                outcome = _outcome(label, flagged, word)
                totals[tool][outcome] += 1
                totals[tool][f"{truth} cells"] += 1
                row[tool] = word
                row[f"{tool} outcome"] = outcome
            cells.append(row)
            if verbose and any(row[f"{t} outcome"] in ("false alarm", "miss") for t in TOOLS):
                print(
                    f"  {item.name}[{i}] {label}: "
                    + "; ".join(f"{t}={row[t]} ({row[f'{t} outcome']})" for t in TOOLS)
                )
    return {"totals": {t: dict(c) for t, c in totals.items()}, "seconds": seconds, "cells": cells}


def print_table(result: dict[str, Any], n_notebooks: int) -> None:
    totals = result["totals"]
    any_tool = totals[TOOLS[0]]
    changes = any_tool.get("change cells", 0)
    noise = sum(any_tool.get(f"{k} cells", 0) for k in ("same", "noise", "volatile"))
    print(
        f"\n{n_notebooks} notebooks, {changes + noise} code cells: "
        f"{changes} real changes, {any_tool.get('noise cells', 0)} noise, "
        f"{any_tool.get('volatile cells', 0)} unseeded-random, "
        f"{any_tool.get('same cells', 0)} unchanged\n"
    )
    header = (
        f"{'':15} {'false alarms':>13} {'misses':>8} {'caught':>8} {'volatile':>9} {'CPU s':>8}"
    )
    print(header)
    print("-" * len(header))
    for tool in TOOLS:
        t = totals[tool]
        print(
            f"{tool:15} {t.get('false alarm', 0):>13} {t.get('miss', 0):>8} "
            f"{t.get('caught', 0):>4}/{changes:<3} {t.get('volatile', 0):>9} "
            f"{result['seconds'][tool]:>8.2f}"
        )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="re-run every corpus notebook first (a few minutes)",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="list every false alarm and miss"
    )
    args = parser.parse_args(argv)
    if args.regenerate:
        sys.path.insert(0, str(HERE))
        import generate

        generate.main([])
    items = load_corpus()
    check_up_to_date(items)
    result = score(items, args.verbose)
    print_table(result, len(items))
    rerun = [item.name for item in items if needs_second_run(item)]
    print(f"second runs (by default only for a notebook that differs): {len(rerun)} of "
          f"{len(items)} notebooks\n")
    result["second_runs"] = rerun
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    shown = RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS
    print(f"per-cell results: {shown}")
    nbrepro = result["totals"]["nbrepro"]
    return 0 if not nbrepro.get("false alarm") and not nbrepro.get("miss") else 1


if __name__ == "__main__":
    sys.exit(main())
