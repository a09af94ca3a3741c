"""The server extension's REST API against a real Jupyter server (pytest-jupyter),
with real checks run out of process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_server.auth.authorizer import AllowAllAuthorizer
from tornado.httpclient import HTTPClientError

from nbrepro.store import CheckRow, Store
from tests.helpers.cli import REPOS

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.slow


@pytest.fixture
def nbrepro_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server.sqlite'}"


class RefusesNbreproWhenAsked(AllowAllAuthorizer):
    """An administrator's policy: requests carrying `X-Deny: nbrepro` may do nothing
    with nbrepro (and everything else)."""

    def is_authorized(self, handler, user, action, resource):  # type: ignore[no-untyped-def]
        return not (resource == "nbrepro" and handler.request.headers.get("X-Deny") == "nbrepro")


@pytest.fixture
def jp_server_config(nbrepro_db: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_nbrepro": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
            "authorizer_class": RefusesNbreproWhenAsked,
        },
        "NbreproApp": {
            "db_url": nbrepro_db,
            "artifacts_dir": str(tmp_path / "artifacts"),
            "cell_timeout": 60,
        },
    }


@pytest.fixture
def project(jp_root_dir: Path) -> Path:
    """The server's root: fixture repositories side by side, and a secret outside it."""
    for name in ("reproduces", "differs", "infinite-loop"):
        shutil.copytree(REPOS / name, jp_root_dir / name)
    outside = jp_root_dir.parent / "outside-secret"
    outside.mkdir(exist_ok=True)
    (outside / "secret.ipynb").write_text((REPOS / "reproduces" / "analysis.ipynb").read_text())
    (jp_root_dir / "escape").symlink_to(outside, target_is_directory=True)
    return jp_root_dir


async def api(jp_fetch, *parts: str, method: str = "GET", body: Any = None,
              params: dict[str, str] | None = None, raw: bool = False) -> Any:
    kwargs: dict[str, Any] = {"method": method}
    if body is not None:
        kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
    if method == "DELETE":
        kwargs["allow_nonstandard_methods"] = True
    response = await jp_fetch("nbrepro", "api", *parts, params=params, **kwargs)
    return response if raw else json.loads(response.body)


