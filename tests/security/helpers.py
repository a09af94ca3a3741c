"""What the security tests share: hostile repositories written on the fly, a TCP
listener that records who reaches it, and the real `nbrepro` command run the way a
user runs it (with a home, a temp folder and caches of the test's own)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from nbrepro.isolation.tools import uv_binary, uv_cache_dir
from tests.fixtures.security.make_notebooks import notebook

# The user's real uv cache, read before any test changes $HOME: checks under a test
# home use it, so that installs stay warm.
REAL_UV_CACHE = uv_cache_dir(uv_binary())


class Listener:
    """A TCP server on the host that records whoever reaches it."""

    def __init__(self, host: str = "0.0.0.0") -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(1024) or b"<connected>")
                except OSError:
                    self.received.append(b"<connected>")

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


def host_address() -> str:
    """This machine's address on its default route (reachable from a container's
    bridge network, unlike 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def write_notebook(path: Path, cells: list[tuple[str, str | None]],
                   language_version: str | None = None) -> None:
    """A notebook whose code cells have the given stored stdout (None: no output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = notebook(cells)
    if language_version is not None:
        nb.metadata["language_info"]["version"] = language_version
    nbformat.write(nb, str(path))


@dataclass
class FakeHome:
    """A home folder with secrets in the usual places."""

    path: Path
    token: str = field(default_factory=lambda: "s3cr3t-" + secrets.token_hex(8))

    def __post_init__(self) -> None:
        files = {
            ".aws/credentials": f"[default]\naws_secret_access_key = {self.token}-aws\n",
            ".ssh/id_rsa": f"-----BEGIN KEY-----\n{self.token}-ssh\n",
            ".config/pip/pip.conf": f"[global]\n# {self.token}-pipconf\n",
            ".config/uv/uv.toml": f"# {self.token}-uvconf\n",
            ".netrc": f"machine pypi.org login me password {self.token}-netrc\n",
        }
        for rel, text in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    @property
    def secret_files(self) -> list[Path]:
        return [self.path / ".aws/credentials", self.path / ".ssh/id_rsa",
                self.path / ".config/pip/pip.conf", self.path / ".config/uv/uv.toml",
                self.path / ".netrc"]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None
    rerun: dict[str, Any] = field(default_factory=dict)  # re-run notebooks by path

    def notebook(self, path: str) -> dict[str, Any]:
        assert self.result is not None, self.stderr
        for nb in self.result["notebooks"]:
            if nb["path"] == path:
                return nb
        raise AssertionError(f"{path} not in the results: {self.stderr[-2000:]}")

    def outputs(self, path: str) -> list[str]:
        """The stdout of every code cell of the re-run notebook `path`."""
        nb = self.rerun[path]
        texts = []
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                texts.append("".join(_text(o.get("text", "")) for o in cell["outputs"]
                                     if o.get("output_type") == "stream"))
        return texts


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def check(repo: Path, work: Path, *args: str, home: Path | None = None,
          cwd: Path | None = None, env: dict[str, str] | None = None,
          timeout: float = 1500) -> Run:
    """`nbrepro check REPO ARGS` as a user runs it; results, re-run notebooks."""
    out, outputs = work / "result.json", work / "out"
    out.unlink(missing_ok=True)
    variables = dict(os.environ)
    if home is not None:
        variables["HOME"] = str(home)
    if REAL_UV_CACHE is not None:  # a test home must not make installs cold
        variables.setdefault("UV_CACHE_DIR", str(REAL_UV_CACHE))
    variables.update(env or {})
    argv = [sys.executable, "-m", "nbrepro", "check", str(repo), "--json", str(out),
            "--db", f"sqlite:///{work / 'results.sqlite'}", "--output-dir", str(outputs),
            *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=variables, cwd=cwd)
    result = json.loads(out.read_text()) if out.is_file() else None
    rerun = {p.relative_to(outputs / "rerun").as_posix(): json.loads(p.read_text())
             for p in (outputs / "rerun").rglob("*.ipynb")} if (outputs / "rerun").is_dir() \
        else {}
    return Run(proc.returncode, proc.stdout, proc.stderr, result, rerun)
