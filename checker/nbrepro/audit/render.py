"""Renderers of an audit report: terminal tables, Markdown, CSV (one file per table),
JSON, and a self-contained HTML page with figures.

`render_audit_report(db_url, audit, format, out)` is the entry point `nbrepro
report DB` calls for a database that holds audits.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import sys
from pathlib import Path
from typing import Any

from nbrepro.audit.funnel import AuditReport, Table, build_report
from nbrepro.errors import InputError

FORMATS = ("table", "markdown", "csv", "html", "json")


def is_audit_database(db_url: str) -> bool:
    """True when the database at `db_url` holds at least one audit."""
    from nbrepro.audit.database import AuditDatabase
    from nbrepro.store import Store

    return AuditDatabase(Store(db_url)).has_audits()


def load_report(db_url: str, audit: str | None = None) -> AuditReport:
    from nbrepro.audit.database import AuditDatabase
    from nbrepro.store import Store

    store = Store(db_url)
    row = AuditDatabase(store).find_audit(audit)
    return build_report(store, row)


def render_audit_report(db_url: str, audit: str | None, format: str,
                        out: str | None) -> None:
    """Render the report of `audit` (name or id; the newest when None) in `format` to
    `out` (a file; for CSV a folder or `NAME.csv` for `NAME-<table>.csv` files;
    stdout when None)."""
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r} (choose from {', '.join(FORMATS)})")
    target = _output(out, format)
    report = load_report(db_url, audit)
    if format == "csv":
        write_csv(report, target)
        return
    text = {"markdown": markdown, "json": to_json, "html": to_html,
            "table": terminal_text}[format](report)
    if target is None:
        sys.stdout.write(text)
    else:
        target.write_text(text, encoding="utf-8")


def _output(out: str | None, format: str) -> Path | None:
    if out is None or out == "-":
        return None
    target = Path(out).expanduser()
    if format == "csv" and target.suffix.lower() != ".csv":
        if target.exists() and not target.is_dir():
            raise InputError(f"not a folder: {out}")
        parent = target.parent
    else:
        if target.is_dir():
            raise InputError(f"is a directory: {out}")
        parent = target.parent
    if not parent.is_dir():
        raise InputError(f"folder does not exist: {parent}")
    return target


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def markdown(report: AuditReport) -> str:
    lines = [f"# Audit {report.audit['name']}", ""]
    for table in report.tables:
        lines += [f"## {table.title}", ""]
        if not table.rows:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "|".join("---" for _ in table.columns) + "|")
        for row in table.rows:
            lines.append("| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |")
        if table.note:
            lines += ["", f"*{table.note}*"]
        lines.append("")
    return "\n".join(lines)


def to_json(report: AuditReport) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def _csv_text(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([[_cell(v) for v in row] for row in table.rows])
    return buffer.getvalue()


def write_csv(report: AuditReport, target: Path | None) -> None:
    """One CSV per table: in a folder, as `NAME-<table>.csv`, or all on stdout with a
    `# <table>` line before each."""
    if target is None:
        sys.stdout.write("\n".join(f"# {t.name}\n{_csv_text(t)}" for t in report.tables))
        return
    if target.suffix.lower() == ".csv":
        for table in report.tables:
            target.with_name(f"{target.stem}-{table.name}.csv").write_text(
                _csv_text(table), encoding="utf-8")
        return
    target.mkdir(exist_ok=True)
    for table in report.tables:
        (target / f"{table.name}.csv").write_text(_csv_text(table), encoding="utf-8")


def rich_tables(report: AuditReport) -> list[Any]:
    from rich.table import Table as RichTable
    from rich.text import Text

    shown = []
    for table in report.tables:
        rich_table = RichTable(title=table.title, title_justify="left", caption=table.note,
                               caption_justify="left")
        for index, column in enumerate(table.columns):
            rich_table.add_column(column, justify="left" if index == 0 else "right",
                                  overflow="fold")
        for row in table.rows:
            # Text, never markup: paths, URLs and messages are the repositories' words
            rich_table.add_row(*(Text(_cell(v)) for v in row))
        shown.append(rich_table)
    return shown


def terminal_text(report: AuditReport) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=None if sys.stdout.isatty() else 160,
                      highlight=False, record=True)
    console.print(f"Audit {report.audit['name']}", markup=False)
    for table in rich_tables(report):
        console.print(table)
    return console.export_text()


def to_html(report: AuditReport) -> str:
    from nbrepro.audit import figures

    try:
        images = [("Funnel", figures.funnel_figure(report)),
                  ("Top exceptions", figures.exceptions_figure(report)),
                  ("Verdicts by repository year", figures.by_year_figure(report))]
        missing = ""
    except ImportError:  # matplotlib is in the `audit` extra
        images, missing = [], "figures need matplotlib: pip install 'nbrepro[audit]'"
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>nbrepro audit {esc(report.audit['name'])}</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}",
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}",
        "td,th{border:1px solid #ccc;padding:0.2em 0.6em;text-align:right}",
        "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}",
        "img{max-width:100%}.note{color:#666;font-size:0.9em}</style></head><body>",
        f"<h1>Audit {esc(report.audit['name'])}</h1>",
        f"<p class='note'>sources: {esc(', '.join(report.audit.get('sources') or []))}</p>",
    ]
    if missing:
        parts.append(f"<p class='note'>{esc(missing)}</p>")
    for title, png in images:
        if png:
            data = base64.b64encode(png).decode()
            parts.append(f"<figure><img alt='{esc(title)}' src='data:image/png;base64,{data}'>"
                         "</figure>")
    for table in report.tables:
        parts.append(f"<h2>{esc(table.title)}</h2>")
        if not table.rows:
            parts.append("<p>(none)</p>")
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{esc(c)}</th>"
                                                      for c in table.columns) + "</tr></thead>")
        parts.append("<tbody>" + "".join(
            "<tr>" + "".join(f"<td>{esc(_cell(v))}</td>" for v in row) + "</tr>"
            for row in table.rows) + "</tbody></table>")
        if table.note:
            parts.append(f"<p class='note'>{esc(table.note)}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
