"""The scan stage: what a notebook says about itself, without running it."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from nbrepro.stages.scan import find_notebooks, imports_of, scan_notebook
from nbrepro.stages.verdict import why_not_runnable


def write(path: Path, nb: dict | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb if isinstance(nb, str) else json.dumps(nb))


def notebook(kernel: str = "python3", language: str = "python", version: str = "3.11.4",
             counts: tuple[int | None, ...] = (1, 2), outputs: bool = True) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": kernel, "display_name": kernel, "language": language},
                   "language_info": {"name": language, "version": version}}
    for n in counts:
        cell = nbformat.v4.new_code_cell("import numpy as np\nfrom pandas import DataFrame",
                                         execution_count=n)
        if outputs:
            cell.outputs = [nbformat.v4.new_output("stream", text="x\n")]
        nb.cells.append(cell)
    return nb


def test_finds_notebooks_in_natural_order_and_skips_checkpoints(tmp_path):
    for rel in ("10_last.ipynb", "2_second.ipynb", "1_first.ipynb", "sub/a.ipynb",
                ".ipynb_checkpoints/1_first-checkpoint.ipynb", "node_modules/x.ipynb",
                "notes.txt"):
        write(tmp_path / rel, notebook())
    assert find_notebooks(tmp_path) == ["1_first.ipynb", "2_second.ipynb", "10_last.ipynb",
                                        "sub/a.ipynb"]


def test_records_metadata_counts_and_imports(tmp_path):
    write(tmp_path / "a.ipynb", notebook(counts=(3, 5)))
    info, nb = scan_notebook(tmp_path, "a.ipynb")
    assert nb is not None and info.valid
    assert (info.language, info.kernel_name, info.python_version) == ("python", "python3",
                                                                      "3.11.4")
    assert (info.cells, info.code_cells, info.has_outputs, info.top_down) == (2, 2, True, True)
    assert info.imports == ["numpy", "pandas"]
    assert why_not_runnable(info) is None


def test_out_of_order_execution_is_recorded(tmp_path):
    write(tmp_path / "a.ipynb", notebook(counts=(4, 2)))
    assert scan_notebook(tmp_path, "a.ipynb")[0].top_down is False


def test_old_nbformat_versions_are_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""}, "worksheets": [
        {"cells": [{"cell_type": "code", "input": "1+1", "language": "python",
                    "outputs": [], "prompt_number": 1, "metadata": {}}], "metadata": {}}]}
    write(tmp_path / "old.ipynb", v3)
    info, nb = scan_notebook(tmp_path, "old.ipynb")
    assert info.valid and nb is not None and nb.nbformat == 4
    assert nb.cells[0].source == "1+1"


@pytest.mark.parametrize("content, reason", [
    ("{", "not valid JSON"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"x": 1}]}',
     "not a valid notebook"),
    ("\xff\xfe", "not valid JSON"),
])
def test_invalid_notebooks_are_results_not_errors(tmp_path, content, reason):
    (tmp_path / "bad.ipynb").write_bytes(content.encode("latin-1"))
    info, nb = scan_notebook(tmp_path, "bad.ipynb")
    assert nb is None and not info.valid and reason in info.error
    assert why_not_runnable(info) == info.error


@pytest.mark.parametrize("kernel, language, version, why", [
    ("ir", "R", "4.3.1", "not a Python notebook (kernel ir)"),
    ("python2", "python", "2.7.18", "a Python 2 notebook"),
    ("conda-env-py27", "python", "2.7.15", "a Python 2 notebook"),
    ("conda-env-analysis-py", "python", "3.8.5", None),
])
def test_which_notebooks_can_run(tmp_path, kernel, language, version, why):
    write(tmp_path / "a.ipynb", notebook(kernel, language, version))
    reason = why_not_runnable(scan_notebook(tmp_path, "a.ipynb")[0])
    assert (reason is None) if why is None else (reason or "").startswith(why)


def test_imports_skip_magics_stdlib_and_relative_imports():
    source = "%matplotlib inline\n!pip install x\nimport os, sys\nimport sklearn.linear_model\n" \
             "from . import local\nfrom scipy import stats\n"
    assert imports_of(source) == {"sklearn", "scipy"}
    # not Python at all (a stray line): a regex still finds the imports
    assert imports_of("import torch\nthis is not python") == {"torch"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": {"a": 1}}',
         "invalid notebook: cells must be a list"),
        ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "x"}',
         "invalid notebook: cells must be a list"),
        ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [3]}',
         "invalid notebook: cell 0 is not an object"),
        ('{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": 5}',
         "invalid notebook: worksheets must be a list of objects"),
        ("[1, 2]", "invalid notebook: the file is not a JSON object"),
    ],
)
def test_malformed_structure_is_said_plainly(tmp_path, text, reason):
    (tmp_path / "odd.ipynb").write_text(text)
    info, nb = scan_notebook(tmp_path, "odd.ipynb")
    assert nb is None and not info.valid
    assert info.error == reason  # not a Python TypeError from inside nbformat
