"""DEVELOPMENT STUB of the nbrepro server extension -- not the real thing.

It answers the REST contract the JupyterLab front end talks to
(``<base_url>/nbrepro/api/...``) with recorded data and a simulated timeline,
so the UI can be developed and screenshotted before the real server extension
(``jupyter_nbrepro.app``) exists. It runs nothing: a "check" walks through the
stages on a clock, then reports the recorded result for ``demo.ipynb`` (the UI
test fixture) or "identical" for every code cell of any other notebook.

Enable it with::

    PYTHONPATH=extension/ui-tests/devserver jupyter lab \
        --ServerApp.jpserver_extensions='{"nbrepro_devstub": True, "jupyter_nbrepro": False}'

Environment:
    NBREPRO_DEVSTUB_SECONDS  length of a simulated check (default 8)
    NBREPRO_DEVSTUB_SEED     "1" to start with a few finished checks in the list
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import nbformat
import tornado.web
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join

HERE = Path(__file__).parent
RECORDED = HERE / "recorded"

STAGES = ["scan", "spec", "resolve", "build", "execute", "compare"]
# Recorded from `nbrepro check` on fixtures/project: demo.result.json (the demo
# notebook's result), environment.json (environment, lock, version); demo.rerun.ipynb
# is the fixture with the re-run's outputs. seed.json: made-up finished checks.

# Share of the timeline spent in each stage, queued first.
WEIGHTS = {
    "queued": 0.08,
    "scan": 0.06,
    "spec": 0.06,
    "resolve": 0.1,
    "build": 0.15,
    "execute": 0.45,
    "compare": 0.1,
}


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).isoformat()


class Check:
    def __init__(
        self,
        check_id: int,
        source: str,
        root: Path,
        created: float,
        duration: float,
        fixed: dict[str, Any] | None = None,
    ):
        self.id = check_id
        self.source = source
        self.root = root
        self.created = created
        self.duration = duration
        self.cancelled_at: float | None = None
        self.fixed = fixed  # a seeded, already finished check
        self.notebooks = self._find_notebooks()

    def _find_notebooks(self) -> list[str]:
        if self.fixed is not None:
            return [nb["path"] for nb in (self.fixed.get("result") or {}).get("notebooks", [])]
        path = self.root / self.source
        if path.is_file():
            return [path.name]
        return sorted(
            str(p.relative_to(path)).replace(os.sep, "/")
            for p in path.rglob("*.ipynb")
            if ".ipynb_checkpoints" not in p.parts
        )

    # -- timeline ---------------------------------------------------------
    def _position(self, now: float) -> tuple[str, str | None, float]:
        """(state, stage, fraction of the stage done)."""
        end = self.cancelled_at if self.cancelled_at is not None else now
        elapsed = (end - self.created) / self.duration
        acc = 0.0
        for name, weight in WEIGHTS.items():
            if elapsed < acc + weight:
                frac = (elapsed - acc) / weight
                if self.cancelled_at is not None:
                    return "cancelled", (None if name == "queued" else name), frac
                if name == "queued":
                    return "queued", None, frac
                return "running", name, frac
            acc += weight
        if self.cancelled_at is not None:
            return "cancelled", "compare", 1.0
        return "finished", None, 1.0

    def _start_time(self) -> float:
        return self.created + WEIGHTS["queued"] * self.duration

    def summary(self, now: float) -> dict[str, Any]:
        if self.fixed is not None:
            return {k: v for k, v in self.fixed.items() if k != "result"}
        state, stage, frac = self._position(now)
        started = self._start_time() if state != "queued" else None
        progress = None
        if state == "running":
            n = len(self.notebooks)
            progress = {
                "notebook": None,
                "notebook_index": 0,
                "notebooks": n,
                "cell": None,
                "cells": None,
            }
            if stage == "execute" and n:
                index = min(int(frac * n), n - 1)
                within = frac * n - index
                cells = self._code_cells(self.notebooks[index])
                progress.update(
                    notebook=self.notebooks[index],
                    notebook_index=index,
                    cell=min(int(within * cells) + 1, cells),
                    cells=cells,
                )
        result = self.result() if state == "finished" else None
        verdicts = {nb["path"]: nb["verdict"] for nb in (result or {}).get("notebooks", [])}
        return {
            "id": self.id,
            "source": self.source,
            "state": state,
            "stage": stage,
            "progress": progress,
            "verdict": result["verdict"] if result else None,
            "error": None,
            "created_at": _iso(self.created),
            "started_at": _iso(started),
            "finished_at": _iso(self.created + self.duration)
            if state == "finished"
            else _iso(self.cancelled_at),
            "notebooks": [{"path": p, "verdict": verdicts.get(p)} for p in self.notebooks],
        }

    def detail(self, now: float) -> dict[str, Any]:
        if self.fixed is not None:
            return copy.deepcopy(self.fixed)
        data = self.summary(now)
        data["result"] = self.result() if data["state"] == "finished" else None
        return data

    # -- recorded results ---------------------------------------------------
    def _nb_path(self, rel: str) -> Path:
        base = self.root / self.source
        return base if base.is_file() else base / rel

    def _code_cells(self, rel: str) -> int:
        try:
            nb = nbformat.read(self._nb_path(rel), as_version=4)
        except Exception:
            return 0
        return sum(1 for c in nb.cells if c.cell_type == "code")

    def notebook_result(self, rel: str) -> dict[str, Any]:
        if Path(rel).name == "demo.ipynb":
            recorded = json.loads((RECORDED / "demo.result.json").read_text())
            recorded["path"] = rel
            return recorded
        cells = []
        try:
            nb = nbformat.read(self._nb_path(rel), as_version=4)
            cells = [
                {
                    "index": i,
                    "status": "identical",
                    "reason": None,
                    "detail": None,
                    "execution_seconds": 0.01,
                }
                for i, c in enumerate(nb.cells)
                if c.cell_type == "code"
            ]
        except Exception:  # an unreadable notebook is a result, not a crash
            return {
                "path": rel,
                "verdict": "not-checked",
                "reason": "invalid notebook",
                "exception": None,
                "message": None,
                "failing_cell": None,
                "seconds": None,
                "cells": [],
            }
        return {
            "path": rel,
            "verdict": "reproduced",
            "reason": None,
            "exception": None,
            "message": None,
            "failing_cell": None,
            "seconds": 0.4,
            "cells": cells,
        }

    def result(self) -> dict[str, Any]:
        if self.fixed is not None:
            return self.fixed["result"]
        notebooks = [self.notebook_result(p) for p in self.notebooks]
        order = [
            "reproduced",
            "reproduced-equivalent",
            "not-checked",
            "differs",
            "failed",
            "timeout",
            "kernel-died",
            "install-failed",
        ]
        summary: dict[str, int] = {}
        for nb in notebooks:
            summary[nb["verdict"]] = summary.get(nb["verdict"], 0) + 1
        verdict = max((nb["verdict"] for nb in notebooks), key=order.index, default=None)
        return {
            "repository": {"source": self.source, "commit": None, "path": self.source},
            "verdict": verdict or "not-checked",
            "summary": summary,
            **json.loads((RECORDED / "environment.json").read_text()),
            "notebooks": notebooks,
        }

    def notebook_pair(self, rel: str) -> dict[str, Any]:
        if self.fixed is not None:
            raise tornado.web.HTTPError(404, f"no notebooks stored for {rel}")
        path = self._nb_path(rel)
        if not path.is_file():
            raise tornado.web.HTTPError(404, f"no notebook {rel} in check {self.id}")
        stored = json.loads(path.read_text())
        if Path(rel).name == "demo.ipynb":
            rerun = json.loads((RECORDED / "demo.rerun.ipynb").read_text())
        else:
            rerun = copy.deepcopy(stored)
        return {"stored": stored, "rerun": rerun, "diff": _nbdime_diff(stored, rerun)}


def _nbdime_diff(stored: dict[str, Any], rerun: dict[str, Any]) -> list[dict[str, Any]]:
    """nbdime's diff of the two notebooks, when nbdime (Python) is installed."""
    try:
        import nbdime
    except ImportError:
        return []
    a = nbformat.reads(json.dumps(stored), as_version=4)
    b = nbformat.reads(json.dumps(rerun), as_version=4)
    return json.loads(json.dumps(nbdime.diff_notebooks(a, b)))


