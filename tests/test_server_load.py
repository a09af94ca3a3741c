"""50 API clients polling while checks run: no request fails, and every check runs
within a second of its request (latency figures come from benchmarks/api_load.py,
not from here)."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.api_load import run_load

pytestmark = pytest.mark.slow


def test_fifty_pollers_while_checks_run_see_no_errors_and_no_wait():
    result = asyncio.run(run_load(clients=50, interval=0.2))
    assert result.errors == []
    assert result.verdicts == ["reproduced", "reproduced", "reproduced"]
    assert result.requests > 50  # every client got answers, repeatedly
    # A slot was free for each: each ran within a second of its request, under load
    # (the server's own timestamps).
    assert max(result.start_delays) < 1.0, result.start_delays
