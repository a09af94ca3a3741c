"""Execute the accuracy corpus for real: a stored run and two re-runs per notebook.

    .venv/bin/python benchmarks/accuracy/generate.py [NAME ...] [--jobs 2]

For every item of `tests/fixtures/accuracy/corpus.py` this writes
`tests/fixtures/accuracy/notebooks/<name>/stored.ipynb` (run in the item's stored
environment), `rerun.ipynb` and `rerun2.ipynb` (two runs in its re-run
environment, as `nbrepro check --twice` would do), the item's repository files
(pyproject.toml, sanitize files), and `notebooks/manifest.json` with the
ground-truth label of every cell. Naming items regenerates only those (the
manifest is always rewritten whole). Each run happens in its own scratch directory
holding that environment's `envlib.py` and data files, in a fresh kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))  # the corpus lives with the tests, which run it too

from tests.fixtures.accuracy import CORPUS_DIR, MANIFEST  # noqa: E402
from tests.fixtures.accuracy.corpus import COMMON_SETUP, ITEMS, Env, Item  # noqa: E402

from nbrepro.compare.markers import apply_execution_tags  # noqa: E402

HIDDEN = "nbrepro-benchmark-hidden"


def notebook_for(item: Item, env: Env) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    hidden = [nbformat.v4.new_code_cell("pass") for _ in range(env.extra_runs)]
    hidden.append(nbformat.v4.new_code_cell(COMMON_SETUP + env.setup))
    for cell in hidden:
        cell.metadata["tags"] = [HIDDEN]
    visible = []
    for spec in item.cells:
        cell = nbformat.v4.new_code_cell(spec.source)
        if spec.tags:
            cell.metadata["tags"] = list(spec.tags)
        visible.append(cell)
    nb.cells = hidden + visible
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def execute(item: Item, env: Env, rerun: bool) -> nbformat.NotebookNode:
    nb = notebook_for(item, env)
    if rerun:
        apply_execution_tags(nb)  # what the pipeline does: honour NBVAL_SKIP
    with tempfile.TemporaryDirectory(prefix="nbrepro-acc-") as scratch:
        work = Path(scratch) / "repo"
        work.mkdir()
        (work / "envlib.py").write_text(env.lib or "# the library has nothing to say\n")
        for name, text in env.files.items():
            (work / name).write_text(text)
        kernel_env = dict(os.environ)
        kernel_env.update(
            {
                "MPLCONFIGDIR": str(Path(scratch) / "mpl"),
                "IPYTHONDIR": str(Path(scratch) / "ipython"),
                "PYTHONPATH": str(work),
                "PYTHONWARNINGS": "default::DeprecationWarning:__main__",
            }
        )
        kernel_env.update(env.env)
        client = nbclient.NotebookClient(
            nb,
            timeout=120,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(work)}},
        )
        client.execute(env=kernel_env)
    nb.cells = [c for c in nb.cells if HIDDEN not in c.metadata.get("tags", [])]
    if rerun:
        for cell in nb.cells:  # the tags the pipeline added are not the author's
            tags = [t for t in cell.metadata.get("tags", []) if t != "skip-execution"]
            spec_tags = cell.metadata.get("tags", [])
            if tags != spec_tags:
                cell.metadata["tags"] = tags
            if not cell.metadata.get("tags"):
                cell.metadata.pop("tags", None)
    return nb


def generate(item: Item) -> str:
    target = CORPUS_DIR / item.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    started = time.perf_counter()
    runs = {
        "stored": execute(item, item.stored, rerun=False),
        "rerun": execute(item, item.rerun, rerun=True),
        "rerun2": execute(item, item.rerun, rerun=True),
    }
    for name, nb in runs.items():
        nbformat.write(nb, target / f"{name}.ipynb")
    for name, text in item.repo_files.items():
        (target / name).write_text(text)
    return f"{item.name}: {time.perf_counter() - started:.1f} s"


def write_manifest() -> None:
    manifest = {
        item.name: {
            "description": item.description,
            "labels": {str(i): cell.label for i, cell in enumerate(item.cells)},
        }
        for item in ITEMS
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="items to regenerate (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    items = [i for i in ITEMS if not args.names or i.name in args.names]
    unknown = set(args.names) - {i.name for i in ITEMS}
    if unknown:
        parser.error(f"unknown item(s): {', '.join(sorted(unknown))}")
    CORPUS_DIR.mkdir(exist_ok=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for line in pool.map(generate, items):
            print(line, flush=True)
    write_manifest()


if __name__ == "__main__":
    main()
