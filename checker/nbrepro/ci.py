"""The GitHub Action's logic (`action.yml` runs `python -m nbrepro.ci`).

Reads the action's inputs from `INPUT_*` variables and the run from GitHub's own
(`GITHUB_WORKSPACE`, `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`, ...), then:

1. runs `nbrepro check` on the input path, writing `results.json` and `report.html`;
2. appends the Markdown report to the step summary;
3. draws the badge (SVG, linking to the report, and shields.io endpoint JSON);
4. commits the badge files and the HTML report to the badge branch (not for pull
   requests), retrying when another job pushed first, so a README can embed a
   badge that stays current;
5. writes the step's outputs (verdict, badge message, file paths, badge URLs).

It exits with the check's exit code when `INPUT_FAIL` is true (the default), else 0.
Everything here also runs outside GitHub: the tests give it a fake environment and a
local bare repository as the badge branch's remote (`INPUT_BADGE_REMOTE`).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from nbrepro.errors import InputError
from nbrepro.model import CheckResult
from nbrepro.report import badge, html, markdown
from nbrepro.report.inputs import load_check

BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
PUSH_ATTEMPTS = 5
GIT_TIMEOUT = 300


@dataclass
class Inputs:
    path: str
    backend: str
    options: list[str]
    badge_branch: str
    badge_name: str
    badge_remote: str
    report_url: str
    fail: bool
    token: str
    output_dir: Path


def _input(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper().replace('-', '_')}", "").strip() or default


def read_inputs(env: dict[str, str] | None = None) -> Inputs:
    env = dict(os.environ if env is None else env)
    path = _input("path", ".")
    name = _input("badge-name") or ("nbrepro" if path in (".", "./") else path)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "nbrepro"
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
    temp = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())
    fail = _input("fail", "true").lower()
    if fail not in ("true", "false"):
        raise InputError(f"input 'fail' must be true or false, not {fail!r}")
    try:
        options = shlex.split(_input("options"))
    except ValueError as exc:
        raise InputError(f"input 'options': {exc}") from None
    return Inputs(
        path=str((workspace / path).resolve()) if not Path(path).is_absolute() else path,
        backend=_input("backend", "venv"), options=options,
        badge_branch=_input("badge-branch", "nbrepro-badges"), badge_name=name,
        badge_remote=_input("badge-remote"), report_url=_input("report-url"),
        fail=fail == "true", token=_input("token"),
        output_dir=Path(_input("output-dir") or temp / "nbrepro-report"),
    )


def run_url() -> str | None:
    server, repo, run = (os.environ.get(k) for k in
                         ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def badge_urls(branch: str, name: str) -> dict[str, str]:
    """Where the badge files can be fetched once pushed (github.com repositories)."""
    repo = os.environ.get("GITHUB_REPOSITORY")
    if not repo:
        return {}
    raw = f"https://raw.githubusercontent.com/{repo}/{quote(branch)}/{quote(name)}"
    return {"badge-url": f"{raw}.svg", "endpoint-json-url": f"{raw}.json",
            "endpoint-url": "https://img.shields.io/endpoint?url=" + quote(f"{raw}.json", safe="")}


def write_outputs(values: dict[str, str]) -> None:
    """Append step outputs; a random delimiter keeps a value from adding outputs."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        for key, value in values.items():
            delimiter = f"nbrepro_{secrets.token_hex(8)}"
            fh.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(text: str) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")


def run_check(inputs: Inputs) -> tuple[int, CheckResult | None]:
    """`nbrepro check` in its own process, as a user would run it."""
    inputs.output_dir.mkdir(parents=True, exist_ok=True)
    results = inputs.output_dir / "results.json"
    results.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "nbrepro", "check", inputs.path, "--backend", inputs.backend,
            "--json", str(results), "--html", str(inputs.output_dir / "report.html"),
            *inputs.options]
    print("$ " + shlex.join(["nbrepro", *argv[3:]]), flush=True)
    code = subprocess.run(argv, check=False).returncode
    return code, (load_check(str(results)) if results.is_file() else None)


