"""Results as a knowledge graph: RDF export, RO-Crate and local SPARQL.

`source` reads the results database into plain rows, `mapping` turns them into
triples in well-known vocabularies (`vocabulary`) with stable IRIs
(`identifiers`), `export` writes Turtle, N-Triples or JSON-LD, `rocrate` an
RO-Crate of one check, and `query` answers SPARQL over an embedded store built
from the database and cached until it changes; `examples` holds named queries.
"""
