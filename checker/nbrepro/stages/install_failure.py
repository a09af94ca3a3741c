"""Why an environment could not be had: the requirement that failed and a cause in a
fixed vocabulary (that reports can count), read from the resolver's or installer's
own message (uv, pip, pip-tools).

    cause = install_cause(message)            # InstallCause.NOT_FOUND, ...
    name = failing_name(message)              # "numpy", from "Failed to build `numpy==1.14.3`"
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from nbrepro.isolation.tools import strip_ansi
from nbrepro.model import EnvironmentResult, Lock, Spec


class InstallCause(str, enum.Enum):
    NO_WHEEL_FOR_PYTHON = "no-wheel-for-python"  # nothing installs on this Python as is
    NOT_FOUND = "not-found"  # no such package on the index
    NO_MATCHING_VERSION = "no-matching-version"  # the package, but not that version
    CONFLICT = "conflict"  # each exists, together they cannot be installed
    INVALID_METADATA = "invalid-metadata"  # the published metadata is broken
    BUILD_ERROR = "build-error"  # a source build (local project, URL) failed
    NETWORK = "network"  # the index or a download could not be reached
    OTHER = "other"


# What each cause means, for the one-line reason.
EXPLAINED = {
    InstallCause.NO_WHEEL_FOR_PYTHON: "no wheel for Python {python}",
    InstallCause.NOT_FOUND: "no such package on the package index",
    InstallCause.NO_MATCHING_VERSION: "no such version on the package index",
    InstallCause.CONFLICT: "the requirements conflict",
    InstallCause.INVALID_METADATA: "its published metadata is invalid",
    InstallCause.BUILD_ERROR: "building it from source failed",
    InstallCause.NETWORK: "the package index could not be reached",
}

_NETWORK = re.compile(
    r"Failed to fetch|error sending request|tcp connect error|dns error|"
    r"failed to lookup address|Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|Connection refused|NewConnectionError|Max retries exceeded|"
    r"Could not fetch URL|operation timed out|connection timed out",
    re.I,
)
_METADATA = re.compile(
    r"inconsistent metadata|was inconsistent|Failed to parse metadata|invalid metadata|"
    r"Failed to read metadata",
    re.I,
)
# uv: no wheel for this interpreter (and no sdist), or Requires-Python excludes it.
_WRONG_PYTHON = re.compile(
    r"has no wheels with a matching Python (?:ABI|version|implementation) tag|"
    r"the requested Python version \([^)]*\) does not satisfy|"
    r"requires a different Python|Requires-Python",
    re.I,
)
_BUILD = re.compile(
    r"Failed to build|Failed to download and build|build backend returned an error|"
    r"Failed building wheel|subprocess-exited-with-error|metadata-generation-failed|"
    r"Failed to prepare distributions",
    re.I,
)
_NOT_FOUND = re.compile(
    r"was not found in the package registry|not found in the provided package locations|"
    r"\(from versions: none\)",
    re.I,
)
_NO_VERSION = re.compile(
    r"there is no version of|there are no versions of|Could not find a version that satisfies|"
    r"No matching distribution found",
    re.I,
)
_CONFLICT = re.compile(
    r"requirements are unsatisfiable|ResolutionImpossible|conflicting dependencies|"
    r"Cannot install .* because these package versions have conflicting",
    re.I,
)
# The package a build or download failure names: uv's `name==version` / `name @ url`.
_FAILED_TARGET = re.compile(
    r"Failed to (?:build|download and build|download|prepare|fetch)\s+`([^`]+)`|"
    r"Failed building wheel for ([A-Za-z0-9][A-Za-z0-9._\-]*)|"
    r"Because ([A-Za-z0-9][A-Za-z0-9._\-]*)(?:==\S+)? (?:was not found|has no wheels|"
    r"has inconsistent metadata)|"
    r"there is no version of ([A-Za-z0-9][A-Za-z0-9._\-]*)",
    re.I,
)


def install_cause(message: str | None) -> InstallCause:
    """The cause of a failed resolution or installation, from the tool's message."""
    text = message or ""
    if _NETWORK.search(text):
        return InstallCause.NETWORK
    if _METADATA.search(text):
        return InstallCause.INVALID_METADATA
    if _WRONG_PYTHON.search(text):
        return InstallCause.NO_WHEEL_FOR_PYTHON
    target = _FAILED_TARGET.search(text)
    if _BUILD.search(text):
        built = next((g for g in target.groups() if g), "") if target else ""
        # uv builds an index package only when no wheel of it fits this Python; a
        # local project or a URL is always built.
        if " @ " in built or "/" in built or "file:" in built:
            return InstallCause.BUILD_ERROR
        return InstallCause.NO_WHEEL_FOR_PYTHON if built else InstallCause.BUILD_ERROR
    if _NOT_FOUND.search(text):
        return InstallCause.NOT_FOUND
    if _NO_VERSION.search(text):
        return InstallCause.NO_MATCHING_VERSION
    if _CONFLICT.search(text):
        return InstallCause.CONFLICT
    return InstallCause.OTHER


def failing_name(message: str | None) -> str | None:
    """The (normalised) name of the package the tool says failed, when it says one."""
    match = _FAILED_TARGET.search(message or "")
    if match is None:
        return None
    target = next(g for g in match.groups() if g)
    name = re.split(r"[\s=<>!~;\[@]", target.strip(), maxsplit=1)[0]
    return canonicalize_name(name) if name else None


@dataclass
class InstallFailure:
    reason: str  # one line: the requirement, where it was declared, the cause
    cause: InstallCause
    detail: str  # the tool's own explanation


def describe(what: str, failed: Lock | EnvironmentResult, spec: Spec,
             python: str | None) -> InstallFailure:
    """`what` ("could not resolve", "could not install") said of the requirement that
    failed, where the repository declared it and why; records the cause in `failed`."""
    cause = install_cause(failed.message)
    failed.cause = cause.value
    detail = short_message(failed.message)
    req = failed.failed_requirement
    head = what
    if req:
        # here, not at the top: an audit's report classifies causes without the
        # spec stage's parsers
        from nbrepro.stages.spec import requirement_name

        name = canonicalize_name(requirement_name(req))
        declared = next((r for r in spec.requirements
                         if canonicalize_name(requirement_name(r.spec)) == name), None)
        where = f"declared in {declared.declared_at}" if declared \
            else "a dependency, not declared"
        head = f"{what} {req} ({where})"
    if cause is InstallCause.OTHER:
        return InstallFailure(f"{head}: {detail}" if detail else head, cause, detail)
    explained = EXPLAINED[cause].format(python=python or "this Python")
    if cause is InstallCause.NO_WHEEL_FOR_PYTHON and _BUILD.search(failed.message or ""):
        explained += " and building it from source failed"
    return InstallFailure(f"{head}: {cause.value} ({explained})", cause, detail)


def short_message(message: str | None, limit: int = 240) -> str:
    """The most telling sentence of a resolver's or installer's message: uv's
    "Because ..." explanation, else the first error line, else the last line."""
    if not message:
        return ""
    text = strip_ansi(message)
    frame = " \u00d7\u2570\u2500\u25b6\u2502"  # the box drawing uv frames errors with
    lines = [ln.strip(frame) for ln in text.splitlines() if ln.strip(frame)]
    joined = " ".join(lines)  # uv wraps its explanation over several lines
    for marker in ("Because ", "error: ", "ERROR: "):
        start = joined.find(marker)
        if start >= 0:
            pick = joined[start:]
            break
    else:
        pick = lines[-1] if lines else ""
    return pick if len(pick) <= limit else pick[: limit - 1] + "…"