class Store:
    def __init__(self, root: Path):
        self.root = root
        self.checks: dict[int, Check] = {}
        self.next_id = 1
        self.duration = float(os.environ.get("NBREPRO_DEVSTUB_SECONDS", "8"))
        if os.environ.get("NBREPRO_DEVSTUB_SEED") == "1":
            for fixed in json.loads((RECORDED / "seed.json").read_text()):
                check = Check(self.next_id, fixed["source"], root, 0.0, 1.0, fixed=fixed)
                fixed["id"] = self.next_id
                self.checks[self.next_id] = check
                self.next_id += 1

    def add(self, source: str) -> Check:
        check = Check(self.next_id, source, self.root, time.time(), self.duration)
        self.checks[self.next_id] = check
        self.next_id += 1
        return check

    def get(self, check_id: int) -> Check:
        if check_id not in self.checks:
            raise tornado.web.HTTPError(404, f"no check {check_id}")
        return self.checks[check_id]


class StubHandler(APIHandler):
    @property
    def store(self) -> Store:
        return self.settings["nbrepro_devstub"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.finish(json.dumps({"message": message}))


class ChecksHandler(StubHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        now = time.time()
        checks = sorted(self.store.checks.values(), key=lambda c: -c.id)
        self.finish(json.dumps({"checks": [c.summary(now) for c in checks]}))

    @tornado.web.authenticated
    def post(self) -> None:
        body = self.get_json_body() or {}
        path = str(body.get("path", "")).strip("/")
        target = (self.store.root / path).resolve()
        if not target.is_relative_to(self.store.root.resolve()) or not target.exists():
            raise tornado.web.HTTPError(400, f"no such notebook or folder: {path!r}")
        if target.is_file() and target.suffix != ".ipynb":
            raise tornado.web.HTTPError(400, f"not a notebook: {path!r}")
        check = self.store.add(path)
        self.set_status(202)
        self.finish(json.dumps(check.summary(time.time())))


class CheckHandler(StubHandler):
    @tornado.web.authenticated
    def get(self, check_id: str) -> None:
        self.finish(json.dumps(self.store.get(int(check_id)).detail(time.time())))

    @tornado.web.authenticated
    def delete(self, check_id: str) -> None:
        check = self.store.get(int(check_id))
        state = check.summary(time.time())["state"]
        if state not in ("queued", "running"):
            raise tornado.web.HTTPError(409, f"check {check_id} is {state}, not running")
        check.cancelled_at = time.time()
        self.finish(json.dumps({"id": check.id, "state": "cancelled"}))


class NotebooksHandler(StubHandler):
    @tornado.web.authenticated
    def get(self, check_id: str) -> None:
        check = self.store.get(int(check_id))
        path = self.get_argument("path")
        self.finish(json.dumps(check.notebook_pair(path)))


class ReportHandler(JupyterHandler):
    @tornado.web.authenticated
    def get(self, check_id: str) -> None:
        detail = self.settings["nbrepro_devstub"].get(int(check_id)).detail(time.time())
        self.set_header("Content-Type", "text/html; charset=utf-8")
        rows = "".join(
            f"<li>{nb['path']}: {nb['verdict']}</li>"
            for nb in (detail.get("result") or {}).get("notebooks", [])
        )
        self.finish(
            f"<!doctype html><title>nbrepro check {check_id} (dev stub)</title>"
            f"<h1>Check {check_id}: {detail.get('verdict')}</h1>"
            f"<p>Development stub report.</p><ul>{rows}</ul>"
        )


class BadgeHandler(JupyterHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "image/svg+xml")
        self.finish(
            '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="20">'
            '<rect width="120" height="20" fill="#555"/><text x="6" y="14" '
            'fill="#fff" font-size="11" font-family="sans-serif">nbrepro stub</text></svg>'
        )


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbrepro_devstub"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    web_app = serverapp.web_app
    base = url_path_join(web_app.settings["base_url"], "nbrepro", "api")
    web_app.settings["nbrepro_devstub"] = Store(Path(serverapp.root_dir))
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "checks"), ChecksHandler),
            (url_path_join(base, r"checks/(\d+)"), CheckHandler),
            (url_path_join(base, r"checks/(\d+)/notebooks"), NotebooksHandler),
            (url_path_join(base, r"checks/(\d+)/report"), ReportHandler),
            (url_path_join(base, "badge"), BadgeHandler),
        ],
    )
    serverapp.log.warning("nbrepro DEVELOPMENT STUB loaded: serving recorded results")
