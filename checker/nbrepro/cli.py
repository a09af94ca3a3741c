"""The `nbrepro` command line.

Exit codes: 0 every notebook checked reproduced (or reproduced-equivalent), 1 something
did not, 2 usage or input error, 3 an internal error of nbrepro, 5 no notebooks
found, 130 interrupted.

Options are parsed and validated before the pipeline is imported (nbformat and
SQLAlchemy take seconds to import), so a usage error answers at once.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nbrepro import __version__
from nbrepro.errors import CheckInterrupted, InputError, NbreproError, NoNotebooks
from nbrepro.progress import Progress

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from nbrepro.model import CheckResult, NotebookResult

EXIT_OK, EXIT_NOT_REPRODUCED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_NO_NOTEBOOKS, EXIT_INTERRUPTED = 5, 130  # 5: as pytest says "no tests collected"


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _stdout() -> Console:
    from rich.console import Console

    # Logs and CI are not terminals: do not wrap the table at 80 columns there.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


class ConsoleProgress(Progress):
    """Shows which notebook, stage and cell a check is at (a spinner on a terminal,
    one line per notebook otherwise), and says warnings on stderr."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console, self.quiet = console, quiet
        self.status: Status | None = None
        self.where = ""
        self.labels: Mapping[int, str] = {}

    def __enter__(self) -> ConsoleProgress:
        if not self.quiet and self.console.is_terminal:
            self.status = self.console.status("starting")
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def _show(self, text: str) -> None:
        if self.status is not None:
            # Text, not a string: notebook paths would be parsed as rich markup.
            from nbrepro.report.terminal import plain_text

            self.status.update(plain_text(text))

    def stage(self, stage: str, detail: str | None = None) -> None:
        self._show(f"{stage}{': ' + detail if detail else ''} {self.where}".strip())

    def notebook_started(self, path: str, index: int, total: int, cells: int,
                         labels: Mapping[int, str] | None = None) -> None:
        self.where = f"[{index + 1}/{total}] {path}"
        self.labels = labels or {}
        self._show(f"execute {self.where}")

    def cell_done(self, path: str, index: int, done: int, total: int) -> None:
        # The cell as the notebook and the results table name it, then how far along.
        label = self.labels.get(index, f"cell {index}")
        self._show(f"execute {self.where} {label} done ({done}/{total} code cells)")

    def notebook_done(self, result: NotebookResult) -> None:
        if not self.quiet and self.status is None:
            from nbrepro.plaintext import plain

            self.console.print(f"{result.verdict.value:>22}  {plain(result.path)}", markup=False)

    def warning(self, message: str) -> None:
        from nbrepro.plaintext import plain  # a repository's text: no control codes

        self.console.print(f"nbrepro: warning: {plain(message)}", markup=False, soft_wrap=True)


def _output_file(option: str, path: str) -> Path | None:
    """Fail before any work when an output file cannot be written (None: stdout)."""
    if path == "-":
        return None
    target = Path(path).expanduser()
    if target.is_dir():
        raise InputError(f"{option} {path}: is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{option} {path}: folder does not exist: {parent}")
    existed = target.exists()
    try:  # the only sure test (as root, os.access says yes to /proc)
        with target.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write: {exc.strerror}") from None
    if not existed:
        target.unlink(missing_ok=True)
    return target


def _output_targets(json_path: str | None, html_path: str | None) -> dict[str, Path | None]:
    asked = {fmt: path for fmt, path in (("json", json_path), ("html", html_path)) if path}
    if sum(path == "-" for path in asked.values()) > 1:
        raise InputError("only one output can go to stdout ('-')")
    return {fmt: _output_file(f"--{fmt}", path) for fmt, path in asked.items()}


