"""The scan stage: find a repository's notebooks and read what they say about themselves."""

from __future__ import annotations

import ast
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import nbformat.reader

from nbrepro.model import NotebookInfo
from nbrepro.selection import OUTPUT_MARKER

# Folders that never hold notebooks worth checking.
SKIP_DIRS = frozenset(
    {".ipynb_checkpoints", ".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv",
     "venv", ".tox", ".nox", "site-packages"}
)


def natural_key(path: str) -> list[Any]:
    """Sort `2_b.ipynb` before `10_a.ipynb`: authors number notebooks in run order."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def find_notebooks(root: Path) -> list[str]:
    """Every `*.ipynb` under `root`, relative POSIX paths, in natural order. Folders
    nbrepro wrote its own outputs to (`--output-dir`) are left out."""
    found: list[str] = []
    outputs = output_folders(root)
    for path in root.rglob("*.ipynb"):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if any(rel.parts[:n] in outputs for n in range(1, len(rel.parts))):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        found.append(rel.as_posix())
    return sorted(found, key=natural_key)


def output_folders(root: Path) -> set[tuple[str, ...]]:
    """Folders under `root` (as path parts) that hold nbrepro's output marker."""
    return {marker.parent.relative_to(root).parts for marker in root.rglob(OUTPUT_MARKER)
            if marker.is_file() and not marker.is_symlink() and marker.parent != root}


class StructureError(ValueError):
    """A notebook whose JSON does not have a notebook's shape."""


def _check_structure(raw: Any) -> None:
    """Say plainly what is wrong with the notebook's shape (nbformat would fail with
    a Python TypeError deep inside it)."""
    if not isinstance(raw, dict):
        raise StructureError("the file is not a JSON object")
    if raw.get("nbformat", 4) == 3 or "worksheets" in raw:
        sheets = raw.get("worksheets", [])
        if not isinstance(sheets, list) or not all(isinstance(w, dict) for w in sheets):
            raise StructureError("worksheets must be a list of objects")
        containers = [(w.get("cells", []), f"worksheet {i} cells") for i, w in enumerate(sheets)]
    else:
        if "cells" not in raw:
            raise StructureError("no cells")
        containers = [(raw["cells"], "cells")]
    for cells, what in containers:
        if not isinstance(cells, list):
            raise StructureError(f"{what} must be a list")
        for i, cell in enumerate(cells):
            if not isinstance(cell, dict):
                raise StructureError(f"cell {i} is not an object")
            if not isinstance(cell.get("outputs", []), list):
                raise StructureError(f"the outputs of cell {i} must be a list")
    if not isinstance(raw.get("metadata", {}), dict):
        raise StructureError("metadata must be an object")


def _read(path: Path) -> tuple[nbformat.NotebookNode, str | None]:
    """The notebook as v4, and the language its cells name when it was nbformat 3 (the
    upgrade drops it; IPython 1-2 wrote no kernelspec to say it instead)."""
    text = path.read_text(encoding="utf-8")
    _check_structure(json.loads(text))
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    major = nb.get("nbformat", 4)
    language = _v3_language(nb) if major == 3 else None
    if major != 4:
        nb = nbformat.convert(nb, 4)
    nbformat.validate(nb)
    return nb, language


def _v3_language(nb: nbformat.NotebookNode) -> str | None:
    """The one language the code cells of an nbformat 3 notebook name, if they agree."""
    names: set[str] = set()
    for sheet in nb.get("worksheets", []):
        cells = sheet.get("cells", []) if isinstance(sheet, dict) else []
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                name = cell.get("language")
                # whatever else a crafted file puts there says nothing
                names.add(name if isinstance(name, str) and name.isidentifier() else "?")
    return names.pop() if len(names) == 1 and "?" not in names else None


