"""In an environment with JupyterLab, a plain `pip install .` (here: uv, the same
wheel) enables both halves of the extension: `jupyter server extension list` and
`jupyter labextension list` say so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nbrepro
from nbrepro.isolation.tools import uv_binary

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    if not (ROOT / "extension/jupyter_nbrepro/labextension/package.json").exists():
        pytest.fail("the front end is not built: run extension/scripts/build-frontend.sh "
                    "(scripts/setup.sh test does)")
    tmp = tmp_path_factory.mktemp("install")
    venv = tmp / "venv"
    uv = uv_binary()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin/python")
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, "jupyterlab>=4,<5"],
                   check=True, timeout=900)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, str(ROOT)],
                   check=True, timeout=900)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"), PATH=f"{venv / 'bin'}:{os.environ['PATH']}")
    env.pop("JUPYTER_PATH", None)
    env.pop("PYTHONPATH", None)
    return venv, env


def _run(venv: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(venv / "bin" / "jupyter"), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def test_server_extension_is_enabled_and_ok(installed):
    out = _run(*installed, "server", "extension", "list")
    line = next(ln for ln in out.splitlines() if "jupyter_nbrepro" in ln and "enabled" in ln)
    assert "enabled" in line
    assert "jupyter_nbrepro" in out and "OK" in out.split("jupyter_nbrepro", 1)[1][:200]


def test_labextension_is_enabled_and_ok(installed):
    out = _run(*installed, "labextension", "list")
    line = next(ln for ln in out.splitlines() if "jupyter-nbrepro" in ln)
    assert "enabled" in line and "OK" in line


def test_the_command_line_is_installed(installed):
    venv, env = installed
    proc = subprocess.run([str(venv / "bin" / "nbrepro"), "--version"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "nbrepro" in proc.stdout
    # the wheel's version is the one the package says it is (read from it at build time)
    assert proc.stdout.split()[-1] == nbrepro.__version__
    meta = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import importlib.metadata as m; print(m.version('nbrepro'))"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert meta.stdout.strip() == nbrepro.__version__


def test_the_database_migrations_ship_in_the_wheel(installed, tmp_path: Path) -> None:
    """A database of nbrepro 0.1.0 opened by the installed package is upgraded by the
    migrations inside the wheel."""
    import shutil

    venv, env = installed
    db = tmp_path / "old.sqlite"
    shutil.copy(ROOT / "tests/fixtures/databases/nbrepro-0.1.0.sqlite", db)
    code = ("import sqlite3, sys; from nbrepro.store import Store; "
            "from nbrepro.migrations import HEAD; Store('sqlite:///' + sys.argv[1]); "
            "c = sqlite3.connect(sys.argv[1]); "
            "print(c.execute('SELECT version_num FROM alembic_version').fetchone()[0] == HEAD,"
            " c.execute('SELECT count(*) FROM audits').fetchone()[0])")
    proc = subprocess.run([str(venv / "bin/python"), "-c", code, str(db)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "0"]