def _output_dir(folder: Path) -> None:
    import tempfile

    if folder.exists() and not folder.is_dir():
        raise InputError(f"--output-dir {folder}: not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".nbrepro-probe-"):
            pass
    except OSError as exc:
        raise InputError(f"--output-dir {folder}: cannot write: {exc.strerror}") from None


def _write(target: Path | None, text: str) -> None:
    if target is None:
        sys.stdout.write(text)
    else:
        target.write_text(text, encoding="utf-8")


def _write_outputs(targets: Mapping[str, Path | None], result: CheckResult) -> None:
    from nbrepro.report import RENDERERS

    for fmt, target in targets.items():
        _write(target, RENDERERS[fmt](result))


def _db_option(func: Any) -> Any:
    return click.option(
        "--db", "db_url", metavar="URL|FILE",
        help="The results database: a SQLAlchemy URL or a SQLite file [default: "
             "$NBREPRO_DB or a SQLite file in the user data folder].")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nbrepro")
def cli() -> None:
    """Check whether Jupyter notebooks reproduce their stored outputs."""


class _CheckCommand(click.Command):
    """`--restore` alone means `--restore auto`: the word after it is its value only
    when it is one of the modes (else it is the path, or another option)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)
        for i, arg in enumerate(given):
            if arg == "--":
                break
            if arg == "--restore" and (i + 1 == len(given) or given[i + 1] not in
                                       ("none", "auto")):
                given[i] = "--restore=auto"
        return super().parse_args(ctx, given)


@cli.command(cls=_CheckCommand)
@click.argument("source", metavar="PATH_OR_GIT_URL")
@click.option("--json", "json_path", metavar="FILE",
              help="Write the results as JSON ('-': stdout).")
@click.option("--html", "html_path", metavar="FILE", help="Write an HTML report.")
@_db_option
@click.option("--cell-timeout", type=click.FloatRange(min=1), default=300, show_default=True,
              metavar="S", help="Seconds one cell may run.")
@click.option("--notebook-timeout", type=click.FloatRange(min=1), default=1200,
              show_default=True, metavar="S", help="Seconds one notebook may run.")
@click.option("--resolver", type=click.Choice(["uv", "pip-tools"]), default="uv",
              show_default=True, help="Dependency resolver.")
@click.option("--backend", type=click.Choice(["venv", "docker"]), default="venv",
              show_default=True,
              help="How environments are built and kernels isolated: a virtual environment "
                   "and a bubblewrap sandbox, or a Docker image and container.")
@click.option("--no-sandbox", is_flag=True,
              help="venv backend: run audited code without a sandbox, as you.")
@click.option("--network", is_flag=True,
              help="Let notebooks reach the network (off by default; recorded in the results).")
@click.option("--base-image", metavar="IMAGE", envvar="NBREPRO_BASE_IMAGE",
              help="docker backend: image to build environments on "
                   "[default: python:X.Y-slim for the notebooks' Python; $NBREPRO_BASE_IMAGE].")
@click.option("--memory", "memory", metavar="SIZE", default="4g", show_default=True,
              help="Memory limit of a kernel (like 512m or 8g).")
@click.option("--cpus", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              metavar="N", help="CPUs a kernel may use.")
@click.option("--exclude-newer", metavar="DATE",
              help="Resolve the repository's requirements as of this date (YYYY-MM-DD): "
                   "ignore newer releases (the kernel nbrepro adds is not cut off).")
@click.option("--python", "python_version", metavar="X.Y",
              help="Python version to use instead of the one the repository asks for "
                   "(one installed here: interpreters are never downloaded).")
@click.option("--keep-going", is_flag=True, help="Run on after an unexpected error.")
@click.option("--twice", is_flag=True,
              help="Run every notebook twice: outputs that differ between the runs are "
                   "'volatile' and left out of the verdict.")
@click.option("--no-rerun", is_flag=True,
              help="Never run a notebook that differs a second time (by default its outputs "
                   "that change between the two runs are 'volatile' and left out).")
@click.option("--no-cache", is_flag=True, help="Resolve and build afresh.")
@click.option("--ignore-repo-config", is_flag=True,
              help="Judge by nbrepro's defaults only: ignore the repository's own settings "
                   "([tool.nbrepro], nbval sanitize files).")
@click.option("--within", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="For a notebook or a folder: look for its repository (the enclosing git work "
                   "tree) no higher than DIR [default: the filesystem root].")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write stored/ and rerun/ copies of each notebook here.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the results.")
@click.option("--exclude", "exclude", multiple=True, metavar="GLOB",
              help="Leave out notebooks whose path matches GLOB (a GLOB without '/' matches "
                   "any folder or file name); repeatable.")
@click.option("-k", "keyword", metavar="EXPR",
              help="Check only notebooks whose path matches EXPR, as pytest -k: words "
                   "(case-insensitive substrings) with and, or, not, parentheses.")
@click.option("--subdir", metavar="DIR",
              help="Check only this folder of the repository (also URL#subdirectory=DIR).")
@click.option("--strict", is_flag=True,
              help="Skipped notebooks (skip = true, no stored outputs, no code) fail the run.")
@click.option("--strict-config", is_flag=True,
              help="A problem in the repository's [tool.nbrepro] is an error (exit 2), "
                   "not a warning.")
@click.option("-p", "--parameter", "parameter_pairs", nargs=2, multiple=True,
              metavar="NAME VALUE",
              help="Run parameterised notebooks with this parameter (as papermill's -p: "
                   "True, False, None, numbers, else text): an exploratory run, recorded "
                   "as such. Repeatable.")
@click.option("-f", "--parameters-file", "parameter_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Parameters from a YAML file (a mapping); -p wins. Repeatable.")
@click.option("--restore", type=click.Choice(["none", "auto"]), default="none",
              show_default=True,
              help="auto (also --restore alone): install verified distributions for "
                   "undeclared imports, and run a notebook again after a "
                   "ModuleNotFoundError; everything restored is marked inferred. none: only "
                   "what the repository declares.")
@click.option("--as-of", "as_of", metavar="auto|DATE|none",
              help="Resolve unpinned and range-pinned requirements as of a date: auto, when "
                   "the notebooks were last run (their last commit, else the newest "
                   "execution time they store), stepping forward to today's packages when "
                   "that cannot be built; DATE as --exclude-newer; none: today's "
                   "[default: auto with --restore, else none].")
@click.option("--check-id", type=int, hidden=True,
              help="Continue a check already queued in the database (used by the server).")
def check(source: str, json_path: str | None, html_path: str | None, db_url: str | None,
          cell_timeout: float,
          notebook_timeout: float, resolver: str, backend: str, exclude_newer: str | None,
          python_version: str | None, keep_going: bool, twice: bool, no_cache: bool,
          output_dir: Path | None, quiet: bool, check_id: int | None, no_sandbox: bool,
          network: bool, base_image: str | None, memory: str, cpus: float,
          ignore_repo_config: bool, within: Path | None,
          exclude: tuple[str, ...], keyword: str | None, subdir: str | None, strict: bool,
          strict_config: bool, no_rerun: bool = False, restore: str = "none",
          as_of: str | None = None,
          parameter_pairs: tuple[tuple[str, str], ...] = (),
          parameter_files: tuple[Path, ...] = ()) -> None:
    """Re-run the notebooks of PATH_OR_GIT_URL and compare their outputs.

    PATH_OR_GIT_URL: a folder, one notebook, or a git URL; URL@REF picks a branch,
    tag or commit, and URL#subdirectory=DIR a folder (as pip writes them)."""
    from nbrepro.selection import keyword_matcher
    from nbrepro.stages.source import is_url, parse_source

    # Everything the user typed is checked before the pipeline is imported.
    where = parse_source(source, subdir)
    if not is_url(source) and not Path(where.location).expanduser().exists():
        raise InputError(f"no such file or directory: {source}")
    outputs = _output_targets(json_path, html_path)
    if output_dir is not None:
        _output_dir(output_dir)
    if keyword is not None:
        keyword_matcher(keyword)
    from nbrepro.stages.parameters import user_parameters

    parameters = user_parameters(list(parameter_pairs), list(parameter_files))
    options = _check_options(
        cell_timeout=cell_timeout, notebook_timeout=notebook_timeout, resolver=resolver,
        backend=backend, no_sandbox=no_sandbox, network=network, base_image=base_image,
        memory=memory, cpus=cpus, exclude_newer=exclude_newer, python_version=python_version,
        keep_going=keep_going, twice=twice, no_cache=no_cache, no_rerun=no_rerun,
        restore=restore, as_of=as_of)
    options.output_dir = output_dir
    options.ignore_repo_config = ignore_repo_config
    options.within = within.expanduser().resolve() if within is not None else None
    options.exclude, options.keyword = list(exclude), keyword
    options.subdir, options.strict_config = subdir, strict_config
    options.parameters = parameters
    from nbrepro.check import check as run_check
    from nbrepro.report.terminal import print_report
    from nbrepro.store import Store

    store = Store(db_url)
    store.mark_stale()  # checks killed outright (SIGKILL, power loss) read as interrupted
    out = _stdout()
    try:
        with ConsoleProgress(_stderr(), quiet=quiet) as progress:
            result = run_check(source, options, store=store, check_id=check_id,
                               progress=progress)
    except CheckInterrupted as stop:
        # A second Ctrl-C must not cut the report of the first one short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        result = stop.result  # type: ignore[assignment]
        _write_outputs(outputs, result)
        if json_path != "-":
            print_report(result, out)
        _say(f"nbrepro: interrupted; {len(result.notebooks)} finished notebook(s) are saved "
             f"as check {stop.check_id} (`nbrepro show {stop.check_id}`)")
        sys.exit(EXIT_INTERRUPTED)
    _write_outputs(outputs, result)
    if not result.notebooks:
        selected = " (none left after --exclude/-k)" if exclude or keyword else ""
        raise NoNotebooks(f"no notebooks found in {source}{selected}")
    if json_path != "-":
        print_report(result, out, strict=strict)
    sys.exit(EXIT_OK if result.passed(strict) else EXIT_NOT_REPRODUCED)


@cli.command()
@click.argument("check_id", type=int, required=False, metavar="[CHECK_ID]")
@_db_option
@click.option("--json", "json_path", metavar="FILE",
              help="Write the check's results as JSON ('-': stdout).")
@click.option("--html", "html_path", metavar="FILE", help="Write its HTML report.")
def show(check_id: int | None, db_url: str | None, json_path: str | None,
         html_path: str | None) -> None:
    """Show a past check from the results database (default: the newest), without
    running it again."""
    outputs = _output_targets(json_path, html_path)
    from nbrepro.model import CheckState
    from nbrepro.report.terminal import print_report
    from nbrepro.store import Store

    store = Store(db_url)
    store.mark_stale()
    if check_id is None:
        check_id = store.latest_id()
        if check_id is None:
            raise InputError(f"no checks yet in {store.url}")
    row = store.get_check(check_id, full=False)
    result = store.get_result(check_id)
    if row is None or result is None:
        raise InputError(f"no check with id {check_id} in {store.url}")
    if row["state"] != CheckState.FINISHED:  # what is known so far: never a verdict for it
        result.interrupted = True
    result.check_id = check_id
    _write_outputs(outputs, result)
    if json_path != "-":
        out = _stdout()
        when = (row["finished_at"] or row["started_at"] or row["created_at"] or "")[:19]
        out.print(f"check {check_id}: {row['state']} {when.replace('T', ' ')}", markup=False)
        print_report(result, out)


@cli.command()
@click.argument("path", metavar="PATH")
@_db_option
@click.option("--check", "check_id", type=int, metavar="ID",
              help="Freeze this check [default: the newest finished check of PATH].")
@click.option("--output", "output", type=click.Path(path_type=Path), metavar="DIR",
              help="Write the files into DIR (new or empty).")
@click.option("--patch", "patch_path", metavar="FILE",
              help="Write a patch for `git apply` in the repository ('-': stdout).")
def freeze(path: str, db_url: str | None, check_id: int | None, output: Path | None,
           patch_path: str | None) -> None:
    """Hand back what made the repository at PATH reproduce, after a check in which
    every notebook did: requirements.txt with the versions that worked (inferred ones
    marked), runtime.txt and a binder/ folder. Never written into the repository."""
    from nbrepro import freeze as frozen
    from nbrepro.stages.source import open_source
    from nbrepro.store import Store

    if (output is None) == (patch_path is None):
        raise InputError("freeze: give one of --output DIR or --patch FILE")
    if not Path(path).expanduser().is_dir():
        raise InputError(f"freeze: not a folder: {path}")
    root = open_source(str(Path(path).expanduser())).root
    target = _output_file("--patch", patch_path) if patch_path else None
    if output is not None:
        output = output.expanduser().resolve()
        if output == root or root in output.parents:
            raise InputError(f"--output {output}: inside the repository; use --patch to "
                             "change its files")
    store = Store(db_url)
    check_id = check_id or store.latest_finished(root)
    result = store.get_result(check_id) if check_id is not None else None
    if result is None or check_id is None:
        raise InputError(f"no finished check of {root} in {store.url}")
    if result.repository.path and Path(result.repository.path) != root:
        raise InputError(f"check {check_id} is of {result.repository.path}, not of {root}")
    result.check_id = check_id
    files = frozen.frozen_files(result, root)
    if output is not None:
        frozen.write_folder(files, output)
        _say(f"nbrepro: wrote {', '.join(sorted(files))} into {output} (check {check_id})")
    else:
        _write(target, frozen.patch(files, root))


@cli.command(name="list")
@_db_option
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many checks, newest first.")
@click.option("--json", "json_path", metavar="FILE", help="Write the list as JSON ('-': stdout).")
def list_checks(db_url: str | None, limit: int, json_path: str | None) -> None:
    """List the checks in the results database, newest first."""
    outputs = _output_targets(json_path, None)
    import json as jsonlib

    from nbrepro.report.terminal import checks_table
    from nbrepro.store import Store

    store = Store(db_url)
    store.mark_stale()
    rows = store.list_checks(limit=limit)
    if json_path:
        keys = ("id", "source", "state", "verdict", "commit", "created_at", "finished_at")
        data = [{**{k: r[k] for k in keys}, "notebooks": len(r["notebooks"])} for r in rows]
        _write(outputs["json"], jsonlib.dumps(data, indent=2) + "\n")
    if json_path != "-":
        _stdout().print(checks_table(rows) if rows else f"no checks yet in {store.url}")


REPORT_FORMATS = ("table", "markdown", "csv", "html", "junit", "json")


@cli.command()
@click.argument("results", metavar="RESULTS.json|DB")
@click.option("--check", "check_id", type=int, metavar="ID",
              help="The check to report, in a database [default: the newest finished one].")
@click.option("--audit", "audit_name", metavar="NAME_OR_ID",
              help="The audit to report, in an audit database [default: the newest].")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="table",
              show_default=True, help="What to write (csv: audits; junit: checks).")
