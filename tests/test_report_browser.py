"""Reports in a real browser (Debian's Chromium, headless, through Playwright).

The HTML report of a repository whose stored and re-run outputs attack the reader
(tests/fixtures/repos/hostile-outputs) is opened from its file: nothing in it runs,
nothing is fetched, the page logs no error, and the outputs are there to see. The
badges are drawn for every grade: no text leaves its box. Screenshots go to
test-artifacts/reports/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbrepro.model import CellResult, CellStatus, CheckResult, NotebookResult, RepositoryInfo
from nbrepro.model import Verdict as V
from nbrepro.report import badge
from tests.helpers.cli import nbrepro

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "reports"
CHROMIUM = os.environ.get("NBREPRO_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Page:
    """A page that records what it logged, what it tried to fetch and what it ran."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"),
                                          d.dismiss()))


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CheckResult]:
    """`nbrepro check --html` of the hostile repository (the command line, in its own
    process: Playwright's event loop owns this one)."""
    import shutil

    root = tmp_path_factory.mktemp("hostile") / "repo"
    shutil.copytree(ROOT / "tests/fixtures/repos/hostile-outputs", root)
    report = root.parent / "report.html"
    run = nbrepro("check", str(root), "--html", str(report), tmp=root.parent)
    assert run.code == 1 and run.json is not None, run.stderr
    return report, CheckResult.from_dict(run.json)


def test_hostile_outputs_are_shown_inert(browser, hostile_report):
    report, result = hostile_report
    assert {nb.verdict for nb in result.notebooks} == {V.DIFFERS}
    page = Page(browser)
    title = page.page.goto(report.as_uri()) and page.page.title()
    page.page.wait_for_timeout(1000)  # time for anything that would run on load
    # Clicking the links and buttons the outputs carried runs nothing either.
    for selector in ("text=click me", "text=go", "td"):
        for element in page.page.locator(selector).all():
            element.click(timeout=2000, force=True)
    page.page.mouse.move(10, 10)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "hostile-report.png"), full_page=True)

    assert page.page.evaluate("typeof window.__pwned") == "undefined"
    assert page.page.title() == title and title.startswith("nbrepro:")
    assert page.page.url == report.as_uri()  # no refresh, no navigation
    assert page.errors == []
    assert [u for u in page.requests if not u.startswith(("file:", "data:"))] == []
    # The content is there to read: both sides of each cell, the HTML as sanitised
    # markup, the JavaScript as text, the SVG as an image.
    body = page.page.inner_text("body")
    assert "stored-html" in body and "rerun-html" in body
    assert "window.__pwned = 'rerun-js'" in body and "never run" in body
    assert page.page.locator("img[alt='image/svg+xml output']").count() == 2
    assert page.page.locator("script, iframe, object, embed, form, meta[http-equiv=refresh], "
                             "base, [onerror], [onload], [onclick]").count() == 0
    assert page.page.evaluate("getComputedStyle(document.body).display") != "none"
    assert "<svg onload=window.__pwned=1>.ipynb" in body  # a hostile file name, as text


def test_report_policy_stops_script_the_sanitiser_missed(browser, hostile_report, tmp_path):
    """Defence in depth: were a script to reach the page, its Content-Security-Policy
    (the first thing in <head>) would still stop it."""
    report, _ = hostile_report
    page_text = report.read_text(encoding="utf-8")
    head = page_text.split("<head>", 1)[1]
    assert head.startswith('<meta charset="utf-8"><meta http-equiv="Content-Security-Policy"')
    smuggled = tmp_path / "smuggled.html"
    smuggled.write_text(page_text.replace(
        "<body>", "<body><script>window.__pwned = 'inline'</script>"
                  "<img src=x onerror=\"window.__pwned = 'handler'\">", 1), encoding="utf-8")
    page = Page(browser)
    page.page.goto(smuggled.as_uri())
    page.page.wait_for_timeout(500)
    assert page.page.evaluate("typeof window.__pwned") == "undefined"
    assert any("Content Security Policy" in e for e in page.errors)  # refused, and said so


def _grades() -> list[tuple[str, CheckResult]]:
    def result(*notebooks: NotebookResult) -> CheckResult:
        return CheckResult(repository=RepositoryInfo(source="repo"), notebooks=list(notebooks))

    def cells(*statuses: CellStatus) -> list[CellResult]:
        return [CellResult(i, s) for i, s in enumerate(statuses)]

    same, eq, diff = CellStatus.IDENTICAL, CellStatus.EQUIVALENT, CellStatus.DIFFERENT
    long_name = "AVeryLongExceptionNameThatSomeLibraryRaises" * 3
    return [
        ("reproduced", result(NotebookResult("a", V.REPRODUCED, cells=cells(same)))),
        ("equivalent", result(NotebookResult("a", V.REPRODUCED_EQUIVALENT,
                                             cells=cells(eq, eq, same, eq)))),
        ("differs", result(NotebookResult("a", V.DIFFERS, cells=cells(*[same] * 38, diff, diff)))),
        ("fails", result(NotebookResult("a", V.FAILED, exception="ModuleNotFoundError"),
                         *[NotebookResult(f"b{i}", V.REPRODUCED) for i in range(4)])),
        ("install-failed", result(NotebookResult("a", V.INSTALL_FAILED))),
        ("not-checked", result(NotebookResult("a", V.NOT_CHECKED))),
        ("longest", result(NotebookResult("a", V.FAILED, exception=long_name),
                           *[NotebookResult(f"b{i}", V.FAILED) for i in range(99999)])),
    ]


