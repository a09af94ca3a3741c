"""GitHub's REST API: repository search and per-repository metadata.

`$GITHUB_TOKEN` is sent when set. Rate limits are read from the response headers:
an exhausted limit (403/429 with `X-RateLimit-Remaining: 0`, or `Retry-After`) is
waited out, and the wait is shown, never a crash. The API's address is
`$NBREPRO_GITHUB_API` (tests answer from recorded responses on 127.0.0.1).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

import requests

from nbrepro.audit.sources import Repository, SourceList, normalise
from nbrepro.errors import InputError, RateLimited

DEFAULT_API = "https://api.github.com"
SEARCH_CAP = 1000  # GitHub returns at most this many results of one search
TIMEOUT = 30
MAX_WAIT = 3700.0  # an hourly limit resets within the hour
MAX_ATTEMPTS = 5


def api_url() -> str:
    return os.environ.get("NBREPRO_GITHUB_API", DEFAULT_API).rstrip("/")


def metadata(item: dict[str, Any]) -> dict[str, Any]:
    """What an audit records of a repository object of the API."""
    licence = item.get("license") or {}
    return {
        "default_branch": item.get("default_branch"),
        "stars": item.get("stargazers_count"),
        "license": licence.get("spdx_id") or licence.get("name"),
        "created_at": item.get("created_at"),
        "pushed_at": item.get("pushed_at"),
    }


class GitHub:
    def __init__(self, base: str | None = None, token: str | None = None,
                 say: Callable[[str], None] = lambda _m: None,
                 sleep: Callable[[float], None] = time.sleep,
                 max_wait: float = MAX_WAIT) -> None:
        """`max_wait`: the longest rate-limit wait to sit out; a longer one raises
        `RateLimited`."""
        self.base = (base or api_url()).rstrip("/")
        self.max_wait = max_wait
        self.token = token if token is not None else os.environ.get("GITHUB_TOKEN")
        self.say, self.sleep = say, sleep
        self.http = requests.Session()
        self.http.headers.update({"Accept": "application/vnd.github+json",
                                  "X-GitHub-Api-Version": "2022-11-28",
                                  "User-Agent": "nbrepro"})
        if self.token:
            self.http.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET with the rate limit waited out. Raises `InputError` when the API cannot
        be reached or keeps refusing."""
        for _attempt in range(MAX_ATTEMPTS):
            try:
                response = self.http.get(url, params=params, timeout=TIMEOUT)
            except requests.RequestException as exc:
                raise InputError(f"GitHub API {self.base}: {type(exc).__name__}") from None
            wait = self._rate_limit_wait(response)
            if wait is None:
                return response
            if wait > self.max_wait:
                raise RateLimited(f"GitHub's rate limit is reached (for {wait:.0f} s)")
            self.say(f"GitHub rate limit reached: waiting {wait:.0f} s")
            self.sleep(wait)
        raise InputError(f"GitHub API {self.base}: still rate limited after "
                         f"{MAX_ATTEMPTS} waits")

    @staticmethod
    def _rate_limit_wait(response: requests.Response) -> float | None:
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        if headers.get("Retry-After", "").isdigit():  # secondary limits
            return min(float(headers["Retry-After"]), MAX_WAIT)
        if headers.get("X-RateLimit-Remaining") == "0":
            reset = headers.get("X-RateLimit-Reset", "")
            until = float(reset) - time.time() if reset.isdigit() else 60.0
            return min(max(until, 0.0) + 1.0, MAX_WAIT)
        return None  # a plain 403 (forbidden): not a limit

    def search(self, query: str, into: SourceList, limit: int | None = None) -> int:
        """Add the repositories GitHub's search finds for `query`; returns how many."""
        label = f"github search {query!r}"
        wanted = min(limit or SEARCH_CAP, SEARCH_CAP)
        url: str | None = f"{self.base}/search/repositories"
        params: dict[str, Any] | None = {"q": query, "per_page": min(100, wanted), "page": 1}
        count = 0
        while url and count < wanted:
            response = self.get(url, params)
            if response.status_code == 422:
                raise InputError(f"{label}: GitHub rejected the query: "
                                 f"{_message(response)}")
            if response.status_code != 200:
                raise InputError(f"{label}: HTTP {response.status_code} {_message(response)}")
            items = _json(response, label).get("items") or []
            for item in items:
                if count >= wanted:
                    break
                html = str(item.get("html_url") or "")
                count += 1
                try:
                    clone, full_name = normalise(html or str(item.get("full_name") or ""))
                except InputError as exc:
                    into.problem(label, count, html, str(exc))
                    continue
                into.add(Repository(clone, full_name or item.get("full_name"),
                                    metadata=metadata(item)), label, count, html)
            url = _next_link(response.headers.get("Link", ""))
            params = None  # the next link carries the query
            if not items:
                break
        return count

    def repository(self, full_name: str) -> dict[str, Any] | None:
        """The metadata of one repository, or None when the API does not know it."""
        response = self.get(f"{self.base}/repos/{full_name}")
        if response.status_code != 200:
            return None
        return metadata(_json(response, full_name))


def _json(response: requests.Response, label: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise InputError(f"{label}: the GitHub API answered with no JSON") from None
    if not isinstance(data, dict):
        raise InputError(f"{label}: unexpected answer from the GitHub API")
    return data


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except ValueError:
        return response.text[:200]


def _next_link(header: str) -> str | None:
    m = re.search(r'<([^>]+)>;\s*rel="next"', header)
    return m.group(1) if m else None