@click.option("-o", "--output", metavar="FILE", default="-", show_default=True,
              help="Where to write it ('-': stdout; csv: a folder, or NAME.csv for "
                   "NAME-<table>.csv files).")
def report(results: str, check_id: int | None, audit_name: str | None, fmt: str,
           output: str) -> None:
    """Render results: a check's (a `check --json` file or a results database) or, for a
    database that holds audits, the published study's funnel and tables."""
    from nbrepro.report.inputs import classify

    source = classify(results)
    if source.kind == "db" and check_id is None:
        from nbrepro.audit.render import is_audit_database, render_audit_report

        if audit_name is not None or is_audit_database(source.location):
            if fmt == "junit":
                raise InputError("--format junit reports a check, not an audit")
            render_audit_report(source.location, audit_name, fmt,
                                None if output == "-" else output)
            return
    if audit_name is not None:
        raise InputError("--audit picks an audit in a database")
    if fmt == "csv":
        raise InputError("--format csv reports an audit; a check's results: json or junit")
    from nbrepro.report import RENDERERS
    from nbrepro.report.inputs import load_check
    from nbrepro.report.terminal import print_report

    target = _output_file("-o", output)
    # The one place that decides what RESULTS holds; every format renders the same model.
    result = load_check(results, check_id)
    if fmt == "table" and target is None:
        print_report(result, _stdout())
        return
    _write(target, RENDERERS[fmt](result))


