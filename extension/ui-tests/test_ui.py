"""Browser test of the JupyterLab front end, end to end through the server extension.

Open ``demo.ipynb`` (fixture), click "Check reproducibility" in the notebook
toolbar, wait for the verdict in the side panel, open the report view and
assert the status shown for every code cell; screenshots go to
``test-artifacts/ui/``. Other tests play outputs an audited repository could craft,
and take the screenshots of the other states a check can end in (a folder with a
failure, an environment that cannot be built, live progress, cancelled, no server
extension).

Run (from the repository root)::

    .venv/bin/python -m pytest extension/ui-tests -v

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
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTIFACTS, REPO, Lab
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.timeout(1200)

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
    # From the click to a running check in under a second (the server's own clock).
    running = wait_for_check(page, lab, check_id, lambda c: c["state"] != "queued")
    assert seconds_between(running["created_at"], running["started_at"]) < 1.0, running
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
    filter_button = report_widget(page, check_id).locator(
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


def api_get(page: Page, lab: Lab, endpoint: str) -> Any:
    response = page.request.get(f"{lab.base_url}nbrepro/api/{endpoint}",
                                headers={"Authorization": f"token {lab.token}"})
    assert response.ok, (endpoint, response.status, response.text())
    return response.json()


def wait_for_check(page: Page, lab: Lab, check_id: str, done: Any,
                   timeout_ms: int = UI_TIMEOUT_MS) -> dict[str, Any]:
    """Poll the server (every 50 ms) until `done(check)`."""
    for _ in range(timeout_ms // 50):
        check = api_get(page, lab, f"checks/{check_id}")
        if done(check):
            return check
        page.wait_for_timeout(50)
    raise AssertionError(f"check {check_id}: {check}")


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def run_command(page: Page, command: str, args: dict[str, Any] | None = None) -> Any:
    return page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a)",
                         [command, args or {}])


def check_from_command(page: Page, lab: Lab, path: str) -> Locator:
    """Start a check of `path` as the palette does; its side panel entry."""
    page.goto(lab.url("lab"))
    expect(page.locator(".jp-DirListing-content")).to_be_visible(timeout=60_000)
    run_command(page, "nbrepro:check", {"path": path})
    entry = page.locator(f"#jp-nbrepro-panel li.jp-nbrepro-check[data-path='{path}']").first
    expect(entry).to_be_visible(timeout=UI_TIMEOUT_MS)
    return entry


def wait_settled(entry: Locator) -> None:
    expect(entry).not_to_have_attribute(
        "data-state", re.compile(r"^(queued|running)$"), timeout=CHECK_TIMEOUT_MS
    )


def open_report(page: Page, entry: Locator) -> Locator:
    check_id = entry.get_attribute("data-check-id")
    entry.locator(".jp-nbrepro-check-main").click()
    report = page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")
    expect(report).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(report).not_to_have_attribute("data-verdict", "", timeout=UI_TIMEOUT_MS)
    return report


def test_report_never_runs_commands_or_trusts_audited_outputs(lab: Lab, page: Page) -> None:
    entry = check_from_command(page, lab, "hostile.ipynb")
    wait_settled(entry)
    expect(entry).to_have_attribute("data-verdict", "differs")
    report = open_report(page, entry)
    section = report.locator(".jp-nbrepro-notebook[data-path='hostile.ipynb']")
    cell = section.locator(".jp-nbrepro-cell[data-index='1']")
    expect(cell).to_have_attribute("data-status", "identical")

    # The crafted button is shown (stored and re-run), stripped of its command.
    buttons = section.locator("button.nbrepro-fixture-linker")
    expect(buttons).to_have_count(4, timeout=UI_TIMEOUT_MS)  # two cells, two columns
    for button in buttons.all():
        assert button.get_attribute("data-commandlinker-command") is None
        assert button.get_attribute("data-commandlinker-args") is None
    buttons.first.click()
    page.wait_for_timeout(1000)
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", "JupyterLab Light")
    shot(page, "09-report-crafted-output")

    # nbdime's view of the same notebook offers no "Trust" for audited outputs.
    toggle = section.locator("button.jp-nbrepro-view-toggle")
    expect(toggle).to_be_enabled(timeout=UI_TIMEOUT_MS)
    toggle.click()
    view = section.locator(".jp-nbrepro-nbdime")
    expect(view).to_be_visible(timeout=UI_TIMEOUT_MS)
    outputs = view.locator(".jp-Diff-renderedOutput:visible")
    expect(outputs.first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(view.locator("button.nbrepro-fixture-linker:visible")).to_have_count(2)  # 41, 42
    for output in outputs.all():
        output.hover()
        expect(view.locator(".jp-Diff-trustOutputButton:visible")).to_have_count(0)
    trust = view.locator(".jp-Diff-trustOutputButton")
    for button in trust.all():
        expect(button).to_be_disabled()
    view.locator("button.nbrepro-fixture-linker:visible").first.click()
    page.wait_for_timeout(1000)
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", "JupyterLab Light")
    shot(page, "10-nbdime-crafted-output")


def test_gallery_of_check_outcomes(lab: Lab, page: Page) -> None:
    """Screenshots of the states a check can end in, from real checks."""
    # A folder: one notebook reproduces, one fails (and its later cells are not run).
    folder = check_from_command(page, lab, "analysis")
    wait_settled(folder)
    expect(folder).to_have_attribute("data-verdict", "failed")
    report = open_report(page, folder)
    failed = report.locator(".jp-nbrepro-notebook[data-path='02-model.ipynb']")
    expect(failed).to_have_attribute("data-verdict", "failed")
    message = failed.locator(".jp-nbrepro-notebook-message")
    expect(message).to_contain_text("ValueError")
    said = message.inner_text()
    assert said.count("ValueError") == 1 and "cell #" not in said, said  # said once
    expect(failed.locator(".jp-nbrepro-cell[data-index='3']")).to_have_attribute(
        "data-status", "not-run")
    failed.scroll_into_view_if_needed()
    shot(page, "gallery-folder-failed-light")
    set_theme(page, "JupyterLab Dark")
    shot(page, "gallery-folder-failed-dark")
    set_theme(page, "JupyterLab Light")

    # An environment that cannot be built names the requirement.
    legacy = check_from_command(page, lab, "legacy/old-paper.ipynb")
    wait_settled(legacy)
    expect(legacy).to_have_attribute("data-verdict", "install-failed")
    report = open_report(page, legacy)
    expect(report.locator(".jp-nbrepro-report-meta")).to_contain_text(
        "nbrepro-fixture-no-such-package")
    shot(page, "gallery-install-failed-light")

    # Live progress, then cancelled.
    slow = check_from_command(page, lab, "slow/wait.ipynb")
    expect(slow.locator(".jp-nbrepro-check-detail")).to_contain_text(
        re.compile(r"cell \d+/20"), timeout=CHECK_TIMEOUT_MS)
    shot(page, "gallery-progress-light")
    set_theme(page, "JupyterLab Dark")
    shot(page, "gallery-progress-dark")
    set_theme(page, "JupyterLab Light")
    slow.get_by_role("button", name=re.compile("Cancel check")).click()
    expect(slow).to_have_attribute("data-state", "cancelled", timeout=UI_TIMEOUT_MS)
    shot(page, "gallery-cancelled-light")


def test_gallery_missing_server_extension(lab: Lab, page: Page) -> None:
    # As when the server extension is not installed: every API call is a 404 page.
    page.route(
        "**/nbrepro/api/**",
        lambda route: route.fulfill(status=404, content_type="text/html", body="<h1>404</h1>"),
    )
    page.goto(lab.url(f"lab/tree/{NOTEBOOK}"))
    expect(page.locator(".jp-NotebookPanel .jp-Notebook")).to_be_visible(timeout=60_000)
    run_command(page, "nbrepro:open-panel")
    banner = page.locator("#jp-nbrepro-panel .jp-nbrepro-banner")
    expect(banner).to_contain_text("server extension", timeout=UI_TIMEOUT_MS)
    page.locator(".jp-NotebookPanel-toolbar [data-command='nbrepro:check'] button").click()
    expect(
        page.locator(".jp-Notification-Toast-error, .Toastify__toast--error").first
    ).to_be_visible(timeout=UI_TIMEOUT_MS)
    shot(page, "gallery-missing-extension")


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


def report_widget(page: Page, check_id: str | None) -> Locator:
    """Check `check_id`'s report (earlier tests' reports may be open too, restored with
    the workspace)."""
    return page.locator(".jp-nbrepro-report-widget").filter(
        has=page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']"))


def toolbar_button(page: Page, check_id: str | None, name: str) -> Locator:
    """A button of the toolbar of check `check_id`'s report."""
    return report_widget(page, check_id).locator(f".{name} button, button.{name}").first


