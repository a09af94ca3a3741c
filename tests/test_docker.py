"""The docker backend for real: images built with the Docker SDK, kernels in containers.

The engine and the offline base image come from `tests/helpers/docker.py`'s
session fixture (started by the project's scripts when missing); nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nbrepro.isolation.base import BackendOptions
from tests.fixtures.security.make_notebooks import notebook
from tests.helpers.cli import REPOS
from tests.helpers.docker import (
    containers_of,
    finish,
    read_json,
    start_nbrepro,
    wait_for,
)

pytestmark = pytest.mark.slow


def _notebook(path: Path, cells: list[tuple[str, str | None]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(cells), str(path))


def _check(tmp_path: Path, repo: Path, base_image: str, *extra: str,
           name: str = "result") -> tuple[int, str, dict[str, Any], int]:
    out = tmp_path / f"{name}.json"
    proc = start_nbrepro("check", str(repo), "--backend", "docker", "--base-image", base_image,
                         "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--json", str(out), *extra)
    code, _, err = finish(proc)
    return code, err, read_json(out), proc.pid


def test_notebook_reproduces_in_a_container_and_the_container_is_removed(
        tmp_path: Path, docker_engine: str, docker_client: Any) -> None:
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    code, err, result, pid = _check(tmp_path, repo, docker_engine)
    assert code == 0, err
    env = result["environment"]
    assert env["backend"] == "docker" and env["sandbox"] == "docker"
    assert env["network"] is False
    assert env["python_version"].startswith("3.")  # the base image's python3
    assert env["location"].startswith("nbrepro-env:")
    assert result["notebooks"][0]["verdict"] == "reproduced"
    assert containers_of(docker_client, pid) == []
    image = docker_client.images.get(env["location"])
    assert image.labels["org.nbrepro.key"] == env["key"]


def test_image_is_reused_and_a_changed_notebook_does_not_rebuild(
        tmp_path: Path, docker_engine: str) -> None:
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    _, _, first, _ = _check(tmp_path, repo, docker_engine, name="first")
    _notebook(repo / "another.ipynb", [("print(6 * 7)", "42\n")])
    code, err, second, _ = _check(tmp_path, repo, docker_engine, name="second")
    assert code == 0, err
    assert second["environment"]["cached"] is True
    assert second["environment"]["key"] == first["environment"]["key"]
    assert {n["verdict"] for n in second["notebooks"]} == {"reproduced"}


def test_apt_txt_and_postbuild_are_honoured(tmp_path: Path, docker_engine: str) -> None:
    repo = tmp_path / "repo"
    _notebook(repo / "tools.ipynb", [
        ("import shutil\nprint(shutil.which('jq') is not None)", "True\n"),
        ("print(open('/env/postbuild-marker').read().strip())", "built by postBuild\n"),
    ])
    (repo / "apt.txt").write_text("# a small tool from Debian\njq\n")
    (repo / "postBuild").write_text("#!/bin/sh\nset -e\necho 'built by postBuild' "
                                    "> /env/postbuild-marker\n")
    code, err, result, _ = _check(tmp_path, repo, docker_engine)
    assert code == 0, (err, result["environment"]["log"][-2000:])
    assert result["notebooks"][0]["verdict"] == "reproduced"


def test_a_failing_build_step_is_an_install_failed_result(
        tmp_path: Path, docker_engine: str, docker_client: Any) -> None:
    repo = tmp_path / "repo"
    _notebook(repo / "never.ipynb", [("print('hi')", "hi\n")])
    (repo / "postBuild").write_text("#!/bin/sh\necho 'setting up the data' && exit 3\n")
    code, err, result, pid = _check(tmp_path, repo, docker_engine)
    assert code == 1, err
    env = result["environment"]
    assert env["ok"] is False
    assert env["failed_requirement"] == "postBuild"
    assert env["message"].startswith("postBuild failed")
    assert "setting up the data" in env["log"]
    nb = result["notebooks"][0]
    assert nb["verdict"] == "install-failed"
    assert "postBuild" in nb["reason"]
    assert containers_of(docker_client, pid) == []


def test_an_unreachable_engine_is_a_one_line_error(tmp_path: Path) -> None:
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    proc = start_nbrepro("check", str(repo), "--backend", "docker",
                         "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", env=env)
    code, _, err = finish(proc, timeout=300)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Docker engine" in lines[0] and "DOCKER_HOST" in lines[0]
    assert "Traceback" not in err


def test_a_missing_base_image_names_the_setting_and_the_offline_script(
        tmp_path: Path, docker_engine: str) -> None:
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if k != "NBREPRO_BASE_IMAGE"}
    proc = start_nbrepro("check", str(repo), "--backend", "docker", "--base-image",
                         "nbrepro-no-such-image:none", "--db",
                         f"sqlite:///{tmp_path / 'db.sqlite'}", env=env)
    code, _, err = finish(proc, timeout=300)
    assert code == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "nbrepro-no-such-image:none" in lines[0]
    assert "$NBREPRO_BASE_IMAGE" in lines[0] and "scripts/base-image.sh" in lines[0]


def test_kernel_container_is_confined_and_removed_after_ctrl_c(
        tmp_path: Path, docker_engine: str, docker_client: Any) -> None:
    repo = tmp_path / "repo"
    _notebook(repo / "waits.ipynb", [
        ("import time\nopen('cell-started', 'w').close()\ntime.sleep(600)", None)])
    # A known temp dir: the scratch copy (and the marker the cell writes) is inside it.
    temp = tmp_path / "t"
    temp.mkdir()
    proc = start_nbrepro("check", str(repo), "--backend", "docker", "--base-image",
                         docker_engine, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}",
                         "--memory", "768m", "--cpus", "1.5",
                         env={**os.environ, "TMPDIR": str(temp)})
    try:
        container = wait_for(lambda: (containers_of(docker_client, proc.pid) or [None])[0],
                             timeout=600)
        wait_for(lambda: list(temp.glob("nbrepro-run-*/repo/cell-started")), timeout=120)
        container.reload()
        host = container.attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["CapDrop"] == ["ALL"]
        assert host["Memory"] == 768 * 1024**2
        assert host["NanoCpus"] == 1_500_000_000
        assert host["PidsLimit"] and host["PidsLimit"] > 0
        user = container.attrs["Config"]["User"]
        assert user and not user.startswith("0:") and user != "root"
    finally:
        proc.send_signal(signal.SIGINT)
        code, _, err = finish(proc, timeout=120)
    assert code == 130, err
    assert containers_of(docker_client, proc.pid) == []


def test_a_killed_check_takes_its_kernel_container_with_it(
        tmp_path: Path, docker_engine: str, docker_client: Any) -> None:
    """SIGKILL of nbrepro: its kernel's supervisor removes the container at once (the
    next nbrepro is only the last resort)."""
    repo = tmp_path / "repo"
    _notebook(repo / "waits.ipynb", [
        ("import time\nopen('cell-started', 'w').close()\ntime.sleep(600)", None)])
    temp = tmp_path / "t"
    temp.mkdir()
    proc = start_nbrepro("check", str(repo), "--backend", "docker", "--base-image",
                         docker_engine, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}",
                         env={**os.environ, "TMPDIR": str(temp)})
    try:
        wait_for(lambda: containers_of(docker_client, proc.pid), timeout=600)
        wait_for(lambda: list(temp.glob("nbrepro-run-*/repo/cell-started")), timeout=120)
    finally:
        proc.kill()
        finish(proc, timeout=60)
    wait_for(lambda: containers_of(docker_client, proc.pid) == [], timeout=60)


def test_a_killed_check_takes_its_build_container_with_it(
        tmp_path: Path, docker_engine: str, docker_client: Any) -> None:
    """SIGKILL of nbrepro while the repository's postBuild runs: the engine runs the
    build container, not nbrepro, so its supervisor removes it at once."""
    repo = tmp_path / "repo"
    _notebook(repo / "never.ipynb", [("print('hi')", "hi\n")])
    (repo / "postBuild").write_text("#!/bin/sh\necho building\nsleep 600\n")
    proc = start_nbrepro("check", str(repo), "--backend", "docker", "--base-image",
                         docker_engine, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}")

    def running_builds() -> list[Any]:
        return [c for c in containers_of(docker_client, proc.pid)
                if c.labels.get("org.nbrepro.build") == "1" and c.status == "running"]

    try:
        wait_for(running_builds, timeout=600)
        wait_for(lambda: any(b"building" in c.logs() for c in running_builds()), timeout=120)
    finally:
        proc.kill()
        finish(proc, timeout=60)
    wait_for(lambda: containers_of(docker_client, proc.pid) == [], timeout=60)


def test_containers_left_by_a_killed_nbrepro_are_removed_by_the_next(
        docker_engine: str, docker_client: Any) -> None:
    from nbrepro.isolation.docker import LABEL_OWNER, DockerBackend, owner

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = owner().split(":")[0]
    orphan = docker_client.containers.run(
        docker_engine, ["sleep", "600"], detach=True, network_mode="none",
        labels={LABEL_OWNER: f"{host}:{dead.pid}:1"},
    )
    try:
        DockerBackend(BackendOptions(base_image=docker_engine))
        remaining = [c.id for c in docker_client.containers.list(all=True, ignore_removed=True)]
        assert orphan.id not in remaining
    finally:
        with contextlib.suppress(Exception):  # already removed: the expected case
            orphan.remove(force=True)


def test_network_option_gives_the_container_a_network(tmp_path: Path, docker_engine: str) -> None:
    from tests.security.helpers import Listener, host_address

    listener = Listener()
    try:
        repo = tmp_path / "repo"
        target = (host_address(), listener.port)
        _notebook(repo / "online.ipynb", [(
            "import socket\n\n"
            f"with socket.create_connection({target!r}, timeout=10) as s:\n"
            "    s.sendall(b'hello from the container')\n"
            "print('sent')", "sent\n")])
        code, err, result, _ = _check(tmp_path, repo, docker_engine, "--network")
        assert code == 0, (err, result["notebooks"][0])
        assert result["environment"]["network"] is True
        wait_for(lambda: listener.received, timeout=10)
        assert listener.received == [b"hello from the container"]
    finally:
        listener.close()