@cli.command()
@click.argument("results", metavar="RESULTS.json|DB")
@click.option("--check", "check_id", type=int, metavar="ID",
              help="The check to draw, in a database [default: the newest finished one].")
@click.option("--format", "fmt", type=click.Choice(["svg", "shields"]), default="svg",
              show_default=True, help="An SVG image, or shields.io endpoint JSON.")
@click.option("-o", "--output", metavar="FILE", default="-", show_default=True,
              help="Where to write it ('-': stdout).")
@click.option("--link", metavar="URL", help="SVG: open this URL (the report) on a click.")
def badge(results: str, check_id: int | None, fmt: str, output: str, link: str | None) -> None:
    """Draw the README badge for a check's results."""
    from nbrepro.report import badge as badges
    from nbrepro.report.inputs import load_check

    target = _output_file("-o", output)
    if link is not None:
        badges.check_link(link)
    result = load_check(results, check_id)
    _write(target, badges.svg(result, link=link) if fmt == "svg" else badges.endpoint_json(result))


# `nbrepro check` options that apply to each repository of an audit (shared, so the
# two commands cannot drift apart).
PER_REPOSITORY_OPTIONS = (
    "cell_timeout", "notebook_timeout", "resolver", "backend", "no_sandbox", "network",
    "base_image", "memory", "cpus", "exclude_newer", "python_version", "keep_going", "twice",
    "no_cache", "no_rerun", "restore", "as_of",
)


