"""What every report says about a check's environment before its notebooks, in words
shared by the terminal, Markdown and HTML reports: where the environment came from
(the repository root and its dependency files), the Python version asked for and the
one used, the date it was resolved as of, and the imports no dependency file declares.

The lines are plain text; each renderer escapes them as it must.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbrepro.model import CheckResult
from nbrepro.stages.spec import import_packages


@dataclass(frozen=True)
class PythonVersions:
    requested: str | None  # X.Y the repository asked for (None: nothing asked)
    used: str | None  # the interpreter's version (None: no environment was built)

    @property
    def mismatch(self) -> bool:
        """The interpreter is not the X.Y (or X.Y.Z) asked for."""
        if not self.requested or not self.used:
            return False
        asked = self.requested.split(".")
        return self.used.split(".")[: len(asked)] != asked

    def line(self) -> str:
        asked = self.requested or "nothing"
        used = self.used or "none (no environment)"
        text = f"Python: requested {asked}, used {used}"
        if self.mismatch:
            text += " (differs from what the repository asked for)"
        return text


def python_versions(result: CheckResult) -> PythonVersions:
    env, spec = result.environment, result.spec
    requested = (env.requested_python if env is not None else None) \
        or (spec.python_version if spec is not None else None)
    used = env.python_version if env is not None and env.ok else None
    return PythonVersions(requested, used)


def _remote(source: str) -> bool:
    return "://" in source or source.startswith("git@")


def repository_title(result: CheckResult) -> str:
    """The repository as a report read elsewhere names it: a URL as given, a local
    folder by its name (and the subfolder checked), never a path of this disk."""
    repo = result.repository
    if _remote(repo.source):
        return repo.source
    name = Path(repo.path or repo.source).name or repo.source
    return f"{name}/{repo.subdir}" if repo.subdir else name


def environment_line(result: CheckResult, full_path: bool = True) -> str | None:
    """Which root and which files the environment came from. `full_path`: the
    repository's local path (the terminal); else only its folder name (a report that
    may be read elsewhere names no path of this disk)."""
    spec, repo = result.spec, result.repository
    if spec is None:
        return None
    where = repo.path if full_path else None
    if repo.path and not full_path:
        where = Path(repo.path).name
    if _remote(repo.source):
        where = repo.source
    files = ", ".join(spec.files) if spec.files else "no dependency files"
    text = f"environment from {where or 'the repository'}: {files}"
    if repo.subdir:
        text += f" (notebooks of {repo.subdir}/ checked)"
    return text


def undeclared_imports(result: CheckResult) -> tuple[list[str], list[str]]:
    """Imports no dependency file declares: (those the environment lacks, those it has
    anyway because a declared package needs them). Without a lock, all are lacking."""
    spec = result.spec
    if spec is None or not spec.undeclared_imports:
        return [], []
    pins = set(result.lock.pins) if result.lock is not None and result.lock.ok else set()
    missing = [m for m in spec.undeclared_imports if not pins & import_packages(m)]
    present = [m for m in spec.undeclared_imports if m not in missing]
    return missing, present


def undeclared_line(result: CheckResult) -> str | None:
    missing, present = undeclared_imports(result)
    if not missing and not present:
        return None
    spec = result.spec
    read = ", ".join(spec.files) if spec is not None and spec.files else "no dependency files"
    parts = []
    if missing:
        parts.append(f"imported but not declared and not installed: {', '.join(missing)}")
    if present:
        parts.append(f"imported but not declared (installed only as a dependency of "
                     f"another package): {', '.join(present)}")
    return "; ".join(parts) + f" (read: {read})"


def dating_line(result: CheckResult) -> tuple[str, bool] | None:
    """The date the requirements were resolved as of, and where it came from; a
    warning when the dated resolution failed and today's packages were used."""
    lock = result.lock
    if lock is None:
        return None
    if lock.dating and lock.dating != "as-of":
        return f"resolved with {lock.dating}", True
    if not lock.exclude_newer:
        return None
    source = f" ({lock.as_of_source})" if lock.as_of_source else ""
    today = (f"; today's {', '.join(lock.forwarded)} (as of that date they could not be "
             "had)") if lock.forwarded else ""
    return f"resolved as of {lock.exclude_newer}{source}{today}", bool(lock.forwarded)


def header_lines(result: CheckResult, full_path: bool = True) -> list[tuple[str, bool]]:
    """The environment's lines in order, each with whether it is a warning (a Python
    other than the one asked for, imports the environment lacks)."""
    lines = [(line, False) for line in (environment_line(result, full_path),) if line]
    versions = python_versions(result)
    if versions.requested or versions.used:
        lines.append((versions.line(), versions.mismatch))
    dating = dating_line(result)
    if dating:
        lines.append(dating)
    undeclared = undeclared_line(result)
    if undeclared:
        lines.append((undeclared, bool(undeclared_imports(result)[0])))
    return lines
