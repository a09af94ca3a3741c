"""The audit's funnel and tables, computed from the database.

The funnel uses the published study's stages, each a subset of the one before:
notebooks found -> Python notebooks -> in repositories with declared dependencies ->
environment built -> ran without error -> identical. nbrepro then splits "ran
without error" finer: identical, equivalent after a named normaliser, volatile
(only cells that differ between two runs of the same environment changed; with
`--twice`), and really different.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import func, select

from nbrepro.stages.install_failure import install_cause
from nbrepro.store import (
    CHECKED,
    AuditRepositoryRow,
    AuditRow,
    CellRow,
    CheckRow,
    EnvironmentRow,
    NotebookRow,
    PublicationRow,
    RunRow,
    Store,
)

# Samuel & Mietchen, GigaScience 2024 (PubMed Central articles linking GitHub
# repositories): the same stages, for comparison line by line.
PUBLISHED = {
    "found": 27271, "python": 22578, "declared": 15817, "built": 10388, "ran": 1203,
    "identical": 879,
}
STAGES = (
    ("found", "notebooks found"),
    ("python", "Python notebooks"),
    ("declared", "in repositories with declared dependencies"),
    ("built", "environment built"),
    ("ran", "ran without error"),
    ("identical", "identical"),
)
RAN = ("reproduced", "reproduced-equivalent", "differs")
VERDICT_COLUMNS = ("reproduced", "reproduced-equivalent", "differs", "failed", "timeout",
                   "kernel-died", "install-failed", "not-checked")
_NOT_DEPENDENCIES = {"runtime.txt", ".python-version", "apt.txt", "postBuild", "start"}

@dataclass
class Table:
    name: str  # a file name's stem (CSV) and the JSON key
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows,
                "note": self.note}


@dataclass
class AuditReport:
    audit: dict[str, Any]
    funnel: dict[str, int]
    split: dict[str, int]
    tables: list[Table] = field(default_factory=list)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"audit": self.audit, "funnel": self.funnel, "split": self.split,
                "published": PUBLISHED,
                "tables": {t.name: t.to_dict() for t in self.tables}}


@dataclass
class _Notebook:
    repo_id: int
    url: str
    path: str
    python: bool
    declared: bool
    env_ok: bool
    verdict: str | None
    exception: str | None
    reason: str | None
    python_version: str | None
    volatile: bool = False
    normalisers: set[str] = field(default_factory=set)
    restored: bool = False  # `--restore` added something this notebook needed

    @property
    def stages(self) -> dict[str, bool]:
        built = self.declared and self.verdict not in ("install-failed", "not-checked", None)
        ran = built and self.verdict in RAN
        return {"found": True, "python": self.python, "declared": self.python and self.declared,
                "built": self.python and built, "ran": self.python and ran,
                "identical": self.python and ran and self.verdict == "reproduced"
                and not self.volatile}

    @property
    def split(self) -> str | None:
        if self.verdict not in RAN:
            return None
        if self.verdict == "differs":
            return "differs"
        if self.volatile:
            return "volatile"
        return "identical" if self.verdict == "reproduced" else "equivalent"


def _share(count: int, of: int) -> str:
    return f"{100 * count / of:.1f} %" if of else "-"


def _is_python(language: str | None, kernel: str | None) -> bool:
    return (language or "").lower() == "python" or (kernel or "").lower().startswith("python")


def _declares(env: EnvironmentRow | None) -> bool:
    if env is None:
        return False
    files = {PurePosixPath(f).name for f in env.declared_files or []}
    return bool(env.requirements) or bool(files - _NOT_DEPENDENCIES)


def build_report(store: Store, audit: AuditRow) -> AuditReport:
    with store.session() as s:
        repos = s.scalars(select(AuditRepositoryRow).where(
            AuditRepositoryRow.audit_id == audit.id).order_by(AuditRepositoryRow.id)).all()
        checks = {r.check_id for r in repos if r.status == CHECKED and r.check_id}
        by_check = {r.check_id: r for r in repos if r.status == CHECKED and r.check_id}
        envs = {e.check_id: e for e in s.scalars(
            select(EnvironmentRow).where(EnvironmentRow.check_id.in_(checks)))} if checks else {}
        rows = s.execute(
            select(NotebookRow, RunRow)
            .join(RunRow, RunRow.notebook_id == NotebookRow.id, isouter=True)
            .join(CheckRow, CheckRow.id == NotebookRow.check_id)
            .join(AuditRepositoryRow, AuditRepositoryRow.check_id == CheckRow.id)
            .where(AuditRepositoryRow.audit_id == audit.id,
                   AuditRepositoryRow.status == CHECKED)
            .order_by(AuditRepositoryRow.id, NotebookRow.id)
        ).all()
        cell_rows = s.execute(
            select(CellRow.run_id, CellRow.status, CellRow.reason, func.count())
            .join(RunRow, RunRow.id == CellRow.run_id)
            .join(NotebookRow, NotebookRow.id == RunRow.notebook_id)
            .join(AuditRepositoryRow, AuditRepositoryRow.check_id == NotebookRow.check_id)
            .where(AuditRepositoryRow.audit_id == audit.id,
                   AuditRepositoryRow.status == CHECKED,
                   CellRow.status.in_(("volatile", "equivalent")))
            .group_by(CellRow.run_id, CellRow.status, CellRow.reason)
        ).all()
        pubs = s.scalars(select(PublicationRow).join(AuditRepositoryRow).where(
            AuditRepositoryRow.audit_id == audit.id)).all()
        publications: dict[int, list[PublicationRow]] = defaultdict(list)
        for pub in pubs:
            publications[pub.audit_repository_id].append(pub)

        volatile: set[int] = set()
        normalisers: dict[int, set[str]] = defaultdict(set)
        for run_id, status, reason, _count in cell_rows:
            if status == "volatile":
                volatile.add(run_id)
            elif reason:
                normalisers[run_id].update(n.strip() for n in reason.split(",") if n.strip())

        restoring = (audit.options or {}).get("check", {}).get("restore") == "auto"
        restored = store.restored(sorted(checks)) if restoring else {}
        notebooks: list[_Notebook] = []
        for nb, run in rows:
            repo = by_check[nb.check_id]
            env = envs.get(nb.check_id)
            notebooks.append(_Notebook(
                repo_id=repo.id, url=repo.url, path=nb.path,
                python=_is_python(nb.language, nb.kernel_name), declared=_declares(env),
                env_ok=bool(env and env.ok), verdict=run.verdict if run else None,
                exception=run.exception if run else None, reason=run.reason if run else None,
                python_version=".".join((nb.python_version or "").split(".")[:2]) or None,
                volatile=bool(run and run.id in volatile),
                normalisers=normalisers.get(run.id, set()) if run else set(),
                restored=(nb.check_id, nb.path) in restored,
            ))
        summary = {"id": audit.id, "name": audit.name, "sources": audit.sources,
                   "created_at": audit.created_at.isoformat(timespec="seconds"),
                   "options": audit.options}
        report = AuditReport(audit=summary, funnel={}, split={})
        _funnel(report, notebooks, restoring)
        report.tables.append(_repositories(audit, repos, notebooks))
        report.tables.append(_verdicts(notebooks))
        report.tables.append(_normalisers(notebooks))
        report.tables.append(_exceptions(notebooks))
        report.tables.append(_install_failures(repos, envs, notebooks, by_check))
        report.tables.append(_not_checked(notebooks))
        years = {r.id: (r.commit_date or "")[:4] or "unknown" for r in repos}
        report.tables.append(_by("by_year", "Verdicts by repository year (last commit checked)",
                                 "year", notebooks, lambda nb: [years[nb.repo_id]]))
        report.tables.append(_by("by_python", "Verdicts by the notebooks' Python version",
                                 "python", notebooks, lambda nb: [nb.python_version or "unknown"]))
        if pubs:
            report.tables.append(_by(
                "by_journal", "Verdicts by journal", "journal", notebooks,
                lambda nb: sorted({p.journal for p in publications[nb.repo_id] if p.journal})
                or ["unknown"]))
            report.tables.append(_by(
                "by_publication_year", "Verdicts by publication year", "year", notebooks,
                lambda nb: sorted({str(p.year) for p in publications[nb.repo_id] if p.year})
                or ["unknown"]))
        return report


def _funnel(report: AuditReport, notebooks: list[_Notebook], restoring: bool = False) -> None:
    counts = {key: sum(nb.stages[key] for nb in notebooks) for key, _ in STAGES}
    report.funnel = counts
    rows: list[list[Any]] = []
    previous = None
    for key, label in STAGES:
        count = counts[key]
        published = PUBLISHED[key]
        prev_pub = PUBLISHED[STAGES[[k for k, _ in STAGES].index(key) - 1][0]] \
            if previous is not None else None
        rows.append([label, count, _share(count, previous) if previous is not None else "",
                     published, _share(published, prev_pub) if prev_pub else ""])
        previous = count
    if restoring:
        # Not a stage of the published study (it restored nothing): which of the
        # notebooks that ran without error needed what `--restore` added.
        after = sum(nb.stages["ran"] and nb.restored and nb.verdict != "differs"
                    for nb in notebooks)
        report.funnel["reproduced_after_restoration"] = after
        rows.append(["reproduced after restoration (of ran without error)", after,
                     _share(after, counts["ran"]), "-", ""])
    report.tables.append(Table(
        "funnel", "Funnel (the published study's stages)",
        ["stage", "notebooks", "share of previous", "published study", "study share"], rows,
        note="published study: Samuel & Mietchen, GigaScience 2024 (27,271 notebooks from "
             "2,660 repositories linked by PubMed Central articles)"))
    ran = [nb for nb in notebooks if nb.stages["ran"]]
    split = Counter(nb.split for nb in ran)
    report.split = {k: split.get(k, 0) for k in ("identical", "equivalent", "volatile",
                                                 "differs")}
    labels = {"identical": "reproduced (identical)",
              "equivalent": "reproduced-equivalent (after a named normaliser)",
              "volatile": "volatile (only cells that vary between two runs changed)",
              "differs": "differs"}
    report.tables.append(Table(
        "split", "Ran without error, split by nbrepro",
        ["outcome", "notebooks", "share of ran without error"],
        [[labels[k], v, _share(v, len(ran))] for k, v in report.split.items()]))


def _repositories(audit: AuditRow, repos: Iterable[AuditRepositoryRow],
                  notebooks: list[_Notebook]) -> Table:
    repos = list(repos)
    states = Counter(r.status for r in repos)
    problems = audit.input_problems or []
    duplicates = sum(1 for p in problems if str(p.get("reason", "")).startswith("duplicate"))
    with_notebooks = {nb.repo_id for nb in notebooks}
    checked = [r for r in repos if r.status == CHECKED]
    rows: list[list[Any]] = [
        ["entries read", audit.entries],
        ["not a repository (malformed)", len(problems) - duplicates],
        ["duplicate entries", duplicates],
        ["repositories", len(repos)],
        ["unreachable", states.get("unreachable", 0)],
        ["empty (no commits)", states.get("empty", 0)],
        ["nbrepro error", states.get("error", 0)],
        ["timed out", states.get("timeout", 0)],
        ["not yet checked", states.get("pending", 0) + states.get("running", 0)],
        ["checked", len(checked)],
        ["checked, without notebooks", sum(1 for r in checked if r.id not in with_notebooks)],
        ["checked, with notebooks", sum(1 for r in checked if r.id in with_notebooks)],
    ]
    return Table("repositories", "Repositories", ["repositories", "count"], rows)


def _verdict_row(nbs: list[_Notebook]) -> list[int]:
    counts = Counter(nb.verdict for nb in nbs)
    return [len(nbs), *(counts.get(v, 0) for v in VERDICT_COLUMNS)]


def _verdicts(notebooks: list[_Notebook]) -> Table:
    counts = Counter(nb.verdict or "unknown" for nb in notebooks)
    rows: list[list[Any]] = [[v, counts[v], _share(counts[v], len(notebooks))]
                             for v in (*VERDICT_COLUMNS, "unknown") if counts.get(v)]
    return Table("verdicts", "Verdicts of all notebooks (also those without declared "
                 "dependencies)", ["verdict", "notebooks", "share"], rows)


def _normalisers(notebooks: list[_Notebook]) -> Table:
    counts = Counter(n for nb in notebooks if nb.verdict == "reproduced-equivalent"
                     for n in nb.normalisers)
    return Table("normalisers", "Normalisers that made reproduced-equivalent notebooks equal",
                 ["normaliser", "notebooks"], [[n, c] for n, c in counts.most_common()])


def _exceptions(notebooks: list[_Notebook], top: int = 15) -> Table:
    failed = [nb for nb in notebooks if nb.verdict == "failed"]
    counts = Counter(nb.exception or "unknown" for nb in failed)
    examples: dict[str, list[str]] = defaultdict(list)
    for nb in failed:
        name = nb.exception or "unknown"
        if len(examples[name]) < 3:
            examples[name].append(f"{nb.url} {nb.path}")
    rows: list[list[Any]] = [[name, count, _share(count, len(failed)), "; ".join(examples[name])]
                             for name, count in counts.most_common(top)]
    return Table("exceptions", "Top exceptions", ["exception", "notebooks", "share of failed",
                                                  "examples"], rows)


def _install_failures(repos: Sequence[AuditRepositoryRow], envs: dict[int, EnvironmentRow],
                      notebooks: list[_Notebook], by_check: dict[int, AuditRepositoryRow]
                      ) -> Table:
    per_repo: dict[int, str] = {}
    examples: dict[str, list[str]] = defaultdict(list)
    for check_id, env in envs.items():
        repo = by_check[check_id]
        failed = [nb for nb in notebooks if nb.repo_id == repo.id
                  and nb.verdict == "install-failed"]
        if not failed:
            continue
        # the environment row keeps the tool's message: the cause results carry
        cause = install_cause(env.message or failed[0].reason).value
        per_repo[repo.id] = cause
        if len(examples[cause]) < 3:
            examples[cause].append(f"{repo.url} ({env.failed_requirement or 'unknown'})")
    repo_counts = Counter(per_repo.values())
    nb_counts = Counter(per_repo[nb.repo_id] for nb in notebooks
                        if nb.verdict == "install-failed" and nb.repo_id in per_repo)
    rows: list[list[Any]] = [[cause, repo_counts[cause], nb_counts[cause],
                              "; ".join(examples[cause])]
                             for cause, _ in repo_counts.most_common()]
    return Table("install_failures", "Install failures by cause",
                 ["cause", "repositories", "notebooks", "examples"], rows)


def _not_checked(notebooks: list[_Notebook]) -> Table:
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for nb in notebooks:
        if nb.verdict != "not-checked":
            continue
        reason, details = _general_reason(nb.reason)
        counts[reason] += 1
        if len(examples[reason]) < 3:
            examples[reason].append(f"{nb.url} {nb.path}" + (f" ({details})" if details else ""))
    return Table("not_checked", "Notebooks not checked, by reason",
                 ["reason", "notebooks", "examples"],
                 [[r, c, "; ".join(examples[r])] for r, c in counts.most_common()])


def _general_reason(reason: str | None) -> tuple[str, str]:
    """A not-checked reason without what is particular to the notebook: 'a Python 2
    notebook (kernel python2; its code is Python 2: print statement in In [5]): Python 2
    kernels cannot be built today' -> ('a Python 2 notebook', 'kernel python2; its code
    is Python 2: print statement in In [5]'). The reason ends at its first colon outside
    parentheses; the details are what the parentheses held."""
    text = re.sub(r"\s+", " ", (reason or "unknown")[:1000])  # names from notebooks: bounded
    depth, end = 0, len(text)
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == ":" and depth == 0:
            end = i
            break
    head = text[:end]
    details = "; ".join(re.findall(r"\(([^()]*)\)", head))
    while (general := re.sub(r"\s*\([^()]*\)", "", head)) != head:
        head = general  # nested parentheses: innermost first
    return head.strip()[:80] or "unknown", details[:120]


def _by(name: str, title: str, label: str, notebooks: list[_Notebook],
        groups: Any) -> Table:
    grouped: dict[str, list[_Notebook]] = defaultdict(list)
    for nb in notebooks:
        for group in groups(nb):
            grouped[group].append(nb)
    rows = [[group, *_verdict_row(nbs)] for group, nbs in
            sorted(grouped.items(), key=lambda kv: (kv[0] == "unknown", kv[0]))]
    return Table(name, title, [label, "notebooks", *VERDICT_COLUMNS], rows)
