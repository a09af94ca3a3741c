"""A real Jupyter server with the nbrepro extension, and N API clients polling it
while checks run (as JupyterLab panels do): the harness `benchmarks/api_load.py`
measures with and `tests/test_server_load.py` asserts with.

`run_load` starts the server on a temporary root holding two fixture repositories,
starts a check of each through the API as soon as the server answers, then (both
finished) a third on the warmed-up server, while N clients poll `GET checks` and
`GET checks/{id}`. It returns the errors, the latencies, and for each check how
long it waited between the request and its process running (the server's own
`created_at` and `started_at`) and until its pipeline was at work (the first stage
it reported, as the watching client saw it, to 0.5 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

REPOS = Path(__file__).resolve().parents[1] / "fixtures" / "repos"


@dataclass
class LoadResult:
    clients: int
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    verdicts: list[str | None] = field(default_factory=list)
    seconds: float = 0.0
    start_delays: list[float] = field(default_factory=list)  # request -> running, s
    work_delays: list[float] = field(default_factory=list)  # request -> first stage, s

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "clients": self.clients, "requests": self.requests, "errors": len(self.errors),
            "first_errors": self.errors[:5], "seconds": round(self.seconds, 2),
            "p50_ms": round(self.percentile(0.50) * 1000, 1),
            "p95_ms": round(self.percentile(0.95) * 1000, 1),
            "max_ms": round(max(self.latencies, default=0) * 1000, 1),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1)
            if self.latencies else 0.0,
            "verdicts": self.verdicts,
            "request_to_running_ms": [round(d * 1000, 1) for d in self.start_delays],
            "request_to_first_stage_s": [round(d, 1) for d in self.work_delays],
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A Jupyter server with the nbrepro extension, in a subprocess."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "root"
        for name in ("reproduces", "chain"):
            shutil.copytree(REPOS / name, self.root / name)
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}/nbrepro/api/"
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                   NBREPRO_DB=f"sqlite:///{tmp / 'load.sqlite'}")
        env.pop("JUPYTER_TOKEN", None)
        self.log = (tmp / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={self.root}",
             f"--IdentityProvider.token={self.token}",
             "--ServerApp.jpserver_extensions={'jupyter_nbrepro': True}",
             f"--NbreproApp.artifacts_dir={tmp / 'artifacts'}"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def request(self, path: str, method: str = "GET", body: object = None) -> HTTPRequest:
        return HTTPRequest(
            self.base + path, method=method, request_timeout=60,
            headers={"Authorization": f"token {self.token}"},
            body=json.dumps(body) if body is not None else None,
        )

    async def wait_ready(self, client: AsyncHTTPClient) -> None:
        deadline = time.monotonic() + 90
        while True:
            try:
                await client.fetch(self.request("checks"))
                return
            except (OSError, HTTPClientError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.tmp / 'server.log'
                    raise RuntimeError(f"server did not start; see {log}") from None
                await asyncio.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def start_delay(check: dict[str, object]) -> float:
    """Seconds between the request (`created_at`) and the process running."""
    created, started = check["created_at"], check["started_at"]
    assert isinstance(created, str) and isinstance(started, str), check
    return (datetime.fromisoformat(started) - datetime.fromisoformat(created)).total_seconds()


async def run_load(clients: int = 50, interval: float = 0.2,
                   timeout: float = 600) -> LoadResult:
    tmp = Path(tempfile.mkdtemp(prefix="nbrepro-load-"))
    server = Server(tmp)
    AsyncHTTPClient.configure(None, max_clients=clients + 10)
    http = AsyncHTTPClient()
    result = LoadResult(clients=clients)
    try:
        await server.wait_ready(http)
        ids: list[int] = []
        requested: dict[int, float] = {}
        working: dict[int, float] = {}

        async def post(path: str) -> None:
            sent = time.perf_counter()
            response = await http.fetch(server.request("checks", "POST", {"path": path}))
            check_id = json.loads(response.body)["id"]
            ids.append(check_id)
            requested[check_id] = sent

        for path in ("reproduces", "chain"):
            await post(path)
        done = asyncio.Event()

        async def poller(n: int) -> None:
            k = 0
            while not done.is_set():
                path = "checks" if k % 2 == 0 else f"checks/{ids[(n + k) % len(ids)]}"
                k += 1
                started = time.perf_counter()
                try:
                    await http.fetch(server.request(path))
                    result.latencies.append(time.perf_counter() - started)
                except Exception as exc:  # every failure counts, whatever its kind
                    result.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                result.requests += 1
                await asyncio.sleep(interval)

        async def watch(watched: list[int], deadline: float) -> list[dict[str, object]]:
            while time.monotonic() < deadline:
                bodies = []
                for check_id in watched:
                    body = json.loads((await http.fetch(server.request(f"checks/{check_id}"))).body)
                    bodies.append(body)
                    if body["stage"] or body["state"] not in ("queued", "running"):
                        working.setdefault(check_id, time.perf_counter())
                if all(b["state"] not in ("queued", "running") for b in bodies):
                    return bodies
                await asyncio.sleep(0.5)
            raise TimeoutError(f"checks {watched} did not finish in {timeout} s")

        async def watcher() -> None:
            # Two checks as soon as the server answers (the start-up's imports may still
            # be under way), then one more on the warmed-up server, all under load.
            try:
                deadline = time.monotonic() + timeout
                bodies = await watch(list(ids), deadline)
                await post("reproduces")
                bodies += await watch(ids[-1:], deadline)
                result.verdicts = [b["verdict"] for b in bodies]  # type: ignore[misc]
                result.start_delays = [start_delay(b) for b in bodies]
                result.work_delays = [working[i] - requested[i] for i in ids]
            finally:
                done.set()

        started = time.perf_counter()
        await asyncio.gather(watcher(), *(poller(n) for n in range(clients)))
        result.seconds = time.perf_counter() - started
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result
