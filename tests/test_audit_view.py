"""What nbrepro prints on a terminal shows the repositories' words as written: a notebook
path, URL or reason that looks like rich markup neither breaks nor styles the audit's
live view, its lines, its report tables or a graph query's answer."""

from __future__ import annotations

import io

from rich.console import Console

from nbrepro.audit.funnel import AuditReport, Table
from nbrepro.audit.live import AuditView
from nbrepro.audit.render import terminal_text
from nbrepro.graph.query import Answer, render

HOSTILE = "[/x][bold red]not[/bold red] [link=file:///etc/passwd]here[/link]"


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=200, color_system=None), out


def test_the_live_view_shows_markup_in_paths_and_urls_as_text() -> None:
    console, out = _console(terminal=True)
    with AuditView(console, total=1, already=0, todo=1) as view:
        view.event({"type": "started", "id": 1, "worker": "worker 1"}, f"file:///r/{HOSTILE}")
        view.event({"type": "progress", "id": 1, "stage": "execute",
                    "notebook": f"{HOSTILE}.ipynb", "cells": 3, "cell": 1}, "")
        view.say(f"reason: {HOSTILE}")
        assert view.live is not None
        view.live.refresh()
    assert f"{HOSTILE}.ipynb cell 1/3" in out.getvalue()
    assert f"reason: {HOSTILE}" in out.getvalue()


def test_lines_without_a_terminal_show_markup_as_text() -> None:
    console, out = _console(terminal=False)
    with AuditView(console, total=1, already=0, todo=1) as view:
        view.say(f"reason: {HOSTILE}")
        view.done(f"file:///r/{HOSTILE}", 1, "error", [], 1.0, HOSTILE)
    assert f"reason: {HOSTILE}" in out.getvalue()
    assert f"file:///r/{HOSTILE} error: {HOSTILE}" in out.getvalue()


def test_report_tables_show_markup_in_cells_as_text() -> None:
    report = AuditReport(audit={"name": HOSTILE}, funnel={}, split={}, tables=[
        Table("top_exceptions", "Top exceptions", ["exception", "examples"],
              [[HOSTILE, f"{HOSTILE}.ipynb"]])])
    text = terminal_text(report)
    assert f"Audit {HOSTILE}" in text
    assert "[/x][bold" in text and "[link=file:///etc/passwd]" in text


def test_a_graph_query_answer_shows_markup_as_text() -> None:
    text = render(Answer(variables=["notebook"], rows=[(f"{HOSTILE}.ipynb",)]), "table")
    assert "[/x][bold" in text
