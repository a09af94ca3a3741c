"""The markers notebook authors already write to say how a cell should be checked.

nbval reads comment markers in a cell's source (`# NBVAL_IGNORE_OUTPUT`,
`# NBVAL_CHECK_OUTPUT`, `# NBVAL_SKIP`, `# NBVAL_RAISES_EXCEPTION`) and the same
words as cell tags (`nbval-ignore-output`, ...); nbclient reads the tags
`raises-exception` and `skip-execution`. Repositories that use nbval in CI also
keep *sanitize files*: `regex:` / `replace:` pairs applied to every output before
comparing. nbrepro honours all of them, with nbval's semantics, so a repository
that passes `pytest --nbval` is judged by the rules its authors chose.

The pipeline uses three things from here:

- `cell_policy(cell, sanitizers)` -> `CellPolicy`: skip the cell, ignore its output,
  expect an exception, or check it;
- `apply_execution_tags(nb)`: adds nbclient's tags for the nbval markers so that
  nbclient skips `NBVAL_SKIP` cells and continues after `NBVAL_RAISES_EXCEPTION`;
- `load_sanitize_file(path)` / `parse_sanitize_text(text)` -> `list[Sanitizer]`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from nbrepro.errors import ConfigError, PatternFailed


class Marker(str, enum.Enum):
    """What a marker asks for; several markers can apply to one cell."""

    IGNORE_OUTPUT = "ignore-output"
    CHECK_OUTPUT = "check-output"
    SKIP = "skip"
    RAISES_EXCEPTION = "raises-exception"


# nbval's comment markers (nbval.plugin.comment_markers), including its
# backwards-compatible spelling.
COMMENT_MARKERS: dict[str, Marker] = {
    "NBVAL_IGNORE_OUTPUT": Marker.IGNORE_OUTPUT,
    "PYTEST_VALIDATE_IGNORE_OUTPUT": Marker.IGNORE_OUTPUT,
    "NBVAL_CHECK_OUTPUT": Marker.CHECK_OUTPUT,
    "NBVAL_SKIP": Marker.SKIP,
    "NBVAL_RAISES_EXCEPTION": Marker.RAISES_EXCEPTION,
}

# nbval derives its tags from the comment markers (lower case, dashes) and adds
# `raises-exception`; nbclient adds `skip-execution`.
TAG_MARKERS: dict[str, Marker] = {
    **{name.lower().replace("_", "-"): marker for name, marker in COMMENT_MARKERS.items()},
    "raises-exception": Marker.RAISES_EXCEPTION,
    "skip-execution": Marker.SKIP,
}


class PolicyKind(str, enum.Enum):
    CHECK = "check"
    IGNORE_OUTPUT = "ignore-output"
    SKIP = "skip"
    RAISES_EXCEPTION = "raises-exception"

    def __str__(self) -> str:
        return self.value


# Seconds one repository pattern may run on one output text. The patterns come from
# the audited repository, so one can be written to backtrack for ever; the `regex`
# module (same syntax as `re`) stops it. A re-run's outputs are compared with each
# pattern a few times, so even a pattern that always hits the limit costs little.
PATTERN_TIMEOUT = 0.1


@dataclass(frozen=True)
class Sanitizer:
    """One `regex` -> `replace` rewrite applied to every output text before comparing."""

    pattern: regex.Pattern[str]
    replace: str
    source: str = ""  # where it was declared, for messages and reports

    @classmethod
    def compile(cls, pattern: str, replace: str, source: str = "") -> Sanitizer:
        try:
            compiled = regex.compile(pattern)
        except (regex.error, ValueError, OverflowError) as exc:
            where = f"{source}: " if source else ""
            raise ConfigError(f"{where}invalid sanitizer regex {pattern!r}: {exc}") from None
        return cls(compiled, replace, source)

    def apply(self, text: str) -> str:
        """`text` rewritten; raises `PatternFailed` when the pattern runs too long or
        its replacement cannot be made."""
        try:
            return self.pattern.sub(self.replace, text, timeout=PATTERN_TIMEOUT)
        except TimeoutError:
            why = f"took more than {PATTERN_TIMEOUT:g} s on one output"
            raise PatternFailed(self.pattern.pattern, self.source, why) from None
        except (regex.error, IndexError) as exc:  # a replacement naming a missing group
            raise PatternFailed(self.pattern.pattern, self.source, f"failed: {exc}") from None

    def __str__(self) -> str:
        return f"regex: {self.pattern.pattern}\nreplace: {self.replace}"


@dataclass(frozen=True)
class CellPolicy:
    """How one code cell is to be executed and checked."""

    skip: bool = False  # do not execute; the cell is `not-run`
    check_output: bool = True  # False: any output is accepted (`ignored-by-marker`)
    raises_exception: bool = False  # an exception is expected, not a failure
    markers: tuple[str, ...] = ()  # the markers found, as written, for the report
    sanitizers: tuple[Sanitizer, ...] = field(default=())

    @property
    def kind(self) -> PolicyKind:
        """The one word that decides what the pipeline does with the cell."""
        if self.skip:
            return PolicyKind.SKIP
        if not self.check_output:
            return PolicyKind.IGNORE_OUTPUT
        if self.raises_exception:
            return PolicyKind.RAISES_EXCEPTION
        return PolicyKind.CHECK


def find_markers(cell: dict[str, Any]) -> list[tuple[Marker, str]]:
    """Markers in a cell as (marker, how it was written), comments before tags.

    Comment markers count only on comment lines whose whole text is the marker,
    exactly as nbval reads them (`#NBVAL_SKIP` and `# NBVAL_SKIP` both count,
    `x = 1  # NBVAL_SKIP` does not).
    """
    found: list[tuple[Marker, str]] = []
    for line in _source(cell).splitlines():
        line = line.strip()
        if line.startswith("#"):
            comment = line.lstrip("#").strip()
            if comment in COMMENT_MARKERS:
                found.append((COMMENT_MARKERS[comment], comment))
    tags = cell.get("metadata", {}).get("tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and tag in TAG_MARKERS:
                found.append((TAG_MARKERS[tag], tag))
    return found


def cell_policy(
    cell: dict[str, Any], sanitizers: Iterable[Sanitizer] = (), *, lax: bool = False
) -> CellPolicy:
    """The policy for one code cell, from its markers.

    `sanitizers` are the repository's sanitize patterns (nbval sanitize files and
    `[tool.nbrepro] ignore`); they apply to every checked cell and travel with the
    policy so the comparer needs nothing else. With `lax` (nbval's `--nbval-lax`)
    only cells marked `NBVAL_CHECK_OUTPUT` have their output checked.
    As in nbval, when ignore and check markers conflict the last one wins.
    """
    found = find_markers(cell)
    check_output = not lax
    skip = raises = False
    for marker, _ in found:
        if marker is Marker.IGNORE_OUTPUT:
            check_output = False
        elif marker is Marker.CHECK_OUTPUT:
            check_output = True
        elif marker is Marker.SKIP:
            skip = True
        elif marker is Marker.RAISES_EXCEPTION:
            raises = True
    return CellPolicy(
        skip=skip,
        check_output=check_output,
        raises_exception=raises,
        markers=tuple(written for _, written in found),
        sanitizers=tuple(sanitizers),
    )


def apply_execution_tags(nb: dict[str, Any]) -> dict[str, Any]:
    """Add nbclient's tags for nbval's execution markers, in place; returns `nb`.

    nbclient knows only the `skip-execution` and `raises-exception` tags; this makes
    it skip `NBVAL_SKIP` cells and carry on after `NBVAL_RAISES_EXCEPTION` cells.
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        policy = cell_policy(cell)
        wanted = []
        if policy.skip:
            wanted.append("skip-execution")
        if policy.raises_exception:
            wanted.append("raises-exception")
        if wanted:
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            tags.extend(t for t in wanted if t not in tags)
    return nb


# nbval's own parser (nbval.plugin.get_sanitize_patterns): a `regex:` line directly
# followed by a `replace:` line; `[section]` headers and anything else are ignored.
_SANITIZE_PAIR = re.compile(r"^regex: (.*)$\n^replace: (.*)$", re.MULTILINE)


def parse_sanitize_text(text: str, source: str = "") -> list[Sanitizer]:
    """Sanitizers from the text of an nbval sanitize file, in file order."""
    text = text.replace("\r\n", "\n")
    return [Sanitizer.compile(r, s, source) for r, s in _SANITIZE_PAIR.findall(text)]


def load_sanitize_file(path: str | Path) -> list[Sanitizer]:
    """Sanitizers from an nbval sanitize file (`--nbval-sanitize-with FILE`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read sanitize file {path}: {exc.strerror}") from None
    return parse_sanitize_text(text, source=str(path))


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)
