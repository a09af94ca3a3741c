"""The domain service: what the HTTP handlers ask for, in terms of checks.

Handlers stay thin: they parse requests and call this. The service validates
paths and options, creates check rows, asks the runner to run them, and reads
results from the same database the command line writes. It speaks no HTTP: a
refusal is one of `errors`' exceptions, which the handlers turn into answers.

Paths: every path the API accepts or answers is relative to the server's root
(POSIX). A check whose repository is not under the root (a git URL, a
command-line check elsewhere) has `path` and `root` null, and its notebooks are
named relative to their repository.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import threading
import time
from collections.abc import Callable, Hashable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat

from nbrepro.compare.nbdime_format import notebook_diff
from nbrepro.model import CheckResult, CheckState, NotebookResult, RepositoryInfo
from nbrepro.report import badge, html
from nbrepro.stages.source import repository_root
from nbrepro.store import Store

from .errors import BadRequest, Busy, Conflict, Forbidden, NotFound
from .paths import relative_to_root, resolve_inside
from .runner import Runner

# Many panels polling at once ask the same questions: answer them from a cache this
# young at most (progress is then at most this stale; well below the poll interval).
POLL_CACHE_SECONDS = 0.25

# Flags a request may set, as the command line spells them.
FLAG_OPTIONS = {"twice": "--twice", "keep_going": "--keep-going"}
TIME_OPTIONS = ("cell_timeout", "notebook_timeout")
REQUEST_FIELDS = {"path", "url", "backend", "exclude_newer", *FLAG_OPTIONS, *TIME_OPTIONS}

# git URLs a server may be asked to clone: https, and ssh (`ssh://` or `git@host:path`).
# Never file://, ext:: or a host that git would read as an option.
_SCP_LIKE = re.compile(r"git@(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]*):(?P<path>[^\s:][^\s]*)")


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
                 artifacts_dir: Path, backend: str, backends: list[str],
                 cell_timeout: float, notebook_timeout: float, max_cell_timeout: float,
                 max_notebook_timeout: float, allow_remote_urls: bool, sandbox: bool,
                 max_concurrent: int, max_queued: int, parent: Any = None) -> None:
        self.store = store
        self.root_dir = root_dir
        self.artifacts_dir = artifacts_dir
        self.backend = backend
        self.backends = backends
        self.defaults = {"cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout}
        self.limits = {"cell_timeout": max_cell_timeout,
                       "notebook_timeout": max_notebook_timeout}
        self.allow_remote_urls = allow_remote_urls
        self.sandbox = sandbox
        self.max_queued = max_queued
        self.runner = runner_factory(on_started=self._started, on_finished=self._finished,
                                     max_concurrent=max_concurrent, parent=parent)
        self._recent = RecentAnswers(POLL_CACHE_SECONDS)

    # --- commands -----------------------------------------------------------

    async def start(self, body: Any) -> dict[str, Any]:
        """Validate a request, record the check and queue it; its summary."""
        if self.runner.waiting() >= self.max_queued:
            raise Busy(f"{self.max_queued} checks are already waiting; try again when one "
                       "has started (NbreproApp.max_queued)")
        check_id, args = await asyncio.to_thread(self._create, body)
        summary = await asyncio.to_thread(self.summary, check_id)  # as queued
        self.runner.submit(check_id, args, self.artifacts_dir / str(check_id) / "check.log")
        self._recent.clear()
        return summary

    def _create(self, body: Any) -> tuple[int, list[str]]:
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        unknown = set(body) - REQUEST_FIELDS
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        if ("path" in body) == ("url" in body):
            raise BadRequest("give exactly one of 'path' or 'url'")
        options, record = self._options(body)
        if "url" in body:
            target = source = self._remote_url(body["url"])
        else:
            real = resolve_inside(self.root_dir, body["path"])
            if not (real.is_dir() or real.suffix == ".ipynb"):
                raise BadRequest(f"not a notebook or a folder: {body['path']}")
            target, source = str(real), relative_to_root(self.root_dir, real) or "."
            # a notebook's repository is looked for no higher than the server's root
            options += ["--within", str(Path(self.root_dir).resolve())]
        check_id = self.store.create_check(source, record)
        args = [
            "check", "--quiet", "--db", self.store.url, "--check-id", str(check_id),
            "--output-dir", str(self.artifacts_dir / str(check_id)), *options, "--", target,
        ]
        return check_id, args

    def _options(self, body: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """The command-line options and the recorded options of a request."""
        record: dict[str, Any] = {}
        backend = body.get("backend", self.backend)
        if backend not in self.backends:
            raise BadRequest(f"backend must be one of {', '.join(self.backends)}")
        record["backend"] = backend
        argv = ["--backend", backend]
        if not self.sandbox:  # the server's setting; a request cannot turn it off
            argv.append("--no-sandbox")
            record["sandbox"] = False
        for name in TIME_OPTIONS:
            seconds = self._seconds(body, name)
            record[name] = seconds
            argv += [f"--{name.replace('_', '-')}", repr(seconds)]
        for name, flag in FLAG_OPTIONS.items():
            value = body.get(name, False)
            if not isinstance(value, bool):
                raise BadRequest(f"{name} must be true or false")
            if value:
                argv.append(flag)
            record[name] = value
        if body.get("exclude_newer") is not None:
            record["exclude_newer"] = when = _date(body["exclude_newer"])
            argv += ["--exclude-newer", when]
        return argv, record

    def _seconds(self, body: dict[str, Any], name: str) -> float:
        """A time limit: the server's default, or the request's within the server's bound."""
        if name not in body:
            return min(self.defaults[name], self.limits[name])
        value, limit = body[name], self.limits[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"{name} must be a number")
        if not 1 <= value <= limit:
            raise BadRequest(f"{name} must be between 1 and {limit:g} seconds "
                             f"(NbreproApp.max_{name})")
        return float(value)

    def _remote_url(self, url: Any) -> str:
        if not self.allow_remote_urls:
            raise Forbidden("checking remote URLs is disabled on this server "
                            "(NbreproApp.allow_remote_urls)")
        refusal = BadRequest("url must be an https:// or ssh git URL (ssh://host/repo or "
                             "git@host:repo)")
        if not isinstance(url, str) or len(url) > 2048 or not url.isprintable() or " " in url:
            raise refusal
        parts = urlsplit(url)
        if parts.scheme in ("https", "ssh"):
            host = parts.hostname or ""
            if host and not host.startswith("-") and parts.path not in ("", "/"):
                return url
        elif not parts.scheme:
            match = _SCP_LIKE.fullmatch(url)
            if match and not match["path"].startswith("-"):
                return url
        raise refusal

    async def cancel(self, check_id: int) -> dict[str, Any]:
        row = self.summary(check_id)
        if not CheckState(row["state"]).active:
            raise Conflict(f"check {check_id} is {row['state']}, not running")
        if not await self.runner.cancel(check_id):
            raise Conflict(f"check {check_id} was not started by this server")
        self._recent.clear()
        return self.summary(check_id)

    async def _started(self, check_id: int, pid: int) -> None:
        """The runner started a check's process: it reads `running` from now on."""
        await asyncio.to_thread(self.store.mark_running, check_id, pid)
        self._recent.clear()

    async def _finished(self, check_id: int, code: int, cancelled: bool) -> None:
        """The runner reaped a check's process: make sure its row says how it ended."""
        await asyncio.to_thread(self._record_end, check_id, code, cancelled)
        self._recent.clear()

    def _record_end(self, check_id: int, code: int, cancelled: bool) -> None:
        row = self.store.get_check(check_id, full=False)
        if row is None:
            return
        if cancelled:
            self.store.finish_check(check_id, CheckState.CANCELLED, error="cancelled")
        elif CheckState(row["state"]).active:
            log = self.artifacts_dir / str(check_id) / "check.log"
            tail = _last_line(log) or f"the check process exited with code {code}"
            self.store.finish_check(check_id, CheckState.ERROR, error=tail)

    # --- reads --------------------------------------------------------------

    def _row(self, check_id: int, full: bool = True) -> dict[str, Any]:
        row = self.store.get_check(check_id, full=full)
        if row is None:
            raise NotFound(f"no check with id {check_id}")
        return self._present(row)

    def _present(self, row: dict[str, Any]) -> dict[str, Any]:
        """A check as the API names it: paths relative to the server root."""
        real_root = row.pop("root", None)  # absolute; None until the check has started
        row["root"] = relative_to_root(self.root_dir, real_root)
        repository = (row.get("result") or {}).get("repository")
        if isinstance(repository, dict) and repository.get("path"):
            # the folder as the API names folders (None: outside the root, e.g. a clone)
            repository["path"] = relative_to_root(self.root_dir, repository["path"])
        source = row["source"]
        row["name"] = self._display_name(source)
        if real_root is None:  # queued here: the source is the path the server recorded
            remote = "://" in source or source.startswith("git@")
            row["path"] = None if remote or Path(source).is_absolute() else source
            return row
        in_repo = [nb["path"] for nb in row["notebooks"]]
        for nb in row["notebooks"]:  # the result names them relative to their repository
            nb["repository_path"] = nb["path"]
            nb["path"] = self._api_path(real_root, nb["path"])
        row["path"] = self._checked_path(source, Path(real_root), in_repo)
        return row

    def _display_name(self, source: str) -> str:
        """What a report is titled with: a URL as given, else the folder's (or the
        notebook's) name, the server root's own name for "." (never a path)."""
        if "://" in source or source.startswith("git@"):
            return source
        return (Path(self.root_dir).resolve() / source).name or source

    def _checked_path(self, source: str, real_root: Path, in_repo: list[str]) -> str | None:
        """What a started check checked, relative to the server root."""
        # The source names it when the repository is it or holds it. (A command-line
        # check's relative source is relative to a folder the server never saw: it
        # counts only when the repository agrees.)
        if "://" not in source:
            named = Path(self.root_dir).resolve() / source  # an absolute source stays
            # a folder inside a repository is checked with the repository as its root
            if named == real_root or real_root in named.parents:
                return relative_to_root(self.root_dir, named)
        if source.endswith(".ipynb") and len(in_repo) == 1:  # a check of one notebook
            return relative_to_root(self.root_dir, real_root / in_repo[0])
        return relative_to_root(self.root_dir, real_root)

    def _api_path(self, real_root: str, rel: str) -> str:
        """A notebook's API name: relative to the server root when it is inside it,
        else (a URL's clone, a folder elsewhere) relative to its repository."""
        return relative_to_root(self.root_dir, Path(real_root, rel)) or rel

    def repository(self, path: str) -> dict[str, Any]:
        """The repository around `path` (a folder or a notebook under the server root),
        found as a check finds a project root, never above the server root: its folder
        as the API names folders, its display name, and whether one was found (else
        the server root stands in for it)."""
        real = resolve_inside(self.root_dir, path)
        top = repository_root(real if real.is_dir() else real.parent,
                              within=Path(self.root_dir).resolve())
        folder = relative_to_root(self.root_dir, top) if top is not None else "."
        if folder is None:  # the search is bounded by the root: cannot happen
            raise Forbidden(f"the repository of {path} is outside the server root")
        return {"path": folder, "name": self._display_name(folder), "found": top is not None}

    def summary(self, check_id: int) -> dict[str, Any]:
        return self._row(check_id, full=False)

    def get(self, check_id: int) -> dict[str, Any]:
        return self._recent.get(("get", check_id), lambda: self._row(check_id))

    def list_checks(self, limit: int) -> list[dict[str, Any]]:
        return self._recent.get(
            ("list", limit), lambda: [self._present(r) for r in self.store.list_checks(limit)])

    def result(self, check_id: int) -> CheckResult:
        result = self.store.get_result(check_id)
        if result is None:
            raise NotFound(f"no check with id {check_id}")
        return result

    def report_html(self, check_id: int) -> str:
        return html.render(self.result(check_id))

    def notebooks(self, check_id: int, path: str) -> dict[str, Any]:
        """Stored and re-run notebook of one notebook of a check, with the diff the
        check stored."""
        notebook, rel = self._notebook(check_id, path)
        base = self.artifacts_dir / str(check_id)
        stored, rerun = self._artifact(base / "stored", rel), self._artifact(base / "rerun", rel)
        if stored is None or rerun is None:
            raise NotFound(f"no stored and re-run copies of {path} in check {check_id}")
        return {"path": path, "stored": stored, "rerun": rerun, "diff": stored_diff(notebook)}

    def diff(self, check_id: int, path: str) -> dict[str, Any]:
        """The nbdime diff of one notebook, as the check stored it: the comparison
        its verdict came from (the server never compares notebooks itself)."""
        notebook, _ = self._notebook(check_id, path)
        return {"path": path, "diff": stored_diff(notebook)}

    def _notebook(self, check_id: int, path: str) -> tuple[NotebookResult, str]:
        """A notebook's stored result, by its API name; and its path in the repository."""
        row = self.store.get_check(check_id, full=False)
        if row is None:
            raise NotFound(f"no check with id {check_id}")
        result = self.store.get_result(check_id, stored_only=True)
        if result is None or row["root"] is None:
            raise NotFound(f"check {check_id} has no stored result yet ({row['state']})")
        for notebook in result.notebooks:
            if self._api_path(row["root"], notebook.path) == path:
                return notebook, notebook.path
        raise NotFound(f"{path} is not in check {check_id}")

    def _artifact(self, folder: Path, rel: str) -> dict[str, Any] | None:
        if not folder.is_dir():
            return None
        try:
            target = resolve_inside(folder, rel)
        except (BadRequest, Forbidden, NotFound):
            return None
        # nbformat joins multi-line strings, as the front end and nbdime expect
        return dict(nbformat.reads(target.read_text(encoding="utf-8"), as_version=4))

    def badge(self, path: str, fmt: str) -> tuple[str, str]:
        """(content type, body) of the badge of a notebook or folder, graded from the
        newest finished check of each notebook in it, whoever checked it (server or
        command line), matched by real path; `unknown` when none was ever checked."""
        if fmt not in ("svg", "json"):
            raise BadRequest("format must be 'svg' or 'json'")
        notebooks = self.store.latest_notebooks(resolve_inside(self.root_dir, path))
        subject = (CheckResult(repository=RepositoryInfo(source=path), notebooks=notebooks)
                   if notebooks else None)
        if fmt == "json":
            return "application/json", badge.endpoint_json(subject)
        return "image/svg+xml", badge.svg(subject)

    def recover(self) -> builtins.list[int]:  # `list` is a method of this class
        """At start-up: checks left running or queued by a server that is gone."""
        return self.store.mark_stale(include_queued=True)


def stored_diff(notebook: NotebookResult) -> list[dict[str, Any]]:
    """A notebook's diff in nbdime format (against the stored notebook), assembled
    from the per-cell diffs the check recorded. Cells the re-run added are listed in
    the cell results but carry no content to insert, so they are not in the diff."""
    diffs = [(c.index, c.nbdime_diff) for c in notebook.cells if c.nbdime_diff]
    removed = [(c.index, 1) for c in notebook.cells if c.reason == "cell-removed"]
    return notebook_diff(diffs, removed=removed)


def _date(value: Any) -> str:
    if isinstance(value, str):
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                parse(value)
                return value
            except ValueError:
                continue
    raise BadRequest("exclude_newer must be a date (YYYY-MM-DD)")


def _last_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""