def scan_notebook(root: Path, rel: str) -> tuple[NotebookInfo, nbformat.NotebookNode | None]:
    info = NotebookInfo(path=rel)
    try:
        nb, v3_language = _read(root / rel)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as exc:
        return _invalid(info, f"not valid JSON: {exc}"), None
    except StructureError as exc:
        return _invalid(info, f"invalid notebook: {exc}"), None
    except nbformat.ValidationError as exc:
        return _invalid(info, f"not a valid notebook: {exc.message}"), None
    except Exception as exc:  # nbformat raises assorted errors on odd input
        return _invalid(info, f"unreadable notebook: {type(exc).__name__}: {exc}"), None

    meta = nb.get("metadata", {})
    lang_info = meta.get("language_info", {}) or {}
    kernelspec = meta.get("kernelspec", {}) or {}
    info.nbformat = f"{nb.get('nbformat')}.{nb.get('nbformat_minor')}"
    if "orig_nbformat" in meta:  # upgraded on reading: say what the file is
        info.nbformat = f"{meta.get('orig_nbformat')}.{meta.get('orig_nbformat_minor', 0)}"
    info.language = lang_info.get("name") or kernelspec.get("language") or v3_language
    info.kernel_name = kernelspec.get("name")
    version = lang_info.get("version")
    info.python_version = notebook_python(version) if info.language == "python" else None
    code = [c for c in nb.cells if c.cell_type == "code"]
    info.cells = len(nb.cells)
    info.code_cells = len(code)
    info.has_outputs = any(c.get("outputs") for c in code)
    counts = [c.get("execution_count") for c in code if c.get("execution_count") is not None]
    info.top_down = all(a < b for a, b in itertools.pairwise(counts))
    info.imports = sorted({m for c in code for m in imports_of(c.source)})
    if info.language == "python":
        info.python2_code = python2_evidence(nb)
    return info, nb


# Syntax only Python 2 has, looked for in cells that Python 3 cannot parse.
_PYTHON2 = (
    ("print statement", re.compile(r"^[ \t]*print(?:[ \t]+[^\s(=.,)\]]|[ \t]*>>)", re.M)),
    ("`except X, e`", re.compile(r"^[ \t]*except[ \t]+[\w.() ,]+,[ \t]*\w+[ \t]*:", re.M)),
    ("`raise E, msg`", re.compile(r"^[ \t]*raise[ \t]+[\w.]+[ \t]*,", re.M)),
    ("exec statement", re.compile(r"^[ \t]*exec[ \t]+['\"\w]", re.M)),
    ("ur'' string", re.compile(r"(?<![\w'\"])[uU][rR]['\"]")),
    ("backtick repr", re.compile(r"`[^`\n]+`")),
    ("`<>` operator", re.compile(r"\w[ \t]*<>[ \t]*\w")),
)


def python2_evidence(nb: nbformat.NotebookNode) -> str | None:
    """Where a notebook's code reads as Python 2 only (`print statement in In [3]`),
    else None. Only cells that do not parse as Python 3 are looked at."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not isinstance(cell.source, str):
            continue
        source = cell.source[:200_000]
        lines = ["" if _MAGIC.match(line) else line for line in source.splitlines()]
        try:
            ast.parse("\n".join(lines))
            continue
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            pass
        code = "\n".join(lines)
        for what, pattern in _PYTHON2:
            if pattern.search(code):
                count = cell.get("execution_count")
                where = f"In [{count}]" if isinstance(count, int) else f"cell {index}"
                return f"{what} in {where}"
    return None


_RELEASE = re.compile(r"([0-9]{1,4}(?:\.[0-9]{1,4}){0,2})(?:(?:a|b|rc|\.dev|\+)[0-9A-Za-z.+]*)?")


def notebook_python(version: object) -> str | None:
    """The Python version a notebook's `language_info.version` names: a version number
    (a pre-release's number without its suffix), else None. Whatever else a crafted
    notebook puts there never reaches the interpreter search."""
    if not isinstance(version, str):
        return None
    m = _RELEASE.fullmatch(version.strip())
    return m.group(1) if m else None


def _invalid(info: NotebookInfo, reason: str) -> NotebookInfo:
    info.valid = False
    info.error = reason.splitlines()[0][:300]
    return info


_MAGIC = re.compile(r"^\s*[%!?]")
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}


def imports_of(source: str) -> set[str]:
    """Top-level modules a cell imports (third-party only). IPython magics are skipped."""
    # Drop magics and shell escapes so the rest parses as Python.
    lines = ["" if _MAGIC.match(line) else line for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        # Not Python, or nested deeper than the parser goes (a crafted cell): fall back
        # to reading import lines; the cell itself still runs and is judged.
        return _imports_by_regex(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return {m for m in found if m not in _STDLIB}


_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([A-Za-z_]\w*)|import\s+([A-Za-z_]\w*))", re.M)


def _imports_by_regex(source: str) -> set[str]:
    names = {a or b for a, b in _IMPORT_LINE.findall(source)}
    return {m for m in names if m not in _STDLIB}

