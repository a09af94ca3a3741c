"""The front end's layout: one widget per module, so a widget can be read, changed
and tested on its own."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "extension" / "src"
CLASS = re.compile(r"^(?:export\s+)?class\s+(\w+)\s+extends\s+(\w+)", re.MULTILINE)
LUMINO_WIDGETS = {"Widget", "Panel", "SidePanel", "BoxPanel", "SplitPanel", "StackedPanel",
                  "TabPanel", "MainAreaWidget", "ReactWidget", "VDomRenderer"}


def test_every_module_defines_at_most_one_widget():
    modules = sorted(SRC.rglob("*.ts"))
    assert modules, SRC
    widgets: dict[str, list[str]] = {}
    for module in modules:
        for name, base in CLASS.findall(module.read_text()):
            if base in LUMINO_WIDGETS:
                widgets.setdefault(str(module.relative_to(SRC)), []).append(name)
    crowded = {module: names for module, names in widgets.items() if len(names) > 1}
    assert crowded == {}, crowded
    assert "ReportWidget" in widgets.get("report/widget.ts", [])
