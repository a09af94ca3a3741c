"""The results model: plain data that every stage returns and every report renders.

Everything here is a dataclass of JSON-compatible values, so a result can be stored,
sent over the wire and rendered (terminal, JSON, HTML, JUnit, badge) without the
stage that produced it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, TypeVar


class CellStatus(str, enum.Enum):
    """The outcome for one code cell (README, *Verdicts*)."""

    IDENTICAL = "identical"
    EQUIVALENT = "equivalent"
    DIFFERENT = "different"
    MISSING_OUTPUT = "missing-output"
    EXTRA_OUTPUT = "extra-output"
    VOLATILE = "volatile"
    ERROR = "error"
    NOT_RUN = "not-run"

    def __str__(self) -> str:
        return self.value


class Verdict(str, enum.Enum):
    """The outcome for one notebook; a repository takes the worst of its notebooks'."""

    REPRODUCED = "reproduced"
    REPRODUCED_EQUIVALENT = "reproduced-equivalent"
    DIFFERS = "differs"
    FAILED = "failed"
    TIMEOUT = "timeout"
    KERNEL_DIED = "kernel-died"
    INSTALL_FAILED = "install-failed"
    NOT_CHECKED = "not-checked"

    def __str__(self) -> str:
        return self.value

    @property
    def ok(self) -> bool:
        """True for the verdicts that make `nbrepro check` exit 0."""
        return self in (Verdict.REPRODUCED, Verdict.REPRODUCED_EQUIVALENT)

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


# Worst last. `not-checked` sits between the good and the bad verdicts: a repository
# with one reproduced and one unreadable notebook has not fully reproduced, but
# nothing in it was shown to diverge either.
_SEVERITY = {
    Verdict.REPRODUCED: 0,
    Verdict.REPRODUCED_EQUIVALENT: 1,
    Verdict.NOT_CHECKED: 2,
    Verdict.DIFFERS: 3,
    Verdict.FAILED: 4,
    Verdict.TIMEOUT: 5,
    Verdict.KERNEL_DIED: 6,
    Verdict.INSTALL_FAILED: 7,
}


class CheckState(str, enum.Enum):
    """Where a check is in its life: the database, the server and the panel use these
    words (stored as these strings)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its process ended before it finished
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def active(self) -> bool:
        """Still queued or running: it may change."""
        return self in (CheckState.QUEUED, CheckState.RUNNING)


def worst(verdicts: list[Verdict]) -> Verdict | None:
    return max(verdicts, key=lambda v: v.severity) if verdicts else None


T = TypeVar("T", bound="Record")


class Record:
    """Mixin: dict round trip for nested dataclasses and enums."""

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(self)
        return plain

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        kwargs: dict[str, Any] = {}
        hints = _FIELD_TYPES.get(cls.__name__, {})
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            kind = hints.get(f.name)
            if kind is not None and value is not None:
                value = kind(value)
            kwargs[f.name] = value
        return cls(**kwargs)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """JSON-ready copy of `value`: dataclasses as dicts, enums as their values. One pass
    (dataclasses.asdict deep-copies every value first: twice as slow)."""
    if isinstance(value, enum.Enum):
        return value.value
    names = _FIELD_NAMES.get(type(value))
    if names is None and is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class NotebookInfo(Record):
    """What the scan stage learns about one notebook without running it."""

    path: str  # relative to the repository root, POSIX separators
    valid: bool = True
    error: str | None = None  # why it could not be read, when not valid
    nbformat: str | None = None
    language: str | None = None
    kernel_name: str | None = None
    python_version: str | None = None  # from metadata.language_info.version
    cells: int = 0
    code_cells: int = 0
    has_outputs: bool = False
    top_down: bool = True  # stored execution counts increase from top to bottom
    imports: list[str] = field(default_factory=list)
    # Where the code reads as Python 2 only (`print statement in In [3]`), for a
    # notebook whose metadata does not say which Python it is.
    python2_code: str | None = None

    @property
    def is_python(self) -> bool:
        """Python 3 (the only Python a kernel can run today)."""
        return self.python_major in ("3", None) and (
            (self.language or "").lower() == "python"
            or (self.kernel_name or "").lower() in ("python", "python3")
        )

    @property
    def python_major(self) -> str | None:
        """'2' or '3' when the notebook's metadata says which."""
        kernel = (self.kernel_name or "").lower()
        if kernel.startswith("python2") or (self.python_version or "").startswith("2."):
            return "2"
        if kernel.startswith("python3") or (self.python_version or "").startswith("3."):
            return "3"
        return "2" if self.python2_code else None


