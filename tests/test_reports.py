"""Real check results of the fixture repositories rendered to every format: the badge
(SVG and shields endpoint), Markdown, JUnit XML, JSON, HTML and the terminal table;
`nbrepro report` and `nbrepro badge` on JSON files and databases."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from markdown_it import MarkdownIt

from nbrepro.check import CheckOptions, check
from nbrepro.model import CellResult, CellStatus, CheckResult, NotebookResult, RepositoryInfo
from nbrepro.model import Verdict as V
from nbrepro.report import RENDERERS, badge, html, junit, markdown
from nbrepro.store import Store
from tests.fixtures.make_repos import build
from tests.helpers.cli import REPOS, nbrepro

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = xmlschema.XMLSchema(str(ROOT / "tests/fixtures/junit/junit.xsd"))
SVG = "{http://www.w3.org/2000/svg}"


# fixture repository (or notebook) -> the badge it earns
EXPECTED = {
    "reproduces": ("reproduced", "brightgreen"),
    "equivalent": ("reproduced (2 equivalent)", "green"),
    "differs": ("differs in 1 of 3 cells", "yellow"),
    "undeclared-module": ("1 of 1 fails: ModuleNotFoundError", "red"),
    "no-such-package": ("install failed", "orange"),
    "invalid": ("not checked", "lightgrey"),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckResult]:
    """One real check per fixture repository (copied: checks never write into them)."""
    tmp = tmp_path_factory.mktemp("reports")
    found: dict[str, CheckResult] = {}
    for name in EXPECTED:
        if name == "equivalent":  # memory addresses in reprs: the binder demo's noise notebook
            target = tmp / "demo"
            shutil.copytree(ROOT / "binder/demo", target)
            found[name] = check(str(target / "02_noise_only.ipynb"))
            continue
        shutil.copytree(REPOS / name, tmp / name)
        found[name] = check(str(tmp / name), CheckOptions())
    return found


def _badge_texts(svg: str) -> tuple[list[str], ET.Element]:
    root = ET.fromstring(svg)
    texts = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("aria-hidden") is None]
    return texts, root


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_badge_says_what_the_check_found(results, name):
    message, colour = EXPECTED[name]
    result = results[name]
    texts, root = _badge_texts(badge.svg(result))
    assert texts == ["reproducible", message]
    assert root.get("data-verdict") == result.verdict.value
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert badge.HEX[colour] in fills
    endpoint = json.loads(badge.endpoint_json(result))
    assert endpoint == {"schemaVersion": 1, "label": "reproducible", "message": message,
                        "color": colour, "cacheSeconds": 300}


def test_badge_boxes_hold_the_font_widths_of_their_text():
    """Measured from the font file itself (fontTools, DejaVu Sans at 11 px, kerning
    ignored): each box is its text's width plus 5 px padding each side."""
    from fontTools.ttLib import TTFont

    font = TTFont("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    cmap, metrics = font.getBestCmap(), font["hmtx"].metrics
    scale = 11 / font["head"].unitsPerEm

    def width(text: str) -> float:
        return sum(metrics[cmap[ord(ch)]][0] * scale for ch in text)

    failing = NotebookResult("a", V.FAILED, exception="W" * 200)
    result = CheckResult(repository=RepositoryInfo(source="r"), notebooks=[failing])
    texts, root = _badge_texts(badge.svg(result))
    group = next(g for g in root.iter(f"{SVG}g") if g.get("clip-path"))
    rects = list(group)[:2]  # the label's box and the message's box
    for text, rect in zip(texts, rects, strict=True):
        assert float(rect.get("width")) >= width(text) + 10 - 0.01, text
    assert float(root.get("width")) == sum(float(r.get("width")) for r in rects)


@pytest.mark.slow
def test_badge_link_and_hostile_messages(results):
    svg = badge.svg(results["differs"], link="https://example.org/report.html?a=1&b=2")
    root = ET.fromstring(svg)
    link = root.find(f"{SVG}a")
    assert link is not None
    assert link.get("{http://www.w3.org/1999/xlink}href") == \
        "https://example.org/report.html?a=1&b=2"
    for bad in ("javascript:alert(1)", "data:text/html,x", " java\tscript:x"):
        with pytest.raises(Exception, match="--link"):
            badge.svg(results["differs"], link=bad)
    # An exception name the audited code chose cannot break out of the SVG.
    hostile = NotebookResult("a", V.FAILED, exception='X"><script>alert(1)</script>\x00')
    texts, root = _badge_texts(badge.svg(CheckResult(RepositoryInfo("r"), [hostile])))
    assert texts[1].startswith('1 of 1 fails: X"><script>')
    assert root.find(f".//{SVG}script") is None


def test_badge_without_any_result_is_not_checked():
    texts, root = _badge_texts(badge.svg(None))
    assert texts[1] == "not checked" and root.get("data-verdict") == "unknown"


# --- Markdown ---------------------------------------------------------------

def _parse(text: str) -> list:
    return MarkdownIt("commonmark").enable("table").parse(text)


def _table_cells(tokens: list, all_tables: bool = False) -> list[list[str]]:
    rows, row = [], None
    for i, tok in enumerate(tokens):
        if tok.type == "tr_open":
            row = []
        elif tok.type in ("td_open", "th_open"):
            inline = tokens[i + 1]
            row.append("".join(c.content for c in inline.children or []))
        elif tok.type == "tr_close":
            rows.append(row)
        elif tok.type == "table_close" and not all_tables:
            break
    return rows


@pytest.mark.slow
def test_markdown_renders_every_result_without_loss(results):
    for name, result in results.items():
        text = markdown.render(result)
        tokens = _parse(text)
        rows = _table_cells(tokens)
        assert rows[0] == ["notebook", "verdict", "cell", "reason"]
        for nb, row in zip(result.notebooks, rows[1:], strict=True):
            assert row[0] == nb.path and row[1] == nb.verdict.value
            assert nb.reason is None or markdown.clip(nb.reason) in row[3]
        assert badge.message(result) in text, name
        # Only the folding markup is HTML.
        html_tokens = [t.content for t in tokens if t.type == "html_block"] + [
            c.content for t in tokens if t.type == "inline" for c in t.children or []
            if c.type == "html_inline"]
        for chunk in html_tokens:
            assert re.fullmatch(r"\s*</?(details|summary|sub)>.*", chunk, re.S), chunk
    differs = markdown.render(results["differs"])
    assert "<details><summary><code>model.ipynb</code>: differs</summary>" in differs
    cells = _table_cells(_parse(differs), all_tables=True)
    assert cells[-1][:2] == ["1", "different"] and "'42' -> '43'" in cells[-1][2]


def test_markdown_keeps_hostile_text_literal():
    reason = "a | b `code` ``two`` *em* _u_ <script>x</script> @octocat $x$ [l](javascript:x) \\|"
    nb = NotebookResult("we|ird `name` <b>.ipynb", V.DIFFERS, reason=reason,
                        cells=[CellResult(3, CellStatus.DIFFERENT, reason="text", detail=reason)])
    text = markdown.render(CheckResult(RepositoryInfo("r"), [nb]))
    tokens = _parse(text)
    rows = _table_cells(tokens, all_tables=True)
    assert rows[1][0] == "we|ird `name` <b>.ipynb"
    assert rows[1][3] == reason
    assert rows[-1][2] == f"text \u2014 {reason}"
    inline_kinds = {c.type for t in tokens if t.type == "inline" for c in t.children or []}
    assert "link_open" not in inline_kinds and "em_open" not in inline_kinds
    summary = next(t.content for t in tokens if t.type == "html_block" and "summary" in t.content)
    assert "<code>we|ird `name` &lt;b&gt;.ipynb</code>: differs" in summary


@pytest.mark.slow
def test_markdown_stays_within_the_step_summary_limit(results):
    """10,000 notebooks with long reasons: under 1 MiB, and it says what it left out."""
    one = results["differs"].notebooks[0]
    many = [NotebookResult(f"nb{i:05d}.ipynb", one.verdict, reason=(one.reason or "") * 5,
                           cells=one.cells) for i in range(10_000)]
    big = CheckResult(RepositoryInfo("big"), many)
    text = markdown.render(big)
    assert len(text.encode()) <= 1024 * 1024
    assert "more notebooks left out of the table" in text
    assert "were left out to stay within the size limit" in text
    assert text.count("<details>") == text.count("</details>")
    assert "<details><summary>10000 notebooks</summary>" in text  # the long table is folded


# --- JUnit ------------------------------------------------------------------

@pytest.mark.slow
def test_junit_is_valid_and_has_one_case_per_notebook(results):
    for name, result in results.items():
        xml = junit.render(result)
        SCHEMA.validate(xml)
        root = ET.fromstring(xml)
        cases = root.findall("./testsuite/testcase")
        assert [c.get("name") for c in cases] == [nb.path for nb in result.notebooks], name
        for case, nb in zip(cases, result.notebooks, strict=True):
            if nb.verdict.ok:
                assert case.find("failure") is None and case.find("skipped") is None
            elif nb.verdict is V.NOT_CHECKED:
                assert case.find("skipped").get("message") == nb.reason
            else:
                failure = case.find("failure")
                assert failure.get("type") == nb.verdict.value
                assert failure.get("message") == nb.reason
        suite = root.find("testsuite")
        assert int(suite.get("failures")) == sum(
            not nb.verdict.ok and nb.verdict is not V.NOT_CHECKED for nb in result.notebooks)
    failed = ET.fromstring(junit.render(results["undeclared-module"]))
    text = failed.find(".//failure").text
    assert "ModuleNotFoundError in cell 0" in text and "cell 0: error" in text
    differs = ET.fromstring(junit.render(results["differs"]))
    assert "cell 1: different" in differs.find(".//failure").text


def test_junit_survives_characters_xml_cannot_hold():
    reason = "bell \x07 nul \x00 surrogate \ud800 ]]> </failure> & <"
    nb = NotebookResult("x.ipynb", V.DIFFERS, reason=reason)
    xml = junit.render(CheckResult(RepositoryInfo("r"), [nb]))
    SCHEMA.validate(xml)
    message = ET.fromstring(xml).find(".//failure").get("message")
    assert message == "bell \ufffd nul \ufffd surrogate \ufffd ]]> </failure> & <"


# --- JSON, HTML, table ------------------------------------------------------

@pytest.mark.slow
def test_every_format_renders_every_result(results):
    for name, result in results.items():
        for fmt, render in RENDERERS.items():
            assert render(result), (name, fmt)
        again = CheckResult.from_dict(json.loads(RENDERERS["json"](result)))
        assert again.to_dict() == result.to_dict()


@pytest.mark.slow
def test_html_shows_outputs_of_cells_that_did_not_reproduce(results):
    page = html.render(results["differs"])
    assert '<div class="outputs"><div class="output"><h4>stored</h4><pre>42</pre>' in page
    assert "<h4>re-run</h4><pre>43</pre>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # self-contained
    failed = html.render(results["undeclared-module"])
    assert "ModuleNotFoundError" in failed and 'class="error"' in failed


@pytest.mark.slow
def test_html_cuts_large_outputs_with_a_note(tmp_path):
    build("large", {"big.ipynb": [("print('x' * 300_000)", "print('y' * 300_000)")]},
          tmp_path / "large")
    result = check(str(tmp_path / "large"))
    cell = result.notebooks[0].cells[0]
    assert cell.status is CellStatus.DIFFERENT
    assert cell.stored_outputs[0]["nbrepro_truncated"] == {"text": 300_001}
    assert len(cell.stored_outputs[0]["text"]) == 256 * 1024
    page = html.render(result)
    assert "Output cut: showing the first 20,000 of 262,144 characters." in page
    assert "Output cut when the results were stored: 300,001 characters" in page
    assert len(page) < 200_000


# --- the command line -------------------------------------------------------

@pytest.mark.slow
def test_report_and_badge_commands_read_json_and_databases(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPOS / "differs", repo)
    db = tmp_path / "results.sqlite"
    first = nbrepro("check", str(repo), "--db", f"sqlite:///{db}", tmp=tmp_path)
    assert first.code == 1
    shutil.copytree(REPOS / "reproduces", tmp_path / "other")
    assert nbrepro("check", str(tmp_path / "other"), "--db", f"sqlite:///{db}").code == 0
    ids = [c["id"] for c in Store(f"sqlite:///{db}").list_checks()]

    # JSON in, a file out (every format's content is tested in-process above)
    for fmt in ("table", "markdown", "junit"):
        out = tmp_path / f"report.{fmt}"
        run = nbrepro("report", str(tmp_path / "result.json"), "--format", fmt, "-o", str(out))
        assert run.code == 0, run.stderr
        assert "model.ipynb" in out.read_text()
    assert "differs" in nbrepro("report", str(tmp_path / "result.json")).stdout

    # a database: the newest check by default, any with --check
    newest = nbrepro("report", str(db), "--format", "json")
    assert json.loads(newest.stdout)["verdict"] == "reproduced"
    older = nbrepro("report", f"sqlite:///{db}", "--check", str(min(ids)), "--format", "json")
    assert json.loads(older.stdout)["verdict"] == "differs"
    svg = nbrepro("badge", str(db), "--check", str(min(ids)), "--link", "https://x.test/r")
    texts, _ = _badge_texts(svg.stdout)
    assert texts == ["reproducible", "differs in 1 of 3 cells"]
    shields = nbrepro("badge", str(db), "--format", "shields", "-o", str(tmp_path / "b.json"))
    assert shields.code == 0
    assert json.loads((tmp_path / "b.json").read_text())["message"] == "reproduced"


@pytest.mark.parametrize("args, message", [
    (["report", "missing.json"], "no such file: missing.json"),
    (["report", "garbage.json"], "not an nbrepro results file"),
    (["report", "garbage.json", "--check", "3"], "--check picks a check in a database"),
    (["report", "ok.json", "--check", "3"], "--check picks a check in a database"),
    (["report", "db.sqlite", "--check", "99"], "no check with id 99"),
    (["report", "sqlite:///nowhere/x.sqlite"], "does not exist"),
    (["badge", "ok.json", "--link", "javascript:alert(1)"], "--link: not an http(s)"),
    (["report", "ok.json", "-o", "no/such/dir/out.md"], "folder does not exist"),
    (["report", "ok.json", "--format", "pdf"], "Invalid value for '--format'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.json").write_text('{"notebooks": [{"path": 1}]')
    (tmp_path / "ok.json").write_text(json.dumps(
        CheckResult(RepositoryInfo("r"), [NotebookResult("a.ipynb", V.REPRODUCED)]).to_dict()))
    Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    run = nbrepro(*args)
    assert run.code == 2, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_html_sanitiser_keeps_content_and_drops_what_could_run_or_fetch():
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
           "AAAABJRU5ErkJggg==")
    dirty = (f"<table><tr><td onclick='x()'>1</td></tr></table><script>x()</script>"
             f"<style>body{{display:none}}</style><a href='javascript:x()'>js</a>"
             f"<a href='https://example.org/'>web</a><img src='https://example.org/t.png'>"
             f"<img src='data:image/png;base64,{png}'><img src='data:image/svg+xml,<svg/>'>"
             f"<iframe src='https://example.org'></iframe><form><input></form>")
    clean = html.sanitise_html(dirty)
    assert "<td>1</td>" in clean and ">js</a>" in clean
    for gone in ("onclick", "<script", "x()", "<style", "javascript:", "t.png", "<iframe",
                 "<form", "<input", "svg+xml"):
        assert gone not in clean, gone
    assert 'href="https://example.org/"' in clean and 'rel="noopener noreferrer nofollow"' in clean
    assert f'src="data:image/png;base64,{png}"' in clean


def test_html_report_budget_says_what_it_left_out(monkeypatch):
    monkeypatch.setattr(html, "REPORT_OUTPUT_BUDGET", 50)
    outputs = [{"output_type": "stream", "name": "stdout", "text": "x" * 40}]
    cells = [CellResult(i, CellStatus.DIFFERENT, stored_outputs=outputs, rerun_outputs=outputs)
             for i in range(3)]
    page = html.render(CheckResult(RepositoryInfo("r"), [NotebookResult("a", V.DIFFERS,
                                                                         cells=cells)]))
    assert page.count("x" * 40) == 1
    assert "Further outputs left out: this report reached its size limit." in page
    bogus = [{"output_type": "display_data", "data": {"image/png": 'AAA" onerror="x()'}}]
    page = html.render(CheckResult(RepositoryInfo("r"), [NotebookResult("a", V.DIFFERS, cells=[
        CellResult(0, CellStatus.DIFFERENT, stored_outputs=bogus, rerun_outputs=[])])]))
    assert "image/png output with invalid data (not shown)" in page and "onerror" not in page


# --- the environment's header and the report's summary ------------------------

def _study_result() -> CheckResult:
    """A folder check of a repository: requirements at its root, a Python that is not
    the one asked for, an import nothing declares nor installs, another installed only
    as a dependency; one notebook differs, one reproduces."""
    from nbrepro.model import EnvironmentResult, Lock, Spec

    cells = [CellResult(1, CellStatus.IDENTICAL, execution_count=1),
             CellResult(2, CellStatus.DIFFERENT, reason="text", detail="'42' -> '43'",
                        execution_count=24),
             CellResult(3, CellStatus.NOT_RUN)]
    return CheckResult(
        RepositoryInfo("/srv/home/ana/study/notebooks", path="/srv/home/ana/study",
                       subdir="notebooks"),
        [NotebookResult("notebooks/01 <b>load</b>.ipynb", V.REPRODUCED, seconds=2.5,
                        cells=[CellResult(1, CellStatus.IDENTICAL, execution_count=1),
                               CellResult(2, CellStatus.EQUIVALENT, reason="memory-address",
                                          execution_count=2)]),
         NotebookResult("notebooks/02_model.ipynb", V.DIFFERS, seconds=7.25,
                        reason="1 of 2 cells differ; first: In [24]: '42' -> '43'",
                        cells=cells)],
        spec=Spec(files=["requirements.txt", "runtime.txt"], python_version="3.8",
                  imports=["numpy", "pandas", "seaborn"], undeclared_imports=["numpy", "seaborn"]),
        lock=Lock(ok=True, resolver="uv", python_version="3.11",
                  pins={"pandas": "2.0.3", "numpy": "1.24.4"}),
        environment=EnvironmentResult(ok=True, backend="venv", python_version="3.11.2",
                                      requested_python="3.8"))


def test_every_report_names_the_root_the_pythons_and_the_undeclared_imports():
    result = _study_result()
    missing = "imported but not declared and not installed: seaborn"
    dependency = "installed only as a dependency of another package): numpy"
    python = "Python: requested 3.8, used 3.11.2 (differs from what the repository asked for)"

    table = " ".join(RENDERERS["table"](result).split())
    assert "environment from /srv/home/ana/study: requirements.txt, runtime.txt " \
           "(notebooks of notebooks/ checked)" in table
    assert python in table and missing in table and dependency in table
    assert "(read: requirements.txt, runtime.txt)" in table

    page = html.render(result)
    assert f'<p class="warning environment">{python}</p>' in page
    assert f'<p class="warning environment">{missing}' in page
    # a report read elsewhere names the repository's folder, not a path of this disk
    assert "environment from study: requirements.txt" in page
    assert "<title>nbrepro: study/notebooks</title>" in page
    assert "/srv/home" not in page

    text = markdown.render(result)
    assert f"**Warning:** `{python}`" in text and missing in text

    same = _study_result()
    same.environment.python_version = "3.8.18"  # type: ignore[union-attr]
    assert "used 3.8.18\n" in RENDERERS["table"](same).replace("Python: requested 3.8, ", "")
    assert "(differs" not in RENDERERS["table"](same)
    declared = _study_result()
    declared.spec.undeclared_imports = []  # type: ignore[union-attr]
    assert "imported but not declared" not in html.render(declared)


def test_html_summary_links_each_notebook_and_folds_what_reproduced():
    page = html.render(_study_result())
    summary = page.split('<table class="summary">')[1].split("</table>")[0]
    rows = re.findall(r"<tr data-notebook-verdict=\"([^\"]+)\">(.*?)</tr>", summary)
    assert [verdict for verdict, _ in rows] == ["reproduced", "differs"]
    first, second = (row for _, row in rows)
    assert '<a href="#nb-1">notebooks/01 &lt;b&gt;load&lt;/b&gt;.ipynb</a>' in first
    counts = re.findall(r'data-count="(\w+)">(\d+)<', second)
    assert counts == [("identical", "1"), ("equivalent", "0"), ("different", "1")]
    assert "In [24]" in second and "7.2 s" in second
    # the sections the links lead to; what reproduced is folded, what differs open
    assert '<section class="notebook" id="nb-1" data-verdict="reproduced">' in page
    assert '<section class="notebook" id="nb-2" data-verdict="differs">' in page
    sections = page.split('<section class="notebook"')[1:]
    assert "<details><summary>2 cells (1 identical)" in sections[0]
    assert "<details open><summary>3 cells (1 identical)" in sections[1]
    # cells named as the notebook shows them, with their position
    assert '<td>In [24] <span class="meta">#2</span></td>' in sections[1]
    # the "only differences" switch is a checkbox styled by CSS: nothing runs
    assert '<input type="checkbox" id="only-differences">' in page
    assert "<script" not in page and "onclick" not in page