def _git(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=GIT_TIMEOUT)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def _git_env(remote: str, token: str) -> dict[str, str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME=BOT[0],
               GIT_AUTHOR_EMAIL=BOT[1], GIT_COMMITTER_NAME=BOT[0], GIT_COMMITTER_EMAIL=BOT[1])
    if token and remote.startswith("https://"):
        # The way actions/checkout authenticates: an extra header, set through the
        # environment so the token is in no command line and no file.
        host = re.match(r"https://[^/]+/", remote)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(GIT_CONFIG_COUNT="1",
                   GIT_CONFIG_KEY_0=f"http.{host.group(0) if host else remote}.extraheader",
                   GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {basic}")
    return env


def publish(files: dict[str, Path], remote: str, branch: str, token: str, message: str) -> bool:
    """Commit `files` (name in the branch -> local file) to `branch` of `remote`, a
    branch of their own (created as an orphan the first time). Retries when another
    job pushed in between. Returns whether a new commit was pushed."""
    env = _git_env(remote, token)
    with tempfile.TemporaryDirectory(prefix="nbrepro-badges-") as tmp:
        work = Path(tmp)
        _git(["init", "--quiet"], work, env)
        _git(["remote", "add", "origin", remote], work, env)
        for attempt in range(PUSH_ATTEMPTS):
            fetched = subprocess.run(
                ["git", "fetch", "--quiet", "--depth", "1", "origin", f"refs/heads/{branch}"],
                cwd=work, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT)
            if fetched.returncode == 0:
                _git(["checkout", "--quiet", "--force", "-B", branch, "FETCH_HEAD"], work, env)
            elif "couldn't find remote ref" in fetched.stderr.lower():
                _git(["checkout", "--quiet", "--orphan", branch], work, env)
                _git(["rm", "-r", "--quiet", "--cached", "--ignore-unmatch", "."], work, env)
            else:
                raise RuntimeError(f"git fetch failed: {fetched.stderr.strip()}")
            for name, source in files.items():
                shutil.copyfile(source, work / name)
            _git(["add", "--", *files], work, env)
            if not _git(["status", "--porcelain"], work, env).strip():
                return False  # nothing changed
            _git(["commit", "--quiet", "-m", message], work, env)
            pushed = subprocess.run(["git", "push", "--quiet", "origin", f"HEAD:{branch}"],
                                    cwd=work, env=env, capture_output=True, text=True,
                                    timeout=GIT_TIMEOUT)
            if pushed.returncode == 0:
                return True
            if attempt == PUSH_ATTEMPTS - 1:
                raise RuntimeError(f"git push failed: {pushed.stderr.strip()}")
            print(f"badge branch moved on; retrying ({pushed.stderr.strip().splitlines()[-1:]})",
                  flush=True)
    return False


def main() -> int:
    inputs = read_inputs()
    code, result = run_check(inputs)
    out = inputs.output_dir
    outputs = {"exit-code": str(code), "report-dir": str(out)}
    if result is None:  # a usage or internal error: nbrepro said why on stderr
        append_summary(f"## nbrepro\n\n`nbrepro check` stopped with exit code {code} before "
                       "any result; see the step's log.\n")
        write_outputs({**outputs, "ok": "false"})
        return code or 2
    link = inputs.report_url or run_url()
    mark = badge.grade(result)
    files = {
        "results.json": out / "results.json",
        "report.md": out / "report.md",
        "badge.svg": out / "badge.svg",
        "badge.json": out / "badge.json",
    }
    files["report.md"].write_text(markdown.render(result), encoding="utf-8")
    files["badge.svg"].write_text(badge.svg(result, link=link), encoding="utf-8")
    files["badge.json"].write_text(badge.endpoint_json(result), encoding="utf-8")
    if not (out / "report.html").is_file():
        (out / "report.html").write_text(html.render(result), encoding="utf-8")
    append_summary(files["report.md"].read_text(encoding="utf-8"))
    outputs.update({
        "ok": "true" if result.ok else "false",
        "verdict": result.verdict.value if result.verdict else "",
        "message": mark.message,
        "results": str(files["results.json"]), "report": str(out / "report.html"),
        "markdown": str(files["report.md"]), "badge-svg": str(files["badge.svg"]),
        "badge-json": str(files["badge.json"]),
    })
    event = os.environ.get("GITHUB_EVENT_NAME", "")
    if inputs.badge_branch and event.startswith("pull_request"):
        print("pull request: the badge branch is left as it is", flush=True)
    elif inputs.badge_branch:
        remote = inputs.badge_remote or _github_remote()
        if remote is None:
            print("no badge remote (GITHUB_REPOSITORY unset): badges not published", flush=True)
        else:
            name = inputs.badge_name
            sha = (os.environ.get("GITHUB_SHA") or "")[:10]
            pushed = publish({f"{name}.svg": files["badge.svg"], f"{name}.json":
                              files["badge.json"], f"{name}.html": out / "report.html"},
                             remote, inputs.badge_branch, inputs.token,
                             f"nbrepro: {mark.message}" + (f" ({sha})" if sha else ""))
            print(f"badge branch {inputs.badge_branch}: "
                  f"{'updated' if pushed else 'unchanged'}", flush=True)
            outputs.update(badge_urls(inputs.badge_branch, name))
    write_outputs(outputs)
    return code if inputs.fail else 0


def _github_remote() -> str | None:
    repo = os.environ.get("GITHUB_REPOSITORY")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{server}/{repo}.git" if repo else None


def entry() -> None:
    try:
        sys.exit(main())
    except InputError as exc:
        print(f"::error::nbrepro: {exc}", file=sys.stderr)
        sys.exit(2)
    except RuntimeError as exc:  # git could not publish the badges
        print(f"::error::nbrepro: {exc}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    entry()
