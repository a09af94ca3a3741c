"""The GitHub Action end to end: `python -m nbrepro.ci` (what action.yml runs) in a
fake GitHub environment - step summary and output files, a workspace that is a git
repository, and a local bare repository as the badge branch's remote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from tests.helpers.cli import REPOS

ROOT = Path(__file__).resolve().parents[1]
BRANCH = "nbrepro-badges"



def git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t"))
    return proc.stdout


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: `key=value` or `key<<DELIM` ... `DELIM`."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[key] = "\n".join(lines[i + 1:end])
            i = end + 1
        else:
            key, value = line.split("=", 1)
            values[key] = value
            i += 1
    return values


class Action:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.workspace = tmp / "workspace"
        self.remote = tmp / "badges.git"
        self.summary = tmp / "summary.md"
        self.outputs = tmp / "outputs.txt"
        self.summary.write_text("## an earlier step\n\n")
        git("init", "--quiet", "--bare", str(self.remote))

    def use_fixture(self, name: str) -> None:
        shutil.rmtree(self.workspace, ignore_errors=True)
        shutil.copytree(REPOS / name, self.workspace)
        git("init", "--quiet", cwd=self.workspace)
        git("add", ".", cwd=self.workspace)
        git("commit", "--quiet", "-m", "notebooks", cwd=self.workspace)

    def run(self, event: str = "push", **inputs: str) -> tuple[subprocess.CompletedProcess[str],
                                                                 dict[str, str]]:
        self.outputs.write_text("")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
        env.update(
            GITHUB_WORKSPACE=str(self.workspace), GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_OUTPUT=str(self.outputs), GITHUB_REPOSITORY="octo/notebooks",
            GITHUB_SERVER_URL="https://github.com", GITHUB_RUN_ID="4242",
            GITHUB_SHA=git("rev-parse", "HEAD", cwd=self.workspace).strip(),
            GITHUB_EVENT_NAME=event, RUNNER_TEMP=str(self.tmp / "runner"),
            INPUT_BADGE_REMOTE=str(self.remote), INPUT_OPTIONS="--cell-timeout 120",
        )
        env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
        proc = subprocess.run([sys.executable, "-m", "nbrepro.ci"], cwd=self.workspace, env=env,
                              capture_output=True, text=True, timeout=900)
        return proc, parse_outputs(self.outputs.read_text())

    def branch_file(self, name: str) -> str:
        return git("--git-dir", str(self.remote), "show", f"{BRANCH}:{name}")

    def branch_log(self) -> list[str]:
        return git("--git-dir", str(self.remote), "log", "--format=%s", BRANCH).splitlines()


@pytest.mark.slow
def test_action_checks_summarises_and_publishes_the_badge(tmp_path):
    action = Action(tmp_path)
    action.use_fixture("differs")
    proc, out = action.run()
    assert proc.returncode == 1, proc.stderr  # a notebook differs and `fail` is true

    # step outputs
    assert out["ok"] == "false" and out["verdict"] == "differs" and out["exit-code"] == "1"
    assert out["message"] == "differs in 1 of 3 cells"
    assert out["badge-url"] == ("https://raw.githubusercontent.com/octo/notebooks/"
                                "nbrepro-badges/nbrepro.svg")
    assert out["endpoint-url"] == (
        "https://img.shields.io/endpoint?url=https%3A%2F%2Fraw.githubusercontent.com%2Focto%2F"
        "notebooks%2Fnbrepro-badges%2Fnbrepro.json")
    report_dir = Path(out["report-dir"])
    assert {p.name for p in report_dir.iterdir()} >= {
        "results.json", "report.html", "report.md", "badge.svg", "badge.json"}

    # the step summary: appended, a Markdown table naming the notebook
    summary = action.summary.read_text()
    assert summary.startswith("## an earlier step\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(summary)
    cells = ["".join(c.content for c in t.children or []) for t in tokens if t.type == "inline"]
    assert "model.ipynb" in cells and "differs" in cells

    # the badge branch: an orphan branch holding the badge, its endpoint and the report
    endpoint = json.loads(action.branch_file("nbrepro.json"))
    assert endpoint["message"] == "differs in 1 of 3 cells" and endpoint["color"] == "yellow"
    svg = action.branch_file("nbrepro.svg")
    assert 'xlink:href="https://github.com/octo/notebooks/actions/runs/4242"' in svg
    assert "<title>reproducible: differs in 1 of 3 cells</title>" in svg
    assert "model.ipynb" in action.branch_file("nbrepro.html")
    files = git("--git-dir", str(action.remote), "ls-tree", "--name-only", BRANCH).split()
    assert sorted(files) == ["nbrepro.html", "nbrepro.json", "nbrepro.svg"]
    assert len(action.branch_log()) == 1
    assert action.branch_log()[0].startswith("nbrepro: differs in 1 of 3 cells (")

    # the notebooks are fixed: the next run passes and the badge follows
    action.use_fixture("reproduces")
    proc, out = action.run()
    assert proc.returncode == 0, proc.stderr
    assert out["ok"] == "true" and out["message"] == "reproduced"
    assert json.loads(action.branch_file("nbrepro.json"))["message"] == "reproduced"
    assert len(action.branch_log()) == 2


@pytest.mark.slow
def test_action_retries_when_another_job_pushed_first(tmp_path):
    action = Action(tmp_path)
    action.use_fixture("reproduces")
    assert action.run()[0].returncode == 0
    # Another job's commit to the badge branch, waiting on a ref of its own.
    other = tmp_path / "other"
    git("clone", "--quiet", "--branch", BRANCH, str(action.remote), str(other))
    (other / "other.svg").write_text("<svg/>")
    git("add", "other.svg", cwd=other)
    git("commit", "--quiet", "-m", "another job", cwd=other)
    git("push", "--quiet", "origin", "HEAD:refs/heads/other-job", cwd=other)
    # The first push of the next run loses the race: the other job lands just before.
    hook = action.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nset -e\nif [ ! -e raced ]; then touch raced\n"
                    # ref updates are refused inside the push's quarantine: step out of it
                    f"env -u GIT_QUARANTINE_PATH git update-ref refs/heads/{BRANCH} "
                    "refs/heads/other-job\n"
                    "echo 'rejected: the branch moved' >&2; exit 1; fi\n")
    hook.chmod(0o755)
    proc, _ = action.run(badge_name="second", fail="false")
    assert proc.returncode == 0, proc.stderr
    assert "retrying" in proc.stdout
    log = action.branch_log()
    assert log[0].startswith("nbrepro: reproduced") and log[1] == "another job"
    files = git("--git-dir", str(action.remote), "ls-tree", "--name-only", BRANCH).split()
    assert {"other.svg", "second.svg", "second.json", "nbrepro.svg"} <= set(files)


@pytest.mark.slow
def test_pull_requests_leave_the_badge_branch_alone(tmp_path):
    action = Action(tmp_path)
    action.use_fixture("differs")
    proc, out = action.run(event="pull_request", fail="false")
    assert proc.returncode == 0, proc.stderr  # `fail: false`
    assert out["verdict"] == "differs" and "badge-url" not in out
    assert git("--git-dir", str(action.remote), "branch", "--list").strip() == ""
    assert "model.ipynb" in action.summary.read_text()


@pytest.mark.slow
def test_a_check_that_cannot_start_says_so(tmp_path):
    action = Action(tmp_path)
    action.use_fixture("reproduces")
    proc, out = action.run(path="no/such/folder")
    assert proc.returncode == 2
    assert "no such file or directory" in proc.stderr and "Traceback" not in proc.stderr
    assert out["ok"] == "false" and out["exit-code"] == "2"
    assert "stopped with exit code 2" in action.summary.read_text()


def test_a_value_cannot_add_outputs(tmp_path, monkeypatch):
    from nbrepro.ci import write_outputs

    target = tmp_path / "out"
    target.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    write_outputs({"message": "1 of 1 fails: X\nok=true\nEOF", "ok": "false"})
    assert parse_outputs(target.read_text()) == {"message": "1 of 1 fails: X\nok=true\nEOF",
                                                 "ok": "false"}


def test_action_yml_passes_inputs_only_through_the_environment():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert "${{" not in step["run"], step["run"]  # no script injection
    check = next(s for s in steps if s.get("id") == "check")
    assert check["run"].strip() == "python -m nbrepro.ci"
    assert set(check["env"]) >= {f"INPUT_{k.upper().replace('-', '_')}" for k in
                                 ("path", "backend", "options", "badge-branch", "fail", "token")}
    for name in action["inputs"]:
        if name not in ("python-version", "artifact-name"):
            assert f"INPUT_{name.upper().replace('-', '_')}" in check["env"], name
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"].startswith("always()")
    workflow = yaml.safe_load((ROOT / "examples/github-workflow.yml").read_text())
    job = next(iter(workflow["jobs"].values()))
    assert workflow["permissions"]["contents"] == "write"
    assert any(str(s.get("uses", "")).endswith("nbrepro@v1") for s in job["steps"])


def _readme_yaml(heading: str) -> dict:
    text = (ROOT / "README.md").read_text()
    section = text.split(heading + "\n", 1)[1]
    return yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])


def _nbrepro_on_path(tmp: Path) -> dict[str, str]:
    """`nbrepro` on PATH meaning this checkout's nbrepro, as after `pip install`."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "nbrepro"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m nbrepro \"$@\"\n")
    shim.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")


