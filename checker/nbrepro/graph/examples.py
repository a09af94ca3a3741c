"""Named example queries (`nbrepro query DB --example NAME`), in the spirit of the
FAIR Jupyter knowledge graph's: each answers one question about an audit.

Counts are of notebook runs (one per notebook per check) unless a query says
otherwise. The queries that need an audit's metadata (journals, years, stars)
return nothing for a database of plain checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbrepro.errors import InputError
from nbrepro.graph.vocabulary import sparql_prefixes


@dataclass(frozen=True)
class Example:
    name: str
    question: str
    body: str

    @property
    def sparql(self) -> str:
        return sparql_prefixes() + self.body.strip() + "\n"


# Shared patterns: the runs of a repository, and "ran without an error".
_RUNS_OF_REPO = """
  ?commit prov:specializationOf ?repo .
  ?check a nbr:Check ; prov:used ?commit .
  ?run a repr:Trial ; dcterms:isPartOf ?check"""
_RAN = '"reproduced", "reproduced-equivalent", "differs"'

_LIST = [
    Example("top-exceptions", "Which exceptions stop notebooks most often?", """
SELECT ?exception (COUNT(?run) AS ?runs) WHERE {
  ?run a repr:Trial ; nbr:exception ?exception .
}
GROUP BY ?exception ORDER BY DESC(?runs) ?exception
"""),
    Example("exceptions-by-journal",
            "Which exceptions stop the notebooks of the articles of each journal?", f"""
SELECT ?journal ?exception (COUNT(DISTINCT ?run) AS ?runs) WHERE {{
  ?article prism:publicationName ?journal ; dcterms:references ?repo .{_RUNS_OF_REPO} ;
       nbr:exception ?exception .
}}
GROUP BY ?journal ?exception ORDER BY ?journal DESC(?runs) ?exception
"""),
    Example("verdicts-by-year",
            "How do verdicts change with the year a repository was created?", f"""
SELECT ?year ?verdict (COUNT(?run) AS ?runs) WHERE {{
  ?repo dcterms:created ?created .{_RUNS_OF_REPO} ; nbr:verdict ?verdict .
  BIND(YEAR(?created) AS ?year)
}}
GROUP BY ?year ?verdict ORDER BY ?year ?verdict
"""),
    Example("python-versions-by-year",
            "Which Python versions did notebooks declare, by the year their article "
            "was published? (distinct notebooks)", """
SELECT ?year ?python (COUNT(DISTINCT ?notebook) AS ?notebooks) WHERE {
  ?article fabio:hasPublicationYear ?published ; dcterms:references ?repo .
  ?commit prov:specializationOf ?repo .
  ?notebook a repr:Notebook ; dcterms:isPartOf ?commit ; nbr:pythonVersion ?version .
  BIND(STR(?published) AS ?year)
  BIND(REPLACE(?version, "^([0-9]+)([.][0-9]+)?.*$", "$1$2") AS ?python)
}
GROUP BY ?year ?python ORDER BY ?year ?python
"""),
    Example("notebooks-per-repository",
            "How many notebooks does each repository hold (over the commits checked)?", """
SELECT ?repository (SAMPLE(?given) AS ?source) (COUNT(DISTINCT ?notebook) AS ?notebooks)
WHERE {
  ?repository a doap:GitRepository ; nbr:source ?given .
  ?commit prov:specializationOf ?repository .
  ?notebook a repr:Notebook ; dcterms:isPartOf ?commit .
}
GROUP BY ?repository ORDER BY DESC(?notebooks) ?repository
"""),
    Example("install-failures",
            "Which packages are most often behind environments that could not be built?",
            """
SELECT ?package (COUNT(?environment) AS ?environments) WHERE {
  ?environment a nbr:Environment ; nbr:built false ; nbr:failedPackage ?package .
}
GROUP BY ?package ORDER BY DESC(?environments) ?package
"""),
    Example("reproduced-after-restoration",
            "Which notebooks reproduce only after restoration, and what was restored?", """
SELECT ?run ?path ?verdict (GROUP_CONCAT(?item; separator=", ") AS ?restored) WHERE {
  ?run a repr:Trial ; nbr:restored ?item ; nbr:verdict ?verdict ; prov:used ?notebook .
  ?notebook a repr:Notebook ; nbr:path ?path .
  FILTER(?verdict IN ("reproduced", "reproduced-equivalent"))
}
GROUP BY ?run ?path ?verdict ORDER BY ?path ?run
"""),
    Example("normalisers",
            "Which normalisers are most often needed to find outputs equivalent?", """
SELECT ?normaliser (COUNT(?cell) AS ?cells) (COUNT(DISTINCT ?run) AS ?runs) WHERE {
  ?cell a repr:CellExecution ; nbr:normaliser ?normaliser ; dcterms:isPartOf ?run .
}
GROUP BY ?normaliser ORDER BY DESC(?cells) ?normaliser
"""),
    Example("repositories-by-stars",
            "Do popular repositories reproduce better? (repositories by stars and the "
            "verdict of their check)", """
