"""The results model: verdict order and the JSON round trip every renderer relies on."""

from __future__ import annotations

import json

from nbrepro.model import (
    CellResult,
    CellStatus,
    CheckResult,
    EnvironmentResult,
    NotebookInfo,
    NotebookResult,
    RepositoryInfo,
    Verdict,
)


def result() -> CheckResult:
    return CheckResult(
        repository=RepositoryInfo(source="https://example.org/r.git", commit="abc"),
        notebooks=[
            NotebookResult("a.ipynb", Verdict.REPRODUCED,
                           cells=[CellResult(0, CellStatus.IDENTICAL)],
                           info=NotebookInfo(path="a.ipynb", imports=["numpy"])),
            NotebookResult("b.ipynb", Verdict.FAILED, exception="KeyError", failing_cell=3,
                           cells=[CellResult(3, CellStatus.ERROR, reason="KeyError: 'x'")],
                           rerun="completed", volatile_cells=[1], cause="needs-network"),
        ],
        environment=EnvironmentResult(ok=True, backend="venv", sandbox="bubblewrap"),
    )


def test_repository_verdict_is_the_worst_notebook_verdict():
    assert result().verdict is Verdict.FAILED
    assert not result().ok
    assert CheckResult(repository=RepositoryInfo("x")).verdict is None


def test_json_round_trip_keeps_every_field():
    data = json.loads(json.dumps(result().to_dict()))
    assert data["verdict"] == "failed" and data["summary"] == {"reproduced": 1, "failed": 1}
    assert data["notebooks"][1]["cells"][0] == {
        "index": 3, "status": "error", "reason": "KeyError: 'x'", "detail": None,
        "execution_seconds": None, "normalisers": [], "warnings": [], "image_score": None,
        "image_diff": None, "nbdime_diff": None, "suggested_sanitiser": None,
        "stored_outputs": None, "rerun_outputs": None, "execution_count": None,
        "unseeded": []}
    b = data["notebooks"][1]
    assert (b["rerun"], b["volatile_cells"], b["cause"]) == ("completed", [1], "needs-network")
    back = CheckResult.from_dict(data)
    assert back == result()
    assert back.notebooks[1].cells[0].status is CellStatus.ERROR


def test_severity_orders_verdicts_from_good_to_bad():
    order = sorted(Verdict, key=lambda v: v.severity)
    assert order[:2] == [Verdict.REPRODUCED, Verdict.REPRODUCED_EQUIVALENT]
    assert order[-1] is Verdict.INSTALL_FAILED
    assert [v for v in Verdict if v.ok] == order[:2]


def test_html_report_escapes_and_embeds_the_difference_image():
    from nbrepro.report import html

    res = result()
    res.notebooks[0].path = "<script>alert(1)</script>.ipynb"
    res.notebooks[1].cells[0].image_diff = "iVBORw0KGgo="
    res.notebooks[1].cells[0].warnings = ["FutureWarning: x is deprecated"]
    page = html.render(res)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    assert "FutureWarning: x is deprecated" in page
