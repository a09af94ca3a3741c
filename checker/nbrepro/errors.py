"""nbrepro's own exceptions, in one place.

Problems *in an audited repository* are never raised: they are results (see
`model.Verdict`). These exceptions are for problems with nbrepro's input or
configuration, which the command line turns into a one-line message and exit 2.
"""

from __future__ import annotations


class NbreproError(Exception):
    """Base class: a problem nbrepro cannot turn into a result."""


class InputError(NbreproError):
    """The user's input is unusable: a missing path, a bad URL, an unwritable file."""


class RateLimited(InputError):
    """A web API (GitHub's) refuses for longer than the caller is willing to wait."""


class ConfigError(NbreproError):
    """A configuration file or option is malformed."""


class BackendUnavailable(NbreproError):
    """An isolation backend (sandbox, Docker engine) that was asked for cannot be used."""


class PatternFailed(NbreproError):
    """A repository-supplied pattern (a sanitize file, `[tool.nbrepro] ignore`) could
    not be applied to one output: it ran longer than its time limit, or its
    replacement names a group the pattern lacks. The comparer leaves that pattern
    out and says so in the cell's detail."""

    def __init__(self, pattern: str, source: str, why: str) -> None:
        super().__init__(f"pattern {pattern!r} ({source or 'repository'}) {why}")
        self.pattern = pattern
        self.source = source


class RepositoryFileError(OSError):
    """A file of an audited repository nbrepro will not read: a link out of the
    repository, not a regular file (a FIFO, a device), or too large. An `OSError`, so
    that readers treat it like any unreadable file: a result, never a crash."""


class ToolError(NbreproError):
    """A tool nbrepro runs (uv, pip-tools, pip) is missing, too old or was called
    wrongly: nbrepro's problem, never the audited repository's `install-failed`."""


class CheckCancelled(NbreproError):
    """A progress hook stopped the check on its caller's behalf (an audit's time limit
    for one repository). Never a result of one notebook: it ends the whole check."""


class NoNotebooks(InputError):
    """The source holds no notebook to check (or none is left after the selection)."""


class CheckInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a check. Carries what finished, so the caller can
    still write it to the outputs that were asked for."""

    def __init__(self, result: object, check_id: int | None) -> None:
        super().__init__("interrupted")
        self.result = result  # a `nbrepro.model.CheckResult` marked interrupted
        self.check_id = check_id