def test_badge_text_fits_its_box_in_a_real_browser(browser, tmp_path):
    """With the textLength hint removed, the text the browser lays out with its own
    font (DejaVu Sans here) is no wider than the box the badge drew for it."""
    page = Page(browser)
    rows = []
    for name, result in _grades():
        svg = badge.svg(result)
        rows.append(f'<div id="{name}">{svg}</div>')
    (tmp_path / "badges.html").write_text("<!DOCTYPE html><body style='margin:8px'>"
                                          + "".join(rows) + "</body>", encoding="utf-8")
    page.page.goto((tmp_path / "badges.html").as_uri())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "badges.png"), full_page=True)
    for name, result in _grades():
        boxes = page.page.evaluate(
            """id => {
                const svg = document.querySelector('#' + id + ' svg');
                const rects = [...svg.querySelectorAll('g[clip-path] rect')].slice(0, 2);
                const texts = [...svg.querySelectorAll('text:not([aria-hidden])')];
                return texts.map((t, i) => {
                    t.removeAttribute('textLength');
                    return {text: t.textContent, natural: t.getComputedTextLength(),
                            box: rects[i].width.baseVal.value};
                });
            }""", name)
        assert [b["text"] for b in boxes] == ["reproducible", badge.message(result)]
        for b in boxes:
            # 5 px padding each side of the measured width; the browser's text fits
            assert b["natural"] <= b["box"] - 8, (name, b)
    assert page.errors == []


def test_the_longest_message_is_clipped_with_an_ellipsis():
    longest = dict(_grades())["longest"]
    text = badge.message(longest)
    assert len(text) == badge.MAX_MESSAGE and text.endswith("\u2026")
    assert re.match(r"100000 of 100000 fail: AVeryLong", text)


@pytest.fixture(scope="module")
def mixed_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CheckResult]:
    """`nbrepro check --html` of a repository whose notebooks reproduce, differ and
    fail (so that cells are identical, different, error and not run)."""
    import shutil

    root = tmp_path_factory.mktemp("mixed") / "study"
    root.mkdir()
    for name in ("reproduces", "differs", "undeclared-module"):
        for nb in (ROOT / "tests/fixtures/repos" / name).glob("*.ipynb"):
            shutil.copy(nb, root / nb.name)
    report = root.parent / "report.html"
    run = nbrepro("check", str(root), "--html", str(report), tmp=root.parent)
    assert run.code == 1 and run.json is not None, run.stderr
    return report, CheckResult.from_dict(run.json)


def test_summary_links_lead_to_each_notebook_and_only_differences_hides_the_rest(
        browser, mixed_report):
    report, result = mixed_report
    page = Page(browser)
    page.context.close()
    page.context = browser.new_context(viewport={"width": 1024, "height": 360})  # type: ignore[attr-defined]
    page.page = page.context.new_page()
    page.page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.page.goto(report.as_uri())
    assert page.page.title() == "nbrepro: study"  # the repository's name, not a path

    summary = page.page.locator("table.summary tbody tr")
    assert summary.count() == len(result.notebooks)
    assert [summary.nth(i).locator("td").nth(1).inner_text()
            for i in range(summary.count())] == [nb.verdict.value for nb in result.notebooks]
    # each link scrolls its notebook's section to the top of the window
    for i, nb in enumerate(result.notebooks):
        summary.nth(i).locator("a").click()
        page.page.wait_for_timeout(200)
        section = page.page.locator(f"section#nb-{i + 1}")
        assert nb.path in section.locator("h2").inner_text()
        top = section.evaluate("s => s.getBoundingClientRect().top")
        assert abs(top) < 2 or page.page.evaluate(
            "innerHeight + scrollY >= document.body.scrollHeight - 2"), (nb.path, top)
    # what reproduced is folded, what did not is open
    reproduced = page.page.locator("section[data-verdict=reproduced] tr[data-status]").first
    differing = page.page.locator("section[data-verdict=differs] tr[data-status=different]")
    assert not reproduced.is_visible() and differing.is_visible()
    page.page.goto(report.as_uri())
    identical = page.page.locator("section[data-verdict=differs] tr[data-status=identical]")
    not_run = page.page.locator("section[data-verdict=failed] tr[data-status=not-run]")
    assert identical.first.is_visible() and not_run.first.is_visible()
    page.page.get_by_text("Only differences").click()
    assert not identical.first.is_visible() and not not_run.first.is_visible()
    assert differing.is_visible()
    assert page.page.locator("section[data-verdict=failed] tr[data-status=error]").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "only-differences.png"), full_page=True)
    page.page.get_by_text("Only differences").click()
    assert identical.first.is_visible()
    assert page.errors == []