def _check_options(**kw: Any) -> Any:  # -> nbrepro.check.CheckOptions
    from nbrepro.isolation.confine import ResourceLimits
    from nbrepro.isolation.tools import parse_python_version

    # Checked before the pipeline is imported: a usage error answers at once.
    if kw["exclude_newer"]:
        _validate_date(kw["exclude_newer"])
    if kw["python_version"] is not None:
        kw["python_version"] = parse_python_version(kw["python_version"])
    limits = ResourceLimits(memory=ResourceLimits.parse_size(kw["memory"]), cpus=kw["cpus"])
    restore = kw.get("restore") or "none"
    as_of, dated = _as_of(kw.get("as_of"), restore, kw["exclude_newer"])
    from nbrepro.options import CheckOptions, ExecutionOptions

    return CheckOptions(
        resolver=kw["resolver"], backend=kw["backend"],
        exclude_newer=dated or kw["exclude_newer"], restore=restore, as_of=as_of,
        rerun=not kw.get("no_rerun", False),
        python=kw["python_version"], use_cache=not kw["no_cache"], twice=kw["twice"],
        sandbox=not kw["no_sandbox"], network=kw["network"], base_image=kw["base_image"],
        limits=limits,
        execution=ExecutionOptions(cell_timeout=kw["cell_timeout"],
                                   notebook_timeout=kw["notebook_timeout"],
                                   keep_going=kw["keep_going"]),
    )


