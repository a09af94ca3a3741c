"""The JUnit XML report: one test case per notebook, for GitLab's, Jenkins' and other
CI test viewers.

`reproduced` and `reproduced-equivalent` pass; `not-checked` is `skipped` with its
reason; every other verdict is a `failure` whose message is the reason and whose
text names the failing cell and lists the cells that did not reproduce. The shape
is the one Jenkins' JUnit schema accepts (no attributes beyond it).
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath

from nbrepro.model import CellStatus, CheckResult, NotebookResult, Verdict

_SHOWN = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT,
          CellStatus.ERROR)
# Characters XML 1.0 cannot hold at all (stored outputs may contain any of them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_LIMIT = 1000  # characters of a failure's message attribute


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def failure_text(nb: NotebookResult) -> str:
    """What a failed notebook's test case says: the failing cell and the cells that
    did not reproduce, one line each."""
    lines = [f"{nb.path}: {nb.verdict.value}"]
    if nb.reason:
        lines.append(nb.reason)
    if nb.exception:
        where = f" in cell {nb.failing_cell}" if nb.failing_cell is not None else ""
        lines.append(f"{nb.exception}{where}: {nb.message or ''}".rstrip(": "))
    for cell in nb.cells:
        if cell.status in _SHOWN:
            why = " - ".join(t for t in (cell.reason, cell.detail) if t)
            lines.append(f"cell {cell.index}: {cell.status.value}" + (f": {why}" if why else ""))
    return "\n".join(lines)


def _testcase(parent: ET.Element, nb: NotebookResult, suite: str) -> None:
    path = PurePosixPath(nb.path)
    folder = ".".join(p for p in path.parent.parts if p not in (".", ""))
    case = ET.SubElement(parent, "testcase", {
        "classname": xml_text(f"{suite}.{folder}" if folder else suite),
        "name": xml_text(nb.path),
        "time": _seconds(nb.seconds),
    })
    message = xml_text((nb.reason or nb.verdict.value)[:MESSAGE_LIMIT])
    if nb.verdict is Verdict.NOT_CHECKED:
        ET.SubElement(case, "skipped", {"message": message})
    elif not nb.verdict.ok:
        failure = ET.SubElement(case, "failure", {"message": message, "type": nb.verdict.value})
        failure.text = xml_text(failure_text(nb))
    elif nb.reason:  # equivalent: the normalisers that were needed
        ET.SubElement(case, "system-out").text = xml_text(nb.reason)


def render(result: CheckResult) -> str:
    notebooks = result.notebooks
    failures = sum(not nb.verdict.ok and nb.verdict is not Verdict.NOT_CHECKED
                   for nb in notebooks)
    skipped = sum(nb.verdict is Verdict.NOT_CHECKED for nb in notebooks)
    counts = {"tests": str(len(notebooks)), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", {"name": "nbrepro", **counts,
                                     "time": _seconds(result.seconds)})
    suite_name = "nbrepro"
    suite = ET.SubElement(root, "testsuite", {
        "name": xml_text(f"nbrepro: {result.repository.source}"), **counts,
        "skipped": str(skipped), "time": _seconds(result.seconds),
        "timestamp": xml_text(result.started_at or ""), "hostname": socket.gethostname(),
    })
    properties = ET.SubElement(suite, "properties")
    for name, value in (("source", result.repository.source),
                        ("commit", result.repository.commit),
                        ("verdict", result.verdict.value if result.verdict else None),
                        ("nbrepro_version", result.nbrepro_version)):
        if value:
            ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})
    for nb in notebooks:
        _testcase(suite, nb, suite_name)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