@dataclass
class Requirement(Record):
    """One declared requirement and where it was declared."""

    spec: str  # a PEP 508 line, as passed to the resolver
    source: str  # the file it came from, relative to the repository
    original: str | None = None  # the line as written, when it had to be translated
    # Not declared by the repository: added by `--restore` for an undeclared import,
    # after the registry showed that its wheel provides the module.
    inferred: bool = False
    line: int | None = None  # its line in `source` (requirements files)

    @property
    def declared_at(self) -> str:
        """Where the repository declared it: `file:line`, or the file."""
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass
class InferredImport(Record):
    """One undeclared import `--restore` looked up: the distribution accepted for it
    (with the evidence), or the candidate refused (with why)."""

    module: str
    distribution: str | None  # the candidate asked about; None when no name was asked
    accepted: bool
    detail: str  # the evidence (the wheel that provides the module), or why refused
    notebook: str | None = None  # a ModuleNotFoundError of this notebook asked for it


@dataclass
class Spec(Record):
    """What the repository declares about its environment, and what it uses."""

    files: list[str] = field(default_factory=list)  # dependency files found (relative)
    requirements: list[Requirement] = field(default_factory=list)
    python_version: str | None = None  # declared (runtime.txt, environment.yml, ...)
    local_project: str | None = None  # relative dir of a setup.py/pyproject project
    apt_packages: list[str] = field(default_factory=list)
    post_build: str | None = None
    skipped: list[str] = field(default_factory=list)  # lines not understood, with why
    imports: list[str] = field(default_factory=list)  # top-level imports of all notebooks
    # imports no dependency file declares (the repository's own modules left out)
    undeclared_imports: list[str] = field(default_factory=list)
    # `--restore`: what was looked up for undeclared imports, accepted or refused.
    inferred: list[InferredImport] = field(default_factory=list)
    # Files that look like dependency files under names repo2docker does not read
    # (`conda_env.yaml`, `requirements/base.txt`, a README with `pip install`).
    candidate_files: list[str] = field(default_factory=list)


@dataclass
class Lock(Record):
    """The resolve stage's result: exact pins, or why there are none."""

    ok: bool
    resolver: str
    python_version: str
    text: str = ""  # requirements.txt-format lock with exact pins
    pins: dict[str, str] = field(default_factory=dict)  # normalised name -> version
    failed_requirement: str | None = None
    message: str | None = None  # the resolver's own message on failure
    cause: str | None = None  # on failure, nbrepro.stages.install_failure.InstallCause
    seconds: float = 0.0
    cached: bool = False
    key: str = ""
    exclude_newer: str | None = None  # the date the repository's requirements were cut at
    # `--as-of auto`: where that date came from; `dating`: "as-of" when the dated
    # resolution was used, else why it stepped forward to today's packages.
    as_of_source: str | None = None
    dating: str | None = None
    # The ladder's rung per package: those taken as of today because, as of the date,
    # they could not be resolved or built (the rest are as of the date).
    forwarded: list[str] = field(default_factory=list)
    # Packages nbrepro added for the kernel (ipykernel and what it needs beyond the
    # repository's own pins), name -> version: not cut off by `exclude_newer`.
    kernel_pins: dict[str, str] = field(default_factory=dict)


@dataclass
class EnvironmentResult(Record):
    """The build stage's result: an environment that can start a kernel, or why not."""

    ok: bool
    backend: str
    key: str = ""  # content hash of (lock, python, backend, ...)
    python: str | None = None  # the interpreter inside the environment
    python_version: str | None = None
    requested_python: str | None = None
    location: str | None = None
    cached: bool = False
    seconds: float = 0.0
    log: str = ""
    failed_requirement: str | None = None
    message: str | None = None
    cause: str | None = None  # on failure, nbrepro.stages.install_failure.InstallCause
    sandbox: str = "none"
    network: bool = False


