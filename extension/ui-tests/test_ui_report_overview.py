"""Browser tests of reading a report of many notebooks: the summary table at the top
and its links to each notebook's section, collapsing and expanding the sections,
"Only differences", and nbdime's view without the Markdown cells that did not change.

One check of a folder of six notebooks of mixed verdicts (three reproduce, one is
equivalent, one differs, one fails) serves every test; more than five notebooks, so
the report starts with the reproduced ones folded. Same server and browser as
``test_ui.py``; screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import Lab
from playwright.sync_api import Locator, Page, expect
from test_ui import (
    CHECK_TIMEOUT_MS,
    UI_TIMEOUT_MS,
    api_get,
    check_from_command,
    run_command,
    shot,
    wait_settled,
)

pytestmark = pytest.mark.timeout(1200)

FOLDER = "mixed"
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Text of Markdown cells that stay the same in the re-run (nbdime must not show them).
MARKDOWN = "Method, unchanged by the re-run"
EXPECTED = {
    "01-clean.ipynb": "reproduced",
    "02-clean.ipynb": "reproduced",
    "03-address.ipynb": "reproduced-equivalent",
    "04-differs.ipynb": "differs",
    "05-fails.ipynb": "failed",
    "06-clean.ipynb": "reproduced",
}
PROBLEMS = {"04-differs.ipynb", "05-fails.ipynb"}


def _markdown(n: int, text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": f"md-{n}", "metadata": {}, "source": text}


def _code(n: int, count: int, source: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": count, "id": f"code-{n}",
            "metadata": {}, "outputs": outputs, "source": source}


def _stdout(text: str) -> dict[str, Any]:
    return {"name": "stdout", "output_type": "stream", "text": text}


def _result(count: int, text: str) -> dict[str, Any]:
    return {"data": {"text/plain": text}, "execution_count": count, "metadata": {},
            "output_type": "execute_result"}


def _notebooks() -> dict[str, list[dict[str, Any]]]:
    clean = [_markdown(0, f"# A clean notebook\n\n{MARKDOWN}."),
             _code(1, 1, "print('hello')", [_stdout("hello\n")]),
             _code(2, 2, "print(6 * 7)", [_stdout("42\n")])]
    return {
        "01-clean.ipynb": clean,
        "02-clean.ipynb": clean,
        "03-address.ipynb": [
            _code(0, 1, "class Point:\n    pass\n\nPoint()",
                  [_result(1, "<__main__.Point at 0x7f5c2a1b3d90>")])],
        "04-differs.ipynb": [
            _markdown(0, f"# Differs\n\n{MARKDOWN}."),
            _code(1, 1, "print('same')", [_stdout("same\n")]),
            _markdown(2, f"## Result\n\n{MARKDOWN}, too."),
            _code(3, 2, "sum(range(10))", [_result(2, "46")]),
            _markdown(4, f"## End\n\n{MARKDOWN}, again."),
        ],
        "05-fails.ipynb": [
            _code(0, 1, "print('before')", [_stdout("before\n")]),
            _code(1, 2, "raise ValueError('no convergence')", [_stdout("converged\n")]),
            _code(2, 3, "print('after')", [_stdout("after\n")]),
            _code(3, 4, "print('later')", [_stdout("later\n")]),
        ],
        "06-clean.ipynb": clean,
    }


# The check of the folder, once per test session (its id), shared by the tests.
_checks: dict[str, str] = {}


def mixed_report(page: Page, lab: Lab) -> Locator:
    """The report of the check of the mixed folder, open and loaded."""
    if FOLDER not in _checks:
        folder = lab.root / FOLDER
        folder.mkdir()
        for name, cells in _notebooks().items():
            notebook = {"cells": cells, "metadata": {"kernelspec": KERNEL,
                                                     "language_info": {"name": "python"}},
                        "nbformat": 4, "nbformat_minor": 5}
            (folder / name).write_text(json.dumps(notebook, indent=1))
        entry = check_from_command(page, lab, FOLDER)
        wait_settled(entry)
        check_id = entry.get_attribute("data-check-id")
        assert check_id
        _checks[FOLDER] = check_id
    else:
        page.goto(lab.url("lab"))
        expect(page.locator(".jp-DirListing-content")).to_be_visible(timeout=60_000)
    check_id = _checks[FOLDER]
    check = api_get(page, lab, f"checks/{check_id}")
    assert check["state"] == "finished", check
    got = {nb["path"]: nb["verdict"] for nb in check["result"]["notebooks"]}
    assert got == EXPECTED, got
    run_command(page, "nbrepro:open-report", {"id": int(check_id)})
    report = page.locator(f".jp-nbrepro-report[data-check-id='{check_id}']")
    expect(report).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(report).to_have_attribute("data-state", "finished", timeout=CHECK_TIMEOUT_MS)
    expect(report.locator(".jp-nbrepro-notebook")).to_have_count(len(EXPECTED))
    return report


def section(report: Locator, name: str) -> Locator:
    return report.locator(f".jp-nbrepro-notebook[data-path='{name}']")


def expanded(report: Locator) -> set[str]:
    """The notebooks whose section is expanded."""
    return set(report.evaluate(
        """report => [...report.querySelectorAll('.jp-nbrepro-notebook')]
             .filter(s => !s.classList.contains('jp-mod-collapsed'))
             .map(s => s.dataset.path)"""))


def test_the_summary_table_lists_every_notebook_and_opens_its_section(
        lab: Lab, page: Page) -> None:
    report = mixed_report(page, lab)
    table = report.locator("table.jp-nbrepro-overview-table")
    expect(table).to_be_visible(timeout=UI_TIMEOUT_MS)
    rows = table.locator("tbody tr[data-path]")
    expect(rows).to_have_count(len(EXPECTED))
    # in the report's order, each with its verdict and its counts of cells
    assert [row.get_attribute("data-path") for row in rows.all()] == list(EXPECTED)
    for name, verdict in EXPECTED.items():
        row = table.locator(f"tr[data-path='{name}']")
        expect(row).to_have_attribute("data-verdict", verdict)
        expect(row.locator(".jp-nbrepro-badge")).to_have_attribute("data-verdict", verdict)
        expect(row.get_by_role("button", name=f"Go to {name}")).to_have_text(name)
    failed = table.locator("tr[data-path='05-fails.ipynb']")
    # the first cause, on a line of its own under the notebook's row
    expect(table.locator("tr[data-cause-of='05-fails.ipynb']")).to_have_text(
        re.compile(r"^ValueError in In \[2\]: no convergence"))
    expect(table.locator("tr[data-cause-of='04-differs.ipynb']")).to_contain_text("'46' -> '45'")
    expect(table.locator("tr[data-cause-of='01-clean.ipynb']")).to_have_count(0)
    expect(failed.locator("td[data-count='identical']")).to_have_text("1")
    expect(failed.locator("td[data-count='not-run']")).to_have_text("2")
    differs = table.locator("tr[data-path='04-differs.ipynb']")
    expect(differs.locator("td[data-count='different']")).to_have_text("1")
    expect(differs.locator("td[data-count='identical']")).to_have_text("1")
    shot(page, "30-report-summary-table")

    # More than five notebooks: what reproduced starts folded; its row opens it there
    # (the last notebook, below the two open ones).
    last = section(report, "06-clean.ipynb")
    expect(last).to_have_class(re.compile(r"\bjp-mod-collapsed\b"))
    expect(last.locator(".jp-nbrepro-notebook-header")).not_to_be_in_viewport()
    table.get_by_role("button", name="Go to 06-clean.ipynb").click()
    expect(last).not_to_have_class(re.compile(r"\bjp-mod-collapsed\b"))
    expect(last.locator(".jp-nbrepro-notebook-header")).to_be_in_viewport(timeout=UI_TIMEOUT_MS)
    expect(last.locator(".jp-nbrepro-cell").first).to_be_visible()
    shot(page, "31-report-summary-row-opened-its-section")
    # At 1024 px, the side panels open, every path is shown whole.
    page.set_viewport_size({"width": 1024, "height": 768})
    table.scroll_into_view_if_needed()
    shot(page, "31b-report-summary-table-at-1024px")
    for link in table.locator("button.jp-nbrepro-overview-link").all():
        expect(link).to_be_in_viewport()
        assert link.evaluate("b => b.scrollWidth <= b.clientWidth"), link.inner_text()


def test_collapse_all_expand_all_and_expand_only_what_failed_or_differs(
        lab: Lab, page: Page) -> None:
    report = mixed_report(page, lab)
    report.get_by_role("button", name="Expand all").click()
    assert expanded(report) == set(EXPECTED)
    report.get_by_role("button", name="Collapse all").click()
    assert expanded(report) == set()
    expect(report.locator(".jp-nbrepro-cell:visible")).to_have_count(0)
    shot(page, "32-report-collapsed")
    report.get_by_role("button", name="Expand only what failed or differs").click()
    assert expanded(report) == PROBLEMS
    for name in EXPECTED:
        cells = section(report, name).locator(".jp-nbrepro-cell").first
        if name in PROBLEMS:
            expect(cells).to_be_visible()
        else:
            expect(cells).to_be_hidden()
    shot(page, "33-report-expanded-what-failed-or-differs")


def test_only_differences_hides_cells_not_run_identical_cells_and_reproduced_notebooks(
        lab: Lab, page: Page) -> None:
    report = mixed_report(page, lab)
    report.get_by_role("button", name="Expand all").click()
    failed = section(report, "05-fails.ipynb")
    differs = section(report, "04-differs.ipynb")
    expect(failed.locator(".jp-nbrepro-cell[data-status='not-run']")).to_have_count(2)
    expect(failed.locator(".jp-nbrepro-cell[data-status='not-run']").first).to_be_visible()

    widget = page.locator(".jp-nbrepro-report-widget").filter(has=report)
    switch = widget.locator(".jp-nbrepro-filter-button button, button.jp-nbrepro-filter-button")
    switch.first.click()
    expect(switch.first).to_have_attribute("aria-pressed", "true")
    for name, verdict in EXPECTED.items():
        if verdict.startswith("reproduced"):
            expect(section(report, name)).to_be_hidden()
        else:
            expect(section(report, name)).to_be_visible()
    expect(failed.locator(".jp-nbrepro-cell[data-status='not-run']:visible")).to_have_count(0)
    expect(failed.locator(".jp-nbrepro-cell[data-status='identical']:visible")).to_have_count(0)
    expect(failed.locator(".jp-nbrepro-cell[data-status='error']")).to_be_visible()
    expect(differs.locator(".jp-nbrepro-cell[data-status='identical']:visible")).to_have_count(0)
    expect(differs.locator(".jp-nbrepro-cell[data-status='different']")).to_be_visible()
    shot(page, "34-report-only-differences")

    # A notebook it hides, asked for from the side panel: everything is shown again.
    page.locator(f"#jp-nbrepro-panel li.jp-nbrepro-check[data-path='{FOLDER}'] "
                 f"li.jp-nbrepro-check-notebook[data-path='{FOLDER}/01-clean.ipynb']").click()
    clean = section(report, "01-clean.ipynb")
    expect(clean).to_be_visible()
    expect(clean.locator(".jp-nbrepro-notebook-header")).to_be_in_viewport()
    expect(switch.first).to_have_attribute("aria-pressed", "false")
    expect(failed.locator(".jp-nbrepro-cell[data-status='not-run']").first).to_be_visible()
    switch.first.click()
    expect(clean).to_be_hidden()
    switch.first.click()
    expect(clean).to_be_visible()


def test_nbdime_hides_the_markdown_cells_that_did_not_change(lab: Lab, page: Page) -> None:
    report = mixed_report(page, lab)
    differs = section(report, "04-differs.ipynb")
    toggle = differs.locator("button.jp-nbrepro-view-toggle")
    expect(toggle).to_be_enabled(timeout=UI_TIMEOUT_MS)
    toggle.click()
    view = differs.locator(".jp-nbrepro-nbdime")
    expect(view.locator(".jp-Diff-renderedOutput:visible").first).to_be_visible(
        timeout=UI_TIMEOUT_MS)
    # the code cells are there, the changed one with its two outputs
    expect(view).to_contain_text("sum(range(10))")
    expect(view).to_contain_text("46")
    expect(view).to_contain_text("45")
    # not one of the three Markdown cells, rendered or as source
    expect(view.locator(".jp-RenderedMarkdown")).to_have_count(0)
    assert MARKDOWN not in view.inner_text()
    expect(differs.locator(".jp-nbrepro-nbdime-note")).to_have_text(
        "3 unchanged Markdown cells are not shown")
    labels = view.evaluate(
        """view => [...view.querySelectorAll('.jp-Cellrow-header-cellId')]
             .filter(el => el.offsetParent !== null).map(el => el.textContent)""")
    assert not [text for text in labels if re.search(r"undefined|null", text)], labels
    view.scroll_into_view_if_needed()
    shot(page, "35-nbdime-without-unchanged-markdown")
