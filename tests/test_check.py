"""`nbrepro check` end to end: real environments, real kernels, the real command line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nbrepro.isolation.confine import marked_processes
from tests.helpers.cli import REPOS
from tests.security.helpers import write_notebook

pytestmark = pytest.mark.slow


def test_reproducing_repository_exits_zero_with_identical_cells(repo, run_cli):
    result = run_cli("check", str(repo("reproduces")))
    assert result.code == 0, result.stderr
    nb = result.notebook("analysis.ipynb")
    assert nb["verdict"] == "reproduced"
    assert [c["status"] for c in nb["cells"]] == ["identical"] * 4
    assert [c["index"] for c in nb["cells"]] == [1, 2, 3, 4]  # cell 0 is markdown
    assert "analysis.ipynb" in result.stdout and "reproduced" in result.stdout
    assert "1 notebook: 1 reproduced" in result.stdout
    assert result.json["verdict"] == "reproduced"
    assert result.json["repository"]["commit"] is None


def test_changed_output_differs_and_names_the_cell(repo, run_cli):
    result = run_cli("check", str(repo("differs")))
    assert result.code == 1
    nb = result.notebook("model.ipynb")
    assert nb["verdict"] == "differs"
    statuses = {c["index"]: c["status"] for c in nb["cells"]}
    assert statuses == {0: "identical", 1: "different", 2: "identical"}
    assert "'42' -> '43'" in nb["cells"][1]["detail"]
    assert "first: In [2]: " in nb["reason"]  # as the notebook shows the cell
    assert nb["cells"][1]["execution_count"] == 2


def test_undeclared_dependency_fails_with_module_not_found(repo, run_cli):
    result = run_cli("check", str(repo("undeclared-module")))
    assert result.code == 1
    nb = result.notebook("uses_requests.ipynb")
    assert nb["verdict"] == "failed"
    assert nb["exception"] == "ModuleNotFoundError"
    assert "requests" in nb["message"]
    assert nb["failing_cell"] == 0
    assert [c["status"] for c in nb["cells"]] == ["error", "not-run"]
    # the spec stage recorded what the notebook imports, declared or not
    assert "requests" in result.json["spec"]["imports"]
    assert "ModuleNotFoundError" in result.stdout


def test_missing_data_file_fails_with_file_not_found(repo, run_cli):
    result = run_cli("check", str(repo("missing-file")))
    nb = result.notebook("reads_data.ipynb")
    assert (nb["verdict"], nb["exception"], nb["failing_cell"]) == (
        "failed", "FileNotFoundError", 1)
    assert nb["cells"][0]["status"] == "identical"


def test_unresolvable_requirement_is_install_failed_naming_it(repo, run_cli):
    result = run_cli("check", str(repo("no-such-package")))
    assert result.code == 1
    nb = result.notebook("notebook.ipynb")
    assert nb["verdict"] == "install-failed"
    assert "nbrepro-fixture-no-such-package" in nb["reason"]
    lock = result.json["lock"]
    assert lock["ok"] is False
    assert lock["failed_requirement"] == "nbrepro-fixture-no-such-package==1.0.0"
    assert (nb["cause"], lock["cause"]) == ("not-found", "not-found")
    assert "not-found (no such package on the package index)" in nb["reason"]
    assert "was not found in the package registry" in nb["message"]  # the resolver's words
    assert "nbrepro-fixture-no-such-package" in lock["message"]  # the resolver's own words


def test_a_failed_build_names_the_package_that_failed_and_why(repo, run_cli):
    root = repo("reproduces")
    # jupyter's dependencies resolve; numpy 1.14.3 has only an sdist for Python 3.11,
    # and it does not build there
    (root / "requirements.txt").write_text("jupyter==1.0.0\nnumpy==1.14.3\n")
    result = run_cli("check", str(root))
    assert result.code == 1
    nb = result.notebook("analysis.ipynb")
    assert nb["verdict"] == "install-failed"
    assert nb["cause"] == "no-wheel-for-python"
    assert nb["reason"].startswith(
        "could not install numpy==1.14.3 (declared in requirements.txt:2): no-wheel-for-python "
        "(no wheel for Python 3.")
    assert "building it from source failed" in nb["reason"]
    assert "Failed to build `numpy==1.14.3`" in nb["message"]
    env = result.json["environment"]
    assert (env["failed_requirement"], env["cause"]) == ("numpy==1.14.3", "no-wheel-for-python")


def test_declared_conda_style_requirement_is_installed(repo, run_cli):
    result = run_cli("check", str(repo("with-deps")))
    assert result.code == 0, result.stdout
    assert result.notebook("six_version.ipynb")["verdict"] == "reproduced"
    req = result.json["spec"]["requirements"][0]
    assert req == {"spec": "six==1.16.0.*", "source": "requirements.txt",
                   "original": "six=1.16.0=pyhd3eb1b0_1", "inferred": False, "line": 1}
    assert result.json["lock"]["pins"]["six"] == "1.16.0"
    assert result.json["lock"]["pins"]["ipykernel"]


def test_stored_deliberate_error_counts_as_reproduced(repo, run_cli):
    result = run_cli("check", str(repo("stored-error")))
    assert result.code == 0, result.stdout
    nb = result.notebook("tutorial.ipynb")
    assert nb["verdict"] == "reproduced"
    assert [c["status"] for c in nb["cells"]] == ["identical"] * 3
    assert nb["exception"] is None


def test_infinite_loop_times_out_and_the_kernel_is_gone(repo, run_cli):
    result = run_cli("check", str(repo("infinite-loop")), "--cell-timeout", "3")
    assert result.code == 1
    nb = result.notebook("spin.ipynb")
    assert nb["verdict"] == "timeout"
    assert nb["failing_cell"] == 1
    assert "3 s" in nb["reason"]
    assert [c["status"] for c in nb["cells"]] == ["identical", "error", "not-run"]
    assert _kernels_left(result.pid) == []


def test_notebook_time_limit_applies_across_cells_and_is_named_as_set(tmp_path, run_cli):
    root = tmp_path / "slow"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time\ntime.sleep(10)", execution_count=1),
        nbformat.v4.new_code_cell("while True:\n    pass", execution_count=2),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nbformat.write(nb, str(root / "spin.ipynb"))
    result = run_cli("check", str(root), "--cell-timeout", "60", "--notebook-timeout", "30")
    nb_result = result.notebook("spin.ipynb")
    assert nb_result["verdict"] == "timeout"
    # the limit the user set, not the 10-19 s that were left of it when the loop began
    assert nb_result["reason"] == "In [2] exceeded the notebook's time limit (30 s)"


def test_a_fractional_cell_time_limit_is_not_cut_short(tmp_path, run_cli):
    root = tmp_path / "sleepy"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import time\ntime.sleep(1.3)\nprint('awake')", execution_count=1,
        outputs=[nbformat.v4.new_output("stream", name="stdout", text="awake\n")])])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nbformat.write(nb, str(root / "nap.ipynb"))
    result = run_cli("check", str(root), "--cell-timeout", "1.9")
    assert result.notebook("nap.ipynb")["verdict"] == "reproduced", result.stderr


def test_kernel_that_exits_is_kernel_died(repo, run_cli):
    result = run_cli("check", str(repo("kernel-dies")))
    assert result.code == 1
    nb = result.notebook("exit.ipynb")
    assert nb["verdict"] == "kernel-died"
    assert nb["failing_cell"] == 1
    assert nb["cells"][0]["status"] == "identical"
    assert nb["cells"][2]["status"] == "not-run"


def test_users_files_are_never_modified(repo, run_cli):
    root = repo("overwrites")
    (root / "results.csv").write_text("the user's own data\n")
    before = _tree_digest(root)
    result = run_cli("check", str(root))
    # the notebook rewrote results.csv in the scratch copy, so its output matches...
    assert result.notebook("rewrite.ipynb")["verdict"] == "reproduced"
    # ...and the user's folder is byte for byte what it was
    assert _tree_digest(root) == before
    assert (root / "results.csv").read_text() == "the user's own data\n"


def test_later_notebooks_read_what_earlier_ones_wrote(repo, run_cli):
    root = repo("chain")
    result = run_cli("check", str(root))
    assert result.code == 0, result.stdout
    assert [n["path"] for n in result.json["notebooks"]] == ["01_prepare.ipynb", "02_use.ipynb"]
    assert all(n["verdict"] == "reproduced" for n in result.json["notebooks"])
    assert not (root / "intermediate.txt").exists()


def test_invalid_notebooks_are_not_checked_with_a_reason(repo, run_cli):
    result = run_cli("check", str(repo("invalid")))
    assert result.code == 1
    broken = result.notebook("broken_json.ipynb")
    schema = result.notebook("bad_schema.ipynb")
    assert broken["verdict"] == schema["verdict"] == "not-checked"
    assert "not valid JSON" in broken["reason"]
    assert "not a valid notebook" in schema["reason"]
    assert "Traceback" not in result.stderr


def test_git_url_is_cloned_and_its_commit_recorded(tmp_path, run_cli):
    work = tmp_path / "work"
    subprocess.run(["cp", "-r", str(REPOS / "reproduces"), str(work)], check=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=work, check=True)
    subprocess.run([*git, "add", "."], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "notebooks"], cwd=work, check=True)
    commit = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=work, text=True).strip()
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)

    result = run_cli("check", f"file://{bare}")
    assert result.code == 0, result.stderr
    assert result.json["repository"] == {
        "source": f"file://{bare}", "commit": commit, "path": result.json["repository"]["path"],
        "ref": None, "subdir": None}
    assert result.notebook("analysis.ipynb")["verdict"] == "reproduced"


def test_single_notebook_path_checks_only_that_notebook(repo, run_cli):
    root = repo("chain")
    result = run_cli("check", str(root / "01_prepare.ipynb"))
    assert [n["path"] for n in result.json["notebooks"]] == ["01_prepare.ipynb"]


def test_results_are_stored_in_the_database(repo, run_cli, tmp_path):
    db = tmp_path / "results.sqlite"
    result = run_cli("check", str(repo("differs")), "--db", f"sqlite:///{db}")
    assert result.code == 1
    con = sqlite3.connect(db)
    state, verdict = con.execute("select state, verdict from checks").fetchone()
    assert (state, verdict) == ("finished", "differs")
    rows = con.execute(
        "select n.path, r.verdict, c.idx, c.status from notebooks n join runs r on "
        "r.notebook_id = n.id join (select run_id, \"index\" as idx, status from cells) c "
        "on c.run_id = r.id order by c.idx").fetchall()
    assert rows == [("model.ipynb", "differs", 0, "identical"),
                    ("model.ipynb", "differs", 1, "different"),
                    ("model.ipynb", "differs", 2, "identical")]
    env = con.execute("select backend, ok, lock, python_version from environments").fetchone()
    assert env[0] == "venv" and env[1] == 1 and "ipykernel==" in env[2] and env[3]


def test_second_check_reuses_the_cached_environment(repo, run_cli):
    root = repo("reproduces")
    first = run_cli("check", str(root))
    second = run_cli("check", str(root))
    assert first.json["environment"]["key"] == second.json["environment"]["key"]
    assert second.json["environment"]["cached"] is True
    assert second.json["lock"]["cached"] is True
    assert "environment cached" in second.stdout


def test_pip_tools_resolver_gives_the_same_pins(repo, run_cli):
    result = run_cli("check", str(repo("with-deps")), "--resolver", "pip-tools", "--no-cache")
    assert result.code == 0, result.stdout + result.stderr
    assert result.json["lock"]["resolver"] == "pip-tools"
    assert result.json["lock"]["pins"]["six"] == "1.16.0"


def test_interrupted_check_keeps_finished_notebooks_and_writes_the_outputs(tmp_path, repo):
    root = repo("chain")
    # a third notebook that takes long enough to interrupt
    slow = (REPOS / "infinite-loop" / "spin.ipynb").read_text()
    (root / "03_slow.ipynb").write_text(slow)
    db = tmp_path / "interrupt.sqlite"
    out, page = tmp_path / "partial.json", tmp_path / "partial.html"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbrepro", "check", str(root), "--db", f"sqlite:///{db}",
         "--cell-timeout", "120", "--json", str(out), "--html", str(page)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if db.exists() and _count(db, "select count(*) from runs") >= 2:
                break
        time.sleep(1.5)  # inside the endless cell now
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in stderr
    con = sqlite3.connect(db)
    check_id, state, verdict = con.execute("select id, state, verdict from checks").fetchone()
    assert state == "interrupted"
    assert verdict != "reproduced"  # the two finished notebooks reproduced; the check did not
    assert con.execute("select count(*) from runs").fetchone()[0] == 2
    assert f"check {check_id}" in stderr and f"nbrepro show {check_id}" in stderr
    # what finished is in the requested outputs, marked interrupted
    data = json.loads(out.read_text())
    assert data["interrupted"] is True and data["verdict"] != "reproduced"
    assert [n["path"] for n in data["notebooks"]] == ["01_prepare.ipynb", "02_use.ipynb"]
    assert data["unfinished"] == ["03_slow.ipynb"]
    assert "03_slow.ipynb" in page.read_text() and "interrupted" in page.read_text()
    assert "02_use.ipynb" in stdout and "interrupted" in stdout
    assert _kernels_left(proc.pid) == []


def _count(db: Path, sql: str) -> int:
    try:
        return sqlite3.connect(db).execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


def _tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _kernels_left(pid: int) -> list[str]:
    """Processes nbrepro started for a kernel of the check process `pid` that still run
    (found by nbrepro's marker, after a moment for the kernel's supervisor)."""
    deadline = time.monotonic() + 10
    while True:
        left = [m for m in marked_processes() if m.owner.split(":")[1] == str(pid)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return [f"{m.pid}: {Path(f'/proc/{m.pid}/cmdline').read_bytes()[:200]!r}" for m in left]


def test_unseeded_random_output_differs_but_is_volatile_with_twice(repo, run_cli):
    root = repo("volatile")
    once = run_cli("check", str(root), "--no-rerun")
    nb = once.notebook("unseeded.ipynb")
    assert nb["verdict"] == "differs"
    assert nb["rerun"] is None and nb["volatile_cells"] == []
    # the source draws from `random` without a seed: a hint on the cell, said once as
    # the notebook's root cause
    assert nb["cells"][1]["unseeded"] == ["random.random"]
    assert nb["causes"] == [{"kind": "unseeded-random", "summary": "unseeded random: "
                             "random.random", "cells": [1]}]
    assert "cause: unseeded.ipynb: unseeded random: random.random \u2014 In [2]" in once.stdout

    twice = run_cli("check", str(root), "--twice")
    nb = twice.notebook("unseeded.ipynb")
    assert nb["verdict"] == "reproduced", nb
    assert "1 volatile cell(s) left out" in nb["reason"]
    cell = nb["cells"][1]
    assert cell["status"] == "volatile"
    assert cell["suggested_sanitiser"].startswith("regex: ")
    assert "draw" in cell["suggested_sanitiser"]
    # the terminal names the volatile cell and its sanitiser too, not only the JSON
    assert ("cause: unseeded.ipynb: differs between two runs (left out of the verdict) "
            "\u2014 In [2]") in twice.stdout
    assert "suggested sanitiser for In [2]:" in twice.stdout
    assert cell["suggested_sanitiser"].splitlines()[0] in twice.stdout


def test_a_notebook_that_differs_is_run_again_by_default(repo, run_cli):
    result = run_cli("check", str(repo("volatile")))
    nb = result.notebook("unseeded.ipynb")
    # the unseeded draw changed between two real runs: volatile, out of the verdict
    assert nb["verdict"] == "reproduced", nb
    assert nb["rerun"] == "completed"
    assert nb["volatile_cells"] == [1]
    assert nb["cells"][1]["status"] == "volatile"
    assert "1 volatile cell(s) left out: In [2] changed between two runs" in nb["reason"]
    assert nb["cells"][1]["reason"] == "volatile"
    assert [c["kind"] for c in nb["causes"]] == ["unseeded-random", "volatile"]
    assert result.code == 0


def test_a_real_change_stays_differs_after_the_second_run(repo, run_cli):
    result = run_cli("check", str(repo("differs")))
    nb = result.notebook("model.ipynb")
    assert nb["verdict"] == "differs"
    assert nb["rerun"] == "completed" and nb["volatile_cells"] == []
    assert nb["reason"].startswith("1 cell(s) differ (the same in a second run); first: In [2]")


def test_a_notebook_that_reproduces_is_run_once(repo, run_cli, tmp_path):
    root = repo("reproduces")
    # each run appends a line: a second run would leave two in the scratch copy it used
    write_notebook(root / "counts.ipynb", [
        ("with open('runs.log', 'a') as f:\n    f.write('run\\n')", None),
        ("print(open('runs.log').read().count('run'))", "1\n"),
    ])
    result = run_cli("check", str(root))
    for path in ("analysis.ipynb", "counts.ipynb"):
        nb = result.notebook(path)
        assert nb["verdict"] == "reproduced", nb
        assert nb["rerun"] is None and nb["volatile_cells"] == []


def test_a_second_run_that_fails_judges_no_cell_volatile(tmp_path, run_cli):
    root = tmp_path / "mkdir"
    # The second run is in the same scratch copy: the folder the first run made is there.
    write_notebook(root / "makes_dir.ipynb", [
        ("import os\nos.mkdir('made')", None),
        ("print(43)", "42\n"),
    ])
    result = run_cli("check", str(root))
    nb = result.notebook("makes_dir.ipynb")
    assert nb["verdict"] == "differs"
    assert nb["rerun"].startswith("failed: FileExistsError")
    assert nb["volatile_cells"] == []
    assert "a second run ended early (failed: FileExistsError" in nb["reason"]
    assert "no cell could be judged volatile" in nb["reason"]


def test_nbval_markers_and_repository_settings_are_honoured(repo, run_cli):
    result = run_cli("check", str(repo("markers")), "--cell-timeout", "20")
    skipped = result.notebook("skipped/never.ipynb")
    assert skipped["verdict"] == "not-checked"
    assert "[tool.nbrepro]" in skipped["reason"]
    nb = result.notebook("marked.ipynb")
    assert nb["verdict"] == "reproduced-equivalent", nb
    statuses = {c["index"]: (c["status"], c["reason"]) for c in nb["cells"]}
    assert statuses[1] == ("equivalent", "ignored-by-marker")  # NBVAL_IGNORE_OUTPUT
    assert statuses[2][0] == "not-run"  # NBVAL_SKIP: the endless loop never ran
    assert statuses[3][0] in ("identical", "equivalent")  # NBVAL_RAISES_EXCEPTION
    assert statuses[4] == ("identical", None)  # execution went on after the exception


def test_a_killed_check_reads_as_interrupted_on_the_next_run(tmp_path, repo, run_cli):
    db = tmp_path / "killed.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbrepro", "check", str(repo("infinite-loop")),
         "--db", f"sqlite:///{db}", "--cell-timeout", "120"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while _count(db, "select count(*) from checks where stage = 'execute'") == 0:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up
    proc.wait()
    result = run_cli("check", str(repo("reproduces")), "--db", f"sqlite:///{db}")
    assert result.code == 0
    states = sqlite3.connect(db).execute("select state from checks order by id").fetchall()
    assert states == [("interrupted",), ("finished",)]


def test_two_checks_building_the_same_environment_at_once_share_it(tmp_path, repo):
    root = repo("with-deps")
    env = dict(os.environ, NBREPRO_CACHE_DIR=str(tmp_path / "fresh-cache"))
    outs = [tmp_path / f"r{i}.json" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "nbrepro", "check", str(root), "-q",
                               "--db", f"sqlite:///{tmp_path / 'both.sqlite'}",
                               "--json", str(out)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for out in outs]
    for proc in procs:
        assert proc.wait(timeout=600) == 0, proc.stderr.read() if proc.stderr else ""
    envs = [json.loads(out.read_text())["environment"] for out in outs]
    assert envs[0]["key"] == envs[1]["key"]
    assert sorted(e["cached"] for e in envs) == [False, True]  # built once, then reused
    # one finished environment, recorded next to it (where its build code cannot write)
    assert len(list((tmp_path / "fresh-cache" / "envs").glob("*.json"))) == 1


def test_html_report_shows_each_cell_status(repo, run_cli, tmp_path):
    page = tmp_path / "report.html"
    result = run_cli("check", str(repo("differs")), "--html", str(page))
    assert result.code == 1
    html = page.read_text()
    assert "model.ipynb" in html and 'data-verdict="differs"' in html
    assert html.count('data-status="identical"') == 2
    assert html.count('data-status="different"') == 1
    assert "&#x27;42&#x27; -&gt; &#x27;43&#x27;" in html or "'42' -&gt; '43'" in html
    assert "<script" not in html


def _merge_repos(tmp_path: Path, *names: str) -> Path:
    root = tmp_path / "merged"
    root.mkdir()
    for name in names:
        for nb in (REPOS / name).glob("*.ipynb"):
            shutil.copy(nb, root / nb.name)
    return root


def test_terminal_table_names_cells_as_the_notebook_shows_them(tmp_path, run_cli):
    root = _merge_repos(tmp_path, "differs", "undeclared-module")
    result = run_cli("check", str(root))
    rows = {ln.split()[1]: ln for ln in result.stdout.splitlines()
            if ".ipynb" in ln and ln.startswith("│")}
    differs, failed = rows["model.ipynb"], rows["uses_requests.ipynb"]
    assert "differs" in differs and "In [2]" in differs  # the cell column is filled
    assert "In [1]" in failed and "No module named 'requests'" in failed
    assert result.stdout.count("ModuleNotFoundError") == 1  # said once
    assert result.notebook("uses_requests.ipynb")["reason"].startswith(
        "In [1]: ModuleNotFoundError: ")


def test_out_of_order_execution_counts_give_a_hint(tmp_path, run_cli):
    root = tmp_path / "ooo"
    root.mkdir()
    nb = nbformat.read(str(REPOS / "differs" / "model.ipynb"), as_version=4)
    for cell, count in zip(nb.cells, (3, 1, 2), strict=True):
        cell.execution_count = count
        for out in cell.outputs:
            if "execution_count" in out:
                out["execution_count"] = count
    nbformat.write(nb, str(root / "model.ipynb"))
    result = run_cli("check", str(root))
    assert result.notebook("model.ipynb")["verdict"] == "differs"
    assert "hint: model.ipynb: its stored execution counts are out of order" in result.stdout
    assert "In [1]" in result.stdout  # the differing cell, as the notebook shows it


def test_skipped_notebooks_do_not_fail_the_run_unless_strict(tmp_path, run_cli):
    root = tmp_path / "skips"
    shutil.copytree(REPOS / "reproduces", root)
    markdown = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Notes")])
    markdown.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}
    nbformat.write(markdown, str(root / "notes.ipynb"))
    bare = nbformat.read(str(root / "analysis.ipynb"), as_version=4)
    for cell in bare.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(bare, str(root / "cleared.ipynb"))
    shutil.copy(root / "analysis.ipynb", root / "slow.ipynb")
    (root / "pyproject.toml").write_text('[tool.nbrepro.notebooks."slow.ipynb"]\nskip = true\n')

    result = run_cli("check", str(root))
    assert result.code == 0, result.stdout
    verdicts = {n["path"]: (n["verdict"], n["skipped"]) for n in result.json["notebooks"]}
    assert verdicts == {"analysis.ipynb": ("reproduced", False),
                        "notes.ipynb": ("not-checked", True),
                        "cleared.ipynb": ("not-checked", True),
                        "slow.ipynb": ("not-checked", True)}
    assert "3 skipped" in result.stdout
    strict = run_cli("check", str(root), "--strict")
    assert strict.code == 1
    assert "--strict" in strict.stdout


def test_unavailable_python_the_repository_asks_for_is_a_visible_warning(repo, run_cli,
                                                                         tmp_path):
    root = repo("reproduces")
    (root / "runtime.txt").write_text("python-3.42\n")
    page = tmp_path / "report.html"
    result = run_cli("check", str(root), "--html", str(page))
    assert result.code == 0, result.stderr  # it ran, on the Python that is here
    assert "nbrepro: warning: the repository declares Python 3.42" in result.stderr
    assert any("Python 3.42" in w for w in result.json["warnings"])
    assert "warning: the repository declares Python 3.42" in result.stdout
    assert "Python 3.42" in page.read_text()
    assert result.json["environment"]["requested_python"] == "3.42"


def test_build_logs_carry_no_terminal_codes(repo, tmp_path):
    out = tmp_path / "colour.json"
    env = dict(os.environ, FORCE_COLOR="1", CLICOLOR_FORCE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "nbrepro", "check", str(repo("with-deps")), "--no-cache",
         "--json", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    log = data["environment"]["log"]
    assert "six" in log
    assert "\x1b" not in log and "\x1b" not in out.read_text()


def test_a_cancelling_progress_hook_ends_the_check_at_any_stage(repo):
    """An audit's time limit is raised from a progress hook; running out during a
    notebook's comparison must end the check, not become that notebook's result."""
    from nbrepro.check import check
    from nbrepro.errors import CheckCancelled
    from nbrepro.progress import Progress

    class OutOfTime(CheckCancelled):
        pass

    seen: list[str] = []

    class CancelAtCompare(Progress):
        def stage(self, stage: str, detail: str | None = None) -> None:
            seen.append(stage)
            if stage == "compare":
                raise OutOfTime("compare")

    with pytest.raises(OutOfTime):
        check(str(repo("reproduces")), progress=CancelAtCompare())
    assert seen[-1] == "compare"


def _git_repository(folder: Path) -> None:
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "study"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=folder, check=True, capture_output=True)


def test_a_subfolder_is_checked_with_the_repositorys_dependency_files(repo, run_cli):
    """Dependencies at the root, notebooks in notebooks/: checking the folder gives the
    verdict the root check gives, for the folder's notebooks only."""
    root = repo("with-deps")
    (root / "notebooks").mkdir()
    (root / "six_version.ipynb").rename(root / "notebooks" / "six_version.ipynb")
    shutil.copy(REPOS / "differs" / "model.ipynb", root / "model.ipynb")  # not in the folder
    _git_repository(root)

    folder = run_cli("check", str(root / "notebooks"))
    assert folder.code == 0, folder.stdout + folder.stderr
    assert [n["path"] for n in folder.json["notebooks"]] == ["notebooks/six_version.ipynb"]
    assert folder.notebook("notebooks/six_version.ipynb")["verdict"] == "reproduced"
    # which root and which files the environment came from
    assert folder.json["repository"]["path"] == str(root)
    assert folder.json["repository"]["subdir"] == "notebooks"
    assert folder.json["spec"]["files"] == ["requirements.txt"]
    assert folder.json["lock"]["pins"]["six"] == "1.16.0"
    assert f"environment from {root}: requirements.txt" in folder.stdout

    whole = run_cli("check", str(root))
    assert whole.notebook("notebooks/six_version.ipynb")["verdict"] == "reproduced"
    assert whole.notebook("model.ipynb")["verdict"] == "differs"


