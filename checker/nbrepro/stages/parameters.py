"""Parameterised notebooks: papermill's `parameters` and `injected-parameters` cells.

A notebook papermill executed carries the parameters it was given in
`metadata.papermill.parameters` and the cell papermill injected (tagged
`injected-parameters`). It is run again the way papermill ran it: the injected cell
is regenerated from the recorded parameters by papermill's own
`parameterize_notebook` (nbrepro's executor still runs the cells), and that cell is
not compared as a cell the author wrote. The user may override parameters (`-p`,
`-f`) for an exploratory run, recorded as such. A notebook with a `parameters` cell
and no papermill metadata runs with its defaults.

The notebook's metadata comes from the audited repository: its parameters are
checked (JSON types, Python names, bounded sizes) before they become code, and a
notebook whose recorded parameters are not usable is a result saying why.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import keyword
import logging
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import yaml

from nbrepro.errors import InputError
from nbrepro.model import ParameterRun

if TYPE_CHECKING:  # the command line reads `-p`/`-f` before the pipeline is imported
    from nbrepro.stages.execute import NotebookRun

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
PAPERMILL_REASON = "papermill-parameters"

MAX_PARAMETERS = 200  # names in one notebook's (or the user's) parameters
MAX_TEXT = 64 * 1024  # characters of all parameters written as JSON
MAX_DEPTH = 16  # nesting of lists and mappings
MAX_INT_DIGITS = 100  # an integer longer than this is not a parameter anyone passed
MAX_DEFAULTS_SOURCE = 64 * 1024  # characters of a `parameters` cell that are inspected
MAX_DEFAULT_TEXT = 200  # characters of one default's text kept in the results
PARAMETER_FILE_LIMIT = 1024 * 1024  # bytes of a `-f` file


class ParameterProblem(ValueError):
    """Parameters that cannot be injected: why, in one line."""


@dataclasses.dataclass
class Parameterised:
    """A notebook made ready to run with its parameters."""

    to_run: nbformat.NotebookNode  # what the executor runs
    compare_with: nbformat.NotebookNode  # the stored notebook as the comparer sees it
    record: ParameterRun
    inserted: int | None = None  # a cell the run has and the stored notebook has not


def check_parameters(values: object, what: str) -> dict[str, Any]:
    """`values` as a mapping of Python names to JSON-like values, or ParameterProblem."""
    if not isinstance(values, Mapping):
        raise ParameterProblem(f"{what} must be a mapping of names to values, "
                               f"not {type(values).__name__}")
    if len(values) > MAX_PARAMETERS:
        raise ParameterProblem(f"{what}: {len(values)} parameters (at most {MAX_PARAMETERS})")
    for name, value in values.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ParameterProblem(f"{what}: {_short(name)} is not a Python name")
        _check_value(value, f"{what}: {name}", 0)
    try:
        size = len(json.dumps(dict(values)))
    except (TypeError, ValueError) as exc:  # pragma: no cover - _check_value rules it out
        raise ParameterProblem(f"{what}: {exc}") from None
    if size > MAX_TEXT:
        raise ParameterProblem(f"{what}: {size} characters as JSON (at most {MAX_TEXT})")
    return dict(values)


def _check_value(value: object, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ParameterProblem(f"{where}: nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_text(value, where)
        return
    if isinstance(value, int):
        if abs(value) >= 10 ** MAX_INT_DIGITS:
            raise ParameterProblem(f"{where}: an integer of more than {MAX_INT_DIGITS} digits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):  # strict JSON (results, PostgreSQL) has no NaN
            raise ParameterProblem(f"{where}: {value} is not a finite number")
        return
    if isinstance(value, list):
        for item in value:
            _check_value(item, where, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ParameterProblem(f"{where}: a mapping key that is not a string")
            _check_text(key, where)
            _check_value(item, where, depth + 1)
        return
    raise ParameterProblem(f"{where}: a {type(value).__name__} is not a parameter value")


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON allows and UTF-8 does not
        raise ParameterProblem(f"{where}: text that is not valid Unicode") from None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "\u2026"


def parse_value(text: str) -> Any:
    """A `-p NAME VALUE` value read as papermill's `-p` reads it: True, False, None,
    an integer, a float, else the text itself."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def user_parameters(pairs: list[tuple[str, str]], files: list[Path]) -> dict[str, Any]:
    """The parameters the user gave: each `-f` YAML file in turn, then each `-p`
    (later ones win). Raises InputError (exit 2) for anything unusable."""
    values: dict[str, Any] = {}
    for path in files:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(PARAMETER_FILE_LIMIT + 1)
        except OSError as exc:
            raise InputError(f"-f {path}: cannot read: {exc.strerror}") from None
        if len(raw) > PARAMETER_FILE_LIMIT:
            raise InputError(f"-f {path}: larger than {PARAMETER_FILE_LIMIT} bytes")
        try:
            loaded = yaml.safe_load(raw.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"-f {path}: not a YAML file: {first}") from None
        try:
            values.update(check_parameters({} if loaded is None else loaded, f"-f {path}"))
        except ParameterProblem as exc:
            raise InputError(str(exc)) from None
    for name, text in pairs:
        values[name] = parse_value(text)
    try:
        return check_parameters(values, "-p")
    except ParameterProblem as exc:
        raise InputError(str(exc)) from None