async def api_error(jp_fetch, *parts: str, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await api(jp_fetch, *parts, **kwargs)
    body = json.loads(info.value.response.body)
    return info.value.code, body["message"]


async def wait_for(jp_fetch, check_id: int, states: tuple[str, ...],
                   timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        check = await api(jp_fetch, "checks", str(check_id))
        if check["state"] in states:
            return check
        if time.monotonic() > deadline:
            raise AssertionError(f"check {check_id} stuck in {check['state']}: {check}")
        await asyncio.sleep(0.3)


async def test_a_real_check_through_the_api(jp_fetch, project):
    started = await api(jp_fetch, "checks", method="POST",
                        body={"path": "differs/model.ipynb"}, raw=True)
    assert started.code == 202
    summary = json.loads(started.body)
    assert summary["state"] == "queued" and summary["source"] == "differs/model.ipynb"
    assert started.headers["Location"].endswith(f"/nbrepro/api/checks/{summary['id']}")

    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["state"] == "finished", check
    assert check["verdict"] == "differs"
    cells = check["result"]["notebooks"][0]["cells"]
    assert [c["status"] for c in cells] == ["identical", "different", "identical"]

    listed = await api(jp_fetch, "checks")
    assert listed["checks"][0]["id"] == summary["id"]
    # Every path the API answers is relative to the server root.
    assert listed["checks"][0]["notebooks"] == [
        {"path": "differs/model.ipynb", "repository_path": "model.ipynb", "verdict": "differs"}]
    assert (listed["checks"][0]["path"], listed["checks"][0]["root"]) == (
        "differs/model.ipynb", "differs")

    report = await api(jp_fetch, "checks", str(summary["id"]), "report", raw=True)
    assert report.headers["Content-Type"].startswith("text/html")
    page = report.body.decode()
    assert 'data-status="different"' in page and "model.ipynb" in page

    pair = await api(jp_fetch, "checks", str(summary["id"]), "notebooks",
                     params={"path": "differs/model.ipynb"})
    stored = pair["stored"]["cells"][1]["outputs"][0]["data"]["text/plain"]
    rerun = pair["rerun"]["cells"][1]["outputs"][0]["data"]["text/plain"]
    assert (stored, rerun) == ("42", "43")
    assert pair["diff"], "an nbdime diff of the two notebooks"
    ops = json.dumps(pair["diff"])
    assert '"op": "patch"' in ops and '"key": "cells"' in ops

    svg = await api(jp_fetch, "badge", params={"path": "differs/model.ipynb"}, raw=True)
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert b'data-verdict="differs"' in svg.body
    endpoint = await api(jp_fetch, "badge", params={"path": "differs/model.ipynb",
                                                    "format": "json"})
    assert endpoint == {"schemaVersion": 1, "label": "reproducible",
                        "message": "differs in 1 of 3 cells", "color": "yellow",
                        "cacheSeconds": 300}


async def test_a_folder_can_be_checked(jp_fetch, project):
    summary = await api(jp_fetch, "checks", method="POST", body={"path": "reproduces"})
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["verdict"] == "reproduced"


async def test_a_check_is_named_by_its_folder_never_by_a_path(jp_fetch, project):
    """What a report is titled with: the server root's own folder name for a check of
    the whole root, the folder's name for a folder; no path of the server's disk."""
    whole = await api(jp_fetch, "checks", method="POST", body={"path": "."})
    folder = await api(jp_fetch, "checks", method="POST", body={"path": "reproduces/"})
    assert whole["source"] == "." and whole["name"] == project.resolve().name
    assert folder["name"] == "reproduces"
    for check in (whole, folder):
        listed = await api(jp_fetch, "checks", str(check["id"]))
        assert listed["name"] == check["name"] and "/" not in listed["name"]
        if listed["state"] in ("queued", "running"):
            await api(jp_fetch, "checks", str(check["id"]), method="DELETE")
        await wait_for(jp_fetch, check["id"], ("finished", "error", "cancelled"))


ALL_VERBS: list[tuple[str, tuple[str, ...], Any]] = [
    ("GET", ("checks",), None),
    ("POST", ("checks",), {"path": "reproduces"}),
    ("GET", ("checks", "1"), None),
    ("DELETE", ("checks", "1"), None),
    ("GET", ("checks", "1", "report"), None),
    ("GET", ("checks", "1", "notebooks"), None),
    ("GET", ("checks", "1", "diff"), None),
    ("GET", ("badge",), None),
    ("GET", ("repository",), None),
]


async def test_every_verb_requires_authentication(jp_fetch, project):
    for method, parts, body in ALL_VERBS:
        kwargs: dict[str, Any] = {"method": method, "headers": {"Authorization": ""}}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        if method == "DELETE":
            kwargs["allow_nonstandard_methods"] = True
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("nbrepro", "api", *parts, **kwargs)
        assert info.value.code == 403, (method, parts)


@pytest.mark.parametrize("path, code", [
    ("../outside-secret/secret.ipynb", 403),
    ("/etc/passwd", 403),
    ("escape/secret.ipynb", 403),  # a symlink inside the root that leads out
    ("reproduces/../../outside-secret", 403),
    ("~/secret.ipynb", 403),
    ("no-such-folder", 404),
    ("reproduces/analysis.ipynb/x", 404),
])
async def test_paths_outside_the_root_are_refused(jp_fetch, project, path, code):
    status, message = await api_error(jp_fetch, "checks", method="POST", body={"path": path})
    assert status == code, message
    status, _ = await api_error(jp_fetch, "badge", params={"path": path})
    assert status == code
    assert (await api(jp_fetch, "checks"))["checks"] == []  # nothing was queued


@pytest.mark.parametrize("body, code, needle", [
    ("{not json", 400, "not valid JSON"),
    ([1, 2], 400, "JSON object"),
    ({}, 400, "exactly one"),
    ({"path": "reproduces", "url": "file:///x"}, 400, "exactly one"),
    ({"path": "reproduces", "colour": "blue"}, 400, "unknown field"),
    ({"path": 42}, 400, "non-empty string"),
    ({"path": ""}, 400, "non-empty string"),
    ({"path": "reproduces", "cell_timeout": "soon"}, 400, "must be a number"),
    ({"path": "reproduces", "cell_timeout": -1}, 400, "between"),
    ({"path": "reproduces/analysis.ipynb", "notebook_timeout": True}, 400, "number"),
    ({"url": "https://example.org/repo.git"}, 403, "disabled"),
])
async def test_bad_bodies_get_json_errors(jp_fetch, project, body, code, needle):
    status, message = await api_error(jp_fetch, "checks", method="POST", body=body)
    assert (status, needle in message) == (code, True), message


async def test_unknown_check_and_missing_arguments(jp_fetch, project):
    assert (await api_error(jp_fetch, "checks", "999"))[0] == 404
    assert (await api_error(jp_fetch, "checks", "999", "report"))[0] == 404
    assert (await api_error(jp_fetch, "checks", "999", method="DELETE"))[0] == 404
    status, message = await api_error(jp_fetch, "checks", "1", "notebooks")
    assert status == 400 and "path" in message
    assert (await api_error(jp_fetch, "badge", params={"path": "reproduces",
                                                       "format": "gif"}))[0] == 400


async def test_badge_before_any_check_is_unknown(jp_fetch, project):
    svg = await api(jp_fetch, "badge", params={"path": "reproduces"}, raw=True)
    assert b'data-verdict="unknown"' in svg.body


async def test_cancel_kills_the_check_and_its_kernel(jp_fetch, project, nbrepro_db):
    summary = await api(jp_fetch, "checks", method="POST",
                        body={"path": "infinite-loop", "cell_timeout": 600})
    deadline = time.monotonic() + 300
    while True:  # wait until the endless cell runs
        check = await api(jp_fetch, "checks", str(summary["id"]))
        if check["stage"] == "execute" and (check["progress"] or {}).get("cell", 0) >= 1:
            break
        assert time.monotonic() < deadline and check["state"] in ("queued", "running"), check
        await asyncio.sleep(0.3)
    await asyncio.sleep(1)
    with Store(nbrepro_db).session() as session:  # the check's process, as recorded
        pid = session.get(CheckRow, summary["id"]).pid
    assert pid is not None and psutil.pid_exists(pid)
    cancelled = await api(jp_fetch, "checks", str(summary["id"]), method="DELETE")
    assert cancelled["state"] == "cancelled"
    again = await api(jp_fetch, "checks", str(summary["id"]))
    assert again["state"] == "cancelled"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not _processes_with("ipykernel_launcher", "nbr-")
    status, _ = await api_error(jp_fetch, "checks", str(summary["id"]), method="DELETE")
    assert status == 409


@pytest.fixture
def stale_rows(nbrepro_db: str) -> dict[str, int]:
    """A previous server's checks: one was running (its process is gone), one queued."""
    store = Store(nbrepro_db)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    running = store.create_check("reproduces")
    from nbrepro.model import RepositoryInfo

    store.start_check(running, RepositoryInfo(source="reproduces"))
    store.set_pid(running, dead.pid)
    queued = store.create_check("differs")
    return {"running": running, "queued": queued}


async def test_restart_marks_unfinished_checks_interrupted(stale_rows, jp_fetch, project):
    for check_id in stale_rows.values():
        check = await api(jp_fetch, "checks", str(check_id))
        assert check["state"] == "interrupted", check
        assert check["error"]


async def test_checks_started_from_the_command_line_are_listed(jp_fetch, project, nbrepro_db):
    proc = subprocess.run(
        [sys.executable, "-m", "nbrepro", "check", str(project / "reproduces"), "--db",
         nbrepro_db, "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    listed = (await api(jp_fetch, "checks"))["checks"]
    assert len(listed) == 1
    assert listed[0]["state"] == "finished" and listed[0]["verdict"] == "reproduced"
    assert listed[0]["source"] == str(project / "reproduces")


def _processes_with(*needles: str) -> list[str]:
    time.sleep(0.5)
    out = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout
    me = str(os.getpid())
    return [ln for ln in out.splitlines()
            if all(n in ln for n in needles) and " Z" not in ln and "ps -eo" not in ln
            and not ln.strip().startswith(me)]



async def test_badge_identifies_a_folder_by_its_real_path_not_by_the_typed_name(
        jp_fetch, project, nbrepro_db, tmp_path):
    # A command-line user checks *their* `repo2` (a notebook that differs), typed as
    # `repo2` from their own folder; the server's root has another `repo2`.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(REPOS / "differs", elsewhere / "repo2")
    shutil.copytree(REPOS / "reproduces", project / "repo2")
    proc = subprocess.run(
        [sys.executable, "-m", "nbrepro", "check", "repo2", "--db", nbrepro_db, "--quiet"],
        cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr  # it differs

    svg = await api(jp_fetch, "badge", params={"path": "repo2"}, raw=True)
    assert b'data-verdict="unknown"' in svg.body  # never checked here

    summary = await api(jp_fetch, "checks", method="POST", body={"path": "repo2"})
    assert (await wait_for(jp_fetch, summary["id"], ("finished", "error")))["verdict"] \
        == "reproduced"
    endpoint = await api(jp_fetch, "badge", params={"path": "repo2", "format": "json"})
    assert endpoint["message"] == "reproduced"
    notebook = await api(jp_fetch, "badge", params={"path": "repo2/analysis.ipynb",
                                                    "format": "json"})
    assert notebook["message"] == "reproduced"


async def test_a_folder_badge_combines_the_newest_check_of_each_notebook(jp_fetch, project):
    shutil.copytree(REPOS / "reproduces", project / "mix")
    shutil.copy(REPOS / "differs" / "model.ipynb", project / "mix" / "model.ipynb")

    async def check(path: str) -> None:
        summary = await api(jp_fetch, "checks", method="POST", body={"path": path})
        assert (await wait_for(jp_fetch, summary["id"], ("finished", "error")))["state"] \
            == "finished"

    async def badge(path: str) -> str:
        """The verdict the SVG badge shows (`unknown`: never checked)."""
        svg = (await api(jp_fetch, "badge", params={"path": path}, raw=True)).body.decode()
        return re.findall(r'data-verdict="([^"]+)"', svg)[-1]

    await check("mix/analysis.ipynb")
    assert await badge("mix") == "reproduced"  # the only notebook checked so far
    assert await badge("mix/model.ipynb") == "unknown"
    await check("mix/model.ipynb")
    assert await badge("mix") == "differs"  # the worst of the two newest
    # Graded over both notebooks' newest checks: the one differing cell of all of them.
    endpoint = await api(jp_fetch, "badge", params={"path": "mix", "format": "json"})
    assert re.fullmatch(r"differs in 1 of \d+ cells", endpoint["message"]), endpoint
    assert await badge("mix/analysis.ipynb") == "reproduced"
    # The stored output is corrected: a new check of that notebook alone changes the folder.
    model = json.loads((project / "mix" / "model.ipynb").read_text())
    for cell in model["cells"]:
        for output in cell.get("outputs", []):
            if output.get("data", {}).get("text/plain") in ("42", ["42"]):
                output["data"]["text/plain"] = "43"
    (project / "mix" / "model.ipynb").write_text(json.dumps(model))
    await check("mix/model.ipynb")
    assert await badge("mix") == "reproduced"
    assert await badge("differs") == "unknown"


def service(jp_serverapp):  # type: ignore[no-untyped-def]
    return jp_serverapp.web_app.settings["nbrepro_service"]




async def test_every_verb_asks_the_servers_authorizer(jp_fetch, project):
    for method, parts, body in ALL_VERBS:
        kwargs: dict[str, Any] = {"method": method, "headers": {"X-Deny": "nbrepro"}}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        if method == "DELETE":
            kwargs["allow_nonstandard_methods"] = True
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("nbrepro", "api", *parts, **kwargs)
        assert info.value.code == 403, (method, parts)
        assert "not authorized" in json.loads(info.value.response.body)["message"]
    assert (await api(jp_fetch, "checks"))["checks"] == []  # the POST queued nothing
    # The policy is about nbrepro: the same user may still read the root's files.
    listing = await jp_fetch("api", "contents", headers={"X-Deny": "nbrepro"})
    assert listing.code == 200


@pytest.mark.parametrize("method, parts", [
    ("GET", ("nope",)),
    ("GET", ("checks", "abc")),
    ("POST", ("checks", "1", "rerun")),
    ("GET", ()),
])
async def test_unknown_addresses_answer_json_not_a_page(jp_fetch, project, method, parts):
    kwargs: dict[str, Any] = {"method": method}
    if method == "POST":
        kwargs["body"] = "{}"
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbrepro", "api", *parts, **kwargs)
    assert info.value.code == 404
    assert info.value.response.headers["Content-Type"].startswith("application/json")
    assert "no such API endpoint" in json.loads(info.value.response.body)["message"]


async def test_a_wrong_verb_answers_json(jp_fetch, project):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbrepro", "api", "checks", method="PUT", body="{}")
    assert info.value.code == 405
    assert "message" in json.loads(info.value.response.body)


@pytest.mark.parametrize("url", [
    "file:///etc",
    "http://example.org/repo.git",  # no TLS: anyone on the way could serve a repository
    "git://example.org/repo.git",
    "ext::sh -c touch% /tmp/pwned",
    "ssh://-oProxyCommand=touch%20pwned/repo",
    "git@-oProxyCommand=x:repo",
    "https://",
    "/srv/repo.git",
])
async def test_remote_urls_are_https_or_ssh_only(jp_fetch, project, jp_serverapp, url):
    service(jp_serverapp).allow_remote_urls = True
    status, message = await api_error(jp_fetch, "checks", method="POST", body={"url": url})
    assert status == 400 and "https:// or ssh" in message, message
    assert (await api(jp_fetch, "checks"))["checks"] == []


@pytest.mark.parametrize("url", ["https://127.0.0.1:9/repo.git",
                                 "ssh://git@127.0.0.1:9/repo.git", "git@127.0.0.1:repo.git"])
async def test_https_and_ssh_urls_are_accepted_when_allowed(jp_fetch, project, jp_serverapp,
                                                             url):
    service(jp_serverapp).allow_remote_urls = True
    summary = await api(jp_fetch, "checks", method="POST", body={"url": url})
    assert summary["source"] == url and summary["path"] is None
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error", "interrupted"))
    assert check["state"] == "error" and check["error"]  # nothing listens there


@pytest.mark.parametrize("body, needle", [
    ({"path": "reproduces", "twice": "yes"}, "twice must be true or false"),
    ({"path": "reproduces", "keep_going": 1}, "keep_going must be true or false"),
    ({"path": "reproduces", "backend": "podman"}, "backend must be one of venv, docker"),
    ({"path": "reproduces", "exclude_newer": "last year"}, "exclude_newer must be a date"),
    ({"path": "reproduces", "exclude_newer": 2020}, "exclude_newer must be a date"),
    # The server's settings bound what a request may ask for.
    ({"path": "reproduces", "cell_timeout": 3601}, "between 1 and 3600"),
    ({"path": "reproduces", "notebook_timeout": 10 ** 6}, "between 1 and 14400"),
])
async def test_per_check_options_are_validated(jp_fetch, project, body, needle):
    status, message = await api_error(jp_fetch, "checks", method="POST", body=body)
    assert status == 400 and needle in message, message


async def test_per_check_options_reach_the_check(jp_fetch, project, nbrepro_db):
    shutil.copytree(REPOS / "volatile", project / "volatile")
    summary = await api(jp_fetch, "checks", method="POST", body={
        "path": "volatile", "twice": True, "keep_going": True, "backend": "venv",
        "exclude_newer": "2030-01-01", "cell_timeout": 120})
    assert summary["options"] == {"backend": "venv", "cell_timeout": 120.0,
                                  "notebook_timeout": 1200.0, "twice": True,
                                  "keep_going": True, "exclude_newer": "2030-01-01"}
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["state"] == "finished", check
    statuses = {c["status"] for nb in check["result"]["notebooks"] for c in nb["cells"]}
    assert "volatile" in statuses  # only a second run in the same environment says so


async def test_the_queue_is_bounded_by_the_server(jp_fetch, project, jp_serverapp):
    svc = service(jp_serverapp)
    svc.max_queued, svc.runner.max_concurrent = 1, 1
    running = await api(jp_fetch, "checks", method="POST", body={"path": "infinite-loop"})
    waiting = await api(jp_fetch, "checks", method="POST", body={"path": "reproduces"})
    status, message = await api_error(jp_fetch, "checks", method="POST",
                                      body={"path": "differs"})
    assert status == 429 and "already waiting" in message
    assert (await api(jp_fetch, "checks", str(waiting["id"])))["state"] == "queued"
    for check in (waiting, running):
        assert (await api(jp_fetch, "checks", str(check["id"]), method="DELETE"))["state"] \
            == "cancelled"


async def test_a_check_is_running_within_a_second_of_the_request(jp_fetch, project):
    from datetime import datetime

    summary = await api(jp_fetch, "checks", method="POST", body={"path": "reproduces"})
    check = await wait_for(jp_fetch, summary["id"], ("running", "finished", "error"))
    created = datetime.fromisoformat(check["created_at"])
    started = datetime.fromisoformat(check["started_at"])
    assert (started - created).total_seconds() < 1.0, (created, started)
    finished = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert finished["verdict"] == "reproduced"
    # The check's own process kept the moment the server started it.
    assert finished["started_at"] == check["started_at"]


async def test_the_html_report_runs_nothing_and_is_not_framed_elsewhere(jp_fetch, project):
    summary = await api(jp_fetch, "checks", method="POST", body={"path": "reproduces"})
    await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    report = await api(jp_fetch, "checks", str(summary["id"]), "report", raw=True)
    policy = [d.strip() for d in report.headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'self'" in policy
    assert "script-src 'none'" in policy and "sandbox" in policy
    assert "default-src 'none'" in policy


async def test_a_command_line_check_is_named_like_the_servers_and_its_diff_is_served(
        jp_fetch, project, nbrepro_db):
    proc = subprocess.run(
        [sys.executable, "-m", "nbrepro", "check", str(project / "differs" / "model.ipynb"),
         "--db", nbrepro_db, "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    (check,) = (await api(jp_fetch, "checks"))["checks"]
    assert (check["path"], check["root"]) == ("differs/model.ipynb", "differs")
    assert check["notebooks"] == [{"path": "differs/model.ipynb", "repository_path": "model.ipynb",
                                   "verdict": "differs"}]
    # The diff is the one the check stored, also without stored/re-run copies.
    diff = await api(jp_fetch, "checks", str(check["id"]), "diff",
                     params={"path": "differs/model.ipynb"})
    assert '"43"' in json.dumps(diff["diff"])
    status, _ = await api_error(jp_fetch, "checks", str(check["id"]), "notebooks",
                                params={"path": "differs/model.ipynb"})
    assert status == 404
    status, _ = await api_error(jp_fetch, "checks", str(check["id"]), "diff",
                                params={"path": "model.ipynb"})
    assert status == 404  # the notebook's name in its repository is not an API path
    # "Check again" takes the path the API gave.
    again = await api(jp_fetch, "checks", method="POST", body={"path": check["path"]})
    assert again["path"] == "differs/model.ipynb"
    await api(jp_fetch, "checks", str(again["id"]), method="DELETE")


async def test_the_diff_is_the_one_the_verdict_came_from(jp_fetch, project, tmp_path):
    summary = await api(jp_fetch, "checks", method="POST", body={"path": "differs"})
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["verdict"] == "differs"
    # The re-run copy on disk changes after the check (or is crafted): the server does
    # not compare again, it serves what the check recorded.
    rerun = tmp_path / "artifacts" / str(summary["id"]) / "rerun" / "model.ipynb"
    rerun.write_text(rerun.read_text().replace('"43"', '"44"'))
    diff = json.dumps((await api(jp_fetch, "checks", str(summary["id"]), "diff",
                                 params={"path": "differs/model.ipynb"}))["diff"])
    assert '"43"' in diff and '"44"' not in diff
    pair = await api(jp_fetch, "checks", str(summary["id"]), "notebooks",
                     params={"path": "differs/model.ipynb"})
    assert json.dumps(pair["diff"]) == diff


async def test_a_running_check_keeps_its_path_and_has_no_diff_yet(jp_fetch, project):
    summary = await api(jp_fetch, "checks", method="POST",
                        body={"path": "infinite-loop/spin.ipynb"})
    running = await wait_for(jp_fetch, summary["id"], ("running",))
    for _ in range(20):  # from start to its endless cell, it names the same notebook
        assert running["path"] == "infinite-loop/spin.ipynb", running
        running = await api(jp_fetch, "checks", str(summary["id"]))
        await asyncio.sleep(0.25)
    status, message = await api_error(jp_fetch, "checks", str(summary["id"]), "diff",
                                      params={"path": "infinite-loop/spin.ipynb"})
    assert status == 404 and "no stored result yet" in message
    await api(jp_fetch, "checks", str(summary["id"]), method="DELETE")


async def test_a_notebooks_repository_is_looked_for_no_higher_than_the_server_root(
        jp_fetch, project):
    """The server's root sits in a git work tree (a home folder kept in git): checking
    one notebook copies its own folder, never the work tree above the root."""
    subprocess.run(["git", "init", "-q", str(project.parent)], check=True)
    summary = await api(jp_fetch, "checks", method="POST",
                        body={"path": "reproduces/analysis.ipynb"})
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["state"] == "finished", check
    assert check["root"] == "reproduces"
    assert check["result"]["repository"]["path"] == "reproduces"  # never the server's own path
    assert check["result"]["environment"]["sandbox"] == "bubblewrap"


async def test_a_badge_says_when_the_repositorys_own_settings_decided_it(jp_fetch, project):
    shutil.copytree(REPOS / "differs", project / "lenient")
    (project / "lenient" / "pyproject.toml").write_text(
        "[tool.nbrepro]\nignore = ['4[23]']\n")
    summary = await api(jp_fetch, "checks", method="POST", body={"path": "lenient"})
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["verdict"] == "reproduced-equivalent", check  # by the settings alone
    endpoint = await api(jp_fetch, "badge", params={"path": "lenient", "format": "json"})
    assert endpoint["message"] == "reproduced (1 equivalent) by its own settings"
    svg = await api(jp_fetch, "badge", params={"path": "lenient/model.ipynb"}, raw=True)
    assert b"by its own settings" in svg.body


class TestAServerWithoutTheSandbox:
    """`NbreproApp.sandbox = False`: an administrator's explicit choice reaches every
    check; a request cannot make that choice itself."""

    @pytest.fixture
    def jp_server_config(self, nbrepro_db: str, tmp_path: Path) -> dict[str, Any]:
        return {
            "ServerApp": {"jpserver_extensions": {"jupyter_nbrepro": True,
                                                  "jupyter_server_terminals": False}},
            "NbreproApp": {"db_url": nbrepro_db, "artifacts_dir": str(tmp_path / "artifacts"),
                           "sandbox": False},
        }

    async def test_checks_run_unsandboxed(self, jp_fetch, project):
        summary = await api(jp_fetch, "checks", method="POST", body={"path": "reproduces"})
        check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
        assert check["verdict"] == "reproduced", check
        assert check["result"]["environment"]["sandbox"] == "none"
        status, message = await api_error(jp_fetch, "checks", method="POST",
                                          body={"path": "reproduces", "sandbox": True})
        assert status == 400 and "unknown field" in message


async def test_a_folder_inside_a_repository_is_checked_with_the_repositorys_root(
        jp_fetch, project):
    """Dependencies at the repository's root, notebooks in a subfolder: a check of the
    subfolder installs what the root declares and checks the subfolder's notebooks."""
    study = project / "study"
    shutil.copytree(REPOS / "with-deps", study)
    (study / "notebooks").mkdir()
    (study / "six_version.ipynb").rename(study / "notebooks" / "six_version.ipynb")
    shutil.copy(REPOS / "differs" / "model.ipynb", study / "model.ipynb")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "study"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=study, check=True, capture_output=True)
    summary = await api(jp_fetch, "checks", method="POST", body={"path": "study/notebooks"})
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["verdict"] == "reproduced", check
    assert (check["path"], check["root"]) == ("study/notebooks", "study")
    assert [nb["path"] for nb in check["notebooks"]] == ["study/notebooks/six_version.ipynb"]
    assert check["result"]["spec"]["files"] == ["requirements.txt"]
    assert check["result"]["repository"]["subdir"] == "notebooks"
    endpoint = await api(jp_fetch, "badge", params={"path": "study/notebooks",
                                                    "format": "json"})
    assert endpoint["message"] == "reproduced"


def _git_repository(folder: Path) -> None:
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", folder.name]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=folder, check=True, capture_output=True)


async def test_the_repository_around_a_folder_is_what_check_the_repository_checks(
        jp_fetch, project):
    """Browsing proj/notebooks: the repository is proj, titled "proj", and a check of
    it covers proj's notebooks outside notebooks/ too."""
    proj = project / "proj"
    shutil.copytree(REPOS / "with-deps", proj)
    (proj / "notebooks").mkdir()
    (proj / "six_version.ipynb").rename(proj / "notebooks" / "six_version.ipynb")
    shutil.copy(REPOS / "reproduces" / "analysis.ipynb", proj / "intro.ipynb")
    _git_repository(proj)
    expected = {"path": "proj", "name": "proj", "found": True}
    for path in ("proj/notebooks", "proj/notebooks/", "proj/notebooks/six_version.ipynb",
                 "proj", "proj/intro.ipynb"):
        assert await api(jp_fetch, "repository", params={"path": path}) == expected, path

    summary = await api(jp_fetch, "checks", method="POST", body={"path": expected["path"]})
    assert summary["name"] == "proj"
    check = await wait_for(jp_fetch, summary["id"], ("finished", "error"))
    assert check["state"] == "finished", check
    assert sorted(nb["path"] for nb in check["notebooks"]) == [
        "proj/intro.ipynb", "proj/notebooks/six_version.ipynb"]
    assert check["result"]["spec"]["files"] == ["requirements.txt"]


async def test_without_a_repository_the_server_root_stands_in_never_a_folder_above_it(
        jp_fetch, project):
    """No git work tree between the folder and the server root: the root, said so, even
    when the folder above the root is a git work tree (a home kept in git)."""
    subprocess.run(["git", "init", "-q", str(project.parent)], check=True)
    answer = await api(jp_fetch, "repository", params={"path": "reproduces"})
    assert answer == {"path": ".", "name": project.resolve().name, "found": False}
    assert "/" not in answer["name"]
    assert (await api(jp_fetch, "repository", params={"path": "."}))["path"] == "."


@pytest.mark.parametrize("path, code", [
    ("../outside-secret", 403),
    ("/etc", 403),
    (str(REPOS / "with-deps"), 403),  # an absolute path of a real repository
    ("escape", 403),  # a symlink inside the root that leads out, to a git work tree
    ("escape/secret.ipynb", 403),
    ("reproduces/../../outside-secret", 403),
    ("~", 403),
    ("no-such-folder", 404),
    ("", 400),
])
async def test_the_repository_of_a_path_outside_the_root_is_refused(
        jp_fetch, project, path, code):
    subprocess.run(["git", "init", "-q", str(project.parent / "outside-secret")], check=True)
    status, message = await api_error(jp_fetch, "repository", params={"path": path})
    assert status == code, message
    assert str(project.parent) not in message  # no path of the server's disk