@pytest.mark.slow
def test_readme_gitlab_example_gives_gitlab_a_junit_report(tmp_path):
    import xmlschema

    job = _readme_yaml("### GitLab CI")["notebooks"]
    assert job["artifacts"]["reports"]["junit"] == "junit.xml"
    assert job["artifacts"]["when"] == "always"
    repo = tmp_path / "repo"
    shutil.copytree(REPOS / "differs", repo)
    script = "\n".join(line for line in job["script"] if not line.startswith("pip install"))
    env = dict(_nbrepro_on_path(tmp_path), CI_JOB_URL="https://gitlab.example/g/p/-/jobs/7")
    proc = subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr  # the job fails: a notebook differs
    junit = (repo / "junit.xml").read_text()
    xmlschema.XMLSchema(str(ROOT / "tests/fixtures/junit/junit.xsd")).validate(junit)
    assert 'type="differs"' in junit
    assert "https://gitlab.example/g/p/-/jobs/7/artifacts/file/report.html" in \
        (repo / "badge.svg").read_text()
    assert set(job["artifacts"]["paths"]) <= {p.name for p in repo.iterdir()}


@pytest.mark.slow
def test_readme_pre_commit_hook_runs(tmp_path):
    import shlex

    hook = _readme_yaml("### pre-commit")["repos"][0]["hooks"][0]
    assert hook["pass_filenames"] is False and hook["files"] == r"\.ipynb$"
    command = [*shlex.split(hook["entry"]), *hook["args"]]
    env = _nbrepro_on_path(tmp_path)
    for fixture, code in (("reproduces", 0), ("differs", 1)):
        repo = tmp_path / fixture
        shutil.copytree(REPOS / fixture, repo)
        proc = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == code, proc.stderr