@cli.command(cls=_CheckCommand)
@click.argument("sources", nargs=-1, metavar="SOURCE...")
@click.option("--db", "db_url", metavar="URL|FILE",
              help="The results database: a SQLAlchemy URL or a SQLite file [default: "
                   "$NBREPRO_DB or a SQLite file in the user data folder].")
@click.option("--name", metavar="NAME",
              help="Name of the audit (re-running the same name resumes it) "
                   "[default: the first source's file name].")
@click.option("--github-search", "github_queries", multiple=True, metavar="QUERY",
              help="Add the repositories GitHub's search finds ($GITHUB_TOKEN when set).")
@click.option("--pmc-search", "pmc_queries", multiple=True, metavar="QUERY",
              help="Add the GitHub repositories linked by the PubMed Central articles this "
                   "full-text search finds ($NCBI_API_KEY when set).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), metavar="N",
              help="Repositories checked at once by the local process pool "
                   "[default: from the cores and memory].")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on an existing Dask scheduler.")
@click.option("--dask-local", type=click.IntRange(min=1), metavar="N",
              help="Run on a local Dask cluster of N workers.")
@click.option("--repo-timeout", type=click.FloatRange(min=1), metavar="S",
              help="Seconds one repository may take in all.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Audit only the first N repositories.")
@click.option("--retry-failed", is_flag=True,
              help="Check again repositories that ended in an nbrepro error or a timeout.")
@click.option("--force", is_flag=True, help="Check every repository again.")
@click.option("--keep-clones", is_flag=True, help="Keep the clones in the cache.")
@click.option("--no-github-metadata", is_flag=True,
              help="Do not ask GitHub's API for stars, licence and dates.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary.")