def test_a_notebook_that_needs_the_network_says_so(tmp_path, run_cli):
    root = tmp_path / "online"
    write_notebook(root / "fetch.ipynb", [
        ("import urllib.request\nprint('start')", "start\n"),
        ("print(urllib.request.urlopen('https://pypi.org/simple/six/').status)", "200\n"),
    ])
    write_notebook(root / "lookup.ipynb", [
        ("import socket\nprint(len(socket.getaddrinfo('pypi.org', 443)) > 0)", "True\n"),
    ])
    write_notebook(root / "broken.ipynb", [("print(1 / 0)", "0\n")])
    result = run_cli("check", str(root))
    for path, label, ename in (("fetch.ipynb", "In [2]", "URLError"),
                               ("lookup.ipynb", "In [1]", "gaierror")):
        nb = result.notebook(path)
        assert (nb["verdict"], nb["cause"]) == ("failed", "needs-network"), nb
        assert nb["reason"].startswith(f"needs-network: {label}: {ename}: ")
        assert "re-run with --network" in nb["reason"]
        assert nb["causes"] == [{"kind": "needs-network", "summary": f"needs the network "
                                 f"({ename} without it; re-run with --network)",
                                 "cells": [nb["failing_cell"]]}]
    # a failure of its own is no network problem
    broken = result.notebook("broken.ipynb")
    assert broken["verdict"] == "failed" and broken["cause"] is None
    assert "network" not in broken["reason"]
    assert "3 failed, 2 of them for want of the network (--network)" in result.stdout

    online = run_cli("check", str(root), "--network", "-k", "lookup")
    nb = online.notebook("lookup.ipynb")
    assert nb["verdict"] == "reproduced" and nb["cause"] is None, nb


