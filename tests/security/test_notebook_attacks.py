"""Hostile notebooks against both isolation backends (venv + bubblewrap, docker).

One check per backend runs every notebook of tests/fixtures/security/repo, which try
to: open a TCP connection, resolve a host name, write outside the scratch copy (the
real repository, /etc, the home directory, the environment, the database, the cache),
read the home directory and the harness's secrets, fork-bomb, allocate memory without
bound, sleep forever and kill their parent. Each must end as a recorded result
(failed, kernel-died, timeout), with the host, the user's files and the database
intact, and no process or container left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nbrepro.isolation.confine import CgroupV1, CgroupV2
from nbrepro.isolation.sandbox import Bubblewrap
from nbrepro.isolation.tools import uv_binary, uv_cache_dir
from tests.helpers.docker import containers_of, engine_client, ensure_engine
from tests.security.helpers import Listener, host_address

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parent.parent / "fixtures" / "security" / "repo"
NOTEBOOKS = sorted(p.name for p in FIXTURE.glob("*.ipynb"))
STOPPED = {"failed", "kernel-died", "timeout"}


def leftover_processes(marker: str) -> list[str]:
    """Processes whose command line, working directory or root mentions `marker`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if marker in cmdline or marker in cwd:
            found.append(f"{proc.name}: {cmdline[:200]} (cwd {cwd})")
    return found


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Attack:
    backend: str
    code: int
    stderr: str
    result: dict[str, Any]
    rerun_text: str  # every re-run notebook, as JSON text
    params: dict[str, Any]
    secrets: list[str]
    listener: Listener
    repo: Path
    repo_digest_before: str
    home: Path
    db: Path
    cache: Path
    leftovers: list[str] = field(default_factory=list)
    containers: list[Any] = field(default_factory=list)

    def notebook(self, name: str) -> dict[str, Any]:
        for nb in self.result["notebooks"]:
            if nb["path"] == name:
                return nb
        raise AssertionError(f"{name} missing from the results")


def _run_attack(backend: str, work: Path) -> Iterator[Attack]:
    repo = work / "repo"
    shutil.copytree(FIXTURE, repo)
    home = work / "home"
    (home / ".aws").mkdir(parents=True)
    secret_file_value = "aws_secret_access_key = " + secrets.token_hex(16)
    (home / ".aws" / "credentials").write_text(f"[default]\n{secret_file_value}\n")
    env_secret, aws_secret = secrets.token_hex(16), secrets.token_hex(16)
    db = work / "results.sqlite"
    # nbrepro's cache outside /tmp too (the environment is built in it).
    cache = work / "cache"
    listener = Listener()
    token = secrets.token_hex(6)
    params = {
        "tcp_host": host_address(), "tcp_port": listener.port, "repo": str(repo),
        "home": str(home), "secret_file": str(home / ".aws" / "credentials"),
        "db": str(db), "cache": str(cache), "token": token,
    }
    (repo / "params.json").write_text(json.dumps(params))
    digest = tree_digest(repo)
    # Short: the kernel's IPC socket paths live under it (unix sockets: ~100 bytes).
    temp = Path(tempfile.mkdtemp(prefix="nbrsec-", dir="/tmp"))
    uv_cache = uv_cache_dir(uv_binary())
    env = {
        **os.environ, "HOME": str(home), "TMPDIR": str(temp), "NBREPRO_CACHE_DIR": str(cache),
        "NBREPRO_TEST_SECRET": env_secret, "AWS_SECRET_ACCESS_KEY": aws_secret,
        # the real package cache: the fake home must not make installs cold
        **({"UV_CACHE_DIR": str(uv_cache)} if uv_cache else {}),
    }
    out = work / "out"
    argv = [sys.executable, "-m", "nbrepro", "check", str(repo), "--backend", backend,
            "--db", f"sqlite:///{db}", "--json", str(work / "result.json"),
            "--output-dir", str(out), "--keep-going", "--cell-timeout", "10",
            "--notebook-timeout", "120", "--memory", "512m", "--cpus", "1", "-q"]
    if backend == "docker":
        argv += ["--base-image", ensure_engine()]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _, stderr = proc.communicate(timeout=1500)
        result = json.loads((work / "result.json").read_text())
        rerun = "\n".join(p.read_text() for p in sorted((out / "rerun").glob("*.ipynb")))
        attack = Attack(
            backend=backend, code=proc.returncode, stderr=stderr, result=result,
            rerun_text=rerun, params=params,
            secrets=[env_secret, aws_secret, secret_file_value], listener=listener,
            repo=repo, repo_digest_before=digest, home=home, db=db, cache=cache,
            leftovers=leftover_processes(str(temp)),
            containers=containers_of(engine_client(), proc.pid) if backend == "docker" else [],
        )
        yield attack
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()
        shutil.rmtree(temp, ignore_errors=True)
        Path(f"/etc/nbrepro-pwned-{token}").unlink(missing_ok=True)


