"""A hostile build (tests/security/hostile_build.py) against both backends.

One check per backend, run from inside the repository (as a user who `cd`s into a
clone would) with a home full of secrets, credentials in the environment and
listeners on the host's loopback and own address. The repository's build code and
files try to: run an executable of the repository as the interpreter (issue item 1),
redirect the package index with uv configuration files (2), widen the kernel's
mounts through pyvenv.cfg (3), poison the user's uv cache (4), resolve outside a
container with the docker backend (5), quote a secret through a planted kernel.log
link (6), reach the host's services and read credentials while installing (7), and
read a secret through a dependency file that links out of the repository (12).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nbrepro.isolation.sandbox import Bubblewrap
from nbrepro.isolation.tools import uv_binary, uv_cache_dir
from tests.helpers.docker import engine_client, ensure_engine
from tests.security import hostile_build
from tests.security.helpers import FakeHome, Listener, Run, check, host_address

pytestmark = pytest.mark.slow


def _cache_digests(cache: Path) -> dict[str, str]:
    """Every unpacked wheel file of a uv cache (immutable once written), by path."""
    found = {}
    for path in sorted((cache / "archive-v0").rglob("*")) if (cache / "archive-v0").is_dir() \
            else []:
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(cache))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@dataclass
class Attack:
    backend: str
    run: Run
    build: hostile_build.HostileBuild
    listeners: dict[str, Listener]
    cache_before: dict[str, str]

    @property
    def reports(self) -> list[dict[str, Any]]:
        text = self.run.outputs("probe.ipynb")[0]
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    @property
    def everything(self) -> str:
        """All the check reported, as text."""
        return json.dumps(self.run.result) + json.dumps(self.run.rerun) + self.run.stdout \
            + self.run.stderr


@pytest.fixture(scope="module")
def warm_private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A uv cache of the test's own (the attack tries to poison it), already holding
    the wheels the repository needs, like a user's cache."""
    cache = tmp_path_factory.mktemp("uv-cache")
    venv = tmp_path_factory.mktemp("warm") / "venv"
    env = {**os.environ, "UV_CACHE_DIR": str(cache), "UV_NO_CONFIG": "1"}
    subprocess.run([uv_binary(), "venv", "--quiet", str(venv)], check=True, env=env)
    subprocess.run([uv_binary(), "pip", "install", "--quiet", "--python",
                    str(venv / "bin" / "python"), "six", "ipykernel", "setuptools"],
                   check=True, env=env, timeout=900)
    return cache


@pytest.fixture(scope="module", params=["venv", "docker"])
def attack(request: pytest.FixtureRequest, warm_private_cache: Path) -> Iterator[Attack]:
    backend = request.param
    if backend == "venv":
        assert Bubblewrap.available(), "bubblewrap must work here (scripts/setup.sh)"
        uv_cache = warm_private_cache
    else:
        ensure_engine()
        uv_cache = uv_cache_dir(uv_binary()) or warm_private_cache
    # Outside /tmp (which the sandbox replaces wholesale), like a real home.
    work = Path(tempfile.mkdtemp(prefix=f"nbrepro-build-attack-{backend}-", dir="/var/tmp"))
    listeners = {"loopback": Listener("127.0.0.1"), "host": Listener("0.0.0.0"),
                 "index": Listener("127.0.0.1")}
    try:
        home = FakeHome(work / "home")
        targets = {"loopback": ("127.0.0.1", listeners["loopback"].port),
                   "host": (host_address(), listeners["host"].port),
                   "metadata": ("169.254.169.254", 80)}
        build = hostile_build.write(work, home, uv_cache, targets, listeners["index"].port)
        before = _cache_digests(uv_cache)
        args = ["--backend", backend, "--keep-going", "--cell-timeout", "60"]
        if backend == "docker":
            args += ["--base-image", ensure_engine()]
        env = {
            "UV_CACHE_DIR": str(uv_cache),
            "TMPDIR": str(work),  # the runtime folders: kernel.log lives there
            # credentials the user has for their index: never for the repository's code
            "PIP_INDEX_URL": f"https://nbrepro:{home.token}-index@pypi.org/simple",
            "UV_INDEX_PRIVATE_USERNAME": f"{home.token}-user",
            "NBREPRO_CACHE_DIR": str(work / "nbrepro-cache"),
        }
        run = check(build.repo, work, *args, home=home.path, cwd=build.repo, env=env)
        yield Attack(backend, run, build, listeners, before)
    finally:
        for listener in listeners.values():
            listener.close()
        shutil.rmtree(work, ignore_errors=True)


