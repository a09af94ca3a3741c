"""Thin HTTP handlers for /nbrepro/api/: parse, call the service, answer JSON.

Every verb is authenticated; errors answer JSON `{"message": ...}` (APIHandler).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .service import CheckService

API = "nbrepro/api"


class BaseHandler(APIHandler):
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
        # Database reads go to a thread so a slow disk never stalls the server's loop.
        return await asyncio.to_thread(fn, *args)


class ChecksHandler(BaseHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        try:
            limit = int(self.get_query_argument("limit", "100"))
        except ValueError:
            raise tornado.web.HTTPError(400, "limit must be an integer") from None
        limit = max(1, min(limit, 1000))
        self.finish({"checks": await self.call(self.service.list, limit)})

    @tornado.web.authenticated
    async def post(self) -> None:
        summary = self.service.start(self.body())
        self.set_status(202)
        self.set_header("Location", url_path_join(self.base_url, API, "checks", str(summary["id"])))
        self.finish(summary)


class CheckHandler(BaseHandler):
    @tornado.web.authenticated
    async def get(self, check_id: str) -> None:
        self.finish(await self.call(self.service.get, int(check_id)))

    @tornado.web.authenticated
    async def delete(self, check_id: str) -> None:
        self.finish(await self.service.cancel(int(check_id)))


class ReportHandler(BaseHandler):
    @tornado.web.authenticated
    async def get(self, check_id: str) -> None:
        page = await self.call(self.service.report_html, int(check_id))
        # The report is static: no scripts may run in it.
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                        "img-src data:")
        self.finish(page, set_content_type="text/html; charset=UTF-8")


class NotebooksHandler(BaseHandler):
    @tornado.web.authenticated
    async def get(self, check_id: str) -> None:
        path = self.required_arg("path")
        self.finish(await self.call(self.service.notebooks, int(check_id), path))


class DiffHandler(BaseHandler):
    @tornado.web.authenticated
    async def get(self, check_id: str) -> None:
        path = self.required_arg("path")
        data = await self.call(self.service.notebooks, int(check_id), path)
        self.finish({"path": path, "diff": data["diff"]})


class BadgeHandler(BaseHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        path = self.required_arg("path")
        fmt = self.get_query_argument("format", "svg")
        content_type, body = await self.call(self.service.badge, path, fmt)
        self.set_header("Cache-Control", "no-cache")
        self.finish(body, set_content_type=content_type)


def handlers() -> list[tuple[Any, ...]]:
    return [
        (rf"/{API}/checks", ChecksHandler),
        (rf"/{API}/checks/(\d+)", CheckHandler),
        (rf"/{API}/checks/(\d+)/report", ReportHandler),
        (rf"/{API}/checks/(\d+)/notebooks", NotebooksHandler),
        (rf"/{API}/checks/(\d+)/diff", DiffHandler),
        (rf"/{API}/badge", BadgeHandler),
    ]
