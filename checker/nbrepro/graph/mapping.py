"""The mapping from results rows to RDF: one function, `quads(results)`.

What becomes what (docs/graph.md has the whole table and a worked example):

- a repository is a `doap:GitRepository`; the commit checked a `nbr:Commit`
  (`prov:specializationOf` the repository); an article that cites it a
  `fabio:JournalArticle` that `dcterms:references` it;
- a notebook is a `repr:Notebook` (a `p-plan:Plan`) `dcterms:isPartOf` its commit,
  each compared cell a `repr:Cell` (a `p-plan:Step`) of that plan;
- a check is a `nbr:Check` activity that used the commit; each notebook's run in
  it a `repr:Trial` (a PROV activity) that used the notebook and the environment,
  was associated with nbrepro following the notebook as its plan, generated the
  re-run outputs, and carries the verdict; each cell's comparison a
  `repr:CellExecution` that corresponds to the cell step;
- the environment a `nbr:Environment`: Python, backend, declared requirements and
  where each was declared, installed packages (declared or pulled in).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pyoxigraph import Literal, NamedNode, Quad

from nbrepro.audit.sources import Publication
from nbrepro.graph import identifiers as ids
from nbrepro.graph.source import Check, Environment, Notebook, RepositoryMeta, Results
from nbrepro.graph.vocabulary import TERMS as T
from nbrepro.graph.vocabulary import XSD
from nbrepro.model import NotebookInfo

_DATETIME = NamedNode(XSD + "dateTime")
_GYEAR = NamedNode(XSD + "gYear")
_TRUE, _FALSE = Literal(True), Literal(False)


def text(value: object) -> Literal:
    """A string literal; text from an audited repository may hold lone surrogates,
    which RDF cannot carry."""
    s = str(value)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return Literal(s)


def when(value: datetime) -> Literal:
    # The store keeps naive UTC times.
    stamp = value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    return Literal(stamp, datatype=_DATETIME)


def boolean(value: bool) -> Literal:
    return _TRUE if value else _FALSE


class _Mapper:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def first(self, iri: str) -> bool:
        """True the first time an entity shared by several checks is met."""
        if iri in self.seen:
            return False
        self.seen.add(iri)
        return True

    def check(self, check: Check) -> Iterator[Quad]:
        repo_iri = ids.repository(check.source, check.path)
        repo = NamedNode(repo_iri)
        commit_iri = ids.commit(repo_iri, check.commit)
        commit = NamedNode(commit_iri)
        if self.first(repo_iri):
            yield from self.repository(repo, check)
        if self.first(commit_iri):
            yield Quad(commit, T.type, T.Commit)
            yield Quad(commit, T.type, T.Entity)
            yield Quad(commit, T.specialization_of, repo)
            if check.commit:
                yield Quad(commit, T.commit_hash, text(check.commit))
            if check.meta and check.meta.commit_date:
                yield Quad(commit, T.date, when(check.meta.commit_date))
        node = NamedNode(ids.check(commit_iri, check.id, check.created_at))
        agent_iri = ids.software(check.nbrepro_version)
        agent = NamedNode(agent_iri)
        if self.first(agent_iri):
            yield Quad(agent, T.type, T.SoftwareAgent)
            yield Quad(agent, T.label, text(f"nbrepro {check.nbrepro_version}".strip()))
        yield Quad(node, T.type, T.Check)
        yield Quad(node, T.type, T.Activity)
        yield Quad(node, T.used, commit)
        yield Quad(node, T.was_associated_with, agent)
        yield Quad(node, T.state, text(check.state))
        if check.verdict:  # the worst of its notebooks' (nbr:verdict is a run's)
            yield Quad(node, T.repository_verdict, text(check.verdict))
        if check.started_at:
            yield Quad(node, T.started, when(check.started_at))
        if check.finished_at:
            yield Quad(node, T.ended, when(check.finished_at))
        for part_of in check.audits:
            audit = NamedNode(ids.audit(part_of.name))
            yield Quad(node, T.is_part_of, audit)
            yield Quad(audit, T.has_part, node)
        env = None
        if check.environment is not None:
            env = NamedNode(node.value + "/environment")
            yield Quad(node, T.environment, env)
            yield from self.environment(env, check.environment)
        for nb in check.notebooks:
            yield from self.notebook(nb, commit_iri, node, env, agent, repo)

    def repository(self, repo: NamedNode, check: Check) -> Iterator[Quad]:
        yield Quad(repo, T.type, T.GitRepository)
        yield Quad(repo, T.source, text(check.source))
        location = ids.web_location(check.source)
        if location:
            yield Quad(repo, T.location, NamedNode(location))
        meta = check.meta
        if meta is None:
            return
        yield from self.repository_meta(repo, meta)

    def repository_meta(self, repo: NamedNode, meta: RepositoryMeta) -> Iterator[Quad]:
        if meta.stars is not None:
            yield Quad(repo, T.stars, Literal(int(meta.stars)))
        if meta.license:
            licence = ids.license_iri(meta.license)
            if licence:
                yield Quad(repo, T.license, NamedNode(licence))
        if meta.default_branch:
            yield Quad(repo, T.default_branch, text(meta.default_branch))
        if meta.created_at:
            yield Quad(repo, T.created, when(meta.created_at))
        if meta.pushed_at:
            yield Quad(repo, T.pushed, when(meta.pushed_at))
        for article in meta.articles:
            yield from self.article(repo, article)

    def article(self, repo: NamedNode, a: Publication) -> Iterator[Quad]:
        iri = ids.article(a.doi, a.pmcid, a.pmid, a.title)
        node = NamedNode(iri)
        yield Quad(node, T.references, repo)
        yield Quad(repo, T.is_referenced_by, node)
        if not self.first(iri):
            return
        yield Quad(node, T.type, T.JournalArticle)
        for prop, value in ((T.doi, a.doi), (T.pmcid, a.pmcid), (T.pmid, a.pmid),
                            (T.title, a.title), (T.publication_name, a.journal)):
            if value:
                yield Quad(node, prop, text(value))
        if a.year is not None:
            yield Quad(node, T.publication_year, Literal(f"{int(a.year):04d}", datatype=_GYEAR))

    def environment(self, env: NamedNode, e: Environment) -> Iterator[Quad]:
        from nbrepro.stages.resolve import parse_pins
        from nbrepro.stages.spec import requirement_name

        yield Quad(env, T.type, T.Environment)
        yield Quad(env, T.type, T.Entity)
        yield Quad(env, T.built, boolean(e.ok))
        yield Quad(env, T.declares_dependencies, boolean(bool(e.declared_files)))
        yield Quad(env, T.network, boolean(e.network))
        yield Quad(env, T.cached, boolean(e.cached))
        for prop, value in ((T.backend, e.backend), (T.python_version, e.python_version),
                            (T.requested_python, e.requested_python), (T.resolver, e.resolver),
                            (T.sandbox, e.sandbox)):
            if value:
                yield Quad(env, prop, text(value))
        for name in e.declared_files:
            yield Quad(env, T.declared_in, text(name))
        if e.failed_requirement:
            yield Quad(env, T.failed_requirement, text(e.failed_requirement))
            yield Quad(env, T.failed_package, text(requirement_name(e.failed_requirement)))
        # The environment's own triples first, then each requirement and package
        # (Turtle groups consecutive triples of one subject).
        declared: set[str] = set()
        parts: list[Quad] = []
        for n, req in enumerate(e.requirements):
            spec = str(req.get("spec") or "")
            node = NamedNode(f"{env.value}/requirement/{n}")
            name = requirement_name(spec)
            declared.add(name)
            yield Quad(env, T.declares, node)
            parts += [Quad(node, T.type, T.Requirement), Quad(node, T.spec, text(spec)),
                      Quad(node, T.package, text(name))]
            if req.get("source"):
                parts.append(Quad(node, T.declared_in, text(req["source"])))
            if req.get("original"):
                parts.append(Quad(node, T.original, text(req["original"])))
        for name, version in sorted(parse_pins(e.lock or "").items()):
            node = NamedNode(f"{env.value}/package/{ids.segment(name)}")
            yield Quad(env, T.installed, node)
            parts += [Quad(node, T.type, T.InstalledPackage), Quad(node, T.doap_name, text(name)),
                      Quad(node, T.revision, text(version)),
                      Quad(node, T.declared, boolean(name in declared)),
                      Quad(node, T.see_also, NamedNode(ids.package_version(name, version)))]
        yield from parts

    def notebook(
        self, nb: Notebook, commit_iri: str, check: NamedNode, env: NamedNode | None,
        agent: NamedNode, repo: NamedNode,
    ) -> Iterator[Quad]:
        nb_iri = ids.notebook(commit_iri, nb.path)
        plan = NamedNode(nb_iri)
        if self.first(nb_iri):
            yield from self.notebook_plan(plan, nb, commit_iri)
            yield Quad(plan, T.repository, repo)
        if nb.run is None:
            return
        r = nb.run
        run = NamedNode(ids.run(check.value, nb.path))
        yield Quad(run, T.type, T.Trial)
        yield Quad(run, T.type, T.Activity)
        yield Quad(run, T.is_part_of, check)
        yield Quad(run, T.used, plan)
        # Shortcuts: the plan the run followed (PROV says it through the association
        # below) and its repository, one step away, because counting runs by notebook
        # and repository facts is what the questions about an audit do.
        yield Quad(run, T.notebook, plan)
        yield Quad(run, T.repository, repo)
        if env is not None:
            yield Quad(run, T.used, env)
        yield Quad(run, T.was_associated_with, agent)
        yield Quad(run, T.verdict, text(r.verdict))
        yield Quad(run, T.seconds, Literal(float(r.seconds)))
        if r.finished_at:
            yield Quad(run, T.ended, when(r.finished_at))
        for prop, value in ((T.reason, r.reason), (T.exception, r.exception),
                            (T.message, r.message)):
            if value:
                yield Quad(run, prop, text(value))
        if r.failing_cell is not None:
            yield Quad(run, T.failing_cell, NamedNode(ids.cell(nb_iri, r.failing_cell)))
        for item in r.restored:
            yield Quad(run, T.restored, text(item))
        association = NamedNode(f"{run.value}/association")
        yield Quad(run, T.qualified_association, association)
        yield Quad(association, T.type, T.Association)
        yield Quad(association, T.agent, agent)
        yield Quad(association, T.had_plan, plan)
        outputs = NamedNode(f"{run.value}/outputs")
        yield Quad(run, T.generated, outputs)
        yield Quad(outputs, T.type, T.Output)
        yield Quad(outputs, T.type, T.Entity)
        yield Quad(outputs, T.was_generated_by, run)
        yield Quad(outputs, T.was_derived_from, plan)
        for c in r.cells:
            cell_iri = ids.cell(nb_iri, c.index)
            step = NamedNode(cell_iri)
            if self.first(cell_iri):
                yield Quad(step, T.type, T.Cell)
                yield Quad(step, T.type, T.Step)
                yield Quad(step, T.is_step_of_plan, plan)
                yield Quad(step, T.index, Literal(int(c.index)))
            execution = NamedNode(f"{run.value}/cell/{int(c.index)}")
            yield Quad(execution, T.type, T.CellExecution)
            yield Quad(execution, T.corresponds_to_step, step)
            yield Quad(execution, T.is_part_of, run)
            yield Quad(execution, T.status, text(c.status))
            if c.reason:
                # An equivalent cell's reason is the normaliser that made it equal.
                yield Quad(execution, T.normaliser if c.status == "equivalent" else T.reason,
                           text(c.reason))
            if c.detail:
                yield Quad(execution, T.detail, text(c.detail))
            if c.seconds is not None:
                yield Quad(execution, T.seconds, Literal(float(c.seconds)))

    def notebook_plan(self, plan: NamedNode, nb: Notebook, commit_iri: str) -> Iterator[Quad]:
        yield Quad(plan, T.type, T.Notebook)
        yield Quad(plan, T.type, T.Plan)
        yield Quad(plan, T.is_part_of, NamedNode(commit_iri))
        yield Quad(plan, T.path, text(nb.path))
        yield Quad(plan, T.valid, boolean(nb.valid))
        info = NotebookInfo(path=nb.path, language=nb.language, kernel_name=nb.kernel_name,
                            python_version=nb.python_version)
        yield Quad(plan, T.python3, boolean(nb.valid and info.is_python))
        yield Quad(plan, T.cell_count, Literal(int(nb.cells)))
        yield Quad(plan, T.code_cell_count, Literal(int(nb.code_cells)))
        yield Quad(plan, T.has_outputs, boolean(nb.has_outputs))
        yield Quad(plan, T.top_down, boolean(nb.top_down))
        for prop, value in ((T.error, nb.error), (T.nbformat, nb.nbformat),
                            (T.language, nb.language), (T.kernel, nb.kernel_name),
                            (T.python_version, nb.python_version)):
            if value:
                yield Quad(plan, prop, text(value))
        for module in nb.imports:
            yield Quad(plan, T.imports, text(module))


def quads(results: Results) -> Iterator[Quad]:
    """Every triple of the results, in the default graph, each entity once."""
    mapper = _Mapper()
    for audit in results.audits:
        node = NamedNode(ids.audit(audit.name))
        yield Quad(node, T.type, T.Audit)
        yield Quad(node, T.type, T.Activity)
        yield Quad(node, T.title, text(audit.name))
        if audit.started_at:
            yield Quad(node, T.started, when(audit.started_at))
    for check in results.checks:
        yield from mapper.check(check)
