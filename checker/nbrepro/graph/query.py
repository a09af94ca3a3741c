"""`nbrepro query`: SPARQL 1.1 over the results, in an embedded store (Oxigraph).

The store is built from the database once and kept on disk in nbrepro's cache,
named by the database and a stamp of its contents (`source.stamp`), so later
queries open it in milliseconds; a check or an audit that adds or changes rows
changes the stamp and the next query rebuilds it. Within one process the open
store is kept too.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    Store,
    Triple,
)

from nbrepro import __version__
from nbrepro.cache import content_key, entry, locked
from nbrepro.errors import InputError
from nbrepro.graph import source
from nbrepro.graph.mapping import quads
from nbrepro.graph.vocabulary import PREFIXES, XSD
from nbrepro.store import Store as ResultsStore

# Bump when the mapping changes what a database turns into: cached stores rebuild.
MAPPING_VERSION = 5
_COMPLETE = "complete"

_open: dict[str, tuple[str, Store]] = {}
_databases: dict[str, ResultsStore] = {}
_open_lock = threading.Lock()


@dataclass
class Answer:
    """A query's answer as plain values: rows of a SELECT, a boolean of an ASK, or
    triples (as N-Triples text) of a CONSTRUCT or DESCRIBE."""

    variables: list[str]
    rows: list[tuple[Any, ...]]
    boolean: bool | None = None
    triples: str | None = None


def graph(db: str) -> Store:
    """The results of `db` as a SPARQL store, built or taken from the cache."""
    with _open_lock:
        store = _databases.get(db)
    if store is None:
        store = _databases[db] = source.open_store(db)
    key = content_key(MAPPING_VERSION, __version__, source.stamp(store.engine))
    with _open_lock:
        cached = _open.get(store.url)
        if cached is not None and cached[0] == key:
            return cached[1]
    if store.url == "sqlite:///:memory:":
        built = Store()
        built.bulk_extend(quads(source.read(store)))
    else:
        built = _on_disk(store, key)
    with _open_lock:
        _open[store.url] = (key, built)
    return built


def _on_disk(store: ResultsStore, key: str) -> Store:
    folder = entry("graph", content_key(store.url))
    final = folder / key
    if not (final / _COMPLETE).exists():
        with locked(final):
            if not (final / _COMPLETE).exists():
                _build(store, final)
    return Store.read_only(str(final))


def _build(store: ResultsStore, final: Path) -> None:
    partial = final.with_name(final.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    built = Store(str(partial))
    built.bulk_extend(quads(source.read(store)))
    built.flush()
    built.optimize()
    del built
    gc.collect()  # the store closes when the object goes
    (partial / _COMPLETE).write_text("")
    partial.rename(final)
    _prune(final)


def _prune(current: Path) -> None:
    """Drop stores of older states of the database (keep the one before, which a
    query running in another process may still be reading)."""
    others = sorted(
        (p for p in current.parent.iterdir() if p.is_dir() and p != current),
        key=lambda p: p.stat().st_mtime, reverse=True,
    )
    for stale in others[1:]:
        shutil.rmtree(stale, ignore_errors=True)
        Path(str(stale) + ".lock").unlink(missing_ok=True)


def run(db: str, sparql: str) -> Answer:
    """Answer one SPARQL query over the results of `db`."""
    store = graph(db)
    try:
        result = store.query(sparql, prefixes=PREFIXES)
    except SyntaxError as exc:
        raise InputError(f"malformed SPARQL query: {_one_line(str(exc))}") from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"the query failed: {_one_line(str(exc))}") from None
    if isinstance(result, QueryBoolean):
        return Answer(variables=[], rows=[], boolean=bool(result))
    if isinstance(result, QuerySolutions):
        names = [v.value for v in result.variables]
        rows = [tuple(value(solution[name]) for name in names) for solution in result]
        return Answer(variables=names, rows=rows)
    return Answer(variables=[], rows=[], triples="".join(f"{t} .\n" for t in result))


def _one_line(message: str) -> str:
    # The parser lists every character it would have accepted: keep its position
    # and the start of the list.
    line = " ".join(message.split())
    return line if len(line) <= 200 else line[:197] + "..."


_NUMBERS = {XSD + t for t in ("integer", "int", "long", "short", "byte", "nonNegativeInteger",
                              "positiveInteger", "unsignedInt", "unsignedLong")}


def value(term: Any) -> Any:
    """A plain Python value for a term: numbers, booleans and text as such, IRIs as
    text, nothing as None."""
    if term is None:
        return None
    if isinstance(term, Literal):
        datatype = term.datatype.value
        try:
            if datatype in _NUMBERS:
                return int(term.value)
            if datatype in (XSD + "decimal", XSD + "double", XSD + "float"):
                return float(term.value)
        except ValueError:
            return term.value
        if datatype == XSD + "boolean":
            return term.value in ("true", "1")
        return term.value
    if isinstance(term, (NamedNode, BlankNode)):
        return term.value if isinstance(term, NamedNode) else f"_:{term.value}"
    if isinstance(term, Triple):
        return str(term)
    return str(term)


# --- rendering ---------------------------------------------------------------------

def render(answer: Answer, fmt: str) -> str:
    """The answer as a terminal table, CSV or JSON."""
    if answer.boolean is not None:
        return json.dumps({"boolean": answer.boolean}) + "\n" if fmt == "json" else (
            f"{str(answer.boolean).lower()}\n")
    if answer.triples is not None:
        return answer.triples
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(answer.variables)
        writer.writerows(["" if v is None else v for v in row] for row in answer.rows)
        return out.getvalue()
    if fmt == "json":
        return json.dumps(
            [dict(zip(answer.variables, row, strict=True)) for row in answer.rows], indent=2
        ) + "\n"
    return _table(answer)


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    for prefix, iri in PREFIXES.items():
        if text.startswith(iri) and re.fullmatch(r"[\w\-.]+", text[len(iri):]):
            return f"{prefix}:{text[len(iri):]}"
    return text


def _table(answer: Answer) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for variable in answer.variables:
        table.add_column(Text(variable))
    for row in answer.rows:  # Text, never markup: the values are the repositories' words
        table.add_row(*(Text(_short(v)) for v in row))
    out = io.StringIO()
    Console(file=out, width=200, highlight=False, no_color=True).print(table)
    out.write(f"{len(answer.rows)} row(s)\n")
    return out.getvalue()
