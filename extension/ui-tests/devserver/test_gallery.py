"""DEVELOPMENT AID, not a test of the real extension: screenshots of UI states
the recorded stub data can show (folder check with a failure, install failure,
live progress, server extension missing), in light and dark themes.

    NBREPRO_UI_BACKEND=stub .venv/bin/python -m pytest extension/ui-tests/devserver -v

Screenshots: test-artifacts/ui/stub/gallery-*.png. Skipped unless the backend is the stub.
"""

from __future__ import annotations

import os

import pytest

# The stub reads this when the server starts (after collection).
os.environ.setdefault("NBREPRO_DEVSTUB_SEED", "1")
os.environ.setdefault("NBREPRO_DEVSTUB_SECONDS", "20")

from conftest import ARTIFACTS, BACKEND, Lab
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.skipif(BACKEND != "stub", reason="development gallery: stub backend only")

TIMEOUT = 30_000


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"gallery-{name}.png"))


def run(page: Page, command: str, args: dict | None = None) -> None:
    page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a)", [command, args or {}])


def theme(page: Page, name: str) -> None:
    run(page, "apputils:change-theme", {"theme": name})
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", name, timeout=TIMEOUT)
    page.wait_for_timeout(400)


def test_gallery(lab: Lab, page: Page) -> None:
    page.goto(lab.url("lab"))
    expect(page.locator(".jp-DirListing-content")).to_be_visible(timeout=60_000)
    run(page, "nbrepro:open-panel")
    panel = page.locator("#jp-nbrepro-panel")
    expect(panel.locator("li.jp-nbrepro-check[data-source='analysis']")).to_be_visible(
        timeout=TIMEOUT
    )

    # A folder check: reproduced, equivalent, failed (error + not-run cells).
    panel.locator("li.jp-nbrepro-check[data-source='analysis'] .jp-nbrepro-check-main").click()
    report = page.locator(".jp-nbrepro-report[data-verdict='failed']")
    expect(report).to_be_visible(timeout=TIMEOUT)
    report.locator(".jp-nbrepro-notebook[data-path='03-model.ipynb']").scroll_into_view_if_needed()
    shot(page, "folder-failed-light")
    theme(page, "JupyterLab Dark")
    shot(page, "folder-failed-dark")
    theme(page, "JupyterLab Light")

    # Environment could not be built.
    panel.locator(
        "li.jp-nbrepro-check[data-source='legacy/old-paper.ipynb'] .jp-nbrepro-check-main"
    ).click()
    expect(page.locator(".jp-nbrepro-report[data-verdict='install-failed']")).to_be_visible(
        timeout=TIMEOUT
    )
    shot(page, "install-failed-light")

    # Live progress of a folder check while it executes.
    run(page, "nbrepro:check", {"path": "more"})
    entry = panel.locator("li.jp-nbrepro-check[data-source='more']")
    expect(entry.locator(".jp-nbrepro-check-detail")).to_contain_text("cell", timeout=TIMEOUT)
    shot(page, "progress-light")
    theme(page, "JupyterLab Dark")
    shot(page, "progress-dark")
    theme(page, "JupyterLab Light")
    entry.get_by_role("button", name="Cancel check").click()
    expect(entry).to_have_attribute("data-state", "cancelled", timeout=TIMEOUT)
    shot(page, "cancelled-light")


def test_gallery_missing_server_extension(lab: Lab, page: Page) -> None:
    # Pretend the server extension is not installed: every API call is a 404 page.
    page.route(
        "**/nbrepro/api/**",
        lambda route: route.fulfill(status=404, content_type="text/html", body="<h1>404</h1>"),
    )
    page.goto(lab.url("lab/tree/demo.ipynb"))
    expect(page.locator(".jp-NotebookPanel .jp-Notebook")).to_be_visible(timeout=60_000)
    run(page, "nbrepro:open-panel")
    banner = page.locator("#jp-nbrepro-panel .jp-nbrepro-banner")
    expect(banner).to_contain_text("server extension", timeout=TIMEOUT)
    page.locator(".jp-NotebookPanel-toolbar [data-command='nbrepro:check'] button").click()
    expect(
        page.locator(".jp-Notification-Toast-error, .Toastify__toast--error").first
    ).to_be_visible(timeout=TIMEOUT)
    shot(page, "missing-extension")


def test_gallery_nbdime(lab: Lab, page: Page) -> None:
    page.goto(lab.url("lab"))
    expect(page.locator(".jp-DirListing-content")).to_be_visible(timeout=60_000)
    run(page, "nbrepro:check", {"path": "demo.ipynb"})
    entry = page.locator("#jp-nbrepro-panel li.jp-nbrepro-check[data-source='demo.ipynb']").first
    expect(entry).to_have_attribute("data-state", "finished", timeout=60_000)
    entry.locator(".jp-nbrepro-check-main").click()
    section = page.locator(".jp-nbrepro-report .jp-nbrepro-notebook[data-path='demo.ipynb']").last
    toggle = section.locator("button.jp-nbrepro-view-toggle")
    expect(toggle).to_be_enabled(timeout=TIMEOUT)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    host = section.locator(".jp-nbrepro-nbdime-host")
    expect(host).to_be_visible(timeout=TIMEOUT)
    expect(host).not_to_contain_text("Loading nbdime", timeout=TIMEOUT)
    expect(host).not_to_contain_text("could not show", timeout=1000)
    expect(section.locator(".jp-nbrepro-nbdime")).to_be_visible(timeout=TIMEOUT)
    expect(section.locator(".jp-nbrepro-cells")).to_be_hidden()
    page.wait_for_timeout(500)
    shot(page, "nbdime-light")
    theme(page, "JupyterLab Dark")
    shot(page, "nbdime-dark")
    theme(page, "JupyterLab Light")
    toggle.click()
    expect(section.locator(".jp-nbrepro-cells")).to_be_visible()
