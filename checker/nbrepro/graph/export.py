"""`nbrepro export`: the results as Turtle, N-Triples, JSON-LD or an RO-Crate."""

from __future__ import annotations

import sys
from pathlib import Path

from pyoxigraph import RdfFormat, serialize

from nbrepro.errors import InputError
from nbrepro.graph import source
from nbrepro.graph.mapping import quads
from nbrepro.graph.vocabulary import PREFIXES

RDF_FORMATS: dict[str, RdfFormat] = {
    "turtle": RdfFormat.TURTLE,
    "nt": RdfFormat.N_TRIPLES,
    "jsonld": RdfFormat.JSON_LD,
}
FORMATS = (*RDF_FORMATS, "rocrate")


def export(
    db: str, fmt: str = "turtle", output: str | None = None, audit: str | None = None,
    check_id: int | None = None,
) -> Path | None:
    """Write the results of `db` (all checks, one audit's or one check's) in `fmt`
    to `output` (a file; a folder for `rocrate`; stdout when None or '-').
    Returns what was written, None for stdout."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    store = source.open_store(db)
    if fmt == "rocrate":
        from nbrepro.graph.rocrate import write_crate

        return write_crate(store, output, audit=audit, check_id=check_id)
    target = None if output in (None, "-") else Path(str(output)).expanduser()
    results = source.read(store, audit=audit, check_id=check_id)
    stream = quads(results)
    if target is None:
        serialize(stream, sys.stdout.buffer, RDF_FORMATS[fmt], prefixes=_prefixes(fmt))
        sys.stdout.buffer.flush()
        return None
    partial = target.with_name(target.name + ".part")
    try:
        with open(partial, "wb") as out:
            serialize(stream, out, RDF_FORMATS[fmt], prefixes=_prefixes(fmt))
        partial.replace(target)  # never a half-written file under the asked name
    finally:
        partial.unlink(missing_ok=True)
    return target


def _prefixes(fmt: str) -> dict[str, str] | None:
    return PREFIXES if fmt == "turtle" else None

