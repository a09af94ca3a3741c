"""The spec stage: what a repository declares about its environment.

Dependency files are found the way repo2docker finds them: if a `binder/` or
`.binder/` folder exists, only it is read; otherwise the repository root. Each
kind of file is a small class with `detect()` and `read()`, tried in the order of
`DEPENDENCY_FILES`. Every requirement keeps the file it came from.

Every file is read with `read_repo_file` (only regular files inside the
repository), and a Python version is kept only when it is a version number.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import tomllib
import yaml
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PEP508
from packaging.utils import canonicalize_name

from nbrepro.errors import RepositoryFileError
from nbrepro.isolation.tools import python_version as version_number
from nbrepro.model import Requirement, Spec
from nbrepro.stages.source import read_repo_text


@dataclass
class Declared:
    """What one dependency file contributes."""

    requirements: list[Requirement] = field(default_factory=list)
    python_version: str | None = None
    local_project: bool = False
    apt_packages: list[str] = field(default_factory=list)
    post_build: str | None = None
    skipped: list[str] = field(default_factory=list)


class DependencyFile:
    """One kind of dependency file. Subclasses set `patterns` and implement `read`."""

    name: ClassVar[str]
    patterns: ClassVar[tuple[str, ...]]

    def detect(self, folder: Path) -> list[Path]:
        found: list[Path] = []
        for pattern in self.patterns:
            found.extend(sorted(p for p in folder.glob(pattern) if p.is_file()))
        return found

    def read(self, root: Path, rel: str) -> Declared:
        """What the file at `rel` (relative to the repository `root`) declares.
        Raises `OSError` (`RepositoryFileError`) and `UnicodeDecodeError` for a file
        that cannot be read; `read_spec` records those as skipped."""
        raise NotImplementedError


# --- requirement-line translation -------------------------------------------------

_CONDA_LINE = re.compile(r"^([A-Za-z0-9_.\-]+)\s*=\s*([^=\s<>!~]+)(?:=\S+)?$")

# conda package names that differ on PyPI
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "matplotlib-base": "matplotlib",
    "pytables": "tables",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "py-xgboost": "xgboost",
    "tensorflow-base": "tensorflow",
    "pywavelets": "PyWavelets",
    "pillow-simd": "pillow",
    "graphviz": None,
    "python-graphviz": "graphviz",
    "jupyter_client": "jupyter-client",
}

# conda packages that are toolchains, system libraries or the interpreter itself
_CONDA_ONLY = re.compile(
    r"^(python|pip|conda|nodejs|r|r-.*|cudatoolkit|cudnn|mkl.*|blas|openblas|libblas|libcblas|"
    r"liblapack|lib.*|.*-cpp|gcc.*|gxx.*|gfortran.*|compilers|cxx-compiler|c-compiler|"
    r"fortran-compiler|make|cmake|git|ca-certificates|openssl|certifi-base|tk|xz|zlib|"
    r"ncurses|readline|sqlite|icu|intel-openmp|_libgcc_mutex|_openmp_mutex|ld_impl_.*|"
    r"tbb|jpeg|libpng|freetype|fontconfig|hdf5|ffmpeg|nb_conda.*|jupyterlab_widgets)$",
    re.I,
)


def translate_line(line: str) -> tuple[str | None, str | None]:
    """One requirements line -> (PEP 508 requirement, reason it was skipped).

    Accepts the conda export format `name=1.2=build` that many `requirements.txt`
    files contain, as `name==1.2.*` (conda's `=1.2` matches 1.2 and 1.2.x).
    """
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith("#"):
        return None, None
    conda = _CONDA_LINE.match(line)
    if conda and "==" not in line:
        name, version = conda.groups()
        line = f"{name}=={version}" if version.endswith("*") else f"{name}=={version}.*"
    try:
        req = PEP508(line)
    except InvalidRequirement as exc:
        return None, f"{line!r}: not a valid requirement ({exc})"
    return str(req), None


def _requirements(lines: Iterable[str], source: str, skipped: list[str],
                  numbers: Iterable[int | None] | None = None) -> list[Requirement]:
    """The requirements of `lines` (with their line `numbers` in `source`, when known)."""
    found: list[Requirement] = []
    for raw, number in zip(lines, numbers or itertools.repeat(None), strict=False):
        spec, why = translate_line(raw)
        if why:
            skipped.append(f"{source}{f':{number}' if number else ''}: {why}")
        if spec:
            original = raw.strip()
            found.append(Requirement(spec, source, original if original != spec else None,
                                     line=number))
    return found


# --- the dependency-file kinds ----------------------------------------------------


class EnvironmentYml(DependencyFile):
    name = "environment.yml"
    patterns = ("environment.yml", "environment.yaml")

    def read(self, root: Path, rel: str) -> Declared:
        out = Declared()
        try:
            doc = yaml.safe_load(read_repo_text(root, rel)) or {}
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
            out.skipped.append(f"{rel}: not valid YAML ({str(exc).splitlines()[0]})")
            return out
        if not isinstance(doc, dict):
            out.skipped.append(f"{rel}: not a conda environment file")
            return out
        dependencies = doc.get("dependencies") or []
        for dep in dependencies if isinstance(dependencies, list) else []:
            if isinstance(dep, dict):
                pip_lines = dep.get("pip") or []
                out.requirements += _requirements(
                    (str(x) for x in (pip_lines if isinstance(pip_lines, list) else [])),
                    rel, out.skipped,
                )
                continue
            self._conda_dep(str(dep), rel, out)
        return out

    def _conda_dep(self, dep: str, rel: str, out: Declared) -> None:
        dep = dep.split("::")[-1].strip()  # drop a channel prefix
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep)
        if not m:
            out.skipped.append(f"{rel}: {dep!r}: not understood")
            return
        name, constraint = m.group(1), m.group(2).strip()
        if name.lower() == "python":
            version = re.match(r"^[=<>~!]*\s*([0-9]+(?:\.[0-9]+)?)", constraint)
            if version:
                out.python_version = version_number(version.group(1))
            return
        if name.lower() in CONDA_TO_PYPI:
            mapped = CONDA_TO_PYPI[name.lower()]
            if mapped is None:
                out.skipped.append(f"{rel}: {dep!r}: conda-only package")
                return
            name = mapped
        elif _CONDA_ONLY.match(name):
            out.skipped.append(f"{rel}: {dep!r}: conda-only package")
            return
        line = f"{name}{constraint}" if constraint[:1] in "=<>!~" else name
        if constraint and constraint[0].isdigit():  # `numpy 1.18` means =1.18
            line = f"{name}={constraint.split()[0]}"
        out.requirements += _requirements([line], rel, out.skipped)
        if out.requirements and out.requirements[-1].original is None and line != dep:
            out.requirements[-1].original = dep


class PipfileLock(DependencyFile):
    name = "Pipfile.lock"
    patterns = ("Pipfile.lock",)

    def read(self, root: Path, rel: str) -> Declared:
        import json

        out = Declared()
        try:
            doc = json.loads(read_repo_text(root, rel))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            out.skipped.append(f"{rel}: not valid JSON ({exc})")
            return out
        if not isinstance(doc, dict):
            out.skipped.append(f"{rel}: not a Pipfile.lock")
            return out
        python = _table(_table(doc.get("_meta")).get("requires")).get("python_version")
        out.python_version = _python(python, rel, out)
        lines = []
        for name, entry in _table(doc.get("default")).items():
            version = entry.get("version", "") if isinstance(entry, dict) else ""
            marker = entry.get("markers") if isinstance(entry, dict) else None
            version = version if isinstance(version, str) else ""
            marker = marker if isinstance(marker, str) else None
            lines.append(f"{name}{version}" + (f"; {marker}" if marker else ""))
        out.requirements = _requirements(lines, rel, out.skipped)
        return out


class Pipfile(DependencyFile):
    name = "Pipfile"
    patterns = ("Pipfile",)

    def read(self, root: Path, rel: str) -> Declared:
        out = Declared()
        try:
            doc = tomllib.loads(read_repo_text(root, rel))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            out.skipped.append(f"{rel}: not valid TOML ({exc})")
            return out
        python = _table(doc.get("requires")).get("python_version")
        out.python_version = _python(python, rel, out)
        lines = []
        for name, value in _table(doc.get("packages")).items():
            if isinstance(value, str):
                lines.append(name if value.strip() == "*" else f"{name}{value}")
            elif isinstance(value, dict) and isinstance(value.get("version"), str):
                version = value["version"]
                lines.append(name if version.strip() == "*" else f"{name}{version}")
            else:
                out.skipped.append(f"{rel}: {name}: only index packages are supported")
        out.requirements = _requirements(lines, rel, out.skipped)
        return out


class RequirementsTxt(DependencyFile):
    name = "requirements.txt"
    patterns = ("requirements.txt", "requirements*.txt")

    def detect(self, folder: Path) -> list[Path]:
        return list(dict.fromkeys(super().detect(folder)))  # requirements.txt first, once

    def read(self, root: Path, rel: str) -> Declared:
        out = Declared()
        self._read(root, root / rel, rel, out, seen=set())
        return out

    def _read(self, repo: Path, path: Path, rel: str, out: Declared, seen: set[Path]) -> None:
        if path in seen:
            return
        seen.add(path)
        try:
            text = read_repo_text(repo, path, errors="replace")
        except RepositoryFileError as exc:
            out.skipped.append(str(exc))
            return
        except OSError as exc:
            out.skipped.append(f"{rel}: unreadable ({exc.strerror})")
            return
        lines: list[str] = []
        numbers: list[int | None] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split(" #", 1)[0].strip()
            if line.startswith(("-r ", "--requirement ")):
                target = (path.parent / line.split(None, 1)[1]).resolve()
                root = path.parent.resolve()
                if target.is_file() and root in target.parents:
                    self._read(repo, target, target.relative_to(root).as_posix(), out, seen)
                else:
                    out.skipped.append(f"{rel}: {line!r}: included file not found")
            elif line in ("-e .", "."):
                out.local_project = True
            elif line.startswith("-"):
                out.skipped.append(f"{rel}: {line!r}: pip option ignored")
            else:
                lines.append(raw)
                numbers.append(number)
        out.requirements += _requirements(lines, rel, out.skipped, numbers)


class PythonProject(DependencyFile):
    """A repository that is itself a package: installed into the environment."""

    name = "setup.py"
    patterns = ("setup.py", "setup.cfg", "pyproject.toml")

    def detect(self, folder: Path) -> list[Path]:
        found = super().detect(folder)
        # A pyproject.toml that only configures tools is not a package.
        return [p for p in found if p.name != "pyproject.toml" or _is_project(p)]

    def read(self, root: Path, rel: str) -> Declared:
        out = Declared()
        path = root / rel
        out.local_project = path.name != "setup.cfg" or not (path.parent / "setup.py").exists()
        if path.name == "pyproject.toml":
            doc = _toml(path)
            requires = _table(doc.get("project")).get("requires-python")
            if isinstance(requires, str):
                m = re.search(r"([0-9]+\.[0-9]+)", requires)
                out.python_version = version_number(m.group(1)) if m and ">=" in requires \
                    else None
        return out


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(read_repo_text(path.parent, path.name))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, RecursionError):
        return {}


def _is_project(path: Path) -> bool:
    doc = _toml(path)
    return "project" in doc or "build-system" in doc


def _table(value: Any) -> dict[str, Any]:
    """`value` when it is a table (a crafted file may put anything anywhere)."""
    return value if isinstance(value, dict) else {}


def _python(value: Any, rel: str, out: Declared) -> str | None:
    """A declared Python version, kept only when it is a version number."""
    if value is None or value == "":
        return None
    version = version_number(value)
    if version is None:
        out.skipped.append(f"{rel}: python_version {str(value)[:60]!r}: not a version number")
    return version


class RuntimeTxt(DependencyFile):
    name = "runtime.txt"
    patterns = ("runtime.txt",)

    def read(self, root: Path, rel: str) -> Declared:
        out = Declared()
        text = read_repo_text(root, rel, errors="replace").strip()
        m = re.fullmatch(r"python-([0-9]+(?:\.[0-9]+){0,2})", text)
        if m and version_number(m.group(1)):
            out.python_version = m.group(1)
        else:
            out.skipped.append(f"{rel}: {text[:40]!r}: not a Python runtime")
        return out


class PythonVersionFile(DependencyFile):
    """pyenv's `.python-version`: its first line, when that is a version number."""

    name = ".python-version"
    patterns = (".python-version",)

    def read(self, root: Path, rel: str) -> Declared:
        out = Declared()
        lines = read_repo_text(root, rel, errors="replace").strip().splitlines()
        first = lines[0].strip() if lines else ""
        if version_number(first):
            out.python_version = first
        else:  # "system", a virtualenv name, "3.9.7/envs/x"
            out.skipped.append(f"{rel}: {first[:40]!r}: not a Python version")
        return out


class AptTxt(DependencyFile):
    name = "apt.txt"
    patterns = ("apt.txt",)

    def read(self, root: Path, rel: str) -> Declared:
        text = read_repo_text(root, rel, errors="replace")
        lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        return Declared(apt_packages=[ln for ln in lines if ln])


class PostBuild(DependencyFile):
    name = "postBuild"
    patterns = ("postBuild",)

    def read(self, root: Path, rel: str) -> Declared:
        return Declared(post_build=rel)


# The stated order: a lock file wins over the file it locks (Pipfile.lock over Pipfile).
DEPENDENCY_FILES: tuple[DependencyFile, ...] = (
    EnvironmentYml(),
    PipfileLock(),
    Pipfile(),
    RequirementsTxt(),
    PythonProject(),
    RuntimeTxt(),
    PythonVersionFile(),
    AptTxt(),
    PostBuild(),
)


def config_folder(root: Path) -> Path:
    """`binder/` or `.binder/` when present (and then only it), else the root."""
    for name in ("binder", ".binder"):
        if (root / name).is_dir():
            return root / name
    return root


def read_spec(root: Path, imports: Iterable[str] = ()) -> Spec:
    folder = config_folder(root)
    spec = Spec(imports=sorted(set(imports)))
    kinds_found: set[str] = set()
    for kind in DEPENDENCY_FILES:
        if kind.name == "Pipfile" and "Pipfile.lock" in kinds_found:
            continue
        for path in kind.detect(folder):
            rel = path.relative_to(root).as_posix()
            try:
                declared = kind.read(root, rel)
            except RepositoryFileError as exc:
                spec.skipped.append(str(exc))
                continue
            except (OSError, UnicodeDecodeError) as exc:
                spec.skipped.append(f"{rel}: not read ({getattr(exc, 'strerror', None) or exc})")
                continue
            kinds_found.add(kind.name)
            spec.files.append(rel)
            find_lines(root, declared.requirements)
            spec.requirements += declared.requirements
            spec.skipped += declared.skipped
            spec.apt_packages += declared.apt_packages
            spec.post_build = spec.post_build or declared.post_build
            if declared.python_version and not spec.python_version:
                spec.python_version = declared.python_version
            if declared.local_project and spec.local_project is None:
                # A project is installed from the root even when declared in binder/.
                spec.local_project = "."
    spec.requirements = _dedupe(spec.requirements)
    names = {requirement_name(r.spec) for r in spec.requirements}
    local = _local_modules(root) if spec.imports else set()
    spec.undeclared_imports = [m for m in spec.imports if m not in local
                               and m not in KERNEL_IMPORTS and not names & import_packages(m)]
    return spec


# What the kernel nbrepro adds always provides.
KERNEL_IMPORTS = frozenset({"IPython", "ipykernel", "ipywidgets", "traitlets", "jupyter_client"})


@functools.cache
def import_providers() -> dict[str, list[str]]:
    """Import name -> the distributions that provide it, the usual one first, for the
    names that differ (the maintained table `import-distributions.json`)."""
    text = resources.files("nbrepro.stages").joinpath("import-distributions.json").read_text()
    return {name: [value] if isinstance(value, str) else list(value)
            for name, value in json.loads(text).items() if not name.startswith("_")}


def import_packages(module: str) -> set[str]:
    """The package names (canonical) that may provide the top-level `module`."""
    return {canonicalize_name(module),
            *(canonicalize_name(d) for d in import_providers().get(module, []))}


def _local_modules(root: Path) -> set[str]:
    """Names the repository's own files provide: `name.py` and folders anywhere in it."""
    from nbrepro.stages.scan import SKIP_DIRS

    names: set[str] = set()
    for _folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        names.update(dirs)
        names.update(f[:-3] for f in files if f.endswith(".py"))
    return names


def find_lines(root: Path, requirements: list[Requirement]) -> None:
    """The line of each requirement a structured file declared (environment.yml,
    Pipfile, pyproject.toml): the first line of its file that names the package."""
    texts: dict[str, list[str]] = {}
    for req in requirements:
        if req.line is not None:
            continue
        if req.source not in texts:
            try:
                texts[req.source] = read_repo_text(root, req.source,
                                                   errors="replace").splitlines()
            except (OSError, UnicodeDecodeError):
                texts[req.source] = []
        spelled = "[-_.]+".join(map(re.escape, re.split(r"-", requirement_name(req.spec))))
        name = re.compile(rf"(?<![\w.-]){spelled}(?![\w.-])", re.I)
        req.line = next((number for number, text in enumerate(texts[req.source], 1)
                         if name.search(text)), None)


def _dedupe(reqs: list[Requirement]) -> list[Requirement]:
    """Keep the first declaration of each exact requirement line."""
    seen: set[str] = set()
    out: list[Requirement] = []
    for req in reqs:
        if req.spec not in seen:
            seen.add(req.spec)
            out.append(req)
    return out


def requirement_name(spec: str) -> str:
    try:
        return canonicalize_name(PEP508(spec).name)
    except InvalidRequirement:
        return spec
