"""The audited repository's own settings for nbrepro: `[tool.nbrepro]` in its pyproject.toml.

    [tool.nbrepro]
    rtol = 1e-5                      # numbers in text: |a - b| <= atol + rtol * max(|a|, |b|)
    atol = 1e-8
    image-threshold = 0.6            # lowest image similarity score that still matches
    disable = ["collection-order"]   # normalisers to switch off (nbrepro.compare.NORMALISERS)
    ignore = [                       # sanitisers: a regex, or a regex and its replacement
        'Run id: \\w+',
        {regex = 'loss: [\\d.]+', replace = 'loss: LOSS'},
    ]
    sanitize-with = "ci/nbval_sanitize.cfg"   # nbval sanitize files (one or a list)
    lax = false                      # like nbval --nbval-lax: check only NBVAL_CHECK_OUTPUT cells
    warnings = "strict"              # new warnings on stderr count as differences
                                     # (default "report": listed with the cell, not counted)

    [tool.nbrepro.notebooks."examples/**/*.ipynb"]   # per-notebook settings, keyed by glob
    rtol = 1e-3
    enable = ["collection-order"]
    skip = true                      # do not check these notebooks at all

Per-notebook tables take the same keys (plus `enable` and `skip`); every table whose
glob matches a notebook applies, in file order, later ones winning. Globs match
the notebook's path relative to the repository root: `*` within one directory,
`**` across directories.

A repository that runs `pytest --nbval --nbval-sanitize-with FILE` (in pytest.ini,
tox.ini, setup.cfg or `[tool.pytest.ini_options]`) has its sanitize file picked up
too, without any nbrepro table.

A malformed table raises `nbrepro.errors.ConfigError` with a one-line message; with
`strict=False` every problem (key, file, why) is collected in `RepoConfig.problems`
instead and the valid keys are kept.

These settings come from the audited repository, so they can decide its own verdict
(`ignore = ['(?s).+']` makes every output equal): every setting is kept as a line of
text (`RepoConfig.described`, `described_for`) for the results to show next to the
verdicts it changed. Files are read only inside the repository (`read_repo_file`).
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import tomllib

from nbrepro.compare import NORMALISERS, CompareOptions
from nbrepro.compare.markers import Sanitizer, parse_sanitize_text
from nbrepro.errors import ConfigError
from nbrepro.selection import glob_regex as _glob_regex
from nbrepro.stages.source import read_repo_text

IGNORE_PLACEHOLDER = "<ignored>"

_SHARED_KEYS = {
    "rtol", "atol", "image-threshold", "disable", "ignore", "sanitize-with", "lax", "warnings",
}  # fmt: skip
WARNINGS_MODES = ("report", "strict")
_TOP_KEYS = _SHARED_KEYS | {"notebooks"}
_NOTEBOOK_KEYS = _SHARED_KEYS | {"enable", "skip"}


@dataclass
class Settings:
    """One table of settings (the top level or one notebook glob), validated."""

    rtol: float | None = None
    atol: float | None = None
    image_threshold: float | None = None
    disable: list[str] = field(default_factory=list)
    enable: list[str] = field(default_factory=list)
    sanitizers: list[Sanitizer] = field(default_factory=list)
    lax: bool | None = None
    skip: bool = False
    described: list[str] = field(default_factory=list)  # every key, as `where: key = value`


@dataclass
class NotebookSettings:
    glob: str
    pattern: re.Pattern[str]
    settings: Settings


@dataclass
class RepoConfig:
    """nbrepro's settings for one audited repository."""

    root: Path | None = None
    settings: Settings = field(default_factory=Settings)
    notebooks: list[NotebookSettings] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # files the settings came from
    # sanitize files named in the repository's pytest settings, as `where: file`
    pytest_described: list[str] = field(default_factory=list)

    @property
    def described(self) -> list[str]:
        """Every setting the repository supplies, one line each."""
        return [*self.pytest_described, *self.settings.described,
                *(d for n in self.notebooks for d in n.settings.described)]

    def described_for(self, notebook_path: str | Path) -> list[str]:
        """The settings that apply to one notebook, one line each."""
        return [*self.pytest_described, *self.settings.described,
                *(d for s in self._matching(notebook_path) for d in s.described)]
    problems: list[str] = field(default_factory=list)  # what was ignored, and why

    def options_for(self, notebook_path: str | Path) -> CompareOptions:
        """The compare options for one notebook (path relative to the repository root,
        or absolute inside it)."""
        options = CompareOptions()
        for settings in [self.settings, *self._matching(notebook_path)]:
            options = _merge(options, settings)
        return options

    def skipped(self, notebook_path: str | Path) -> bool:
        """Whether a per-notebook table says `skip = true` for this notebook."""
        return any(s.skip for s in self._matching(notebook_path))

    def _matching(self, notebook_path: str | Path) -> list[Settings]:
        path = Path(notebook_path)
        if path.is_absolute() and self.root is not None:
            with contextlib.suppress(ValueError):  # outside the repository: match as given
                path = path.relative_to(self.root)
        posix = PurePosixPath(path).as_posix()
        return [n.settings for n in self.notebooks if n.pattern.fullmatch(posix)]