def audit(sources: tuple[str, ...], db_url: str | None, name: str | None,
          github_queries: tuple[str, ...], pmc_queries: tuple[str, ...], jobs: int | None,
          scheduler: str | None, dask_local: int | None, repo_timeout: float | None,
          limit: int | None, retry_failed: bool, force: bool, keep_clones: bool,
          no_github_metadata: bool, quiet: bool, **per_repository: Any) -> None:
    """Check many repositories (lists of URLs or owner/name lines, CSV files with
    publication metadata, GitHub or PubMed Central searches) into one database.

    Re-running the same audit resumes it: repositories already checked at the same
    commit with the same options are skipped."""
    if not sources and not github_queries and not pmc_queries:
        raise InputError("no sources: give a list file, --github-search or --pmc-search")
    if scheduler and dask_local:
        raise InputError("--scheduler and --dask-local exclude each other")
    if jobs and (scheduler or dask_local):
        raise InputError("--jobs is for the local process pool, not Dask")
    from nbrepro.audit.executors import make_executor

    options = _check_options(**per_repository)
    # The executor starts first, before this process imports SQLAlchemy and reads the
    # sources: the local pool's workers (or the Dask cluster, in the background)
    # import the pipeline meanwhile.
    executor = make_executor(jobs, scheduler, dask_local, repo_timeout,
                             options.limits.memory)
    executor.start()
    try:
        from nbrepro.audit.render import load_report, rich_tables
        from nbrepro.audit.runner import AuditConfig, run_audit

        config = AuditConfig(
            sources=list(sources), options=options,
            github_queries=list(github_queries), pmc_queries=list(pmc_queries),
            db_url=db_url, name=name, jobs=jobs, scheduler=scheduler, dask_local=dask_local,
            repo_timeout=repo_timeout, limit=limit, retry_failed=retry_failed, force=force,
            keep_clones=keep_clones, github_metadata=not no_github_metadata, quiet=quiet,
        )
    except BaseException:  # run_audit stops it from here on
        executor.stop()
        raise
    run = run_audit(config, _stderr(), executor)
    report = load_report(run.db_url, str(run.audit_id))
    from rich.console import Console

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    for table in rich_tables(report)[:3]:  # funnel, split, repositories
        out.print(table)
    out.print(f"{run.repositories} repositories: {run.checked_now} checked now, "
              f"{run.already_done} already done, {run.failed} nbrepro error(s) or timeout(s). "
              f"Full report: nbrepro report {_db_argument(run.db_url)} --audit {run.name}",
              markup=False)
    sys.exit(EXIT_OK if run.failed == 0 else EXIT_NOT_REPRODUCED)


for _param in cli.commands["check"].params:
    if _param.name in PER_REPOSITORY_OPTIONS:
        audit.params.append(_param)


def _db_argument(url: str) -> str:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url


@cli.command()
@click.argument("db", metavar="DB")
@click.option("--audit", metavar="NAME_OR_ID", help="Export only this audit's checks.")
@click.option("--check", "check_id", type=int, metavar="ID",
              help="Export only this check (an RO-Crate describes one check).")
@click.option("--format", "fmt", type=click.Choice(["turtle", "nt", "jsonld", "rocrate"]),
              default="turtle", show_default=True, help="RDF syntax, or an RO-Crate 1.1.")
@click.option("-o", "--output", metavar="FILE_OR_DIR",
              help="Where to write: a file ('-': stdout, the default), a folder for rocrate "
                   "(default: the current folder).")
def export(db: str, audit: str | None, check_id: int | None, fmt: str,
           output: str | None) -> None:
    """Export the results in database DB (a SQLAlchemy URL or a SQLite file) as a
    knowledge graph."""
    from nbrepro.graph.export import export as export_graph

    if fmt != "rocrate" and output not in (None, "-"):
        _output_file("-o", output)
    written = export_graph(db, fmt, output, audit=audit, check_id=check_id)
    if written is not None:
        shown = written / "ro-crate-metadata.json" if fmt == "rocrate" else written
        _say(f"nbrepro: wrote {shown}")