@pytest.fixture(scope="module", params=["venv", "docker"])
def attack(request: pytest.FixtureRequest) -> Iterator[Attack]:
    backend = request.param
    if backend == "venv":
        # Never run these notebooks unprotected: a missing sandbox is a failure here.
        assert Bubblewrap.available(), "bubblewrap must work here (scripts/setup.sh)"
        assert CgroupV2.available() or CgroupV1.available(), "no writable cgroup here"
    # Outside /tmp (which the sandbox replaces wholesale), like a real home, repository
    # and database: their protection must come from hiding them, not from /tmp.
    work = Path(tempfile.mkdtemp(prefix=f"nbrepro-attack-{backend}-", dir="/var/tmp"))
    try:
        yield from _run_attack(backend, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_every_notebook_ends_as_a_recorded_result(attack: Attack) -> None:
    assert attack.code == 1, attack.stderr
    assert sorted(n["path"] for n in attack.result["notebooks"]) == NOTEBOOKS
    for nb in attack.result["notebooks"]:
        assert nb["verdict"] in STOPPED, (nb["path"], nb["verdict"], nb["reason"])
    env = attack.result["environment"]
    assert env["sandbox"] == ("docker" if attack.backend == "docker" else "bubblewrap")
    assert env["network"] is False


def test_no_tcp_connection_leaves_the_sandbox(attack: Attack) -> None:
    nb = attack.notebook("network_tcp.ipynb")
    assert nb["verdict"] == "failed"
    assert attack.listener.received == []


def test_no_host_name_resolves(attack: Attack) -> None:
    nb = attack.notebook("network_dns.ipynb")
    assert nb["verdict"] == "failed"
    assert nb["exception"] in {"gaierror", "URLError", "OSError"}
    statuses = [c["status"] for c in nb["cells"]]
    assert statuses == ["error", "error"]  # --keep-going: both attempts ran and failed


def test_nothing_outside_the_scratch_copy_is_written(attack: Attack) -> None:
    nb = attack.notebook("write_outside.ipynb")
    assert nb["verdict"] == "failed"
    statuses = [c["status"] for c in nb["cells"]]
    assert statuses[1] == "identical"  # the scratch copy itself is writable
    assert statuses[2:] == ["error"] * 6, statuses
    assert tree_digest(attack.repo) == attack.repo_digest_before
    assert not Path(f"/etc/nbrepro-pwned-{attack.params['token']}").exists()
    assert not (attack.home / "nbrepro-pwned.txt").exists()
    assert not list(attack.cache.rglob("nbrepro-pwned.txt"))
    assert not (attack.cache / "pwned").exists()


def test_the_database_is_intact_and_holds_the_check(attack: Attack) -> None:
    assert attack.db.read_bytes()[:16] == b"SQLite format 3\0"
    with sqlite3.connect(attack.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    from nbrepro.store import Store

    store = Store(f"sqlite:///{attack.db}")
    checks = store.list_checks()
    assert len(checks) == 1
    stored = store.get_result(checks[0]["id"])
    assert stored is not None and len(stored.notebooks) == len(NOTEBOOKS)


def test_no_secret_and_no_home_directory_reaches_the_notebook(attack: Attack) -> None:
    nb = attack.notebook("read_secrets.ipynb")
    assert nb["verdict"] == "failed"
    for secret in attack.secrets:
        assert secret not in attack.rerun_text
        assert secret not in json.dumps(attack.result)
    assert "['.aws']" not in attack.rerun_text  # the listing of the home directory


def test_a_fork_bomb_is_contained(attack: Attack) -> None:
    nb = attack.notebook("fork_bomb.ipynb")
    assert nb["verdict"] in STOPPED
    assert nb["failing_cell"] in (0, 1)


def test_unbounded_memory_kills_only_the_kernel(attack: Attack) -> None:
    nb = attack.notebook("memory_hog.ipynb")
    assert nb["verdict"] == "kernel-died" or nb["exception"] == "MemoryError", nb


def test_sleeping_forever_times_out(attack: Attack) -> None:
    nb = attack.notebook("sleep_forever.ipynb")
    assert nb["verdict"] == "timeout"


def test_the_kernel_cannot_kill_its_parent(attack: Attack) -> None:
    nb = attack.notebook("kill_parent.ipynb")
    # The parent the kernel sees is the sandbox's init, which ignores the signal.
    assert nb["verdict"] == "failed", nb
    assert "the parent survived" in (nb["message"] or "")


def test_no_process_or_container_is_left_behind(attack: Attack) -> None:
    assert attack.leftovers == []
    assert attack.containers == []
