"""Browser test of a notebook's root causes in the report: said once at the top of
the notebook's section, each cell it names a button that scrolls to the cell's row.

Same server and browser as ``test_ui.py``; screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import sys

import pytest
from conftest import REPO, Lab
from playwright.sync_api import Page, expect
from test_ui import UI_TIMEOUT_MS, check_from_command, open_report, shot, wait_settled

pytestmark = pytest.mark.timeout(1200)


def test_causes_are_said_once_per_notebook_with_their_cells(lab: Lab, page: Page) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.security.helpers import write_notebook

    # Two cells draw from `random` without a seed; a third, in between, is stable.
    write_notebook(lab.root / "causes" / "draws.ipynb", [
        ("import random\nprint('ready')", "ready\n"),
        ("print(f'first: {random.random():.6f}')", "first: 0.123456\n"),
        ("print('fixed')", "fixed\n"),
        ("print(f'second: {random.random():.6f}')", "second: 0.654321\n"),
    ])
    entry = check_from_command(page, lab, "causes/draws.ipynb")
    wait_settled(entry)
    report = open_report(page, entry)
    section = report.locator(".jp-nbrepro-notebook[data-path='draws.ipynb']")
    expect(section).to_be_visible(timeout=UI_TIMEOUT_MS)
    # one block, at the top: before the cells
    block = section.locator(".jp-nbrepro-causes")
    expect(block).to_have_count(1)
    assert block.evaluate(
        "b => !!(b.compareDocumentPosition(b.parentElement.querySelector("
        "'.jp-nbrepro-cells')) & Node.DOCUMENT_POSITION_FOLLOWING)")
    unseeded = block.locator(".jp-nbrepro-cause[data-cause='unseeded-random']")
    expect(unseeded).to_have_count(1)
    expect(unseeded).to_contain_text("unseeded random: random.random")
    expect(unseeded.locator(".jp-nbrepro-cause-cell")).to_have_text(["In [2]", "In [4]"])
    volatile = block.locator(".jp-nbrepro-cause[data-cause='volatile']")
    expect(volatile.locator(".jp-nbrepro-cause-cell")).to_have_text(["In [2]", "In [4]"])
    # said once: nowhere on the cells' own rows
    expect(section.locator(".jp-nbrepro-cell-reason", has_text="unseeded")).to_have_count(0)

    # a cell's button opens the section and scrolls to the cell's row
    toggle = section.locator(".jp-nbrepro-toggle").first
    if toggle.get_attribute("aria-expanded") == "true":
        toggle.click()  # collapsed first
    row = section.locator(".jp-nbrepro-cell[data-index='3']")
    expect(row).to_be_hidden(timeout=UI_TIMEOUT_MS)
    unseeded.get_by_role("button", name="In [4]").click()
    expect(row).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(row).to_be_in_viewport()
    shot(page, "30-root-causes")
