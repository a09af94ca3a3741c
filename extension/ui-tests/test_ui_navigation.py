"""Browser tests of finding one's way from the UI: checking the whole repository or
the folder the file browser shows, opening a report at a notebook and a notebook at
a cell, sharing and exporting a finished check, and the small things a user sees
(notifications, narrow windows, cancelled checks, nbdime's cell labels).

Same server and browser as ``test_ui.py``; screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, Lab
from playwright.sync_api import Locator, Page, expect
from test_ui import (
    CHECK_TIMEOUT_MS,
    NOTEBOOK,
    UI_TIMEOUT_MS,
    allow_clipboard,
    api_get,
    check_from_command,
    open_report,
    report_widget,
    shot,
    toolbar_button,
    wait_settled,
)

pytestmark = pytest.mark.timeout(1200)

# A toast of JupyterLab's notification center (any type).
TOAST = ".Toastify__toast"


def panel_entry(page: Page, path: str) -> Locator:
    entry = page.locator(f"#jp-nbrepro-panel li.jp-nbrepro-check[data-path='{path}']").first
    expect(entry).to_be_visible(timeout=UI_TIMEOUT_MS)
    return entry


def report_tab(page: Page, check_id: str | None) -> Locator:
    return page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")


def report_action(page: Page, check_id: str | None, name: str) -> Locator:
    """A button of the report's toolbar, from its "…" menu when the window is too
    narrow to show it in the toolbar."""
    button = toolbar_button(page, check_id, name)
    # every report has a popup of its own; the one open is this report's
    popup = page.locator(f".jp-Toolbar-responsive-popup:visible .{name} button").first
    expect(report_tab(page, check_id)).to_be_visible(timeout=UI_TIMEOUT_MS)
    if not button.is_visible():
        if not popup.is_visible():
            report_widget(page, check_id).locator(
                ".jp-Toolbar-responsive-opener").first.click()
        button = popup
    expect(button).to_be_visible(timeout=UI_TIMEOUT_MS)
    return button


def test_the_folder_shown_is_checked_from_the_empty_area_and_titled_with_its_name(
        lab: Lab, page: Page) -> None:
    page.goto(lab.url("lab/tree/more"))
    listing = page.locator(".jp-DirListing-content")
    expect(listing.locator(".jp-DirListing-item")).to_have_count(1, timeout=60_000)
    box = listing.bounding_box()
    assert box is not None
    # below the only item: the folder's empty area
    listing.click(button="right", position={"x": box["width"] / 2, "y": box["height"] - 10})
    item = page.locator(".lm-Menu-item[data-command='nbrepro:check-folder']")
    expect(item).to_contain_text("Check this folder with nbrepro", timeout=UI_TIMEOUT_MS)
    shot(page, "20-empty-area-context-menu")
    item.click()
    entry = panel_entry(page, "more")
    check_id = entry.get_attribute("data-check-id")
    # Its report, open while it runs, shows the outcome: no notice on top of it.
    entry.locator(".jp-nbrepro-check-main").click()
    report = page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")
    expect(report).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(report.locator("h1.jp-nbrepro-report-source")).to_have_text("more")
    expect(report).to_have_attribute("data-state", "finished", timeout=CHECK_TIMEOUT_MS)
    page.wait_for_timeout(3000)  # longer than a poll of the check list
    expect(page.locator(TOAST).filter(has_text="Check of more")).to_have_count(0)
    expect(entry).to_have_attribute("data-verdict", "reproduced")
    expect(entry.locator(".jp-nbrepro-check-name")).to_have_text("more")
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    expect(tab).to_have_text(f"Check #{check_id}: more")


def test_the_repository_is_checked_from_the_palette_and_a_cancel_is_said_once(
        lab: Lab, page: Page) -> None:
    # a folder in no git repository: the server root stands in for one, said so
    page.goto(lab.url("lab/tree/more"))
    expect(page.locator(".jp-DirListing-content .jp-DirListing-item")).to_have_count(
        1, timeout=60_000)
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".jp-ModalCommandPalette input, #command-palette input").first
    expect(palette).to_be_visible(timeout=UI_TIMEOUT_MS)
    palette.fill("Check the repository")
    option = page.locator(".lm-CommandPalette-item[data-command='nbrepro:check-repository']")
    expect(option.first).to_be_visible(timeout=UI_TIMEOUT_MS)
    shot(page, "21-palette-check-repository")
    page.keyboard.press("Enter")

    # The server's root folder: the panel and the report name it by its own name.
    expect(page.locator(TOAST).filter(has_text="No git repository around more")).to_contain_text(
        f"checking the folder JupyterLab serves ({lab.root.name})", timeout=UI_TIMEOUT_MS)
    entry = panel_entry(page, ".")
    expect(entry.locator(".jp-nbrepro-check-name")).to_have_text(lab.root.name)
    check_id = entry.get_attribute("data-check-id")
    entry.get_by_role("button", name=f"Cancel check {check_id}").click()
    expect(entry).to_have_attribute("data-state", "cancelled", timeout=CHECK_TIMEOUT_MS)
    assert api_get(page, lab, f"checks/{check_id}")["name"] == lab.root.name

    # "Cancelled" once in the panel's entry, once in the report's header.
    text = entry.inner_text()
    assert len(re.findall(r"cancel", text, re.IGNORECASE)) == 1, text
    entry.locator(".jp-nbrepro-check-main").click()
    report = page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")
    expect(report).to_have_attribute("data-state", "cancelled", timeout=UI_TIMEOUT_MS)
    header = report.locator(".jp-nbrepro-report-header")
    expect(header.locator("h1.jp-nbrepro-report-source")).to_have_text(lab.root.name)
    text = header.inner_text()
    assert len(re.findall(r"cancel", text, re.IGNORECASE)) == 1, text
    for toast in page.locator(TOAST).all():
        text = toast.inner_text()
        assert len(re.findall(r"cancel", text, re.IGNORECASE)) <= 1, text
    shot(page, "22-repository-cancelled")


def test_the_repository_around_the_folder_shown_is_checked_whole_and_titled_with_its_name(
        lab: Lab, page: Page) -> None:
    """Browsing proj/notebooks of a git repository proj/ (dependencies at its root):
    "Check the repository" from the folder's empty area checks all of proj, also the
    notebooks outside notebooks/, and names it "proj"."""
    proj = lab.root / "proj"
    shutil.copytree(REPO / "tests" / "fixtures" / "repos" / "with-deps", proj)
    (proj / "notebooks").mkdir()
    shutil.copy(proj / "six_version.ipynb", proj / "intro.ipynb")
    (proj / "six_version.ipynb").rename(proj / "notebooks" / "six_version.ipynb")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "proj"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=proj, check=True, capture_output=True)

    page.goto(lab.url("lab/tree/proj/notebooks"))
    listing = page.locator(".jp-DirListing-content")
    expect(listing.locator(".jp-DirListing-item")).to_have_count(1, timeout=60_000)
    box = listing.bounding_box()
    assert box is not None
    listing.click(button="right", position={"x": box["width"] / 2, "y": box["height"] - 10})
    item = page.locator(".lm-Menu-item[data-command='nbrepro:check-repository']")
    expect(item).to_contain_text("Check the repository", timeout=UI_TIMEOUT_MS)
    shot(page, "23-empty-area-check-repository")
    item.click()

    entry = panel_entry(page, "proj")
    expect(entry.locator(".jp-nbrepro-check-name")).to_have_text("proj")
    wait_settled(entry)
    expect(entry).to_have_attribute("data-verdict", "reproduced")
    check = api_get(page, lab, f"checks/{entry.get_attribute('data-check-id')}")
    assert (check["path"], check["root"], check["name"]) == ("proj", "proj", "proj")
    assert sorted(nb["path"] for nb in check["notebooks"]) == [
        "proj/intro.ipynb", "proj/notebooks/six_version.ipynb"]
    assert check["result"]["spec"]["files"] == ["requirements.txt"]
    report = open_report(page, entry)
    expect(report.locator("h1.jp-nbrepro-report-source")).to_have_text("proj")
    expect(page.locator(TOAST).filter(has_text="No git repository")).to_have_count(0)
    shot(page, "24-repository-of-the-folder-shown")


def test_a_notebook_of_the_panel_opens_the_report_there_and_a_cell_opens_the_notebook(
        lab: Lab, page: Page) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    entry = check_from_command(page, lab, "analysis")
    wait_settled(entry)
    check_id = entry.get_attribute("data-check-id")
    links = entry.locator("li.jp-nbrepro-check-notebook[role='link']")
    expect(links).to_have_count(2)
    second = entry.locator("li.jp-nbrepro-check-notebook[data-path='analysis/02-model.ipynb']")
    second.click()
    report = page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")
    expect(report).to_be_visible(timeout=UI_TIMEOUT_MS)
    revealed = report.locator(".jp-nbrepro-notebook.jp-mod-revealed")
    expect(revealed).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(revealed).to_have_attribute("data-path", re.compile(r"02-model\.ipynb$"))
    expect(revealed).not_to_have_class(re.compile(r"\bjp-mod-collapsed\b"))
    expect(revealed.locator(".jp-nbrepro-notebook-header")).to_be_in_viewport()
    # the report is open: the other notebook moves the view there, not a new report
    entry.locator("li.jp-nbrepro-check-notebook[data-path='analysis/01-load.ipynb']").click()
    expect(revealed).to_have_attribute("data-path", re.compile(r"01-load\.ipynb$"),
                                       timeout=UI_TIMEOUT_MS)
    expect(page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")).to_have_count(1)

    # Headers are not cut at 1024 px, the side panel open.
    expect(report.locator(".jp-nbrepro-cell-open").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    cut = report.evaluate(
        """report => {
          const edge = report.getBoundingClientRect().right;
          const cut = [];
          for (const el of report.querySelectorAll(
              '.jp-nbrepro-report-header *, .jp-nbrepro-notebook-header *')) {
            const rect = el.getBoundingClientRect();
            if (rect.width === 0) continue;
            const clipped = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
            if (rect.right > edge + 1 || clipped)
              cut.push(`${el.className}: ${el.textContent.slice(0, 40)}`);
          }
          return cut;
        }""")
    assert cut == [], cut
    shot(page, "23-report-at-1024px")

    # "In [n]" opens the notebook with that cell active.
    section = report.locator(".jp-nbrepro-notebook[data-path$='02-model.ipynb']")
    row = section.locator(".jp-nbrepro-cell").last
    index = int(row.get_attribute("data-index") or "-1")
    assert index > 0
    button = row.locator("button.jp-nbrepro-cell-open")
    expect(button).to_have_text(re.compile(r"^In \[(\d+| )\]$"), timeout=UI_TIMEOUT_MS)
    button.click()
    expect(page.locator(".jp-NotebookPanel:visible")).to_have_count(1, timeout=60_000)
    page.wait_for_function(
        """([path, index]) => {
          const w = window.jupyterapp.shell.currentWidget;
          return w && w.context && w.context.path === path
            && w.content.activeCellIndex === index;
        }""",
        arg=["analysis/02-model.ipynb", index], timeout=UI_TIMEOUT_MS)
    active = page.locator(".jp-NotebookPanel:visible .jp-Cell.jp-mod-active")
    expect(active).to_be_in_viewport()
    shot(page, "24-notebook-at-cell")


def test_endpoint_url_exports_and_the_finish_notice(lab: Lab, page: Page) -> None:
    allow_clipboard(page, lab)
    entry = check_from_command(page, lab, NOTEBOOK)
    wait_settled(entry)
    check_id = entry.get_attribute("data-check-id")
    # The notice of the finished check shows until its report is opened...
    notice = page.locator(TOAST).filter(has_text=f"Check of {NOTEBOOK}")
    expect(notice.first).to_be_visible(timeout=UI_TIMEOUT_MS)
    report = open_report(page, entry)
    expect(report).to_have_attribute("data-state", "finished", timeout=UI_TIMEOUT_MS)
    # ...and never covers it.
    expect(notice).to_have_count(0, timeout=UI_TIMEOUT_MS)

    button = report_action(page, check_id, "jp-nbrepro-copy-endpoint")
    expect(button).to_be_enabled(timeout=UI_TIMEOUT_MS)
    button.click()
    expect(page.get_by_text("Endpoint URL copied").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    url = page.evaluate("() => navigator.clipboard.readText()")
    assert url == f"{lab.base_url}nbrepro/api/badge?path={NOTEBOOK}&format=json", url
    endpoint = page.request.get(url, headers={"Authorization": f"token {lab.token}"})
    assert endpoint.ok and endpoint.json()["schemaVersion"] == 1, endpoint.text()
    assert endpoint.json()["label"] and endpoint.json()["message"]

    with page.expect_download(timeout=UI_TIMEOUT_MS) as download:
        report_action(page, check_id, "jp-nbrepro-export-json").click()
    assert download.value.suggested_filename == f"nbrepro-check-{check_id}.json"
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["id"] == int(check_id or 0) and exported["verdict"] == "differs"
    assert exported["result"]["notebooks"][0]["path"] == NOTEBOOK

    with page.expect_download(timeout=UI_TIMEOUT_MS) as download:
        report_action(page, check_id, "jp-nbrepro-export-html").click()
    assert download.value.suggested_filename == f"nbrepro-check-{check_id}.html"
    html = Path(download.value.path()).read_text()
    assert html.startswith("<!DOCTYPE html>") and NOTEBOOK in html
    assert str(lab.root) not in html
    shot(page, "25-report-toolbar-sharing")


def test_nbdime_never_shows_an_undefined_cell_id(lab: Lab, page: Page) -> None:
    """A notebook of nbformat 4.4 has no cell ids; the re-run copy may have them."""
    folder = lab.root / "no-ids"
    folder.mkdir()
    notebook = json.loads((lab.root / NOTEBOOK).read_text())
    notebook["nbformat_minor"] = 4
    for cell in notebook["cells"]:
        cell.pop("id", None)
    (folder / NOTEBOOK).write_text(json.dumps(notebook))
    entry = check_from_command(page, lab, f"no-ids/{NOTEBOOK}")
    wait_settled(entry)
    report = open_report(page, entry)
    section = report.locator(".jp-nbrepro-notebook").first
    toggle = section.locator("button.jp-nbrepro-view-toggle")
    expect(toggle).to_be_enabled(timeout=UI_TIMEOUT_MS)
    toggle.click()
    view = section.locator(".jp-nbrepro-nbdime")
    expect(view.locator(".jp-Diff-renderedOutput:visible").first).to_be_visible(
        timeout=UI_TIMEOUT_MS)
    labels = view.evaluate(
        """view => [...view.querySelectorAll('.jp-Cellrow-header-cellId')]
             .filter(el => el.offsetParent !== null).map(el => el.textContent)""")
    assert not [text for text in labels if re.search(r"undefined|null", text)], labels
    shot(page, "26-nbdime-without-cell-ids")