@cli.command()
@click.argument("db", metavar="DB")
@click.argument("sparql", required=False, metavar="[SPARQL]")
@click.option("--example", metavar="NAME", help="Run a named example query.")
@click.option("--list-examples", is_flag=True, help="List the example queries and exit.")
@click.option("--show", is_flag=True, help="With --example: print its SPARQL and exit.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="How to print the answer.")
def query(db: str, sparql: str | None, example: str | None, list_examples: bool, show: bool,
          fmt: str) -> None:
    """Answer a SPARQL 1.1 query (or a named example) over the results in DB.
    Prefixes rdf, rdfs, xsd, prov, p-plan, repr, doap, fabio, prism, dcterms and nbr
    are predeclared; SPARQL '-' reads the query from stdin."""
    from nbrepro.graph.examples import EXAMPLES
    from nbrepro.graph.examples import example as find_example

    if list_examples:
        for item in EXAMPLES.values():
            sys.stdout.write(f"{item.name:30} {item.question}\n")
        return
    if (sparql is None) == (example is None):
        raise InputError("give either a SPARQL query or --example NAME (--list-examples "
                         "lists them)")
    if example is not None:
        text = find_example(example).sparql
        if show:
            sys.stdout.write(text)
            return
    else:
        text = sys.stdin.read() if sparql == "-" else str(sparql)
    from nbrepro.graph.query import render, run

    sys.stdout.write(render(run(db, text), fmt))


def _validate_date(text: str, option: str = "--exclude-newer") -> None:
    from datetime import date

    try:
        date.fromisoformat(text[:10])
    except ValueError:
        raise InputError(f"{option}: not a date (YYYY-MM-DD): {text}") from None


def _as_of(value: str | None, restore: str, exclude_newer: str | None) -> tuple[str, str | None]:
    """`--as-of` as (mode, explicit date): its default follows `--restore`."""
    if value is None:
        return ("auto" if restore == "auto" else "none"), None
    if value in ("auto", "none"):
        return value, None
    _validate_date(value, "--as-of")
    if exclude_newer and exclude_newer != value:
        raise InputError(f"--as-of {value} and --exclude-newer {exclude_newer} disagree: "
                         "give one date")
    return "none", value


@cli.command()
@click.argument("action", type=click.Choice(["list", "prune", "clear"]), default="list")
@click.option("--max-size", metavar="SIZE", default="50g", show_default=True,
              help="prune: remove the least recently used entries until the cache is this "
                   "size (like 500m or 50g).")
def cache(action: str, max_size: str) -> None:
    """Show, prune (least recently used first) or clear nbrepro's cache of
    environments, locks, clones and docker images."""
    from rich.console import Console
    from rich.table import Table

    from nbrepro import cache as nbcache

    out = Console(highlight=False)
    if action == "list":
        found = nbcache.entries()
        table = Table(title=f"nbrepro cache: {nbcache.cache_root()}", title_justify="left")
        for column in ("kind", "entries", "size"):
            table.add_column(column, justify="left" if column == "kind" else "right")
        for kind in sorted({e.kind for e in found}):
            mine = [e for e in found if e.kind == kind]
            table.add_row(kind, str(len(mine)), _size(sum(e.size for e in mine)))
        table.add_row("total", str(len(found)), _size(sum(e.size for e in found)))
        out.print(table)
        return
    if action == "prune":
        removed, left = nbcache.prune(_parse_size(max_size))
        out.print(f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} "
                  f"({_size(sum(e.size for e in removed))}); {_size(left)} left")
        return
    removed = nbcache.clear()
    out.print(f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} "
              f"({_size(sum(e.size for e in removed))})")


def _parse_size(text: str) -> int:
    from nbrepro.errors import ConfigError
    from nbrepro.isolation.confine import parse_size

    try:
        return parse_size(text)
    except ConfigError as exc:
        raise InputError(f"--max-size: {exc}") from None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _say(message: str) -> None:
    """One unwrapped line on stderr (rich would wrap long paths), without control
    characters (messages may quote the audited repository's file names)."""
    from nbrepro.plaintext import plain

    sys.stderr.write(plain(" ".join(message.split())) + "\n")


def _terminate(signum: int, frame: Any) -> None:
    # Turn SIGTERM into the same orderly stop as Ctrl-C: results so far are kept.
    raise SystemExit(EXIT_INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
    from nbrepro.lazyimport import skip_unused_imports

    skip_unused_imports()
    # At exit the process's memory goes with it: collecting what is left object by
    # object first costs about 0.2 s after a check or an audit (atexit hooks still run).
    atexit.register(gc.freeze)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=argv, prog_name="nbrepro", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        _say("nbrepro: interrupted; finished notebooks are saved in the results database")
        sys.exit(EXIT_INTERRUPTED)
    except NoNotebooks as exc:
        _say(f"nbrepro: {exc}")
        sys.exit(EXIT_NO_NOTEBOOKS)
    except NbreproError as exc:
        _say(f"nbrepro: error: {exc}")
        sys.exit(EXIT_USAGE)
    except SystemExit:
        raise
    except Exception as exc:  # a bug in nbrepro: one line, not a traceback
        if os.environ.get("NBREPRO_DEBUG"):
            raise
        _say(f"nbrepro: internal error: {type(exc).__name__}: {exc} "
             "(set NBREPRO_DEBUG=1 for a traceback)")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
