"""Renderers of the one results model (`nbrepro.model.CheckResult`).

Each format is a module with a `render(result) -> str` function; `RENDERERS` maps
a format name to it, so the command line and the server pick formats by name.
"""

from __future__ import annotations

from collections.abc import Callable

from nbrepro.model import CheckResult

from . import badge, html, junit, markdown, terminal
from . import json as json_report

Renderer = Callable[[CheckResult], str]

RENDERERS: dict[str, Renderer] = {
    "json": json_report.render,
    "html": html.render,
    "badge": badge.render,
    "shields": badge.endpoint_json,
    "markdown": markdown.render,
    "junit": junit.render,
    "table": terminal.render,
}

__all__ = ["RENDERERS", "Renderer"]
