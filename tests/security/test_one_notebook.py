"""One notebook never ends the whole check (issue item 13): a cell nested deeper than
Python's parser goes, a decompression bomb among the stored images, a sanitizer whose
replacement fails only when applied, values longer than their database column or
holding NUL characters (PostgreSQL). Each becomes that notebook's result (or a
reported setting), and the other notebooks are checked and stored."""

from __future__ import annotations

import base64
import io
import os
import secrets
import struct
import zlib
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from tests.security.helpers import check, write_notebook

pytestmark = pytest.mark.slow


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG that claims to be 900 megapixels (PIL refuses to open it)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))


def _image_notebook(path: Path) -> None:
    small = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(small, "PNG")
    shown = base64.b64encode(small.getvalue()).decode()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11"}
    cell = nbformat.v4.new_code_cell(
        "from base64 import b64decode\nfrom IPython.display import Image, display\n"
        f"display(Image(data=b64decode({shown!r})))", execution_count=1)
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(bomb_png()).decode(),
                              "text/plain": "<IPython.core.display.Image object>"})]
    nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def test_one_notebook_never_ends_the_check(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_notebook(repo / "1_fine.ipynb", [("print(6 * 7)", "42\n")])
    write_notebook(repo / "2_deep.ipynb", [("x = " + "-" * 100000 + "1", None),
                                           ("print('after')", "after\n")])
    _image_notebook(repo / "3_bomb.ipynb")
    write_notebook(repo / "4_sanitized.ipynb", [("print('run 12')", "run 11\n")])
    write_notebook(repo / "5_fine.ipynb", [("print(2 + 2)", "4\n")])
    (repo / "pyproject.toml").write_text(
        "[tool.nbrepro.notebooks.'4_sanitized.ipynb']\n"
        "ignore = [{regex = 'run \\d+', replace = 'run \\9'}]\n")
    (repo / "sanitize.cfg").write_text("[numbers]\nregex: \\d+\nreplace: \\g<nope>\n")
    (repo / "pytest.ini").write_text("[pytest]\naddopts = --nbval-sanitize-with sanitize.cfg\n")
    run = check(repo, tmp_path, "--keep-going")
    assert run.code == 1, run.stderr  # not 3: nothing aborted
    assert run.result is not None
    assert sorted(n["path"] for n in run.result["notebooks"]) == [
        "1_fine.ipynb", "2_deep.ipynb", "3_bomb.ipynb", "4_sanitized.ipynb", "5_fine.ipynb"]
    assert run.notebook("1_fine.ipynb")["verdict"] == "reproduced"
    assert run.notebook("5_fine.ipynb")["verdict"] == "reproduced"
    assert run.notebook("2_deep.ipynb")["verdict"] in ("failed", "differs", "kernel-died")
    # The image is refused before it is decoded, and that is the cell's result.
    bomb = run.notebook("3_bomb.ipynb")
    assert bomb["verdict"] == "differs"
    details = " ".join(c.get("detail") or "" for c in bomb["cells"])
    assert "could not be decoded" in details and "decompression bomb" in details
    # the broken replacement is the repository's problem, reported with the settings
    said = [*run.result["spec"]["skipped"], *run.result.get("warnings", [])]
    assert any("replacement" in line for line in said), said
    assert run.notebook("4_sanitized.ipynb")["verdict"] == "differs"


def _postgres_url() -> str:
    return os.environ.get("NBREPRO_TEST_POSTGRES",
                          "postgresql+psycopg://nbrepro:nbrepro@127.0.0.1:54329/postgres")


@pytest.fixture
def postgres() -> str:
    """A fresh database on the test PostgreSQL server (scripts/postgres.sh)."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    admin = sqlalchemy.create_engine(_postgres_url(), isolation_level="AUTOCOMMIT")
    name = "nbrepro_security_" + secrets.token_hex(4)
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server for the tests ({str(exc).splitlines()[0]})")
    url = _postgres_url().rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_values_too_long_or_with_nul_are_stored_on_postgresql(tmp_path: Path,
                                                              postgres: str) -> None:
    from nbrepro.store import Store

    repo = tmp_path / "repo"
    write_notebook(repo / "long.ipynb", [
        ("raise type('E' * 400, (Exception,), {})('a long exception name')", None)])
    write_notebook(repo / "nul.ipynb", [("raise ValueError('before\\x00after')", None)])
    write_notebook(repo / "fine.ipynb", [("print(6 * 7)", "42\n")])
    nb = nbformat.read(str(repo / "fine.ipynb"), as_version=4)
    nb.metadata["kernelspec"]["name"] = "python3-" + "k" * 300
    nbformat.write(nb, str(repo / "fine.ipynb"))
    out = tmp_path / "result.json"
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nbrepro", "check", str(repo), "--db", postgres,
                           "--json", str(out), "-q"], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 1, proc.stderr
    store = Store(postgres)
    checks = store.list_checks()
    assert len(checks) == 1 and checks[0]["state"] == "finished", checks
    stored = store.get_result(checks[0]["id"])
    assert stored is not None
    verdicts = {n.path: n.verdict.value for n in stored.notebooks}
    assert verdicts == {"fine.ipynb": "reproduced", "long.ipynb": "failed",
                        "nul.ipynb": "failed"}
    store.engine.dispose()