def _v3_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    """An IPython 1-2 era notebook: nbformat 3, no kernelspec, no language_info."""
    path.parent.mkdir(parents=True, exist_ok=True)
    v3_cells = [{"cell_type": "code", "collapsed": False, "input": source,
                 "language": "python", "metadata": {}, "prompt_number": n,
                 "outputs": [{"output_type": "stream", "stream": "stdout", "text": out}]}
                for n, (source, out) in enumerate(cells, start=1)]
    path.write_text(json.dumps({"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0,
                                "worksheets": [{"cells": v3_cells, "metadata": {}}]}))


def test_old_notebooks_without_kernel_metadata_are_run_or_named_python_2(tmp_path, run_cli):
    root = tmp_path / "ipython1"
    _v3_notebook(root / "py3.ipynb", [("x = 20\nprint(x + 22)", "42\n")])
    _v3_notebook(root / "py2.ipynb", [("x = 20", ""), ("print x + 22", "42\n")])
    result = run_cli("check", str(root))
    nb = result.notebook("py3.ipynb")
    assert nb["verdict"] == "reproduced", nb  # a Python notebook, not "kernel unknown"
    assert nb["info"]["nbformat"] == "3.0" and nb["info"]["language"] == "python"
    old = result.notebook("py2.ipynb")
    assert old["verdict"] == "not-checked"
    assert old["reason"] == ("a Python 2 notebook (kernel not named; its code is Python 2: "
                             "print statement in In [2]): Python 2 kernels cannot be built today")
    assert old["info"]["python2_code"] == "print statement in In [2]"


