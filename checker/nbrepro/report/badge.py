"""The README badge: an SVG and a shields.io endpoint JSON, graded by what a check found.

Messages, worst first (a repository's badge speaks for its worst notebooks):

    install failed                      orange
    1 of 5 fails: ModuleNotFoundError   red     (failed, timeout, kernel died)
    differs in 2 of 40 cells            yellow
    1 of 5 not checked / not checked    lightgrey
    reproduced (3 equivalent)           green   (3 cells equal only after a normaliser)
    reproduced                          brightgreen

Text is measured with a width table of a real font (DejaVu Sans at 11 px, made by
`scripts/make-badge-widths.py`), and every text element carries that width as its
`textLength`, so a viewer with another font still fits the text in its box.

A verdict the repository's own settings decided (`[tool.nbrepro]`, sanitize files)
says so on the badge: a repository cannot earn a plain green badge by telling
nbrepro to ignore every difference. Nor can a check run with parameters the user
set (`-p`, `-f`): its badge says `(exploratory run)`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from urllib.parse import urlsplit

from nbrepro.errors import InputError
from nbrepro.model import CellStatus, CheckResult, Verdict

LABEL = "reproducible"
# shields.io's named colours and their hex values, so the SVG and the endpoint agree.
HEX = {"brightgreen": "#4c1", "green": "#97ca00", "yellow": "#dfb317", "orange": "#fe7d37",
       "red": "#e05d44", "lightgrey": "#9f9f9f"}
COLOURS = {
    Verdict.REPRODUCED: "brightgreen",
    Verdict.REPRODUCED_EQUIVALENT: "green",
    Verdict.DIFFERS: "yellow",
    Verdict.FAILED: "red",
    Verdict.TIMEOUT: "red",
    Verdict.KERNEL_DIED: "red",
    Verdict.INSTALL_FAILED: "orange",
    Verdict.NOT_CHECKED: "lightgrey",
}
_FAILING = (Verdict.FAILED, Verdict.TIMEOUT, Verdict.KERNEL_DIED)
_DIFFERING = (CellStatus.DIFFERENT, CellStatus.MISSING_OUTPUT, CellStatus.EXTRA_OUTPUT)
MAX_MESSAGE = 64  # characters; exception names come from the audited repository
PADDING = 5  # px left and right of each text, as shields.io draws them


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    colour: str  # a shields.io colour name (HEX has its value)
    verdict: str = "unknown"  # the worst verdict, for machines (data-verdict)

    @property
    def hex(self) -> str:
        return HEX[self.colour]


REPO_SETTINGS_NOTE = "by its own settings"
# A check run with parameters the user set (-p, -f) is no evidence about the stored
# outputs: its badge says so, whatever its verdict.
EXPLORATORY_NOTE = "(exploratory run)"
# Distributions `--restore` added that the repository declares nowhere.
INFERRED_NOTE = "inferred"


def grade(subject: CheckResult | Verdict | None, repo_settings: bool = False) -> Badge:
    """The badge for a check's result (graded message), or for a bare verdict;
    `repo_settings`: the repository's own settings decided that verdict."""
    badge = _grade(subject)
    if isinstance(subject, CheckResult):
        repo_settings = repo_settings or subject.decided_by_repo_settings
    if repo_settings and subject is not None:
        badge = Badge(badge.label, f"{badge.message} {REPO_SETTINGS_NOTE}", badge.colour,
                      badge.verdict)
    if isinstance(subject, CheckResult) and any(
            nb.parameters is not None and nb.parameters.exploratory for nb in subject.notebooks):
        badge = Badge(badge.label, f"{badge.message} {EXPLORATORY_NOTE}", badge.colour,
                      badge.verdict)
    inferred = subject.inferred_requirements if isinstance(subject, CheckResult) else []
    if inferred:
        # Reproduced only with what the authors did not declare: never bright green.
        colour = "green" if badge.colour == "brightgreen" else badge.colour
        badge = Badge(badge.label, f"{badge.message} ({len(inferred)} {INFERRED_NOTE})",
                      colour, badge.verdict)
    return badge


def _grade(subject: CheckResult | Verdict | None) -> Badge:
    if isinstance(subject, CheckResult):
        return _for_result(subject)
    if subject is None:
        return Badge(LABEL, "not checked", "lightgrey")
    words = {Verdict.REPRODUCED_EQUIVALENT: "reproduced (equivalent)",
             Verdict.INSTALL_FAILED: "install failed", Verdict.NOT_CHECKED: "not checked",
             Verdict.KERNEL_DIED: "kernel died"}
    return Badge(LABEL, words.get(subject, subject.value), COLOURS[subject], subject.value)


