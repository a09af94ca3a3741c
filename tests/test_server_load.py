"""50 API clients polling while two checks run: no request fails (latency figures
come from benchmarks/api_load.py, not from here)."""

from __future__ import annotations

import asyncio

import pytest
from benchmarks.api_load import run_load

pytestmark = pytest.mark.slow


def test_fifty_pollers_while_two_checks_run_see_no_errors():
    result = asyncio.run(run_load(clients=50, interval=0.2))
    assert result.errors == []
    assert result.verdicts == ["reproduced", "reproduced"]
    assert result.requests > 50  # every client got answers, repeatedly
