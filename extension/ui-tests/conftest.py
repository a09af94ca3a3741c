"""Fixtures for the JupyterLab browser test: a JupyterLab server and a Chromium page.

The server runs the real server extension (``jupyter_nbrepro``) on a temporary
copy of ``fixtures/project`` with news and update checks off, a clean workspace,
and the working tree's code first on PYTHONPATH (``checker/`` and ``extension/``)
and its built front end (``extension/jupyter_nbrepro/labextension``) first on the
labextensions path, so the test exercises this checkout whether or not
``pip install .`` was run.

Browser: Debian's Chromium (``NBREPRO_UI_CHROMIUM``, default /usr/bin/chromium);
never ``playwright install``. Screenshots and the server log go to
``test-artifacts/ui/`` at the repository root.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXTENSION = HERE.parent
REPO = EXTENSION.parent
FIXTURES = HERE / "fixtures" / "project"
LABEXTENSION = EXTENSION / "jupyter_nbrepro" / "labextension"
CHROMIUM = os.environ.get("NBREPRO_UI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("NBREPRO_UI_ARTIFACTS", REPO / "test-artifacts" / "ui"))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    # The run fails if a kernel or container nbrepro started outlives the tests (the
    # guard lives with the main test suite; its folder is importable from the root).
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.helpers import leak_guard

    leak_guard.register(config)


@dataclass
class Lab:
    base_url: str
    token: str
    root: Path
    log: Path

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO / "checker"), str(EXTENSION)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["JUPYTER_CONFIG_DIR"] = str(tmp / "config")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # A results database of its own, so the panel lists only this session's checks.
    env["NBREPRO_DB"] = f"sqlite:///{tmp / 'nbrepro.sqlite'}"
    env.pop("JUPYTER_TOKEN", None)
    return env


def _real_extension_problem(env: dict[str, str]) -> str | None:
    """Why the real server extension cannot be loaded, or None when it can."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import jupyter_nbrepro, jupyter_nbrepro.app as a; "
            "assert hasattr(jupyter_nbrepro, '_jupyter_server_extension_points')",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip().splitlines() or ["unknown error"])[-1]


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    """pytest-jupyter (loaded for the server API tests in the same run) closes an
    event loop after every test; here Playwright's own loop is running, so do
    nothing instead."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    """pytest-jupyter's in-process server cleanup: these tests run JupyterLab in a
    subprocess of their own."""
    yield None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("lab")
    env = _server_env(tmp)
    problem = _real_extension_problem(env)
    if problem is not None:
        pytest.fail(f"the nbrepro server extension (jupyter_nbrepro.app) does not load: {problem}")
    if not (LABEXTENSION / "package.json").exists():
        pytest.fail(f"no front end build in {LABEXTENSION}: extension/scripts/build-frontend.sh")

    root = tmp / "root"
    shutil.copytree(FIXTURES, root)

    # Settings: no news, no update checks.
    settings = tmp / "settings"
    notification = (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    # The working tree's front end build, first on the labextensions path (JupyterLab
    # takes the first copy of an extension it finds), whatever is installed.
    link_dir = tmp / "labextensions"
    link_dir.mkdir()
    (link_dir / "jupyter-nbrepro").symlink_to(LABEXTENSION, target_is_directory=True)
    labext_path = [str(link_dir)]

    extensions = {"jupyter_nbrepro": True}
    token = secrets.token_hex(16)
    port = _free_port()
    config = tmp / "jupyter_test_config.py"
    config.write_text(
        "\n".join(
            [
                f"c.ServerApp.jpserver_extensions.update({extensions!r})",
                f"c.ServerApp.root_dir = {str(root)!r}",
                "c.ServerApp.ip = '127.0.0.1'",
                f"c.ServerApp.port = {port}",
                "c.ServerApp.port_retries = 0",
                "c.ServerApp.open_browser = False",
                "c.ServerApp.allow_root = True",
                f"c.IdentityProvider.token = {token!r}",
                f"c.LabApp.user_settings_dir = {str(settings)!r}",
                f"c.LabApp.workspaces_dir = {str(tmp / 'workspaces')!r}",
                "c.LabApp.expose_app_in_browser = True",
                f"c.NbreproApp.artifacts_dir = {str(tmp / 'nbrepro-artifacts')!r}",
                f"c.LabApp.extra_labextensions_path = {labext_path!r}",
            ]
        )
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyter-server.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", f"--config={config}"],
            env=env,
            cwd=str(root),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"{base_url}api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start in 90 s; see {log}") from None
                time.sleep(0.5)
        _assert_serves_this_build(base_url, token)
        yield Lab(base_url=base_url, token=token, root=root, log=log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _assert_serves_this_build(base_url: str, token: str) -> None:
    """The browser gets this working tree's front end, not an installed copy."""
    url = f"{base_url}lab/extensions/jupyter-nbrepro/package.json?token={token}"
    with urllib.request.urlopen(url, timeout=30) as response:
        served = json.load(response)
    built = json.loads((LABEXTENSION / "package.json").read_text())
    assert served["jupyterlab"]["_build"] == built["jupyterlab"]["_build"], (
        "JupyterLab serves another build of jupyter-nbrepro than this working tree's")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, record_video_dir=None)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "browser-console.log").write_text("\n".join(messages) + "\n")
        context.close()
