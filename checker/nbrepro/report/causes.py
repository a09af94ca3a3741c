"""A notebook's root causes as the reports say them: each once, with the cells it
explains as the notebook shows them (`In [3]`)."""

from __future__ import annotations

from collections.abc import Callable

from nbrepro.model import NotebookResult, RootCause

MOST_CELLS = 10  # cells named per cause; the rest counted


def cause_labels(result: NotebookResult, cause: RootCause, most: int = MOST_CELLS,
                 show: Callable[[int, str], str] = lambda _index, label: label) -> str:
    """The cells a cause explains, as the notebook shows them (`In [3], In [7]`);
    `show(index, label)` writes each (a link, in HTML)."""
    labels = [show(i, result.label_of(i)) for i in cause.cells[:most]]
    more = len(cause.cells) - most
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


def describe(result: NotebookResult, cause: RootCause) -> str:
    """One line: the cause and the cells it explains."""
    cells = cause_labels(result, cause)
    return f"{cause.summary} \u2014 {cells}" if cells else cause.summary
