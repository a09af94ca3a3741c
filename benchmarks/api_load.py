"""API load: N concurrent clients polling the server extension while checks run.

Two checks start as soon as the server answers, then a third on the warmed-up
server; reports errors, latency percentiles, and per check the time from the
request to running (the server's own timestamps) and to its first stage. The
harness is `tests/helpers/api_load.py`.

Run:  python benchmarks/api_load.py [--clients 50] [--interval 0.2]
Writes benchmarks/results/api_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too

from tests.helpers.api_load import run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    summary = asyncio.run(run_load(args.clients, args.interval)).summary()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "api_load.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
