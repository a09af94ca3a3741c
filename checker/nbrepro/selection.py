"""Which notebooks a check looks at: `--exclude GLOB` and `-k EXPR`, as pytest users
expect them, and the globs `[tool.nbrepro.notebooks]` tables are keyed by.

Light on purpose (standard library only): the command line validates a `-k`
expression before it imports the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from nbrepro.errors import ConfigError

# A folder holding this file is one of nbrepro's own output folders (`--output-dir`):
# its notebooks are copies nbrepro wrote, never notebooks to check.
OUTPUT_MARKER = ".nbrepro-output"


def glob_regex(glob: str) -> re.Pattern[str]:
    """`*` within a directory, `**/` any number of directories, `?` one character."""
    parts, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            parts.append(".*")
            i += 2
        elif glob[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(parts))


def excluded_by(path: str, globs: Iterable[str]) -> str | None:
    """The first glob that excludes `path` (relative, POSIX). A glob with a `/` is
    matched against the whole path, one without against every folder and file name
    (like .gitignore), so `--exclude scratch` leaves out everything under scratch/."""
    parts = PurePosixPath(path).parts
    for glob in globs:
        pattern = glob_regex(glob.strip("/"))
        if "/" in glob.strip("/"):
            if pattern.fullmatch(path) or any(
                pattern.fullmatch("/".join(parts[:n])) for n in range(1, len(parts))
            ):
                return glob
        elif any(pattern.fullmatch(part) for part in parts):
            return glob
    return None


# -- `-k EXPR`: pytest's keyword expressions over notebook paths ---------------

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
Match = Callable[[str], bool]


def keyword_matcher(expression: str) -> Match:
    """A predicate over notebook paths for a pytest-style `-k` expression: words are
    case-insensitive substrings of the path, combined with `and`, `or`, `not` and
    parentheses. A malformed expression is a `ConfigError`."""
    tokens = [m.group(1) for m in _TOKEN.finditer(expression)]
    if not tokens:
        raise ConfigError("-k: empty expression")
    parser = _Parser(tokens, expression)
    match = parser.expression()
    if parser.position != len(tokens):
        raise ConfigError(f"-k {expression!r}: unexpected {tokens[parser.position]!r}")
    return match


@dataclass
class _Parser:
    tokens: list[str]
    text: str
    position: int = field(default=0)

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise ConfigError(f"-k {self.text!r}: the expression ends too early")
        self.position += 1
        return token

    def expression(self) -> Match:  # or-expression
        left = self._and()
        while self._peek() == "or":
            self._take()
            right = self._and()
            left = (lambda a, b: lambda p: a(p) or b(p))(left, right)
        return left

    def _and(self) -> Match:
        left = self._not()
        while self._peek() == "and":
            self._take()
            right = self._not()
            left = (lambda a, b: lambda p: a(p) and b(p))(left, right)
        return left

    def _not(self) -> Match:
        if self._peek() == "not":
            self._take()
            inner = self._not()
            return lambda p: not inner(p)
        return self._atom()

    def _atom(self) -> Match:
        token = self._take()
        if token == "(":
            inner = self.expression()
            if self._take() != ")":
                raise ConfigError(f"-k {self.text!r}: missing ')'")
            return inner
        if token in (")", "and", "or", "not"):
            raise ConfigError(f"-k {self.text!r}: unexpected {token!r}")
        word = token.lower()
        return lambda p: word in p.lower()


@dataclass
class Selection:
    """What the user chose to check; empty means every notebook found."""

    exclude: list[str] = field(default_factory=list)
    keyword: str | None = None

    def __post_init__(self) -> None:
        self._match = keyword_matcher(self.keyword) if self.keyword else None

    def chosen(self, path: str) -> bool:
        if excluded_by(path, self.exclude):
            return False
        return self._match is None or self._match(path)
