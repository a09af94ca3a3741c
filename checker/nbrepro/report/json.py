"""The JSON report: the results model as documented in the README (stable keys)."""

from __future__ import annotations

import json

from nbrepro.model import CheckResult

SCHEMA_VERSION = 1


def to_data(result: CheckResult) -> dict[str, object]:
    data = result.to_dict()
    return {"schema_version": SCHEMA_VERSION, **data}


def render(result: CheckResult) -> str:
    return json.dumps(to_data(result), indent=2, ensure_ascii=False) + "\n"
