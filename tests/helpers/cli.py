"""The fixture repositories and a runner for the real `nbrepro` command."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOS = Path(__file__).resolve().parents[1] / "fixtures" / "repos"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    json: dict[str, Any] | None
    pid: int = 0  # of the nbrepro process: names the kernels it started

    def notebook(self, path: str) -> dict[str, Any]:
        assert self.json is not None, self.stderr
        for nb in self.json["notebooks"]:
            if nb["path"] == path:
                return nb
        raise AssertionError(f"{path} not in {[n['path'] for n in self.json['notebooks']]}")


def nbrepro(*args: str, tmp: Path | None = None, timeout: float = 600) -> CliRun:
    """Run the real command line; with `tmp`, also ask for JSON output and parse it."""
    argv = [sys.executable, "-m", "nbrepro", *args]
    out = None
    if tmp is not None:
        out = tmp / "result.json"
        argv += ["--json", str(out)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    data = json.loads(out.read_text()) if out is not None and out.exists() else None
    return CliRun(proc.returncode, stdout, stderr, data, proc.pid)
