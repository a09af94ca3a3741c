"""The `nbrepro` command line.

Exit codes: 0 every notebook checked reproduced (or reproduced-equivalent), 1 something
did not, 2 usage or input error, 3 an internal error of nbrepro, 5 no notebooks
found, 130 interrupted.

Options are parsed and validated before the pipeline is imported (nbformat and
SQLAlchemy take seconds to import), so a usage error answers at once.
"""

from __future__ import annotations

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
            self.status.update(text)

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
            self.console.print(f"{result.verdict.value:>22}  {result.path}", markup=False)

    def warning(self, message: str) -> None:
        self.console.print(f"nbrepro: warning: {message}", markup=False, soft_wrap=True)


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
        "--db", "db_url", metavar="URL",
        help="SQLAlchemy URL of the results database [default: $NBREPRO_DB or a SQLite "
             "file in the user data folder].")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nbrepro")
def cli() -> None:
    """Check whether Jupyter notebooks reproduce their stored outputs."""


@cli.command()
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
@click.option("--no-cache", is_flag=True, help="Resolve and build afresh.")
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
@click.option("--check-id", type=int, hidden=True,
              help="Continue a check already queued in the database (used by the server).")
def check(source: str, json_path: str | None, html_path: str | None, db_url: str | None,
          cell_timeout: float,
          notebook_timeout: float, resolver: str, backend: str, exclude_newer: str | None,
          python_version: str | None, keep_going: bool, twice: bool, no_cache: bool,
          output_dir: Path | None, quiet: bool, check_id: int | None, no_sandbox: bool,
          network: bool, base_image: str | None, memory: str, cpus: float,
          exclude: tuple[str, ...], keyword: str | None, subdir: str | None, strict: bool,
          strict_config: bool) -> None:
    """Re-run the notebooks of PATH_OR_GIT_URL and compare their outputs.

    PATH_OR_GIT_URL: a folder, one notebook, or a git URL; URL@REF picks a branch,
    tag or commit, and URL#subdirectory=DIR a folder (as pip writes them)."""
    from nbrepro.isolation.tools import parse_python_version
    from nbrepro.selection import keyword_matcher
    from nbrepro.stages.source import is_url, parse_source

    # Everything the user typed is checked before the pipeline is imported.
    where = parse_source(source, subdir)
    if not is_url(source) and not Path(where.location).expanduser().exists():
        raise InputError(f"no such file or directory: {source}")
    outputs = _output_targets(json_path, html_path)
    if output_dir is not None:
        _output_dir(output_dir)
    if exclude_newer:
        _validate_date(exclude_newer)
    if python_version is not None:
        python_version = parse_python_version(python_version)
    if keyword is not None:
        keyword_matcher(keyword)
    from nbrepro.isolation.confine import ResourceLimits

    limits = ResourceLimits(memory=ResourceLimits.parse_size(memory), cpus=cpus)
    from nbrepro.check import CheckOptions
    from nbrepro.check import check as run_check
    from nbrepro.report.terminal import print_report
    from nbrepro.stages.execute import ExecutionOptions
    from nbrepro.store import Store

    store = Store(db_url)
    store.mark_stale()  # checks killed outright (SIGKILL, power loss) read as interrupted
    options = CheckOptions(
        resolver=resolver, backend=backend, exclude_newer=exclude_newer,
        python=python_version, use_cache=not no_cache, output_dir=output_dir, twice=twice,
        sandbox=not no_sandbox, network=network, base_image=base_image, limits=limits,
        execution=ExecutionOptions(cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                                   keep_going=keep_going),
        exclude=list(exclude), keyword=keyword, subdir=subdir, strict_config=strict_config,
    )
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
    from nbrepro.report.terminal import print_report
    from nbrepro.store import FINISHED, Store

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
    if row["state"] != FINISHED:  # what is known so far: never a verdict for it
        result.interrupted = True
    result.check_id = check_id
    _write_outputs(outputs, result)
    if json_path != "-":
        out = _stdout()
        when = (row["finished_at"] or row["started_at"] or row["created_at"] or "")[:19]
        out.print(f"check {check_id}: {row['state']} {when.replace('T', ' ')}", markup=False)
        print_report(result, out)


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


def _validate_date(text: str) -> None:
    from datetime import date

    try:
        date.fromisoformat(text[:10])
    except ValueError:
        raise InputError(f"--exclude-newer: not a date (YYYY-MM-DD): {text}") from None


def _say(message: str) -> None:
    """One unwrapped line on stderr (rich would wrap long paths)."""
    sys.stderr.write(" ".join(message.split()) + "\n")


def _terminate(signum: int, frame: Any) -> None:
    # Turn SIGTERM into the same orderly stop as Ctrl-C: results so far are kept.
    raise SystemExit(EXIT_INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
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
