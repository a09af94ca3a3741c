"""Local stand-ins for what an audit reaches over the network, all on 127.0.0.1:

- git repositories served over smart HTTP by git's own `http-backend` (CGI), so
  shallow clones work as they do against GitHub;
- GitHub's REST API and NCBI's E-utilities answering from recorded responses
  (tests/fixtures/audit), including a rate-limit refusal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

RECORDED = Path(__file__).parent / "fixtures" / "audit"


def git(*args: str, cwd: Path | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="Fixture", GIT_AUTHOR_EMAIL="fixture@example.org",
               GIT_COMMITTER_NAME="Fixture", GIT_COMMITTER_EMAIL="fixture@example.org",
               GIT_AUTHOR_DATE="2022-03-04T05:06:07+00:00",
               GIT_COMMITTER_DATE="2022-03-04T05:06:07+00:00")
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def bare_repository(root: Path, name: str, content: Path | dict[str, str] | None,
                    date: str | None = None) -> Path:
    """A bare repository `root/name` holding `content` (a folder to copy or files to
    write) in one commit on `main`; `None` makes an empty repository."""
    bare = root / name
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    if content is not None:
        work = root / ".work" / name
        if isinstance(content, Path):
            shutil.copytree(content, work)
        else:
            for rel, text in content.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_text(text)
        git("init", "--quiet", "--initial-branch=main", cwd=work)
        git("add", "-A", cwd=work)
        env_date = date or "2022-03-04T05:06:07+00:00"
        subprocess.run(["git", "-c", "user.name=Fixture", "-c", "user.email=f@example.org",
                        "commit", "--quiet", "-m", "fixture"], cwd=work, check=True,
                       env=dict(os.environ, GIT_AUTHOR_DATE=env_date,
                                GIT_COMMITTER_DATE=env_date))
        git("push", "--quiet", str(bare), "main", cwd=work)
        shutil.rmtree(work)
    git("update-server-info", cwd=bare)
    return bare


# "billion laughs": nested entities that expand to gigabytes if a parser lets them
BOMB = ("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        + "".join(f"<!ENTITY lol{i} '{('&lol' + str(i - 1) + ';') * 10 if i else '&lol;' * 10}'>"
                  for i in range(10))
        + "]><pmc-articleset><article><body><p>&lol9;</p></body></article></pmc-articleset>"
        ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        self.server.requests.append(parts.path + ("?" + parts.query if parts.query else ""))
        if parts.path.startswith("/api/github/"):
            self._github(parts.path.removeprefix("/api/github"), parse_qs(parts.query))
        elif parts.path.startswith("/api/eutils/"):
            form = parse_qs(body.decode()) if body else parse_qs(parts.query)
            self._eutils(parts.path.removeprefix("/api/eutils/"), form)
        else:
            self._git(parts.path, parts.query, body)

    # --- GitHub REST ---------------------------------------------------------------

    def _send(self, status: int, data: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _github(self, path: str, query: dict[str, list[str]]) -> None:
        srv = self.server
        reset = str(int(time.time()) + 1)
        limits = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59",
                  "X-RateLimit-Reset": reset, "X-RateLimit-Resource": "core"}
        if path == "/search/repositories":
            if srv.rate_limit_once:
                srv.rate_limit_once = False
                self._send(403, (RECORDED / "github/rate-limited.json").read_bytes(),
                           "application/json; charset=utf-8",
                           {**limits, "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Resource": "search"})
                return
            q = query.get("q", [""])[0]
            page = query.get("page", ["1"])[0]
            if q == "language:jupyter-notebook reproducibility":
                name = f"search-page{page}.json"
                extra = dict(limits)
                if page == "1":
                    base = f"http://127.0.0.1:{srv.server_port}/api/github/search/repositories"
                    extra["Link"] = (f'<{base}?q=language%3Ajupyter-notebook+reproducibility'
                                     f'&per_page=2&page=2>; rel="next", <{base}?q=x&page=2>; '
                                     'rel="last"')
                self._send(200, (RECORDED / "github" / name).read_bytes(),
                           "application/json; charset=utf-8", extra)
            elif q.startswith("<"):
                self._send(422, (RECORDED / "github/validation-failed.json").read_bytes(),
                           "application/json; charset=utf-8", limits)
            else:
                self._send(200, (RECORDED / "github/search-empty.json").read_bytes(),
                           "application/json; charset=utf-8", limits)
            return
        if path.startswith("/repos/") and srv.repos_rate_limited_until > time.time():
            self._send(403, (RECORDED / "github/rate-limited.json").read_bytes(),
                       "application/json; charset=utf-8",
                       {**limits, "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(int(srv.repos_rate_limited_until))})
            return
        if path.startswith("/repos/"):
            owner_name = path.removeprefix("/repos/").strip("/").replace("/", "-")
            recorded = RECORDED / "github" / f"repos-{owner_name}.json"
            if recorded.is_file():
                self._send(200, recorded.read_bytes(), "application/json; charset=utf-8",
                           limits)
                return
        self._send(404, (RECORDED / "github/not-found.json").read_bytes(),
                   "application/json; charset=utf-8", limits)

    # --- NCBI E-utilities -----------------------------------------------------------

    def _eutils(self, tool: str, form: dict[str, list[str]]) -> None:
        self.server.eutils_times.append(time.monotonic())
        if tool == "esearch.fcgi":
            term = form.get("term", [""])[0]
            if term == "laughs":  # finds one "article", whose XML is an entity bomb
                self._send(200, b"<eSearchResult><Count>1</Count><IdList><Id>666</Id>"
                                b"</IdList></eSearchResult>", "text/xml")
                return
            name = "esearch.xml" if term == "ipynb AND github" else "esearch-empty.xml"
            self._send(200, (RECORDED / "eutils" / name).read_bytes(), "text/xml")
        elif tool == "efetch.fcgi":
            if form.get("id") == ["666"]:
                self._send(200, BOMB, "text/xml")
                return
            self._send(200, (RECORDED / "eutils/efetch.xml").read_bytes(), "text/xml")
        else:
            self._send(400, b"<eInfoResult><ERROR>unknown tool</ERROR></eInfoResult>",
                       "text/xml")

    # --- git smart HTTP --------------------------------------------------------------

    def _git(self, path: str, query: str, body: bytes) -> None:
        started = time.monotonic()
        time.sleep(self.server.git_delay)  # a server far away
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.git_root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env,
                              capture_output=True, timeout=60)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        content_type = headers.pop("Content-Type", "text/plain")
        headers.pop("Content-Length", None)
        self._send(status, payload, content_type, headers)
        self.server.git_times.append((path, started, time.monotonic()))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    git_root: Path
    rate_limit_once: bool
    repos_rate_limited_until: float  # time.time() until which /repos/ answers 403
    requests: list[str]
    eutils_times: list[float]
    git_delay: float  # seconds before each git request is answered
    git_times: list[tuple[str, float, float]]  # (path, started, answered) of git requests


class Services:
    """The stand-in server; `env` points nbrepro at it."""

    def __init__(self, git_root: Path) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.git_root = git_root
        self.server.rate_limit_once = False
        self.server.repos_rate_limited_until = 0.0
        self.server.requests = []
        self.server.eutils_times = []
        self.server.git_delay = 0.0
        self.server.git_times = []
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        return {"NBREPRO_GITHUB_URL": self.base,
                "NBREPRO_GITHUB_API": f"{self.base}/api/github",
                "NBREPRO_EUTILS_URL": f"{self.base}/api/eutils"}

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@contextmanager
def services(git_root: Path) -> Iterator[Services]:
    running = Services(git_root)
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


# --- the fixture audit: 13 repositories with every kind of outcome -------------------

REPOS = Path(__file__).parent / "fixtures" / "repos"
SIX = {"requirements.txt": "six==1.16.0\n"}


def _notebook(kernel: str, language: str, version: str, source: str, output: str) -> str:
    """A stored notebook of another language or Python 2, as such repositories hold."""
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": kernel, "display_name": kernel,
                                    "language": language},
                     "language_info": {"name": language, "version": version}},
        "cells": [{"cell_type": "code", "id": "c0", "execution_count": 1, "metadata": {},
                   "source": source,
                   "outputs": [{"output_type": "stream", "name": "stdout", "text": output}]}],
    }, indent=1)


def _with(name: str, extra: dict[str, str]) -> dict[str, str]:
    files = {str(p.relative_to(REPOS / name)): p.read_text()
             for p in (REPOS / name).rglob("*") if p.is_file()}
    return {**files, **extra}


@dataclass
class FixtureAudit:
    git_root: Path
    list_file: Path
    csv_file: Path
    file_repo: Path  # a repository listed by file:// URL

    @property
    def sources(self) -> list[str]:
        return [str(self.list_file), str(self.csv_file)]


def build_fixture_audit(root: Path) -> FixtureAudit:
    """Bare repositories for an audit whose funnel is known in advance, and the two
    source lists (a text list and a CSV with publication metadata)."""
    git_root = root / "git"
    contents: dict[str, dict[str, str] | None] = {
        "lab/reproduces": _with("reproduces", SIX),
        "lab/differs": _with("differs", SIX),
        "lab/missing-file": _with("missing-file", SIX),
        "lab/undeclared": _with("undeclared-module", {}),
        "lab/no-such-package": _with("no-such-package", {}),
        "lab/chain": _with("chain", {}),
        "lab/mixed": {
            **SIX,
            "analysis.ipynb": _notebook("ir", "R", "4.3.1", "print(1)", "[1] 1\n"),
            "legacy.ipynb": _notebook("python2", "python", "2.7.18", "print 'hi'", "hi\n"),
        },
        "lab/no-notebooks": {"README.md": "Only a description.\n"},
        "lab/empty": None,
        "lab/equivalent": _with("equivalent", SIX),
        "lab/with-deps": _with("with-deps", {}),
    }
    for name, content in contents.items():
        bare_repository(git_root, name, content)
    file_repo = bare_repository(root / "local", "stored-error.git", _with("stored-error", {}))
    list_file = root / "repositories.txt"
    list_file.write_text(
        "# fixture audit: one repository per line\n"
        "lab/reproduces\n"
        "https://github.com/lab/differs/tree/main/notebooks.\n"
        "git@github.com:lab/missing-file.git\n"
        "\n"
        "lab/undeclared\n"
        "lab/no-such-package\n"
        "lab/chain\n"
        "lab/mixed\n"
        "lab/no-notebooks\n"
        "lab/empty\n"
        "lab/gone   # deleted since the article was published\n"
        f"file://{file_repo}\n"
        "this is not a repository\n"
        "https://github.com/lab/differs\n"
    )
    csv_file = root / "articles.csv"
    csv_file.write_text(
        "doi,pmcid,journal,year,repository,title,field\n"
        "10.1000/j.1,PMC100,GigaScience,2021,https://github.com/lab/equivalent,Objects,biology\n"
        "10.1000/j.2,PMC200,PLoS Computational Biology,2023,lab/with-deps,Deps,physics\n"
        "10.1000/j.3,PMC300,GigaScience,2023,lab/reproduces,Again,biology\n"
    )
    return FixtureAudit(git_root, list_file, csv_file, file_repo)