def _for_result(result: CheckResult) -> Badge:
    verdict = result.verdict
    notebooks = result.notebooks
    if verdict is None:
        return Badge(LABEL, "not checked", "lightgrey")
    total = len(notebooks)
    if verdict is Verdict.INSTALL_FAILED:
        text = "install failed"
    elif verdict in _FAILING:
        failing = [nb for nb in notebooks if nb.verdict in _FAILING]
        first = failing[0]
        what = (first.exception if first.verdict is Verdict.FAILED and first.exception
                else {Verdict.TIMEOUT: "timeout", Verdict.KERNEL_DIED: "kernel died"}.get(
                    first.verdict, "error"))
        text = f"{len(failing)} of {total} {'fails' if len(failing) == 1 else 'fail'}: {what}"
    elif verdict is Verdict.DIFFERS:
        cells = [c for nb in notebooks for c in nb.cells]
        differing = sum(c.status in _DIFFERING for c in cells)
        text = f"differs in {differing} of {len(cells)} cells"
    elif verdict is Verdict.NOT_CHECKED:
        skipped = sum(nb.verdict is Verdict.NOT_CHECKED for nb in notebooks)
        text = "not checked" if skipped == total else f"{skipped} of {total} not checked"
    elif verdict is Verdict.REPRODUCED_EQUIVALENT:
        equivalent = sum(c.status is CellStatus.EQUIVALENT for nb in notebooks for c in nb.cells)
        text = f"reproduced ({equivalent} equivalent)" if equivalent else "reproduced (equivalent)"
    else:
        text = "reproduced"
    return Badge(LABEL, _clip(text), COLOURS[verdict], verdict.value)


def _clip(text: str) -> str:
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "\u2026"


def message(subject: CheckResult | Verdict | None, repo_settings: bool = False) -> str:
    return grade(subject, repo_settings).message


@cache
def _widths() -> tuple[dict[str, float], float]:
    table = json.loads(resources.files("nbrepro.report").joinpath("badge-widths.json")
                       .read_text(encoding="utf-8"))
    return table["widths"], float(table["fallback"])


def text_width(text: str) -> float:
    """Width in px of `text` at 11 px; characters outside the table count as the widest."""
    widths, fallback = _widths()
    return sum(widths.get(ch, fallback) for ch in text)


def endpoint_json(subject: CheckResult | Verdict | None, repo_settings: bool = False) -> str:
    """The shields.io endpoint (https://shields.io/badges/endpoint-badge) for the badge."""
    badge = grade(subject, repo_settings)
    return json.dumps({"schemaVersion": 1, "label": badge.label, "message": badge.message,
                       "color": badge.colour, "cacheSeconds": 300}) + "\n"


def check_link(link: str) -> str:
    """A link a badge may carry: http(s), or a relative URL; never javascript: or data:."""
    parts = urlsplit(link.strip())
    if parts.scheme not in ("http", "https", "") or re.search(r"[\x00-\x20]", link.strip()):
        raise InputError(f"--link: not an http(s) or relative URL: {link!r}")
    return link.strip()


def svg(subject: CheckResult | Verdict | None, link: str | None = None,
        repo_settings: bool = False) -> str:
    """The badge as an SVG in shields.io's flat style; with `link`, clicking it opens it."""
    badge = grade(subject, repo_settings)
    label_text, value_text = badge.label, badge.message
    label_len, value_len = text_width(label_text), text_width(value_text)
    left = math.ceil(label_len) + 2 * PADDING
    right = math.ceil(value_len) + 2 * PADDING
    total = left + right
    title = escape(f"{label_text}: {value_text}")
    # Badges inlined in one page (the HTML report) must not share their ids: a later,
    # wider badge would be clipped by the first one's clip path.
    uid = hashlib.sha1(f"{title}|{badge.colour}|{link}".encode()).hexdigest()[:8]

    def texts(text: str, centre: float, length: float) -> str:
        attrs = f'x="{centre:.1f}" textLength="{length:.1f}" lengthAdjust="spacing"'
        return (f'<text {attrs} y="15" fill="#010101" fill-opacity=".3" aria-hidden="true">'
                f'{escape(text)}</text><text {attrs} y="14">{escape(text)}</text>')

    body = (
        f'<linearGradient id="s{uid}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        f'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r{uid}"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r{uid})"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{badge.hex}"/>'
        f'<rect width="{total}" height="20" fill="url(#s{uid})"/></g>'
        f'<g fill="#fff" text-anchor="middle" '
        f'font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11">'
        f'{texts(label_text, left / 2, label_len)}'
        f'{texts(value_text, left + right / 2, value_len)}</g>'
    )
    if link is not None:
        body = f'<a target="_blank" xlink:href="{escape(check_link(link))}">{body}</a>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{total}" height="20" role="img" aria-label="{title}" '
            f'data-verdict="{badge.verdict}">'
            f'<title>{title}</title>{body}</svg>\n')


def render(result: CheckResult) -> str:
    return svg(result)
