"""The Binder files build a working environment: a fresh virtual environment gets the
pip packages `binder/environment.yml` lists, `binder/postBuild` runs from the
repository root as repo2docker runs it, and then both halves of the extension are
enabled and the `binder/demo` notebooks give the verdicts their README promises.
(conda itself is not run: its Python and node are this machine's.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from nbrepro.isolation.tools import uv_binary

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
DEMO_VERDICTS = {
    "01_reproduces.ipynb": "reproduced",
    "02_noise_only.ipynb": "reproduced-equivalent",
    "03_really_differs.ipynb": "differs",
    "04_fails.ipynb": "failed",
}

pytestmark = pytest.mark.slow


def test_demo_readme_lists_what_the_notebooks_show():
    readme = (BINDER / "demo" / "README.md").read_text()
    assert sorted(p.name for p in (BINDER / "demo").glob("*.ipynb")) == sorted(DEMO_VERDICTS)
    for name, verdict in DEMO_VERDICTS.items():
        assert f"| {name.removesuffix('.ipynb')} | {verdict}" in readme


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    if not (ROOT / "extension/jupyter_nbrepro/labextension/package.json").exists():
        pytest.fail("the front end is not built: run extension/scripts/build-frontend.sh "
                    "(scripts/setup.sh test does)")
    tmp = tmp_path_factory.mktemp("binder")
    spec = yaml.safe_load((BINDER / "environment.yml").read_text())
    python = next(str(d).split("=", 1)[1] for d in spec["dependencies"]
                  if isinstance(d, str) and d.startswith("python="))
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    venv = tmp / "venv"
    uv = uv_binary()
    # --seed: postBuild runs `python -m pip`, as in the conda environment
    subprocess.run([uv, "venv", "--quiet", "--seed", "--python", python, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin/python"), *pip],
                   check=True, timeout=900)
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH")}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"), PATH=f"{venv / 'bin'}:{env['PATH']}",
               VIRTUAL_ENV=str(venv), PIP_DISABLE_PIP_VERSION_CHECK="1")
    build = subprocess.run(["bash", str(BINDER / "postBuild")], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return venv, env


def test_postbuild_enables_both_halves_of_the_extension(binder_env):
    venv, env = binder_env
    server = subprocess.run([str(venv / "bin/jupyter"), "server", "extension", "list"],
                            env=env, capture_output=True, text=True, timeout=300)
    line = next(ln for ln in (server.stdout + server.stderr).splitlines()
                if "jupyter_nbrepro" in ln and "enabled" in ln)
    assert "enabled" in line
    lab = subprocess.run([str(venv / "bin/jupyter"), "labextension", "list"],
                         env=env, capture_output=True, text=True, timeout=300)
    line = next(ln for ln in (lab.stdout + lab.stderr).splitlines() if "jupyter-nbrepro" in ln)
    assert "enabled" in line and "OK" in line
    settings = (Path(env["HOME"]) / ".jupyter/lab/user-settings/@jupyterlab/apputils-extension"
                / "notification.jupyterlab-settings")
    assert json.loads(settings.read_text())["checkForUpdates"] is False


def test_demo_notebooks_give_their_verdicts_in_the_binder_environment(binder_env, tmp_path):
    venv, env = binder_env
    demo = tmp_path / "demo"
    shutil.copytree(BINDER / "demo", demo)
    out = tmp_path / "results.json"
    env = dict(env, NBREPRO_CACHE_DIR=os.environ["NBREPRO_CACHE_DIR"],
               NBREPRO_DB=f"sqlite:///{tmp_path / 'db.sqlite'}")
    proc = subprocess.run([str(venv / "bin/nbrepro"), "check", str(demo), "--json", str(out)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr  # one differs, one fails: as intended
    verdicts = {nb["path"]: nb["verdict"] for nb in json.loads(out.read_text())["notebooks"]}
    assert verdicts == DEMO_VERDICTS
    badge = subprocess.run([str(venv / "bin/nbrepro"), "badge", str(out), "--format", "shields"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(badge.stdout)["message"] == "1 of 4 fails: ModuleNotFoundError"