def test_the_check_ends_in_results(attack: Attack) -> None:
    run = attack.run
    assert run.code == 1, run.stderr[-3000:]
    assert run.result is not None
    env = run.result["environment"]
    assert env["ok"], env["log"][-3000:]
    assert run.notebook("probe.ipynb")["verdict"] in ("differs", "reproduced")
    # the attack ran: setup.py reported from resolving and from installing
    assert len(attack.reports) >= 2, run.outputs("probe.ipynb")


def test_the_repository_cannot_choose_an_executable_as_interpreter(attack: Attack) -> None:
    assert not attack.build.marker.exists()
    skipped = attack.run.result["spec"]["skipped"]
    assert any("./evil" in line and "not a version number" in line for line in skipped)


def test_uv_configuration_files_in_the_repository_are_ignored(attack: Attack) -> None:
    assert attack.listeners["index"].received == []


def test_builds_reach_no_service_of_the_host(attack: Attack) -> None:
    assert attack.listeners["loopback"].received == []
    assert attack.listeners["host"].received == []
    for report in attack.reports:
        for target in ("loopback", "host", "metadata"):
            assert report[target] == ["blocked", "blocked"], report


def test_builds_see_no_credentials_and_no_tool_configuration(attack: Attack) -> None:
    for report in attack.reports:
        assert report["secret_env"] == [], report
        assert report["secret_files"] == [], report
    assert attack.build.home.token not in attack.everything


def test_a_planted_kernel_log_link_quotes_no_secret(attack: Attack) -> None:
    nb = attack.run.notebook("crash/kernel_log.ipynb")
    assert nb["verdict"] == "kernel-died", nb
    assert attack.build.home.token not in attack.everything


def test_dependency_files_linking_out_of_the_repository_are_not_read(attack: Attack) -> None:
    skipped = attack.run.result["spec"]["skipped"]
    assert any(line.startswith("requirements-extra.txt") and "outside the repository" in line
               for line in skipped), skipped


def test_venv_kernel_mounts_do_not_follow_pyvenv_cfg(attack: Attack) -> None:
    if attack.backend != "venv":
        pytest.skip("docker kernels mount only the scratch copy and their runtime folder")
    assert any(r.get("pyvenv_cfg") == "appended" for r in attack.reports)  # the attack ran
    assert attack.run.outputs("probe.ipynb")[1] == "hidden\n"


def test_venv_builds_cannot_poison_the_users_uv_cache(attack: Attack) -> None:
    if attack.backend != "venv":
        pytest.skip("docker builds never see the host's uv cache")
    assert any(r.get("six") == "edited" for r in attack.reports)  # the attack ran
    assert all(r["cache_write"] == "blocked" for r in attack.reports)
    cache = attack.build.uv_cache
    assert not list(cache.rglob("nbrepro-pwned"))
    after = _cache_digests(cache)
    changed = [path for path, digest in attack.cache_before.items() if after.get(path) != digest]
    assert changed == []
    assert attack.cache_before  # the cache held the wheels before the check


def test_docker_resolves_and_builds_in_confined_containers(attack: Attack) -> None:
    if attack.backend != "docker":
        pytest.skip("docker only")
    from nbrepro.isolation.tools import BUILD_PIDS

    reports = attack.reports
    # a container's host name is its id: resolving ran in one too, not on the host
    assert all(re.fullmatch(r"[0-9a-f]{12}", r["hostname"]) for r in reports), reports
    assert {r.get("pids_max") for r in reports} == {str(BUILD_PIDS)}
    image = engine_client().images.get(attack.run.result["environment"]["location"])
    history = json.dumps(image.history()) + json.dumps(image.attrs)
    assert attack.build.home.token not in history
    assert "PROXY" not in json.dumps(image.attrs["Config"].get("Env") or [])