def allow_clipboard(page: Page, lab: Lab) -> None:
    """Let the page read and write the clipboard (the copy actions are checked by
    reading it back)."""
    origin = re.match(r"https?://[^/]+", lab.base_url)
    assert origin is not None
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin[0])


def test_badge_markdown_is_copied_from_a_finished_check(lab: Lab, page: Page) -> None:
    allow_clipboard(page, lab)
    entry = check_from_command(page, lab, NOTEBOOK)
    wait_settled(entry)
    check_id = entry.get_attribute("data-check-id")
    report = open_report(page, entry)
    expect(report).to_have_attribute("data-state", "finished", timeout=UI_TIMEOUT_MS)
    button = toolbar_button(page, check_id, "jp-nbrepro-copy-badge")
    expect(button).to_be_enabled(timeout=UI_TIMEOUT_MS)
    button.click()
    expect(page.get_by_text("Badge Markdown copied").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    shot(page, "11-badge-markdown-copied")

    text = page.evaluate("navigator.clipboard.readText()")
    found = re.fullmatch(r"\[!\[reproducible\]\((\S+)\)\]\((\S+)\)", text)
    assert found, text
    badge_url, report_url = found.groups()
    assert report_url.endswith(f"/nbrepro/api/checks/{check_id}/report"), report_url
    # the badge the Markdown shows is this path's, with the verdict the check found
    auth = {"Authorization": f"token {lab.token}"}
    svg = page.request.get(badge_url, headers=auth)
    assert svg.ok and 'data-verdict="' + EXPECTED_VERDICT + '"' in svg.text(), svg.text()[:300]
    assert page.request.get(report_url, headers=auth).ok


def test_compare_with_the_previous_check_of_the_same_path(lab: Lab, page: Page) -> None:
    """A notebook checked, its stored output corrected, checked again: the second
    report compares with the first and names the verdict and the cell that changed."""
    import json

    folder = lab.root / "compare"
    folder.mkdir()
    (folder / NOTEBOOK).write_text((lab.root / NOTEBOOK).read_text())
    path = f"compare/{NOTEBOOK}"
    first = check_from_command(page, lab, path)
    wait_settled(first)
    expect(first).to_have_attribute("data-verdict", "differs")
    first_id = first.get_attribute("data-check-id")
    report = open_report(page, first)
    expect(report).to_have_attribute("data-state", "finished", timeout=UI_TIMEOUT_MS)
    button = toolbar_button(page, first_id, "jp-nbrepro-compare-button")
    expect(button).to_be_disabled(timeout=UI_TIMEOUT_MS)  # nothing earlier to compare with

    notebook = json.loads((folder / NOTEBOOK).read_text())
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output.get("data", {}).get("text/plain") == ["46"]:
                output["data"]["text/plain"] = ["45"]
    (folder / NOTEBOOK).write_text(json.dumps(notebook))
    run_command(page, "nbrepro:check", {"path": path})
    second = page.locator(f"#jp-nbrepro-panel li.jp-nbrepro-check[data-path='{path}']"
                          ":not([data-check-id='" + str(first_id) + "'])").first
    expect(second).to_be_visible(timeout=UI_TIMEOUT_MS)
    wait_settled(second)
    expect(second).to_have_attribute("data-verdict", "reproduced-equivalent")
    second_id = second.get_attribute("data-check-id")
    report = open_report(page, second)
    expect(report).to_have_attribute("data-state", "finished", timeout=UI_TIMEOUT_MS)
    button = toolbar_button(page, second_id, "jp-nbrepro-compare-button")
    expect(button).to_be_enabled(timeout=UI_TIMEOUT_MS)
    button.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"check #{first_id} → #{second_id}", timeout=UI_TIMEOUT_MS)
    expect(dialog).to_contain_text(f"1 of 1 notebook(s) changed since check #{first_id}")
    row = dialog.locator(f"tr[data-path='{NOTEBOOK}']")
    expect(row).to_have_attribute("data-changed", "true")
    expect(row.locator("td").nth(1)).to_have_attribute("data-verdict", "differs")
    expect(row.locator("td").nth(2)).to_have_attribute("data-verdict", "reproduced-equivalent")
    expect(row.locator("td").nth(3)).to_have_text("In [4]: different → identical")
    shot(page, "12-compare-with-previous")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)


