"""The domain service: what the HTTP handlers ask for, in terms of checks.

Handlers stay thin: they parse requests and call this. The service validates
paths, creates check rows, asks the runner to run them, and reads results from
the same database the command line writes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import nbformat
from tornado.web import HTTPError

from nbrepro.compare import compare_notebook
from nbrepro.model import CheckResult, Verdict
from nbrepro.report import badge, html
from nbrepro.stages.source import is_url
from nbrepro.store import CANCELLED, ERROR, FINISHED, QUEUED, RUNNING, Store

from .paths import resolve_inside
from .runner import Runner

# Options a request may set, with their types and bounds.
REQUEST_OPTIONS: dict[str, tuple[type, float, float]] = {
    "cell_timeout": (float, 1, 24 * 3600),
    "notebook_timeout": (float, 1, 7 * 24 * 3600),
}


# Many panels polling at once ask the same questions: answer them from a cache this
# young at most (progress is then at most this stale; well below the poll interval).
POLL_CACHE_SECONDS = 0.25


class RecentAnswers:
    """A tiny time-to-live cache of read answers, emptied on every change we make."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.answers: dict[Hashable, tuple[float, Any]] = {}
        self.lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self.lock:
            hit = self.answers.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]  # callers only serialise answers, never change them
        value = compute()
        with self.lock:
            self.answers[key] = (now, value)
        return value

    def clear(self) -> None:
        with self.lock:
            self.answers.clear()