SELECT ?stars ?verdict (COUNT(DISTINCT ?repo) AS ?repositories) WHERE {
  ?repo a doap:GitRepository ; nbr:stars ?count .
  ?commit prov:specializationOf ?repo .
  ?check a nbr:Check ; prov:used ?commit ; nbr:verdict ?verdict .
  BIND(IF(?count >= 100, "100+", IF(?count >= 10, "10-99", IF(?count >= 1, "1-9", "0")))
       AS ?stars)
}
GROUP BY ?stars ?verdict ORDER BY ?stars ?verdict
"""),
    Example("top-down-by-outcome",
            "Which share of notebooks was stored in top-down execution order, by verdict?",
            """
SELECT ?verdict (COUNT(?run) AS ?runs) (SUM(IF(?topDown, 1, 0)) AS ?top_down)
       (ROUND(1000 * SUM(IF(?topDown, 1, 0)) / COUNT(?run)) / 10 AS ?percent)
WHERE {
  ?run a repr:Trial ; nbr:verdict ?verdict ; prov:used ?notebook .
  ?notebook a repr:Notebook ; nbr:topDown ?topDown .
}
GROUP BY ?verdict ORDER BY ?verdict
"""),
    Example("volatile-cells",
            "Which cells give different outputs on two runs in the same environment?", """
SELECT ?run ?path ?cell ?detail WHERE {
  ?execution a repr:CellExecution ; nbr:status "volatile" ; dcterms:isPartOf ?run ;
             p-plan:correspondsToStep ?step .
  ?step nbr:index ?cell ; p-plan:isStepOfPlan ?notebook .
  ?notebook nbr:path ?path .
  OPTIONAL { ?execution nbr:detail ?detail }
}
ORDER BY ?path ?run ?cell
"""),
    Example("funnel",
            "The published study's funnel: notebooks -> Python -> dependencies declared -> "
            "environment built -> ran without error -> identical (with nbrepro's split of "
            "the rest)", f"""
SELECT ?step ?stage ?runs WHERE {{
  {{ SELECT (1 AS ?step) ("notebooks" AS ?stage) (COUNT(?run) AS ?runs)
    WHERE {{ ?run a repr:Trial }} }}
  UNION
  {{ SELECT (2 AS ?step) ("python" AS ?stage) (COUNT(?run) AS ?runs)
    WHERE {{ ?run a repr:Trial ; prov:used ?nb . ?nb nbr:python3 true }} }}
  UNION
  {{ SELECT (3 AS ?step) ("dependencies declared" AS ?stage) (COUNT(?run) AS ?runs)
    WHERE {{ ?run a repr:Trial ; prov:used ?nb, ?env . ?nb nbr:python3 true .
            ?env a nbr:Environment . FILTER EXISTS {{ ?env nbr:declaredIn ?file }} }} }}
  UNION
  {{ SELECT (4 AS ?step) ("environment built" AS ?stage) (COUNT(?run) AS ?runs)
    WHERE {{ ?run a repr:Trial ; prov:used ?nb, ?env . ?nb nbr:python3 true .
            ?env nbr:built true . FILTER EXISTS {{ ?env nbr:declaredIn ?file }} }} }}
  UNION
  {{ SELECT (5 AS ?step) ("ran without error" AS ?stage) (COUNT(?run) AS ?runs)
    WHERE {{ ?run a repr:Trial ; prov:used ?nb, ?env ; nbr:verdict ?verdict .
            ?nb nbr:python3 true . ?env nbr:built true .
            FILTER EXISTS {{ ?env nbr:declaredIn ?file }}
            FILTER(?verdict IN ({_RAN})) }} }}
  UNION
  {{ SELECT ?step ?stage (COUNT(?run) AS ?runs)
    WHERE {{ ?run a repr:Trial ; prov:used ?nb, ?env ; nbr:verdict ?stage .
            ?nb nbr:python3 true . ?env nbr:built true .
            FILTER EXISTS {{ ?env nbr:declaredIn ?file }}
            VALUES (?stage ?step) {{ ("reproduced" 6) ("reproduced-equivalent" 7)
                                     ("differs" 8) }} }}
    GROUP BY ?step ?stage }}
}}
ORDER BY ?step
"""),
    Example("verdicts", "How many notebook runs ended in each verdict?", """
SELECT ?verdict (COUNT(?run) AS ?runs) WHERE {
  ?run a repr:Trial ; nbr:verdict ?verdict .
}
GROUP BY ?verdict ORDER BY DESC(?runs) ?verdict
"""),
]

EXAMPLES: dict[str, Example] = {e.name: e for e in _LIST}


def example(name: str) -> Example:
    try:
        return EXAMPLES[name]
    except KeyError:
        raise InputError(
            f"no example query {name!r}; known: {', '.join(EXAMPLES)}"
        ) from None