def test_a_subfolder_checked_from_the_context_menu_uses_the_repositorys_root(
        lab: Lab, page: Page) -> None:
    """Dependencies at the repository's root, notebooks in notebooks/: the folder's
    check from the file browser gives the verdict the whole repository's check gives."""
    import shutil
    import subprocess

    study = lab.root / "study"
    shutil.copytree(REPO / "tests" / "fixtures" / "repos" / "with-deps", study)
    (study / "notebooks").mkdir()
    (study / "six_version.ipynb").rename(study / "notebooks" / "six_version.ipynb")
    (study / "runtime.txt").write_text("python-3.42\n")  # not here: the closest one is used
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "study"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=study, check=True, capture_output=True)

    page.goto(lab.url("lab/tree/study"))
    listing = page.locator(".jp-DirListing-content")
    item = listing.locator(".jp-DirListing-item").filter(
        has=page.locator(".jp-DirListing-itemText", has_text=re.compile(r"^notebooks$")))
    expect(item).to_be_visible(timeout=60_000)
    item.click(button="right")
    page.locator(".lm-Menu-item[data-command='nbrepro:check']").click()
    folder = page.locator(
        "#jp-nbrepro-panel li.jp-nbrepro-check[data-path='study/notebooks']").first
    expect(folder).to_be_visible(timeout=UI_TIMEOUT_MS)
    wait_settled(folder)
    expect(folder).to_have_attribute("data-verdict", "reproduced")
    report = open_report(page, folder)
    section = report.locator(".jp-nbrepro-notebook[data-path='notebooks/six_version.ipynb']")
    expect(section).to_have_attribute("data-verdict", "reproduced", timeout=UI_TIMEOUT_MS)
    # stored and re-run copies are served under the name the panel shows
    expect(section.locator(".jp-nbrepro-output-column[data-kind='rerun'] "
                           ".jp-OutputArea-output").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    # the header says where the environment came from, and which Python ran
    meta = report.locator(".jp-nbrepro-report-meta")
    expect(meta.locator("dd[data-term='dependencies']")).to_have_text(
        "requirements.txt, runtime.txt (in study/)")
    python = meta.locator("dd[data-term='python']")
    expect(python).to_have_text(re.compile(r"^3\.\d+\.\d+ \(requested 3\.42\)$"))
    expect(python).to_have_class(re.compile(r"\bjp-nbrepro-meta-warning\b"))
    shot(page, "13-subfolder-of-a-repository")

    whole = check_from_command(page, lab, "study")
    wait_settled(whole)
    folder_result = api_get(page, lab, f"checks/{folder.get_attribute('data-check-id')}")
    whole_result = api_get(page, lab, f"checks/{whole.get_attribute('data-check-id')}")
    assert folder_result["root"] == whole_result["root"] == "study"
    verdicts = {nb["path"]: nb["verdict"] for nb in whole_result["notebooks"]}
    assert {nb["path"]: nb["verdict"] for nb in folder_result["notebooks"]} == verdicts
    assert folder_result["result"]["spec"]["files"] == ["requirements.txt", "runtime.txt"]