@dataclass
class CellResult(Record):
    index: int  # position among all cells of the notebook
    status: CellStatus
    reason: str | None = None  # normaliser name for equivalent, description otherwise
    detail: str | None = None  # a longer human-readable description
    execution_seconds: float | None = None
    # From the comparer (nbrepro.compare); all optional, absent for identical cells.
    normalisers: list[str] = field(default_factory=list)  # every normaliser a match needed
    warnings: list[str] = field(default_factory=list)  # new Deprecation/FutureWarnings
    image_score: float | None = None  # lowest similarity of a changed image in the cell
    image_diff: str | None = None  # base64 PNG difference image, for the report
    nbdime_diff: list[dict[str, Any]] | None = None  # the cell's diff in nbdime format
    suggested_sanitiser: str | None = None  # for volatile cells: `regex: ...\nreplace: ...`
    # For cells that did not reproduce (different, missing/extra output, error): the
    # stored and re-run outputs in nbformat's JSON shape, so a report can show both.
    # Values longer than the verdict stage's limit are cut, and the output then carries
    # `nbrepro_truncated`: {key: original length}.
    stored_outputs: list[dict[str, Any]] | None = None
    rerun_outputs: list[dict[str, Any]] | None = None
    execution_count: int | None = None  # the stored `In [n]` a user sees in the notebook
    # For cells that changed: the unseeded random calls of their source (a hint, not
    # a verdict; nbrepro.compare.unseeded), as written: `np.random.rand`.
    unseeded: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How a user finds the cell in the notebook."""
        return cell_label(self.index, self.execution_count)


def cell_label(index: int, execution_count: int | None) -> str:
    """`In [n]` as the notebook shows it, else the cell's position (markdown included)."""
    return f"In [{execution_count}]" if execution_count is not None else f"cell {index}"


class CauseKind(str, enum.Enum):
    """What can explain a notebook's changed cells (README, *Verdicts*): a fixed
    vocabulary the reports and the JupyterLab panel render and count."""

    UNSEEDED_RANDOM = "unseeded-random"  # the cells draw from an unseeded generator
    NEEDS_NETWORK = "needs-network"  # it failed for want of the network
    EARLIER_REWRITE = "earlier-rewrite"  # an earlier notebook changed a file it reads
    LIBRARY_REPR = "library-repr"  # a library's repr changed (a normaliser matched it)
    VOLATILE = "volatile"  # the cells differ between two runs in the same environment

    def __str__(self) -> str:
        return self.value


@dataclass
class RootCause(Record):
    """One cause of a notebook's changes, said once with the cells it explains.

    `summary` may quote the repository (file names, the calls its code makes): reports
    render it as text, never as markup."""

    kind: CauseKind
    summary: str
    cells: list[int] = field(default_factory=list)  # indices among all the notebook's cells


@dataclass
class ParameterRun(Record):
    """How a parameterised notebook was run: papermill's recorded parameters, or the
    defaults of its `parameters` cell, and what the user overrode (`-p`, `-f`)."""

    # "papermill": `metadata.papermill.parameters` were injected again, as papermill
    # injected them; "defaults": a `parameters` cell without papermill metadata.
    origin: str
    values: dict[str, Any] = field(default_factory=dict)  # what the run was given
    overridden: list[str] = field(default_factory=list)  # names the user set (-p, -f)
    recorded: dict[str, Any] = field(default_factory=dict)  # what papermill had recorded
    defaults: dict[str, str] = field(default_factory=dict)  # the parameters cell: name -> text
    injected_cell: int | None = None  # the stored `injected-parameters` cell (index)

    @property
    def exploratory(self) -> bool:
        """Run with parameters the stored outputs were not made with."""
        return bool(self.overridden)

    def describe(self) -> str:
        """One line on the parameters the notebook ran with, for the reports."""
        shown = ", ".join(f"{name}={_short(value)}" for name, value in self.values.items())
        if self.exploratory:
            changed = ", ".join(f"{name}={_short(self.values.get(name))}"
                                for name in self.overridden)
            recorded = ", ".join(f"{name}={_short(self.recorded[name])}"
                                 for name in self.overridden if name in self.recorded)
            was = f"; the stored outputs were made with {recorded}" if recorded else ""
            return f"exploratory run with parameters set by -p/-f ({changed}{was})"
        if self.origin == "papermill":
            return (f"ran with the parameters papermill recorded ({shown})" if shown
                    else "a papermill notebook, run without parameters as papermill ran it")
        defaults = ", ".join(f"{n}={v}" for n, v in self.defaults.items())
        return f"ran with the defaults of its parameters cell ({defaults or 'none found'})"


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# The orders a notebook's cells can be run in: top to bottom, or the order of their
# stored execution counts (the order they were last run in before the notebook was saved).
TOP_DOWN = "top-down"
STORED_COUNT = "stored-count"


