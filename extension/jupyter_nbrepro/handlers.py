"""Thin HTTP handlers for /nbrepro/api/: parse, call the service, answer JSON.

Every verb is authenticated and authorized on the resource `nbrepro` (so a
server's `Authorizer` can grant or refuse nbrepro as a whole); every error,
also for an unknown address under the API, answers JSON `{"message": ...}`.
The service's refusals become HTTP errors in one place: `BaseHandler.call`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .errors import ServiceError
from .service import CheckService

API = "nbrepro/api"
AUTH_RESOURCE = "nbrepro"

# The HTML report is static: nothing in it may run, submit, or be framed elsewhere.
REPORT_POLICY = ("style-src 'unsafe-inline'; img-src data:; script-src 'none'; "
                 "base-uri 'none'; form-action 'none'; sandbox")


class BaseHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> CheckService:
        return self.settings["nbrepro_service"]

    def body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            raise tornado.web.HTTPError(400, "the request body is not valid JSON") from None

    def required_arg(self, name: str) -> str:
        value = self.get_query_argument(name, default=None)
        if not value:
            raise tornado.web.HTTPError(400, f"missing query argument: {name}")
        return value

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run a service call and turn its refusals into HTTP errors. Blocking calls
        (database reads) go to a thread so a slow disk never stalls the server's loop."""
        try:
            if inspect.iscoroutinefunction(fn):
                return await fn(*args)
            return await asyncio.to_thread(fn, *args)
        except ServiceError as exc:
            raise tornado.web.HTTPError(exc.status, exc.message) from None


class ChecksHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            limit = int(self.get_query_argument("limit", "100"))
        except ValueError:
            raise tornado.web.HTTPError(400, "limit must be an integer") from None
        limit = max(1, min(limit, 1000))
        self.finish({"checks": await self.call(self.service.list_checks, limit)})

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        summary = await self.call(self.service.start, self.body())
        self.set_status(202)
        self.set_header("Location", url_path_join(self.base_url, API, "checks", str(summary["id"])))
        self.finish(summary)


class CheckHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, check_id: str) -> None:
        self.finish(await self.call(self.service.get, int(check_id)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, check_id: str) -> None:
        self.finish(await self.call(self.service.cancel, int(check_id)))


class ReportHandler(BaseHandler):
    @property
    def content_security_policy(self) -> str:
        # The server's own policy (frame-ancestors, report-uri) stays; ours narrows it.
        return f"{super().content_security_policy}; {REPORT_POLICY}"

    @tornado.web.authenticated
    @authorized
    async def get(self, check_id: str) -> None:
        page = await self.call(self.service.report_html, int(check_id))
        self.finish(page, set_content_type="text/html; charset=UTF-8")


class NotebooksHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, check_id: str) -> None:
        path = self.required_arg("path")
        self.finish(await self.call(self.service.notebooks, int(check_id), path))


class DiffHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, check_id: str) -> None:
        path = self.required_arg("path")
        self.finish(await self.call(self.service.diff, int(check_id), path))


class BadgeHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.required_arg("path")
        fmt = self.get_query_argument("format", "svg")
        content_type, body = await self.call(self.service.badge, path, fmt)
        self.set_header("Cache-Control", "no-cache")
        self.finish(body, set_content_type=content_type)


class RepositoryHandler(BaseHandler):
    """The repository around a folder or notebook: what "Check the repository" checks."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.required_arg("path")
        self.finish(await self.call(self.service.repository, path))


class NotFoundHandler(BaseHandler):
    """Any other address under the API: a JSON 404, not the server's HTML page."""

    def _missing(self, *args: str) -> None:
        raise tornado.web.HTTPError(404, f"no such API endpoint: {self.request.path}")

    get = post = put = patch = delete = tornado.web.authenticated(authorized(_missing))


def handlers() -> list[tuple[Any, ...]]:
    return [
        (rf"/{API}/checks", ChecksHandler),
        (rf"/{API}/checks/(\d+)", CheckHandler),
        (rf"/{API}/checks/(\d+)/report", ReportHandler),
        (rf"/{API}/checks/(\d+)/notebooks", NotebooksHandler),
        (rf"/{API}/checks/(\d+)/diff", DiffHandler),
        (rf"/{API}/badge", BadgeHandler),
        (rf"/{API}/repository", RepositoryHandler),
        (rf"/{API}(?:/.*)?", NotFoundHandler),
    ]
