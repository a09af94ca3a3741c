"""Restoration (`--restore`): the distributions an undeclared import needs.

A top-level import that nothing in the environment provides is mapped to a
distribution: the maintained table `import-distributions.json` for the well-known
mismatches (`sklearn` -> `scikit-learn`, `yaml` -> `PyYAML`), otherwise the same
name. The candidate is accepted only when the registry shows that its wheel
installs that module (`nbrepro.registry`): a name on PyPI that provides something
else, or nothing, is refused, never installed.

Not packages, so never looked up: the repository's own modules (a `.py` file or a
folder of them anywhere in it) and the standard library. Names come from notebooks
and from the messages of their runs, so they are hostile: only a plain ASCII
identifier is a module name, and only a PEP 508 name reaches the registry.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from nbrepro.model import InferredImport, Requirement, Spec
from nbrepro.registry import (
    RegistryError,
    valid_distribution_name,
    valid_module_name,
    wheel_modules,
)
from nbrepro.stages.scan import SKIP_DIRS
from nbrepro.stages.source import read_repo_text
from nbrepro.stages.spec import import_packages, import_providers, requirement_name

MAX_ATTEMPTS = 3  # runs of one notebook with --restore: the first and two after restoring
# Distributions one check may add after ModuleNotFoundErrors: a notebook's messages are
# its own to craft, and each name verified is still an install.
MAX_RESTORED = 20
RESTORE_MODES = ("none", "auto")
_WALK_LIMIT = 50_000  # entries looked at when listing a repository's own modules
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__", "__main__"}
_NOT_FOUND = re.compile(r"No module named '([^']{1,200})'")


def known_distributions() -> dict[str, str]:
    """Import name -> the usual distribution, for the names that differ."""
    return {name: names[0] for name, names in import_providers().items()}


def distribution_for(module: str) -> str | None:
    """The candidate distribution for a top-level module, or None when `module` is not
    a module name (a crafted one: a path, a URL, an option)."""
    if not valid_module_name(module):
        return None
    name = known_distributions().get(module, module)
    return name if valid_distribution_name(name) else None


def local_modules(root: Path) -> set[str]:
    """Top-level names the repository itself provides: `name.py` files and folders
    holding Python files, anywhere in it (a notebook may run from any folder)."""
    found: set[str] = set()
    seen = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        seen += len(dirs) + len(files)
        if seen > _WALK_LIMIT:
            break
        if folder != str(root) and any(f.endswith(".py") for f in files):
            found.add(Path(folder).name)
        found.update(f[:-3] for f in files if f.endswith(".py"))
    return {name for name in found if valid_module_name(name)}


def missing_module(exception: str | None, message: str | None) -> str | None:
    """The top-level module a ModuleNotFoundError names, if it is a module name."""
    if exception not in ("ModuleNotFoundError", "ImportError") or not message:
        return None
    m = _NOT_FOUND.search(message)
    if not m:
        return None
    top = m.group(1).split(".", 1)[0]
    return top if valid_module_name(top) else None


def declared_names(spec: Spec) -> set[str]:
    return {requirement_name(r.spec) for r in spec.requirements}


def uncovered_imports(spec: Spec, pins: Iterable[str], local: set[str]) -> list[str]:
    """The notebooks' imports that neither the environment's pins (declared and their
    dependencies) nor the repository provide."""
    have = {canonicalize_name(p) for p in pins} | declared_names(spec)
    missing = []
    for module in spec.imports:
        if module in local or module in _STDLIB or not valid_module_name(module):
            continue
        candidate = distribution_for(module)
        names = {canonicalize_name(module)}
        if candidate:
            names.add(canonicalize_name(candidate))
        if not names & have:
            missing.append(module)
    return missing


class Restorer:
    """Looks up undeclared imports, once each, and keeps every answer."""

    def __init__(self, root: Path, use_cache: bool = True) -> None:
        self.local = local_modules(root)
        self.use_cache = use_cache
        self.answers: dict[str, InferredImport] = {}

    def look_up(self, module: str, notebook: str | None = None) -> InferredImport:
        if module not in self.answers:
            self.answers[module] = self._look_up(module, notebook)
        return self.answers[module]

    def _look_up(self, module: str, notebook: str | None) -> InferredImport:
        if not valid_module_name(module):
            return InferredImport(module[:100], None, False, "not a module name", notebook)
        if module in _STDLIB:
            return InferredImport(module, None, False, "in the standard library", notebook)
        if module in self.local:
            return InferredImport(module, None, False,
                                  "a module of the repository itself, not a package", notebook)
        candidate = distribution_for(module)
        if candidate is None:
            return InferredImport(module, None, False, "no distribution name for it", notebook)
        try:
            answer = wheel_modules(candidate, use_cache=self.use_cache)
        except RegistryError as exc:
            return InferredImport(module, candidate, False, f"not verified: {exc}", notebook)
        if not answer.found:
            return InferredImport(module, candidate, False,
                                  f"not verified: {answer.reason}", notebook)
        if not answer.provides(module):
            provides = ", ".join(answer.modules[:5]) or "no module"
            return InferredImport(module, candidate, False,
                                  f"not verified: {answer.wheel} provides {provides}, "
                                  f"not {module}", notebook)
        name = answer.name or candidate
        return InferredImport(module, name if valid_distribution_name(name) else candidate,
                              True, answer.evidence(module), notebook)


# --- what a user is told without --restore ---------------------------------------

_CANDIDATE_NAMES = re.compile(
    r"(.*env.*\.ya?ml|.*requirements.*\.(txt|in)|.*conda.*\.ya?ml|.*deps.*\.txt)", re.I)
_README = re.compile(r"readme(\.(md|rst|txt))?", re.I)
_INSTALL_LINE = re.compile(r"\b(pip3?|conda|mamba) install\b")
_CANDIDATE_DEPTH = 2  # folders below the root looked at for candidate files


def candidate_files(root: Path, read: Iterable[str]) -> list[str]:
    """Files that look like dependency files but that the spec stage did not read:
    environment files under other names, `requirements/*.txt`, a README with `pip
    install`. Relative POSIX paths, at most 20."""
    done = set(read)
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel_folder = Path(folder).relative_to(root)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and len(rel_folder.parts) < _CANDIDATE_DEPTH)
        for name in sorted(files):
            rel = (rel_folder / name).as_posix()
            if rel in done or not (Path(folder) / name).is_file():
                continue
            if _CANDIDATE_NAMES.fullmatch(name) or (
                    rel_folder.name.startswith("requirement") and name.endswith(".txt")):
                found.append(rel)
            elif _README.fullmatch(name) and _mentions_install(root, rel):
                found.append(f"{rel} (install commands)")
        if len(found) >= 20:
            break
    return found[:20]


# pip options whose value is the next word (a file, an index, a folder), not a package.
_VALUED_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i",
                   "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target",
                   "--prefix", "--root", "--src", "--python"}
_OTHER_INDEX = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}
_FILE_LIKE = re.compile(r"[/\\:]|\.(txt|py|ya?ml|toml|cfg|whl|gz|zip|egg)$|^\.+$", re.I)


def read_candidates(root: Path, spec: Spec) -> None:
    """`--restore`: read the look-alike dependency files too (`conda_env.yaml`,
    `requirements/base.txt`, the `pip install` lines of a README); their requirements
    join the spec with the file they came from, and the files are listed as read."""
    from nbrepro.stages.spec import EnvironmentYml, RequirementsTxt, find_lines

    for entry in spec.candidate_files:
        rel = entry.removesuffix(" (install commands)")
        try:
            if entry.endswith("(install commands)"):
                found = _install_requirements(read_repo_text(root, rel, errors="replace"), rel)
            else:
                kind = RequirementsTxt() if rel.endswith(".txt") else EnvironmentYml()
                declared = kind.read(root, rel)
                found = declared.requirements
                find_lines(root, found)
                spec.skipped += declared.skipped
        except (OSError, UnicodeDecodeError) as exc:
            spec.skipped.append(f"{rel}: not read ({getattr(exc, 'strerror', None) or exc})")
            continue
        known = {r.spec for r in spec.requirements}
        spec.requirements += [r for r in found if r.spec not in known]
        spec.files.append(rel)
    spec.candidate_files = []
    names = {requirement_name(r.spec) for r in spec.requirements}
    spec.undeclared_imports = [m for m in spec.undeclared_imports
                               if not names & import_packages(m)]


def _install_requirements(text: str, rel: str) -> list[Requirement]:
    """The packages of the `pip install` commands in a README: plain requirement words
    only (no options, files, paths or URLs), each with its line."""
    from nbrepro.stages.spec import translate_line

    found: list[Requirement] = []
    for number, line in enumerate(text.splitlines()[:5000], 1):
        match = re.search(r"\bpip3?\s+install\s+(.*)", line[:2000])
        if match is None:
            continue
        words = re.split(r"\s+", re.split(r"&&|;|\||#|`|\\$", match.group(1))[0].strip())
        if _OTHER_INDEX & {w.split("=")[0] for w in words}:
            continue  # packages meant for another index: from PyPI, a confusion attack
        skip_next = False
        for word in (w.strip("'\"") for w in words if w):
            if skip_next:
                skip_next = False
                continue
            if word.startswith("-"):
                skip_next = word in _VALUED_OPTIONS
                continue
            if _FILE_LIKE.search(word):
                continue
            spec, _why = translate_line(word)
            if spec:
                found.append(Requirement(spec, rel, word if word != spec else None, line=number))
    return found


def _mentions_install(root: Path, rel: str) -> bool:
    try:
        return bool(_INSTALL_LINE.search(read_repo_text(root, rel, errors="replace")))
    except OSError:
        return False


def not_declared_hint(module: str, spec: Spec) -> str | None:
    """What a user needs to know about a ModuleNotFoundError when `--restore` is off:
    that no file declares the module, the files seen, and that `--restore` would try.
    None when the module is declared (then it is another problem)."""
    candidate = distribution_for(module)
    names = {canonicalize_name(module)} | ({canonicalize_name(candidate)} if candidate else set())
    if names & declared_names(spec):
        return None
    read = ", ".join(f for f in spec.files if not f.endswith(("runtime.txt", "apt.txt",
                                                              "postBuild"))) or "none found"
    text = f"no dependency file declares {module} (read: {read}"
    if spec.candidate_files:
        text += f"; seen, not read: {', '.join(spec.candidate_files)}"
    return text + "); --restore would look for a verified distribution and try it"