class _Problems:
    """Strict: the first problem raises. Lenient: each is noted and its key dropped."""

    def __init__(self, strict: bool, found: list[str]) -> None:
        self.strict, self.found = strict, found

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        try:
            yield
        except ConfigError as exc:
            if self.strict:
                raise
            self.found.append(str(exc))


def load(repo_root: str | Path, strict: bool = True) -> RepoConfig:
    """Read `[tool.nbrepro]` (and nbval sanitize files named in pytest settings).
    With `strict=False`, problems are collected in `problems` instead of raised."""
    root = Path(repo_root)
    config = RepoConfig(root=root)
    config.settings.sanitizers.extend(_pytest_sanitizers(root, config.sources))
    config.pytest_described = list(config.sources)
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return config
    try:
        document = tomllib.loads(read_repo_text(root, "pyproject.toml"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError, OSError) as exc:
        why = getattr(exc, "strerror", None) or exc
        kind = "" if isinstance(exc, OSError) else "invalid TOML, "
        problem = f"pyproject.toml: {kind}[tool.nbrepro] not read: {why}"
        if strict:
            raise ConfigError(problem) from None
        config.problems.append(problem)
        return config
    tool = document.get("tool", {})
    table = tool.get("nbrepro") if isinstance(tool, dict) else None
    if table is None:
        return config
    return from_table(table, root=root, where="pyproject.toml [tool.nbrepro]", base=config,
                      strict=strict)


def from_table(
    table: Any, *, root: Path | None = None, where: str = "[tool.nbrepro]",
    base: RepoConfig | None = None, strict: bool = True,
) -> RepoConfig:  # fmt: skip
    """A RepoConfig from an already-parsed `[tool.nbrepro]` table."""
    config = base or RepoConfig(root=root)
    problems = _Problems(strict, config.problems)
    if not isinstance(table, dict):
        with problems.guard():
            raise ConfigError(f"{where} must be a table")
        return config
    known = _check_keys(table, _TOP_KEYS, where, problems)
    top = _settings({k: v for k, v in known.items() if k != "notebooks"}, root, where, problems)
    top.sanitizers[:0] = config.settings.sanitizers
    config.settings = top
    config.sources.append(where)
    notebooks = known.get("notebooks", {})
    if not isinstance(notebooks, dict):
        with problems.guard():
            raise ConfigError(f"{where} notebooks must be a table of glob = {{settings}}")
        return config
    for glob, sub in notebooks.items():
        sub_where = f"{where} notebooks.{glob!r}"
        if not isinstance(glob, str) or len(glob) > 1000:
            with problems.guard():
                raise ConfigError(f"{where} notebooks: not a glob: {str(glob)[:60]!r}")
            continue
        if not isinstance(sub, dict):
            with problems.guard():
                raise ConfigError(f"{sub_where} must be a table")
            continue
        sub_known = _check_keys(sub, _NOTEBOOK_KEYS, sub_where, problems)
        config.notebooks.append(
            NotebookSettings(glob, _glob_regex(glob),
                             _settings(sub_known, root, sub_where, problems))
        )
    return config


def _settings(
    table: dict[str, Any], root: Path | None, where: str, problems: _Problems | None = None,
) -> Settings:  # fmt: skip
    problems = problems or _Problems(True, [])
    settings = Settings(described=[f"{where}: {key} = {_shown(value)}"
                                   for key, value in table.items()])
    for key in ("rtol", "atol", "image-threshold"):
        if key in table:
            with problems.guard():
                value = table[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ConfigError(f"{where} {key} must be a number >= 0, got {value!r}")
                if key == "image-threshold" and value > 1:
                    raise ConfigError(f"{where} image-threshold must be at most 1, got {value}")
                setattr(settings, key.replace("-", "_"), float(value))
    for key in ("disable", "enable"):
        if key in table:
            with problems.guard():
                names = _string_list(table[key], f"{where} {key}")
                unknown = [n for n in names if n not in NORMALISERS]
                setattr(settings, key, [n for n in names if n in NORMALISERS])
                if unknown:
                    raise ConfigError(
                        f"{where} {key}: unknown normaliser(s) {', '.join(unknown)}; "
                        f"known: {', '.join(NORMALISERS)}"
                    )
    for key in ("lax", "skip"):
        if key in table:
            with problems.guard():
                if not isinstance(table[key], bool):
                    raise ConfigError(
                        f"{where} {key} must be true or false, got {table[key]!r}")
                setattr(settings, key, table[key])
    if "warnings" in table:
        with problems.guard():
            mode = table["warnings"]
            if mode not in WARNINGS_MODES:
                raise ConfigError(
                    f"{where} warnings must be one of {', '.join(map(repr, WARNINGS_MODES))}, "
                    f"got {mode!r}"
                )
            # strict: the `warnings` normaliser is off, so a new warning is a difference
            (settings.disable if mode == "strict" else settings.enable).append("warnings")
    if "sanitize-with" in table:
        value = table["sanitize-with"]
        paths: list[str] = []
        with problems.guard():
            paths = ([value] if isinstance(value, str)
                     else _string_list(value, f"{where} sanitize-with"))
        for name in paths:
            with problems.guard():
                settings.sanitizers.extend(
                    _checked(_sanitize_file(root, name, f"{where} sanitize-with"),
                             f"{where} sanitize-with {name!r}"))
    if "ignore" in table:
        settings.sanitizers.extend(_ignore(table["ignore"], f"{where} ignore", problems))
    return settings


def _shown(value: Any, limit: int = 160) -> str:
    """A setting's value as the results show it (TOML-like, shortened)."""
    text = repr(value) if not isinstance(value, bool) else str(value).lower()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sanitize_file(root: Path | None, name: str, where: str) -> list[Sanitizer]:
    """The sanitizers of a sanitize file of the repository (only a file inside it)."""
    if root is None:
        raise ConfigError(f"{where}: {name!r}: no repository to read it from")
    try:
        text = read_repo_text(root, name)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file {name!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_sanitize_text(text, source=name)


def _checked(sanitizers: list[Sanitizer], where: str) -> list[Sanitizer]:
    """Sanitizers whose replacement works: a bad group reference (`\\9`) would fail
    only when applied, in the middle of a comparison."""
    for sanitizer in sanitizers:
        try:
            # `regex` reads a template only at a match; the standard module reads it at
            # once (a pattern only `regex` understands goes unchecked, and a bad
            # replacement is then left out when it fails during the comparison).
            stdlib = re.compile(sanitizer.pattern.pattern)
        except (re.error, RecursionError, OverflowError):
            continue
        try:
            stdlib.sub(sanitizer.replace, "")
        except (re.error, IndexError) as exc:
            raise ConfigError(f"{where}: replacement {sanitizer.replace!r} does not work "
                              f"with {sanitizer.pattern.pattern!r}: {exc}") from None
    return sanitizers


def _ignore(value: Any, where: str, problems: _Problems) -> list[Sanitizer]:
    if not isinstance(value, list):
        with problems.guard():
            raise ConfigError(f"{where} must be a list of regexes or {{regex, replace}} tables")
        return []
    result = []
    for item in value:
        with problems.guard():
            result.extend(_checked(_ignore_entry(item, where), where))
    return result


def _ignore_entry(item: Any, where: str) -> list[Sanitizer]:
    """One `ignore` entry: a regex, or {regex, replace}."""
    if isinstance(item, str):
        return [Sanitizer.compile(item, IGNORE_PLACEHOLDER, where)]
    if isinstance(item, dict) and isinstance(item.get("regex"), str):
        extra = set(item) - {"regex", "replace"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        replace = item.get("replace", IGNORE_PLACEHOLDER)
        if not isinstance(replace, str):
            raise ConfigError(f"{where}: replace must be a string, got {replace!r}")
        return [Sanitizer.compile(item["regex"], replace, where)]
    raise ConfigError(f"{where}: each entry must be a regex or {{regex, replace}}, got {item!r}")


def _merge(options: CompareOptions, settings: Settings) -> CompareOptions:
    names = [n for n in options.normalisers if n not in settings.disable]
    names += [n for n in settings.enable if n not in names]
    changes: dict[str, Any] = {
        "normalisers": [n for n in NORMALISERS if n in names],  # registry order
        "sanitizers": [*options.sanitizers, *settings.sanitizers],
    }
    for name in ("rtol", "atol", "image_threshold", "lax"):
        value = getattr(settings, name)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(options, **changes)


def _check_keys(
    table: dict[str, Any], allowed: set[str], where: str, problems: _Problems
) -> dict[str, Any]:
    """The known keys of `table`; each unknown one is a problem."""
    for key in table:
        if key not in allowed:
            with problems.guard():
                hint = key.replace("_", "-")
                suggestion = f"; did you mean {hint!r}?" if hint in allowed else ""
                raise ConfigError(f"{where}: unknown key {key!r}{suggestion}")
    return {k: v for k, v in table.items() if k in allowed}


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    return list(value)


# -- nbval settings in the repository's pytest configuration -----------------

_SANITIZE_OPTIONS = ("--nbval-sanitize-with", "--sanitize-with")


def _pytest_sanitizers(root: Path, sources: list[str]) -> list[Sanitizer]:
    """Sanitize files the repository passes to nbval in its pytest `addopts`.

    Read leniently: this is the repository's test setup, not nbrepro's
    configuration, so an unreadable file or a missing sanitize file is skipped.
    """
    result: list[Sanitizer] = []
    for name, addopts in _pytest_addopts(root):
        try:
            words = shlex.split(addopts)
        except ValueError:
            continue
        for i, word in enumerate(words):
            value = None
            if word in _SANITIZE_OPTIONS and i + 1 < len(words):
                value = words[i + 1]
            elif word.startswith(tuple(f"{o}=" for o in _SANITIZE_OPTIONS)):
                value = word.split("=", 1)[1]
            if value:
                try:
                    found = _checked(_sanitize_file(root, value, f"{name} addopts"), name)
                except ConfigError:
                    continue
                result.extend(found)
                sources.append(f"{name} addopts: sanitize file {value} "
                               f"({len(found)} pattern{'s' if len(found) != 1 else ''})")
    return result


def _pytest_addopts(root: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, section in (("pytest.ini", "pytest"), ("tox.ini", "pytest"),
                          ("setup.cfg", "tool:pytest")):  # fmt: skip
        path = root / name
        if path.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(read_repo_text(root, name), source=name)
            except (configparser.Error, UnicodeDecodeError, OSError):
                continue
            if parser.has_option(section, "addopts"):
                found.append((name, parser.get(section, "addopts")))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            document = tomllib.loads(read_repo_text(root, "pyproject.toml"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, RecursionError):
            return found
        addopts: Any = document
        for key in ("tool", "pytest", "ini_options", "addopts"):
            addopts = addopts.get(key) if isinstance(addopts, dict) else None
        if isinstance(addopts, list):
            addopts = " ".join(shlex.quote(a) for a in addopts if isinstance(a, str))
        if isinstance(addopts, str):
            found.append(("pyproject.toml", addopts))
    return found
