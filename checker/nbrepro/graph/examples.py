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


# Patterns are written selective first, without type tests that the predicates
# already imply, through the runs' and notebooks' direct links to their notebook
# and repository, and counted per repository or check before joining what is
# known about it: joins over tens of thousands of runs are what costs.
_RAN = '"reproduced", "reproduced-equivalent", "differs"'

_LIST = [
    Example("top-exceptions", "Which exceptions stop notebooks most often?", """
SELECT ?exception (COUNT(?run) AS ?runs) WHERE {
  ?run nbr:exception ?exception .
}
GROUP BY ?exception ORDER BY DESC(?runs) ?exception
"""),
    Example("exceptions-by-journal",
            "Which exceptions stop the notebooks of the articles of each journal?", """
SELECT ?journal ?exception (COUNT(DISTINCT ?run) AS ?runs) WHERE {
  ?run nbr:exception ?exception ; nbr:repository ?repo .
  ?article dcterms:references ?repo ; prism:publicationName ?journal .
}
GROUP BY ?journal ?exception ORDER BY ?journal DESC(?runs) ?exception
"""),
    Example("verdicts-by-year",
            "How do verdicts change with the year of the commit checked (the audit "
            "report's repository year)?", """
SELECT ?year ?verdict (SUM(?n) AS ?runs) WHERE {
  { SELECT ?check ?verdict (COUNT(?run) AS ?n) WHERE {
      ?run nbr:verdict ?verdict ; dcterms:isPartOf ?check .
    } GROUP BY ?check ?verdict }
  ?check prov:used ?commit .
  ?commit dcterms:date ?date .
  BIND(YEAR(?date) AS ?year)
}
GROUP BY ?year ?verdict ORDER BY ?year ?verdict
"""),
    Example("python-versions-by-year",
            "Which Python versions did notebooks declare, by the year their article "
            "was published? (distinct notebooks)", """
SELECT ?year ?python (SUM(?n) AS ?notebooks) WHERE {
  { SELECT ?repo ?python (COUNT(?notebook) AS ?n) WHERE {
      ?notebook nbr:pythonVersion ?version ; nbr:repository ?repo .
      BIND(REPLACE(?version, "^([0-9]+)([.][0-9]+)?.*$", "$1$2") AS ?python)
    } GROUP BY ?repo ?python }
  { SELECT DISTINCT ?repo ?year WHERE {
      ?article dcterms:references ?repo ; fabio:hasPublicationYear ?published .
      BIND(STR(?published) AS ?year) } }
}
GROUP BY ?year ?python ORDER BY ?year ?python
"""),
    Example("notebooks-per-repository",
            "How many notebooks does each repository hold (over the commits checked)?", """
SELECT ?repository (SAMPLE(?given) AS ?source) (SUM(?n) AS ?notebooks) WHERE {
  { SELECT ?repository (COUNT(?notebook) AS ?n) WHERE {
      ?notebook nbr:path ?path ; nbr:repository ?repository .
    } GROUP BY ?repository }
  ?repository nbr:source ?given .
}
GROUP BY ?repository ORDER BY DESC(?notebooks) ?repository
"""),
    Example("install-failures",
            "Which packages are most often behind environments that could not be built?",
            """
SELECT ?package (COUNT(?environment) AS ?environments) WHERE {
  ?environment nbr:failedPackage ?package ; nbr:built false .
}
GROUP BY ?package ORDER BY DESC(?environments) ?package
"""),
    Example("reproduced-after-restoration",
            "Which notebooks reproduce only after restoration, and what was restored?", """
SELECT ?run ?path ?verdict (GROUP_CONCAT(?item; separator=", ") AS ?restored) WHERE {
  ?run nbr:restored ?item ; nbr:verdict ?verdict ; nbr:notebook ?notebook .
  ?notebook nbr:path ?path .
  FILTER(?verdict IN ("reproduced", "reproduced-equivalent"))
}
GROUP BY ?run ?path ?verdict ORDER BY ?path ?run
"""),
    Example("normalisers",
            "Which normalisers are most often needed to find outputs equivalent?", """
SELECT ?normaliser (COUNT(?cell) AS ?cells) (COUNT(DISTINCT ?run) AS ?runs) WHERE {
  ?cell nbr:normaliser ?normaliser ; dcterms:isPartOf ?run .
}
GROUP BY ?normaliser ORDER BY DESC(?cells) ?normaliser
"""),
    Example("repositories-by-stars",
            "Do popular repositories reproduce better? (repositories by stars and the "
            "verdict of their check)", """
SELECT ?stars ?verdict (COUNT(DISTINCT ?repo) AS ?repositories) WHERE {
  ?repo nbr:stars ?count .
  ?commit prov:specializationOf ?repo .
  ?check prov:used ?commit ; nbr:repositoryVerdict ?verdict .
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
  ?run nbr:verdict ?verdict ; nbr:notebook ?notebook .
  ?notebook nbr:topDown ?topDown .
}
GROUP BY ?verdict ORDER BY ?verdict
"""),
    Example("volatile-cells",
            "Which cells give different outputs on two runs in the same environment?", """
SELECT ?run ?path ?cell ?detail WHERE {
  ?execution nbr:status "volatile" ; dcterms:isPartOf ?run ;
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
SELECT ?step ?stage (SUM(IF(
         ?step = 1 || (?python && (?step = 2 || (?declared && (?step = 3 || (?built && (
         ?step = 4 || (?verdict IN ({_RAN}) && (?step = 5 || ?verdict = ?stage)))))))),
         ?n, 0)) AS ?runs)
WHERE {{
  {{ SELECT ?check ?verdict ?python (COUNT(?run) AS ?n) WHERE {{
      ?run nbr:verdict ?verdict ; nbr:notebook ?notebook ; dcterms:isPartOf ?check .
      ?notebook nbr:python3 ?python .
    }} GROUP BY ?check ?verdict ?python }}
  OPTIONAL {{ ?check nbr:environment ?env .
             ?env nbr:built ?isBuilt ; nbr:declaresDependencies ?hasDeclared }}
  BIND(COALESCE(?hasDeclared, false) AS ?declared)
  BIND(COALESCE(?isBuilt, false) AS ?built)
  VALUES (?step ?stage) {{
    (1 "notebooks") (2 "python") (3 "dependencies declared") (4 "environment built")
    (5 "ran without error") (6 "reproduced") (7 "reproduced-equivalent") (8 "differs") }}
}}
GROUP BY ?step ?stage ORDER BY ?step
"""),
    Example("verdicts", "How many notebook runs ended in each verdict?", """
SELECT ?verdict (COUNT(?run) AS ?runs) WHERE {
  ?run nbr:verdict ?verdict .
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