class CheckService:
    def __init__(self, *, store: Store, runner_factory: type[Runner], root_dir: str,
                 artifacts_dir: Path, backend: str, cell_timeout: float,
                 notebook_timeout: float, allow_remote_urls: bool,
                 max_concurrent: int, parent: Any = None) -> None:
        self.store = store
        self.root_dir = root_dir
        self.artifacts_dir = artifacts_dir
        self.backend = backend
        self.cell_timeout = cell_timeout
        self.notebook_timeout = notebook_timeout
        self.allow_remote_urls = allow_remote_urls
        self.runner = runner_factory(self._finished, parent=parent,
                                     max_concurrent=max_concurrent)
        self._recent = RecentAnswers(POLL_CACHE_SECONDS)

    # --- commands -----------------------------------------------------------

    def start(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HTTPError(400, "the request body must be a JSON object")
        unknown = set(body) - {"path", "url", *REQUEST_OPTIONS}
        if unknown:
            raise HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        if ("path" in body) == ("url" in body):
            raise HTTPError(400, "give exactly one of 'path' or 'url'")
        options = {name: self._option(body, name) for name in REQUEST_OPTIONS if name in body}
        if "url" in body:
            target, source = self._url(body["url"]), body["url"]
        else:
            target, source = str(resolve_inside(self.root_dir, body["path"])), body["path"]
            if not (Path(target).is_dir() or target.endswith(".ipynb")):
                raise HTTPError(400, f"not a notebook or a folder: {source}")
        check_id = self.store.create_check(source, {"backend": self.backend, **options})
        argv = [
            sys.executable, "-m", "nbrepro", "check", target, "--quiet",
            "--db", self.store.url, "--check-id", str(check_id),
            "--backend", self.backend,
            "--output-dir", str(self.artifacts_dir / str(check_id)),
            "--cell-timeout", str(options.get("cell_timeout", self.cell_timeout)),
            "--notebook-timeout", str(options.get("notebook_timeout", self.notebook_timeout)),
        ]
        self.runner.submit(check_id, argv, self.artifacts_dir / str(check_id) / "check.log")
        self._recent.clear()
        return self.summary(check_id)

    def _option(self, body: dict[str, Any], name: str) -> float:
        kind, low, high = REQUEST_OPTIONS[name]
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HTTPError(400, f"{name} must be a number")
        if not low <= value <= high:
            raise HTTPError(400, f"{name} must be between {low:g} and {high:g}")
        return kind(value)

    def _url(self, url: Any) -> str:
        if not self.allow_remote_urls:
            raise HTTPError(403, "checking remote URLs is disabled on this server "
                                 "(NbreproApp.allow_remote_urls)")
        if not isinstance(url, str) or not is_url(url):
            raise HTTPError(400, "url must be a git URL")
        return url

    async def cancel(self, check_id: int) -> dict[str, Any]:
        row = self.summary(check_id)
        if row["state"] not in (QUEUED, RUNNING):
            raise HTTPError(409, f"check {check_id} is {row['state']}, not running")
        if not await self.runner.cancel(check_id):
            raise HTTPError(409, f"check {check_id} was not started by this server")
        self._recent.clear()
        return self.summary(check_id)

    def _finished(self, check_id: int, code: int, cancelled: bool) -> None:
        """The runner reaped a check's process: make sure its row says how it ended."""
        self._recent.clear()
        row = self.store.get_check(check_id, full=False)
        if row is None:
            return
        if cancelled:
            self.store.finish_check(check_id, CANCELLED, error="cancelled")
        elif row["state"] in (QUEUED, RUNNING):
            log = self.artifacts_dir / str(check_id) / "check.log"
            tail = _last_line(log) or f"the check process exited with code {code}"
            self.store.finish_check(check_id, ERROR, error=tail)

    # --- reads --------------------------------------------------------------

    def _row(self, check_id: int, full: bool = True) -> dict[str, Any]:
        row = self.store.get_check(check_id, full=full)
        if row is None:
            raise HTTPError(404, f"no check with id {check_id}")
        return row

    def summary(self, check_id: int) -> dict[str, Any]:
        return self._row(check_id, full=False)

    def get(self, check_id: int) -> dict[str, Any]:
        return self._recent.get(("get", check_id), lambda: self._row(check_id))

    def list(self, limit: int) -> list[dict[str, Any]]:
        return self._recent.get(("list", limit), lambda: self.store.list_checks(limit))

    def result(self, check_id: int) -> CheckResult:
        result = self.store.get_result(check_id)
        if result is None:
            raise HTTPError(404, f"no check with id {check_id}")
        return result

    def report_html(self, check_id: int) -> str:
        return html.render(self.result(check_id))

    def notebooks(self, check_id: int, path: str) -> dict[str, Any]:
        """Stored and re-run notebook of one path in a check, with their nbdime diff."""
        self.summary(check_id)  # 404 for an unknown check
        base = self.artifacts_dir / str(check_id)
        stored, rerun = self._artifact(base / "stored", path), self._artifact(base / "rerun", path)
        if stored is None or rerun is None:
            raise HTTPError(404, f"no re-run of {path} in check {check_id}")
        return {"path": path, "stored": stored, "rerun": rerun, "diff": _nbdime_diff(stored, rerun)}

    def _artifact(self, folder: Path, path: str) -> dict[str, Any] | None:
        if not folder.is_dir():
            return None
        try:
            target = resolve_inside(folder, path)
        except HTTPError:
            return None
        # nbformat joins multi-line strings, as the front end and nbdime expect
        return dict(nbformat.reads(target.read_text(encoding="utf-8"), as_version=4))

    def badge(self, path: str, fmt: str) -> tuple[str, str]:
        """(content type, body) of the badge for the newest finished check of `path`."""
        resolve_inside(self.root_dir, path)
        latest = self.store.latest_check(path)
        verdict = Verdict(latest["verdict"]) if latest and latest["verdict"] else None
        # the full result grades the message ("differs in 2 of 40 cells")
        subject = (self.store.get_result(latest["id"]) or verdict) if latest and verdict else None
        if fmt == "json":
            return "application/json", badge.endpoint_json(subject)
        if fmt != "svg":
            raise HTTPError(400, "format must be 'svg' or 'json'")
        return "image/svg+xml", badge.svg(subject)

    def recover(self) -> list[int]:
        """At start-up: checks left running or queued by a server that is gone."""
        return self.store.mark_stale(include_queued=True)


def _nbdime_diff(stored: dict[str, Any], rerun: dict[str, Any]) -> list[dict[str, Any]]:
    return compare_notebook(stored, rerun).nbdime_diff()


def _last_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""


__all__ = ["FINISHED", "CheckService"]
