"""Unseeded randomness read from a notebook's sources (a hint on changed cells)."""

from __future__ import annotations

import nbformat

from nbrepro.compare.unseeded import unseeded_calls
from nbrepro.model import CauseKind, CellStatus, NotebookInfo
from nbrepro.stages.execute import CellRun, NotebookRun, Outcome
from nbrepro.stages.verdict import judge
from tests.security.helpers import write_notebook


def test_draws_from_unseeded_generators_are_named_as_written():
    calls = unseeded_calls([
        "import numpy as np\nimport random as rnd\nimport torch\nimport uuid",
        "x = np.random.rand(3)\ny = rnd.choice([1, 2])",
        "torch.randn(2, 2)",
        "print(uuid.uuid4())",
        "%matplotlib inline\nrng = np.random.default_rng()\nrng.normal()",
    ])
    assert calls == {1: ["np.random.rand", "rnd.choice"], 2: ["torch.randn"],
                     3: ["uuid.uuid4"], 4: ["np.random.default_rng"]}


def test_seeds_of_earlier_cells_and_lines_count():
    assert unseeded_calls([
        "import numpy as np\nnp.random.seed(0)", "np.random.randn(4)",
        "import random\nrandom.random()\nrandom.seed(1)\nrandom.random()",
        "import torch\ntorch.manual_seed(3)\ntorch.rand(1)",
        "np.random.default_rng(42).normal()",
    ]) == {2: ["random.random"]}  # drawn before its seed


def test_from_imports_and_conventional_names():
    assert unseeded_calls([
        "from numpy.random import randn\nfrom random import shuffle",
        "randn(2)\nshuffle(items)",
        "np.random.permutation(5)",  # np imported where the sources do not show
    ]) == {1: ["randn", "shuffle"], 2: ["np.random.permutation"]}


def test_sklearn_without_random_state():
    calls = unseeded_calls([
        "from sklearn.model_selection import train_test_split\n"
        "from sklearn.cluster import KMeans\nfrom sklearn.linear_model import LinearRegression",
        "train_test_split(X, y, test_size=0.2)\nKMeans(3, random_state=0).fit(X)\n"
        "LinearRegression().fit(X, y)",
    ])
    assert calls == {1: ["train_test_split without random_state"]}
    # numpy's global seed is what random_state=None draws from
    assert unseeded_calls(["import numpy as np\nfrom sklearn.cluster import KMeans\n"
                           "np.random.seed(0)\nKMeans(3).fit(X)"]) == {}


def test_what_is_not_python_or_not_random_is_left_alone():
    assert unseeded_calls([
        "print 'python 2'", "!pip install numpy", "random_walk = walk(3)\nmy.random.rand()",
        "x" * 300_000, "(" * 10_000,
    ]) == {}


def test_a_changed_cell_names_its_unseeded_call_without_changing_the_verdict(tmp_path):
    path = tmp_path / "draws.ipynb"
    write_notebook(path, [
        ("import numpy as np\nprint('ready')", "ready\n"),
        ("print(round(np.random.rand(), 6))", "0.548814\n"),
        ("print(41 + 1)", "42\n"),
    ])
    stored = nbformat.read(path, as_version=4)
    rerun = nbformat.read(path, as_version=4)
    rerun.cells[1].outputs[0].text = "0.715189\n"
    info = NotebookInfo(path="draws.ipynb", code_cells=3, has_outputs=True)
    run = NotebookRun(Outcome.COMPLETED, rerun, cells={i: CellRun(i, 0.1) for i in range(3)})
    result = judge(info, stored, run)
    assert result.verdict.value == "differs"
    cell = result.cells[1]
    assert cell.status is CellStatus.DIFFERENT
    assert cell.unseeded == ["np.random.rand"]
    # said once, as the notebook's root cause, not on the cell or in the reason
    assert "unseeded" not in cell.reason and "unseeded" not in result.reason
    assert [c.to_dict() for c in result.causes] == [
        {"kind": "unseeded-random", "summary": "unseeded random: np.random.rand", "cells": [1]}]
    assert result.cells[0].unseeded == [] and result.cells[2].unseeded == []


def test_two_unseeded_cells_make_one_cause_naming_both(tmp_path):
    path = tmp_path / "draws.ipynb"
    write_notebook(path, [
        ("import numpy as np\nimport random", None),
        ("print(round(np.random.rand(), 6))", "0.548814\n"),
        ("print(41 + 1)", "42\n"),
        ("print(random.choice([1, 2, 3]), np.random.rand() > 2)", "3 False\n"),
    ])
    stored = nbformat.read(path, as_version=4)
    rerun = nbformat.read(path, as_version=4)
    rerun.cells[1].outputs[0].text = "0.715189\n"
    rerun.cells[3].outputs[0].text = "1 False\n"
    info = NotebookInfo(path="draws.ipynb", code_cells=4, has_outputs=True)
    run = NotebookRun(Outcome.COMPLETED, rerun, cells={i: CellRun(i, 0.1) for i in range(4)})
    result = judge(info, stored, run)
    assert result.verdict.value == "differs"
    assert len(result.causes) == 1
    cause = result.causes[0]
    assert cause.kind is CauseKind.UNSEEDED_RANDOM and cause.cells == [1, 3]
    # each call named once, in the order the notebook makes them
    assert cause.summary == "unseeded random: np.random.rand, random.choice"

