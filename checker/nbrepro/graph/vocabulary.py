"""The vocabularies of the graph: namespace IRIs, prefixes and nbrepro's own terms.

Well-known vocabularies first (PROV-O for runs, P-Plan and REPRODUCE-ME for
notebooks and cells, DOAP for repositories, FaBiO, PRISM and DCTERMS for
articles); nbrepro's own namespace only for what they have no term for
(verdicts, cell statuses, normalisers, environments).
"""

from __future__ import annotations

from pyoxigraph import NamedNode

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
PROV = "http://www.w3.org/ns/prov#"
PPLAN = "http://purl.org/net/p-plan#"
REPR = "https://w3id.org/reproduceme#"
DOAP = "http://usefulinc.com/ns/doap#"
FABIO = "http://purl.org/spar/fabio/"
PRISM = "http://prismstandard.org/namespaces/basic/2.0/"
DCTERMS = "http://purl.org/dc/terms/"
# RO-Crate 1.1's JSON-LD context maps its terms to http://schema.org/.
SCHEMA = "http://schema.org/"
NBR = "https://w3id.org/nbrepro/terms#"
# Entities minted by nbrepro (repositories, commits, notebooks, runs...).
ID = "https://w3id.org/nbrepro/id/"

PREFIXES: dict[str, str] = {
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "prov": PROV,
    "p-plan": PPLAN,
    "repr": REPR,
    "doap": DOAP,
    "fabio": FABIO,
    "prism": PRISM,
    "dcterms": DCTERMS,
    "nbr": NBR,
}


def sparql_prefixes() -> str:
    """The PREFIX lines every example query starts with."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


class Terms:
    """The terms the mapping uses, as ready-made nodes (built once: the mapping
    emits millions of triples)."""

    def __init__(self) -> None:
        n = NamedNode
        self.type = n(RDF + "type")
        self.label = n(RDFS + "label")
        self.see_also = n(RDFS + "seeAlso")
        # PROV-O
        self.Entity, self.Activity = n(PROV + "Entity"), n(PROV + "Activity")
        self.SoftwareAgent = n(PROV + "SoftwareAgent")
        self.Association = n(PROV + "Association")
        self.used, self.generated = n(PROV + "used"), n(PROV + "generated")
        self.was_generated_by = n(PROV + "wasGeneratedBy")
        self.was_derived_from = n(PROV + "wasDerivedFrom")
        self.was_associated_with = n(PROV + "wasAssociatedWith")
        self.qualified_association = n(PROV + "qualifiedAssociation")
        self.agent, self.had_plan = n(PROV + "agent"), n(PROV + "hadPlan")
        self.started, self.ended = n(PROV + "startedAtTime"), n(PROV + "endedAtTime")
        self.specialization_of = n(PROV + "specializationOf")
        # P-Plan and REPRODUCE-ME
        self.Plan, self.Step = n(PPLAN + "Plan"), n(PPLAN + "Step")
        self.PActivity = n(PPLAN + "Activity")
        self.is_step_of_plan = n(PPLAN + "isStepOfPlan")
        self.corresponds_to_step = n(PPLAN + "correspondsToStep")
        self.Notebook, self.Cell = n(REPR + "Notebook"), n(REPR + "Cell")
        self.CellExecution, self.Trial = n(REPR + "CellExecution"), n(REPR + "Trial")
        self.Output = n(REPR + "Output")
        # DOAP
        self.GitRepository = n(DOAP + "GitRepository")
        self.Version = n(DOAP + "Version")
        self.location, self.browse = n(DOAP + "location"), n(DOAP + "browse")
        self.doap_name, self.revision = n(DOAP + "name"), n(DOAP + "revision")
        # FaBiO, PRISM, DCTERMS
        self.JournalArticle = n(FABIO + "JournalArticle")
        self.pmcid, self.pmid = n(FABIO + "hasPubMedCentralId"), n(FABIO + "hasPubMedId")
        self.publication_year = n(FABIO + "hasPublicationYear")
        self.doi, self.publication_name = n(PRISM + "doi"), n(PRISM + "publicationName")
        self.title, self.identifier = n(DCTERMS + "title"), n(DCTERMS + "identifier")
        self.is_part_of, self.has_part = n(DCTERMS + "isPartOf"), n(DCTERMS + "hasPart")
        self.references = n(DCTERMS + "references")
        self.is_referenced_by = n(DCTERMS + "isReferencedBy")
        self.license, self.created = n(DCTERMS + "license"), n(DCTERMS + "created")
        self.date, self.has_version = n(DCTERMS + "date"), n(DCTERMS + "hasVersion")
        # nbrepro's own
        t = lambda local: n(NBR + local)  # noqa: E731
        self.Check, self.Audit, self.Commit = t("Check"), t("Audit"), t("Commit")
        self.Environment, self.Requirement = t("Environment"), t("Requirement")
        self.InstalledPackage = t("InstalledPackage")
        self.source, self.commit_hash, self.path = t("source"), t("commitHash"), t("path")
        self.stars, self.default_branch, self.pushed = t("stars"), t("defaultBranch"), t("pushed")
        self.state, self.verdict, self.reason = t("state"), t("verdict"), t("reason")
        self.exception, self.message = t("exception"), t("message")
        self.failing_cell, self.seconds = t("failingCell"), t("seconds")
        self.status, self.normaliser, self.detail = t("status"), t("normaliser"), t("detail")
        self.index, self.restored = t("index"), t("restored")
        self.valid, self.error, self.nbformat = t("valid"), t("error"), t("nbformat")
        self.language, self.kernel = t("language"), t("kernel")
        self.python_version, self.requested_python = t("pythonVersion"), t("requestedPython")
        self.python3 = t("python3")
        self.cell_count, self.code_cell_count = t("cellCount"), t("codeCellCount")
        self.has_outputs, self.top_down, self.imports = (
            t("hasStoredOutputs"), t("topDown"), t("imports"))
        self.notebook = t("notebook")
        self.repository_verdict = t("repositoryVerdict")
        self.repository = t("repository")
        self.environment = t("environment")
        self.declares_dependencies = t("declaresDependencies")
        self.backend, self.built, self.resolver = t("backend"), t("built"), t("resolver")
        self.sandbox, self.network, self.cached = t("sandbox"), t("network"), t("cached")
        self.declared_in, self.declares = t("declaredIn"), t("declares")
        self.spec, self.original, self.package = t("spec"), t("original"), t("package")
        self.failed_requirement, self.failed_package = (
            t("failedRequirement"), t("failedPackage"))
        self.installed, self.declared = t("installed"), t("declared")


TERMS = Terms()
