"""Figures of an audit report, drawn with matplotlib (Agg) as PNG bytes: the funnel,
the top exceptions, and verdicts by repository year."""

from __future__ import annotations

import io
from typing import Any

from nbrepro.audit.funnel import PUBLISHED, STAGES, VERDICT_COLUMNS, AuditReport

# One colour per verdict, shared by every figure (colour-blind friendly order).
COLOURS = {
    "reproduced": "#1b9e77", "reproduced-equivalent": "#66c2a5", "differs": "#e6ab02",
    "failed": "#d95f02", "timeout": "#7570b3", "kernel-died": "#e7298a",
    "install-failed": "#a6761d", "not-checked": "#bdbdbd",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def funnel_figure(report: AuditReport) -> bytes:
    """Each stage as a share of the notebooks found, this audit beside the study."""
    plt = _pyplot()
    labels = [label for _, label in STAGES]
    found = report.funnel.get("found") or 1
    ours = [100 * report.funnel.get(key, 0) / found for key, _ in STAGES]
    theirs = [100 * PUBLISHED[key] / PUBLISHED["found"] for key, _ in STAGES]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ys = range(len(labels))
    ax.barh([y + 0.2 for y in ys], ours, height=0.4, color="#1b9e77", label="this audit")
    ax.barh([y - 0.2 for y in ys], theirs, height=0.4, color="#bdbdbd", label="published study")
    for y, key in zip(ys, [k for k, _ in STAGES], strict=True):
        ax.text(ours[y] + 1, y + 0.2, str(report.funnel.get(key, 0)), va="center", fontsize=8)
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_xlabel("% of notebooks found")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Funnel")
    return _png(fig)


def exceptions_figure(report: AuditReport) -> bytes | None:
    table = report.table("exceptions")
    if not table.rows:
        return None
    plt = _pyplot()
    rows = table.rows[:10]
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(rows) + 1))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color=COLOURS["failed"])
    ax.invert_yaxis()
    ax.set_xlabel("notebooks")
    ax.set_title("Top exceptions")
    return _png(fig)


def by_year_figure(report: AuditReport) -> bytes | None:
    table = report.table("by_year")
    if not table.rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    years = [str(r[0]) for r in table.rows]
    bottom = [0] * len(years)
    for offset, verdict in enumerate(VERDICT_COLUMNS):
        values = [r[2 + offset] for r in table.rows]
        ax.bar(years, values, bottom=bottom, color=COLOURS[verdict], label=verdict)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("notebooks")
    ax.set_title("Verdicts by repository year")
    ax.legend(fontsize=7, ncol=4, loc="upper left", bbox_to_anchor=(0, -0.15))
    return _png(fig)
