"""`CheckOptions` as plain data: tasks carry them to workers, and the audit keys each
repository's check by them (same commit + same options = nothing to redo)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from nbrepro import cache

if TYPE_CHECKING:
    from nbrepro.options import CheckOptions

# Options that change a check's verdicts; `use_cache` and output folders do not.
_IGNORED_IN_KEY = ("use_cache", "output_dir")
# Options that hold a path (carried as text).
_PATHS = ("output_dir", "within")


def options_to_dict(options: CheckOptions) -> dict[str, Any]:
    data = asdict(options)
    for name in _PATHS:
        if name in data:
            data[name] = str(data[name]) if data[name] else None
    return data


def options_from_dict(data: dict[str, Any]) -> CheckOptions:
    from pathlib import Path

    from nbrepro.isolation.confine import ResourceLimits
    from nbrepro.options import CheckOptions
    from nbrepro.stages.execute import ExecutionOptions

    values = dict(data)
    values["limits"] = ResourceLimits(**values.get("limits", {}))
    values["execution"] = ExecutionOptions(**values.get("execution", {}))
    for name in _PATHS:
        if values.get(name):
            values[name] = Path(values[name])
    return CheckOptions(**values)


def options_key(data: dict[str, Any]) -> str:
    return cache.content_key("check-options",
                             {k: v for k, v in data.items() if k not in _IGNORED_IN_KEY})
