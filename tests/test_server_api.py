"""The server extension's REST API against a real Jupyter server (pytest-jupyter),
with real checks run out of process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from nbrepro.store import Store
from tests.helpers.cli import REPOS

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.slow


@pytest.fixture
def nbrepro_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server.sqlite'}"


@pytest.fixture
def jp_server_config(nbrepro_db: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_nbrepro": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
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
    assert listed["checks"][0]["notebooks"] == [{"path": "model.ipynb", "verdict": "differs"}]

    report = await api(jp_fetch, "checks", str(summary["id"]), "report", raw=True)
    assert report.headers["Content-Type"].startswith("text/html")
    page = report.body.decode()
    assert 'data-status="different"' in page and "model.ipynb" in page

    pair = await api(jp_fetch, "checks", str(summary["id"]), "notebooks",
                     params={"path": "model.ipynb"})
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


async def test_every_verb_requires_authentication(jp_fetch, project):
    for method, parts, body in [
        ("GET", ("checks",), None),
        ("POST", ("checks",), {"path": "reproduces"}),
        ("GET", ("checks", "1"), None),
        ("DELETE", ("checks", "1"), None),
        ("GET", ("checks", "1", "report"), None),
        ("GET", ("checks", "1", "notebooks"), None),
        ("GET", ("badge",), None),
    ]:
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


async def test_cancel_kills_the_check_and_its_kernel(jp_fetch, project):
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
    cancelled = await api(jp_fetch, "checks", str(summary["id"]), method="DELETE")
    assert cancelled["state"] == "cancelled"
    again = await api(jp_fetch, "checks", str(summary["id"]))
    assert again["state"] == "cancelled"
    assert not _processes_with(f"--check-id {summary['id']}")
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

