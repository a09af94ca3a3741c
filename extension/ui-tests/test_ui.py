"""Browser test of the JupyterLab front end, end to end through the server extension.

Open ``demo.ipynb`` (fixture), click "Check reproducibility" in the notebook
toolbar, wait for the verdict in the side panel, open the report view and
assert the status shown for every code cell; screenshots go to
``test-artifacts/ui/<backend>/``.

Run (from the repository root)::

    .venv/bin/python -m pytest extension/ui-tests -v            # real server extension
    NBREPRO_UI_BACKEND=stub .venv/bin/python -m pytest extension/ui-tests -v   # dev stub

What it needs from the real server extension (``jupyter_nbrepro``), for
``fixtures/project/demo.ipynb`` checked with its folder as the project:

- ``POST /nbrepro/api/checks {"path": "demo.ipynb"}`` → 202, then ``GET checks``
  listing it with ``source == "demo.ipynb"``, state reaching ``finished``;
- verdict ``differs``, and per code cell (index among all cells):
  1 identical (stdout), 2 identical (HTML table), 3 equivalent (memory address
  normalised, with a reason), 4 different (stored 46, re-run 45);
- ``GET checks/{id}/notebooks?path=demo.ipynb`` with the stored and re-run
  notebooks (the test reads "46" and "45" in the two output columns);
- ``GET checks/{id}/report`` answering text/html.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import ARTIFACTS, Lab
from playwright.sync_api import Locator, Page, expect

pytestmark = [pytest.mark.real_extension, pytest.mark.timeout(1200)]

NOTEBOOK = "demo.ipynb"
EXPECTED_VERDICT = "differs"
EXPECTED_CELLS = {1: "identical", 2: "identical", 3: "equivalent", 4: "different"}

# A real check builds an environment and runs a kernel: allow minutes.
CHECK_TIMEOUT_MS = int(float(os.environ.get("NBREPRO_UI_CHECK_TIMEOUT", "900")) * 1000)
UI_TIMEOUT_MS = 30_000


def shot(page: Page, name: str, target: Locator | None = None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if target is None:
        page.screenshot(path=str(path))
    else:
        target.screenshot(path=str(path))
    return path


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    expect(page.locator("body")).to_have_attribute(
        "data-jp-theme-name", theme, timeout=UI_TIMEOUT_MS
    )
    page.wait_for_timeout(500)  # let the theme's CSS apply before screenshots


def open_notebook(page: Page, lab: Lab, path: str) -> Locator:
    page.goto(lab.url(f"lab/tree/{path}"))
    panel = page.locator(".jp-NotebookPanel").filter(has=page.locator(".jp-Notebook"))
    expect(panel.first).to_be_visible(timeout=60_000)
    # The notebook has a kernelspec: no kernel picker. Wait for the kernel to settle.
    expect(
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first
    ).to_be_attached(timeout=60_000)
    return panel.first


def test_check_notebook_from_toolbar(lab: Lab, page: Page) -> None:
    notebook = open_notebook(page, lab, NOTEBOOK)
    button = notebook.locator(".jp-Toolbar [data-command='nbrepro:check']")
    expect(button).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(button.locator("button")).to_have_attribute("aria-label", "Check reproducibility")
    shot(page, "01-notebook-toolbar")

    # Unsaved changes: the check asks, and "Check saved version" leaves the file alone.
    notebook.locator(".jp-Cell .cm-content").nth(1).click()
    page.keyboard.press("End")
    page.keyboard.type("  # edited, not saved")
    expect(notebook.locator(".jp-mod-dirty").first).to_be_attached(timeout=UI_TIMEOUT_MS)
    button.locator("button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("unsaved changes", timeout=UI_TIMEOUT_MS)
    expect(dialog.get_by_role("button", name="Save, then check")).to_be_visible()
    shot(page, "02-unsaved-changes-dialog")
    dialog.get_by_role("button", name="Check the saved version").click()
    expect(dialog).to_have_count(0)

    # The side panel lists the check with live progress, then its verdict.
    panel = page.locator("#jp-nbrepro-panel")
    expect(panel).to_be_visible(timeout=UI_TIMEOUT_MS)
    entry = panel.locator(f"li.jp-nbrepro-check[data-source='{NOTEBOOK}']").first
    expect(entry).to_be_visible(timeout=UI_TIMEOUT_MS)
    check_id = entry.get_attribute("data-check-id")
    assert check_id and check_id.isdigit()
    entry = panel.locator(f"li.jp-nbrepro-check[data-check-id='{check_id}']")
    try:
        expect(entry).to_have_attribute("data-state", "running", timeout=UI_TIMEOUT_MS)
        expect(entry.locator("progress")).to_be_visible()
        expect(entry.get_by_role("button", name=f"Cancel check {check_id}")).to_be_visible()
        shot(page, "03-panel-running")
    except AssertionError:
        pass  # a fast check may finish before we look; the verdict below is what matters
    expect(entry).not_to_have_attribute(
        "data-state", re.compile(r"^(queued|running)$"), timeout=CHECK_TIMEOUT_MS
    )
    state = entry.get_attribute("data-state")
    error = entry.locator(".jp-nbrepro-check-error").text_content()
    assert state == "finished", f"check {check_id} ended {state}: {error}"
    expect(entry).to_have_attribute("data-verdict", EXPECTED_VERDICT)
    expect(entry.locator(".jp-nbrepro-badge")).to_have_attribute("data-verdict", EXPECTED_VERDICT)
    expect(entry.locator(".jp-nbrepro-cancel")).to_be_hidden()
    shot(page, "04-panel-finished", panel)

    # The report view: overall verdict, one row per code cell with its status.
    entry.locator(".jp-nbrepro-check-main").click()
    report = page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")
    expect(report).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(report).to_have_attribute("data-state", "finished", timeout=UI_TIMEOUT_MS)
    expect(report).to_have_attribute("data-verdict", EXPECTED_VERDICT)
    header_badge = report.locator(".jp-nbrepro-report-header .jp-nbrepro-badge")
    expect(header_badge).to_have_attribute("data-verdict", EXPECTED_VERDICT)
    section = report.locator(f".jp-nbrepro-notebook[data-path='{NOTEBOOK}']")
    expect(section).to_have_attribute("data-verdict", EXPECTED_VERDICT)
    cells = section.locator(".jp-nbrepro-cell")
    expect(cells).to_have_count(len(EXPECTED_CELLS))
    for index, status in EXPECTED_CELLS.items():
        row = section.locator(f".jp-nbrepro-cell[data-index='{index}']")
        expect(row).to_have_attribute("data-status", status)
        expect(row.locator(".jp-nbrepro-chip")).to_have_attribute("data-status", status)
        expect(row.locator(".jp-nbrepro-chip")).to_have_text(status)
    # An equivalent cell names the normaliser that made it equal.
    expect(
        section.locator(".jp-nbrepro-cell[data-index='3'] .jp-nbrepro-cell-reason")
    ).to_have_text(re.compile(r"\S"))

    # Stored vs re-run outputs, side by side, rendered by JupyterLab.
    different = section.locator(".jp-nbrepro-cell[data-index='4']")
    stored = different.locator(".jp-nbrepro-output-column[data-kind='stored']")
    rerun = different.locator(".jp-nbrepro-output-column[data-kind='rerun']")
    expect(stored.locator(".jp-OutputArea-output")).to_contain_text("46", timeout=UI_TIMEOUT_MS)
    expect(rerun.locator(".jp-OutputArea-output")).to_contain_text("45")
    table = section.locator(".jp-nbrepro-cell[data-index='2'] .jp-OutputArea-output table")
    expect(table).to_have_count(2)  # the HTML output rendered in both columns
    page.wait_for_timeout(300)
    shot(page, "05-report-light")
    different.scroll_into_view_if_needed()
    shot(page, "05b-report-light-different-cell")

    # Re-opening the same check focuses the existing report.
    entry.locator(".jp-nbrepro-check-main").click()
    expect(page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")).to_have_count(1)
    expect(entry).to_have_class(re.compile(r"\bjp-mod-selected\b"))

    # "Only differences" hides the reproduced cells.
    filter_button = page.locator(
        ".jp-nbrepro-filter-button button, button.jp-nbrepro-filter-button"
    )
    filter_button.first.click()
    expect(section.locator(".jp-nbrepro-cell[data-index='1']")).to_be_hidden()
    expect(different).to_be_visible()
    filter_button.first.click()
    expect(section.locator(".jp-nbrepro-cell[data-index='1']")).to_be_visible()

    # nbdime's view of the server's diff renders (when the server sends a diff).
    view_toggle = section.locator("button.jp-nbrepro-view-toggle")
    if view_toggle.is_enabled():
        view_toggle.click()
        host = section.locator(".jp-nbrepro-nbdime-host")
        expect(host.locator(".jp-nbrepro-nbdime")).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(host).not_to_contain_text("could not show")
        expect(section.locator(".jp-nbrepro-cells")).to_be_hidden()
        host.locator(".jp-nbrepro-nbdime").scroll_into_view_if_needed()
        shot(page, "05c-report-nbdime")
        view_toggle.click()
        expect(section.locator(".jp-nbrepro-cells")).to_be_visible()

    # The HTML report link opens the server's HTML report.
    link = report.locator("a.jp-nbrepro-html-link")
    href = link.get_attribute("href")
    assert href and href.endswith(f"/nbrepro/api/checks/{check_id}/report")
    expect(link).to_have_attribute("target", "_blank")
    response = page.request.get(href, headers={"Authorization": f"token {lab.token}"})
    assert response.status == 200, response.status
    assert response.headers["content-type"].startswith("text/html")

    # Dark theme.
    set_theme(page, "JupyterLab Dark")
    shot(page, "06-report-dark")
    shot(page, "07-panel-dark", panel)
    set_theme(page, "JupyterLab Light")


def test_file_browser_context_menu(lab: Lab, page: Page) -> None:
    page.goto(lab.url("lab"))
    listing = page.locator(".jp-DirListing-content")
    expect(listing).to_be_visible(timeout=60_000)
    for name, kind in (("more", "folder"), (NOTEBOOK, "notebook")):
        item = listing.locator(".jp-DirListing-item").filter(
            has=page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
        )
        expect(item).to_be_visible(timeout=UI_TIMEOUT_MS)
        item.click(button="right")
        menu_item = page.locator(".lm-Menu-item[data-command='nbrepro:check']")
        expect(menu_item).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(menu_item).to_contain_text("Check reproducibility")
        expect(menu_item).not_to_have_class(re.compile(r"lm-mod-disabled"))
        shot(page, f"08-context-menu-{kind}")
        page.keyboard.press("Escape")
        expect(menu_item).to_have_count(0)