@dataclass
class RunAttempt(Record):
    """One run of a notebook (in one cell order, with what `--restore` had added), and
    its verdict."""

    order: str  # TOP_DOWN or STORED_COUNT
    verdict: Verdict
    reason: str | None = None
    seconds: float = 0.0
    added: list[str] = field(default_factory=list)  # `--restore`: distributions added before it
    exception: str | None = None
    message: str | None = None


@dataclass
class NotebookResult(Record):
    path: str
    verdict: Verdict
    reason: str | None = None  # one line saying why, for every verdict but `reproduced`
    exception: str | None = None  # exception class name for failed
    message: str | None = None  # exception message (first line)
    failing_cell: int | None = None
    cells: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0
    info: NotebookInfo | None = None
    # The repository's own settings ([tool.nbrepro], sanitize files) that decided this
    # verdict, one line each; empty when nbrepro's defaults give the same verdict.
    repo_settings: list[str] = field(default_factory=list)
    verdict_without_repo_settings: Verdict | None = None  # what the defaults give
    # A deliberate or harmless skip (`skip = true`, no stored outputs, no code): the
    # verdict is `not-checked`, but like a skipped test it does not fail the run.
    skipped: bool = False
    parameters: ParameterRun | None = None  # for a parameterised notebook
    execution_order: str = TOP_DOWN  # the cell order of the run this verdict is from
    # Every run when there was more than one: the stored execution counts were not
    # top-down (top-down first), or `--restore` added distributions and ran it again.
    attempts: list[RunAttempt] = field(default_factory=list)
    # `--restore`: the distributions the notebook needed that nobody declared (inferred
    # from its imports or added after a ModuleNotFoundError).
    restored: list[str] = field(default_factory=list)
    # A second run in the same environment (every notebook with --twice, else one that
    # differed): "completed", or how it ended early (its outputs then unused); None: one
    # run. `volatile_cells`: the cells (indices) whose outputs changed between the runs.
    rerun: str | None = None
    volatile_cells: list[int] = field(default_factory=list)
    # Why the notebook could not be judged, in a fixed vocabulary reports count: an
    # install-failed cause (nbrepro.stages.install_failure) or `needs-network`.
    cause: str | None = None
    # The repository's own files this notebook changed in the copy later notebooks run
    # in (a notebook that fails after it is run again in a fresh copy).
    rewrote: list[str] = field(default_factory=list)
    # What explains its changed cells, each said once (nbrepro.stages.causes).
    causes: list[RootCause] = field(default_factory=list)

    def label_of(self, index: int) -> str:
        """Cell `index` as a user finds it in the notebook (`In [n]`)."""
        for cell in self.cells:
            if cell.index == index:
                return cell.label
        return cell_label(index, None)

    @property
    def failing_label(self) -> str | None:
        """The failing cell as a user finds it in the notebook (`In [n]`)."""
        return None if self.failing_cell is None else self.label_of(self.failing_cell)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotebookResult:
        result = super().from_dict(data)
        result.cells = [CellResult.from_dict(c) for c in data.get("cells", [])]
        if data.get("info") is not None:
            result.info = NotebookInfo.from_dict(data["info"])
        if data.get("parameters") is not None:
            result.parameters = ParameterRun.from_dict(data["parameters"])
        result.attempts = [RunAttempt.from_dict(a) for a in data.get("attempts") or []]
        # results stored before causes were recorded have none
        result.causes = [RootCause.from_dict(c) for c in data.get("causes") or []]
        return result


