"""The Dask local cluster: its workers start warm, like the local pool's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("distributed")

# Run in a fresh interpreter: a process has one fork server, and an earlier test's pool
# may have started it with the pipeline alone.
SCRIPT = """
import json, os, sys
from multiprocessing import forkserver
from nbrepro.audit.executors import DaskExecutor

executor = DaskExecutor(local_workers=2)
executor.start()
try:
    executor.slots  # waits for the cluster
    def worker_state():
        import os, sys
        return os.getppid(), "distributed" in sys.modules, "nbrepro.check" in sys.modules
    states = executor.client.run(worker_state)
    print(json.dumps({"fork_server": forkserver._forkserver._forkserver_pid,
                      "audit": os.getpid(),
                      "workers": list(states.values()),
                      "pandas_here": "pandas" in sys.modules}))
finally:
    executor.stop()
"""


def test_local_cluster_workers_are_forked_warm_from_the_fork_server() -> None:
    """Spawned, each worker imported distributed and the pipeline itself before its
    first task (a second and a half of a short audit on two cores)."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(state["workers"]) == 2
    for parent, has_distributed, has_pipeline in state["workers"]:
        assert parent == state["fork_server"] != state["audit"]
        assert has_distributed and has_pipeline
    # nothing imported in the audit process just to name a preload
    assert not state["pandas_here"]
