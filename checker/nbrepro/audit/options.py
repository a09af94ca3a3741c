"""`CheckOptions` as plain data: tasks carry them to workers, and the audit keys each
repository's check by them (same commit + same options = nothing to redo)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from nbrepro import cache

if TYPE_CHECKING:
    from nbrepro.check import CheckOptions

# Options that change a check's verdicts; `use_cache` and output folders do not.
_IGNORED_IN_KEY = ("use_cache", "output_dir")


def options_to_dict(options: CheckOptions) -> dict[str, Any]:
    data = asdict(options)
    data["output_dir"] = str(options.output_dir) if options.output_dir else None
    return data


def options_from_dict(data: dict[str, Any]) -> CheckOptions:
    from pathlib import Path

    from nbrepro.check import CheckOptions
    from nbrepro.execute import ExecutionOptions
    from nbrepro.sandbox import ResourceLimits

    values = dict(data)
    values["limits"] = ResourceLimits(**values.get("limits", {}))
    values["execution"] = ExecutionOptions(**values.get("execution", {}))
    if values.get("output_dir"):
        values["output_dir"] = Path(values["output_dir"])
    return CheckOptions(**values)


def options_key(data: dict[str, Any]) -> str:
    return cache.content_key("check-options",
                             {k: v for k, v in data.items() if k not in _IGNORED_IN_KEY})