def tagged(nb: nbformat.NotebookNode, tag: str) -> int | None:
    """The index of the first cell with `tag`, else None."""
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if isinstance(tags, list) and tag in tags:
            return index
    return None


def parameterise(nb: nbformat.NotebookNode, overrides: Mapping[str, Any]) -> Parameterised | None:
    """`nb` ready to run with its parameters, or None when it has none (nothing to do).
    Raises ParameterProblem when its recorded parameters cannot be used."""
    meta = nb.metadata.get("papermill")
    if meta is not None and not isinstance(meta, Mapping):
        raise ParameterProblem("metadata.papermill is not a mapping")
    params_at, injected_at = tagged(nb, PARAMETERS_TAG), tagged(nb, INJECTED_TAG)
    if meta is None and params_at is None:
        return None  # nothing papermill would parameterise (-p does not apply)
    defaults = _defaults(nb, params_at)
    if meta is not None:
        recorded = check_parameters(meta.get("parameters") or {},
                                    "metadata.papermill.parameters")
        record = ParameterRun(origin="papermill", recorded=recorded, defaults=defaults,
                              injected_cell=injected_at)
    else:
        recorded = {}
        record = ParameterRun(origin="defaults", defaults=defaults)
    record.values = {**recorded, **overrides}
    record.overridden = sorted(overrides)
    # papermill injects only when it was given parameters; so does nbrepro (a stored
    # injected cell is still regenerated, from what was recorded).
    if not record.values and injected_at is None:
        return Parameterised(nb, nb, record)
    to_run = _inject(nb, record.values)
    compare_with = nb
    inserted: int | None = None
    if injected_at is not None:
        compare_with = copy.deepcopy(nb)  # the regenerated source is no edit of the author's
        compare_with.cells[injected_at].source = to_run.cells[injected_at].source
    else:
        inserted = params_at + 1 if params_at is not None else 0
    return Parameterised(to_run, compare_with, record, inserted)


def _inject(nb: nbformat.NotebookNode, values: dict[str, Any]) -> nbformat.NotebookNode:
    """papermill's own parameterisation, on a copy. Python only: the kernel and the
    language are nbrepro's, never the names a crafted notebook gives."""
    from papermill.parameterize import parameterize_notebook  # a second or two to import

    work = copy.deepcopy(nb)
    added: list[int] = []  # papermill reads `cell.metadata.tags` on every cell
    for index, cell in enumerate(work.cells):
        if "tags" not in cell.metadata:
            cell.metadata["tags"] = []
            added.append(index)
    meta = work.metadata.get("papermill")
    work.metadata["papermill"] = dict(meta) if isinstance(meta, Mapping) else {}
    injected_before = tagged(work, INJECTED_TAG)
    params_at = tagged(work, PARAMETERS_TAG)
    with _quiet_papermill():
        out = parameterize_notebook(work, copy.deepcopy(values), kernel_name="python3",
                                    language="python")
    # A new cell moves the cells after it down by one; a regenerated one moves none.
    position = None if injected_before is not None else (
        params_at + 1 if params_at is not None else 0)
    for index in added:  # leave the cells' metadata as the author wrote it
        moved = index + 1 if position is not None and index >= position else index
        out.cells[moved].metadata.pop("tags", None)
    return out


@contextlib.contextmanager
def _quiet_papermill() -> Iterator[None]:
    """papermill logs a warning for a notebook without a `parameters` cell; nbrepro's
    results say how the notebook was parameterised, so its log says nothing."""
    log = logging.getLogger("papermill")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _defaults(nb: nbformat.NotebookNode, params_at: int | None) -> dict[str, str]:
    """The `parameters` cell's assignments (name -> the text of its value), read by
    papermill's Python translator, bounded."""
    if params_at is None:
        return {}
    source = nb.cells[params_at].get("source", "")
    if not isinstance(source, str) or len(source) > MAX_DEFAULTS_SOURCE:
        return {}
    from papermill.translators import PythonTranslator

    try:
        found = PythonTranslator.inspect({"source": source})
    except Exception:  # papermill says inspection errors are ignored; so are odd cells
        return {}
    defaults: dict[str, str] = {}
    for parameter in found[:MAX_PARAMETERS]:
        text = str(parameter.default)
        defaults[str(parameter.name)] = text if len(text) <= MAX_DEFAULT_TEXT \
            else text[: MAX_DEFAULT_TEXT - 1] + "\u2026"
    return defaults


def without_inserted(run: NotebookRun, inserted: int) -> NotebookRun:
    """The run as the stored notebook's cells see it: the cell that was inserted to
    carry the parameters taken out, the other cells' indices as stored."""
    executed = copy.deepcopy(run.executed)
    del executed.cells[inserted]

    def stored_index(index: int) -> int:
        return index - 1 if index > inserted else index

    cells = {}
    for index, cell_run in run.cells.items():
        if index == inserted:
            continue
        cells[stored_index(index)] = dataclasses.replace(cell_run, index=stored_index(index))
    failing = run.failing_cell
    if failing is not None:  # failing in the injected cell: shown at the parameters cell
        failing = max(stored_index(failing) - (failing == inserted), 0)
    return dataclasses.replace(run, executed=executed, cells=cells, failing_cell=failing)
