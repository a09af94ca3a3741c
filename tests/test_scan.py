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


def _v3(*sources: str) -> dict:
    cells = [{"cell_type": "code", "input": src, "language": "python", "outputs": [],
              "prompt_number": n, "metadata": {}} for n, src in enumerate(sources, start=1)]
    return {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
            "worksheets": [{"cells": cells, "metadata": {}}]}


def test_an_nbformat_3_notebook_is_python_by_its_cells_language(tmp_path):
    write(tmp_path / "old.ipynb", _v3("import numpy as np", "print(np.pi)"))
    info, _ = scan_notebook(tmp_path, "old.ipynb")
    assert (info.nbformat, info.language, info.kernel_name) == ("3.0", "python", None)
    assert info.is_python and info.python2_code is None
    assert why_not_runnable(info) is None  # not "kernel unknown": it is run


@pytest.mark.parametrize("language", [["python"], {"a": 1}, "python<script>", 3, None])
def test_a_crafted_v3_cell_language_is_no_language(tmp_path, language):
    nb = _v3("1 + 1", "2 + 2")
    nb["worksheets"][0]["cells"][1]["language"] = language
    write(tmp_path / "odd.ipynb", nb)
    info, _ = scan_notebook(tmp_path, "odd.ipynb")
    assert info.valid and info.language is None  # mixed or odd: not taken for Python


@pytest.mark.parametrize(("source", "evidence"), [
    ("x = 1\nprint x", "print statement in In [2]"),
    ("print >>sys.stderr, 'oops'\nprint 'x'", "print statement in In [2]"),
    ("try:\n    pass\nexcept ValueError, e:\n    pass", "`except X, e` in In [2]"),
    ("s = `42`", "backtick repr in In [2]"),
    ("pattern = ur'\\d+'", "ur'' string in In [2]"),
    ("raise ValueError, 'no'", "`raise E, msg` in In [2]"),
    ("exec 'x = 1'", "exec statement in In [2]"),
])
def test_python_2_code_is_read_from_the_cells(tmp_path, source, evidence):
    write(tmp_path / "old.ipynb", _v3("import sys", source))
    info, _ = scan_notebook(tmp_path, "old.ipynb")
    assert info.python2_code == evidence
    assert info.python_major == "2" and not info.is_python
    assert why_not_runnable(info) == (
        f"a Python 2 notebook (kernel not named; its code is Python 2: {evidence}): "
        "Python 2 kernels cannot be built today")


@pytest.mark.parametrize("source", [
    "print('fine')", "print", "%time print x", "x = f'{1}'", "def f(:\n  pass",
    "printer = 1\nprint (x)",
])
def test_python_3_code_and_other_errors_are_not_python_2(tmp_path, source):
    write(tmp_path / "new.ipynb", _v3(source))
    info, _ = scan_notebook(tmp_path, "new.ipynb")
    assert info.python2_code is None and info.is_python


def test_metadata_that_says_python_3_is_believed(tmp_path):
    nb = notebook()
    nb["cells"][0]["source"] = "print 'left over'"
    write(tmp_path / "a.ipynb", nb)
    info, _ = scan_notebook(tmp_path, "a.ipynb")
    assert info.python_major == "3" and info.is_python  # it fails when run, as it should


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
