"""The kinds of normaliser, one typed class per stage of the comparison.

A normaliser is a name, a description and a function whose signature its stage
fixes:

- `OutputsNormaliser`: `(outputs) -> outputs`, on the list of canonical outputs of
  one side (drop execution counts, join stream chunks, strip warnings, ...);
- `TextNormaliser`: `(text, mime, context) -> text`, on every text value of one
  side; `context` is a `TextContext`, the little a text normaliser needs to know
  about the re-run (memory addresses, random ids, temporary paths, ...);
- `TokenNormaliser`: `(pair) -> bool`, on a pair of differing tokens of the stored
  and new text (numbers within tolerance, timestamps of the run) - `tolerance`;
- `LayoutNormaliser`: `(stored, new) -> bool`, on two whole texts the token
  comparison found different: whether they differ only in layout (whitespace);
- `BundleNormaliser`: `(stored_data, new_data) -> mimes`, which MIME types of a
  pair of outputs to compare;
- `ValueNormaliser`: `(stored, new, mime, context) -> ValueMatch | None`, on a pair
  of values of one MIME type (tables, images) - `tables`, `images`.

Outputs and text normalisers both rewrite one side's outputs (`rewrite`), so the
comparer runs them as one ordered chain.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from nbrepro.compare.canonical import TEXT_MIMES, Output
from nbrepro.compare.markers import Sanitizer
from nbrepro.compare.result import ValueContext, ValueMatch
from nbrepro.compare.tolerance import LayoutRule, TokenRule


class Stage(str, enum.Enum):
    OUTPUTS = "outputs"
    TEXT = "text"
    TOKEN = "token"
    LAYOUT = "layout"
    BUNDLE = "bundle"
    VALUE = "value"


@dataclass(frozen=True)
class TextContext:
    """What text normalisers know about the re-run: where it happened and the
    repository's own patterns."""

    scratch_dirs: tuple[str, ...] = ()  # the scratch copy the re-run used
    home_dirs: tuple[str, ...] = ()  # the re-run's $HOME, if not /home/...
    sanitizers: tuple[Sanitizer, ...] = ()  # nbval sanitize files, [tool.nbrepro] ignore


class OutputsFunction(Protocol):
    def __call__(self, outputs: list[Output], /) -> list[Output]: ...


class TextFunction(Protocol):
    def __call__(self, text: str, mime: str, context: TextContext, /) -> str: ...


class BundleFunction(Protocol):
    def __call__(self, stored: Mapping[str, str], new: Mapping[str, str], /) -> list[str]: ...


class ValueFunction(Protocol):
    def __call__(
        self, stored: str, new: str, mime: str, context: ValueContext, /
    ) -> ValueMatch | None: ...


@dataclass(frozen=True)
class OutputsNormaliser:
    name: str
    description: str
    function: OutputsFunction
    stage: ClassVar[Stage] = Stage.OUTPUTS

    def rewrite(self, outputs: list[Output], context: TextContext) -> list[Output]:
        return self.function(outputs)


@dataclass(frozen=True)
class TextNormaliser:
    name: str
    description: str
    function: TextFunction
    stage: ClassVar[Stage] = Stage.TEXT

    def rewrite(self, outputs: list[Output], context: TextContext) -> list[Output]:
        return [self._rewrite_one(out, context) for out in outputs]

    def _rewrite_one(self, out: Output, context: TextContext) -> Output:
        """Apply the function to every text value of one output."""
        function = self.function
        changed: dict[str, Any] = {}
        kind = out.get("output_type")
        if kind == "stream":
            text = function(out["text"], "text/plain", context)
            if text != out["text"]:
                changed["text"] = text
        elif kind == "error":
            for key in ("evalue", "traceback"):
                if key in out:
                    text = function(out[key], "text/plain", context)
                    if text != out[key]:
                        changed[key] = text
        elif "data" in out:
            data = out["data"]
            new_data = {
                mime: function(value, mime, context) if mime in TEXT_MIMES else value
                for mime, value in data.items()
            }
            if new_data != data:
                changed["data"] = new_data
        return {**out, **changed} if changed else out


@dataclass(frozen=True)
class TokenNormaliser:
    name: str
    description: str
    function: TokenRule
    stage: ClassVar[Stage] = Stage.TOKEN


@dataclass(frozen=True)
class LayoutNormaliser:
    name: str
    description: str
    function: LayoutRule
    stage: ClassVar[Stage] = Stage.LAYOUT


@dataclass(frozen=True)
class BundleNormaliser:
    name: str
    description: str
    function: BundleFunction
    stage: ClassVar[Stage] = Stage.BUNDLE


@dataclass(frozen=True)
class ValueNormaliser:
    name: str
    description: str
    function: ValueFunction
    stage: ClassVar[Stage] = Stage.VALUE


Rewriter = OutputsNormaliser | TextNormaliser
Normaliser = (
    OutputsNormaliser
    | TextNormaliser
    | TokenNormaliser
    | LayoutNormaliser
    | BundleNormaliser
    | ValueNormaliser
)

__all__ = [
    "BundleNormaliser",
    "LayoutNormaliser",
    "Normaliser",
    "OutputsNormaliser",
    "Rewriter",
    "Stage",
    "TextContext",
    "TextNormaliser",
    "TokenNormaliser",
    "ValueNormaliser",
]