@dataclass
class RepositoryInfo(Record):
    source: str  # what the user gave: a path or a URL
    commit: str | None = None
    path: str | None = None  # the local directory that was checked
    ref: str | None = None  # the branch, tag or commit asked for (git URLs)
    subdir: str | None = None  # the subfolder checked, relative to the repository


@dataclass
class CheckResult(Record):
    """Everything one `nbrepro check` found: the one model every report renders."""

    repository: RepositoryInfo
    notebooks: list[NotebookResult] = field(default_factory=list)
    spec: Spec | None = None
    lock: Lock | None = None
    environment: EnvironmentResult | None = None
    started_at: str | None = None
    seconds: float = 0.0
    nbrepro_version: str = ""
    # Every setting the audited repository supplied for its own check, one line each.
    repo_settings: list[str] = field(default_factory=list)
    check_id: int | None = None  # its id in the results database (`nbrepro show ID`)
    warnings: list[str] = field(default_factory=list)  # said in every report
    # Ctrl-C or SIGTERM stopped the check: `unfinished` notebooks were never judged.
    interrupted: bool = False
    unfinished: list[str] = field(default_factory=list)
    restore: str = "none"  # `--restore`: none (only what is declared) or auto

    @property
    def verdict(self) -> Verdict | None:
        verdicts = [n.verdict for n in self.notebooks]
        if self.interrupted:  # not everything was checked: never `reproduced`
            verdicts.append(Verdict.NOT_CHECKED)
        return worst(verdicts)

    @property
    def inferred_requirements(self) -> list[str]:
        """The distributions `--restore` added that the repository does not declare."""
        return [r.spec for r in (self.spec.requirements if self.spec else []) if r.inferred]

    @property
    def decided_by_repo_settings(self) -> bool:
        """Whether the repository's own settings decided any notebook's verdict."""
        return any(n.repo_settings for n in self.notebooks)

    @property
    def ok(self) -> bool:
        return (bool(self.notebooks) and not self.interrupted
                and all(n.verdict.ok for n in self.notebooks))

    def passed(self, strict: bool = False) -> bool:
        """Whether `nbrepro check` exits 0: everything checked reproduced. Skipped
        notebooks do not count against it (as pytest treats skips) unless `strict`."""
        if self.interrupted or not self.notebooks:
            return False
        return all(n.verdict.ok or (n.skipped and not strict) for n in self.notebooks)

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for nb in self.notebooks:
            counts[nb.verdict.value] = counts.get(nb.verdict.value, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        verdict = self.verdict
        data["verdict"] = verdict.value if verdict else None
        data["summary"] = self.summary()
        data["decided_by_repo_settings"] = self.decided_by_repo_settings
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            repository=RepositoryInfo.from_dict(data["repository"]),
            notebooks=[NotebookResult.from_dict(n) for n in data.get("notebooks", [])],
            spec=_spec_from_dict(data.get("spec")),
            lock=Lock.from_dict(data["lock"]) if data.get("lock") else None,
            environment=(
                EnvironmentResult.from_dict(data["environment"])
                if data.get("environment")
                else None
            ),
            started_at=data.get("started_at"),
            seconds=data.get("seconds", 0.0),
            nbrepro_version=data.get("nbrepro_version", ""),
            repo_settings=list(data.get("repo_settings") or []),
            check_id=data.get("check_id"),
            warnings=list(data.get("warnings", [])),
            interrupted=bool(data.get("interrupted", False)),
            unfinished=list(data.get("unfinished", [])),
            restore=data.get("restore") or "none",
        )


def _spec_from_dict(data: dict[str, Any] | None) -> Spec | None:
    if not data:
        return None
    spec = Spec.from_dict(data)
    spec.requirements = [Requirement.from_dict(r) for r in data.get("requirements", [])]
    spec.inferred = [InferredImport.from_dict(i) for i in data.get("inferred") or []]
    return spec


# Fields whose JSON value must be turned back into an enum.
_FIELD_TYPES: dict[str, dict[str, Any]] = {
    "CellResult": {"status": CellStatus},
    "NotebookResult": {"verdict": Verdict, "verdict_without_repo_settings": Verdict},
    "RunAttempt": {"verdict": Verdict},
    "RootCause": {"kind": CauseKind},
}