def test_a_notebook_broken_by_an_earlier_one_is_judged_in_a_fresh_copy(tmp_path, run_cli):
    """01 rewrites a committed data file; 02 needs the file as committed. In the shared
    copy 02 fails; run alone in a fresh copy it reproduces, and the reason says why."""
    root = tmp_path / "study"
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("a\n1\n2\n")
    write_notebook(root / "01_clean.ipynb", [
        ("rows = open('data/raw.csv').read().splitlines()\n"
         "open('data/raw.csv', 'w').write('b\\n' + '\\n'.join(rows[1:]) + '\\n')\n"
         "print(len(rows))", "3\n"),
    ])
    write_notebook(root / "02_use.ipynb", [
        ("header = open('data/raw.csv').readline().strip()\n"
         "assert header == 'a', header\nprint(header)", "a\n"),
        ("print('done')", "done\n"),
    ])
    result = run_cli("check", str(root))
    first, second = result.notebook("01_clean.ipynb"), result.notebook("02_use.ipynb")
    assert first["verdict"] == "reproduced" and first["rewrote"] == ["data/raw.csv"]
    assert second["verdict"] == "reproduced", second
    assert "reproduces in a fresh copy of the repository" in second["reason"]
    assert "01_clean.ipynb rewrote data/raw.csv" in second["reason"]
    assert second["rewrote"] == []
    # the cell it failed in after the rewrite, explained once
    assert second["causes"] == [{"kind": "earlier-rewrite", "summary": "an earlier notebook "
                                 "rewrote an input: 01_clean.ipynb rewrote data/raw.csv",
                                 "cells": [0]}]
    assert (root / "data" / "raw.csv").read_text() == "a\n1\n2\n"  # the user's file


def test_a_failure_of_its_own_is_the_same_in_a_fresh_copy(tmp_path, run_cli):
    root = tmp_path / "study"
    root.mkdir()
    (root / "log.txt").write_text("")
    write_notebook(root / "01_log.ipynb", [("open('log.txt', 'a').write('x')\nprint(1)", "1\n")])
    write_notebook(root / "02_broken.ipynb", [("print(1 / 0)", "0\n")])
    result = run_cli("check", str(root))
    broken = result.notebook("02_broken.ipynb")
    assert broken["verdict"] == "failed" and broken["exception"] == "ZeroDivisionError"
    assert broken["reason"].endswith("(the same in a fresh copy of the repository)")
