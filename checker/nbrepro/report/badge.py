"""The README badge: an SVG and a shields.io endpoint JSON for a verdict.

A verdict the repository's own settings decided (`[tool.nbrepro]`, sanitize files)
says so on the badge: a repository cannot earn a plain green badge by telling
nbrepro to ignore every difference.
"""

from __future__ import annotations

import json
from html import escape

from nbrepro.model import CheckResult, Verdict

# shields.io's named colours, so the SVG and the endpoint JSON agree.
COLOURS = {
    Verdict.REPRODUCED: ("brightgreen", "#4c1"),
    Verdict.REPRODUCED_EQUIVALENT: ("green", "#97ca00"),
    Verdict.DIFFERS: ("yellow", "#dfb317"),
    Verdict.FAILED: ("red", "#e05d44"),
    Verdict.TIMEOUT: ("red", "#e05d44"),
    Verdict.KERNEL_DIED: ("red", "#e05d44"),
    Verdict.INSTALL_FAILED: ("orange", "#fe7d37"),
    Verdict.NOT_CHECKED: ("lightgrey", "#9f9f9f"),
}
UNKNOWN = ("lightgrey", "#9f9f9f")
LABEL = "reproducible"


REPO_SETTINGS_NOTE = "by its own settings"


def message(verdict: Verdict | None, repo_settings: bool = False) -> str:
    text = verdict.value if verdict else "unknown"
    return f"{text} {REPO_SETTINGS_NOTE}" if repo_settings and verdict else text


def endpoint_json(verdict: Verdict | None, repo_settings: bool = False) -> str:
    """https://shields.io/badges/endpoint-badge"""
    colour = COLOURS.get(verdict, UNKNOWN)[0] if verdict else UNKNOWN[0]
    return json.dumps({"schemaVersion": 1, "label": LABEL,
                       "message": message(verdict, repo_settings), "color": colour})


def _width(text: str) -> int:
    # Verdana 11px is about 7 px a character (wider than most fonts); 10 px padding.
    return int(len(text) * 7) + 12


def svg(verdict: Verdict | None, repo_settings: bool = False) -> str:
    text = message(verdict, repo_settings)
    colour = COLOURS.get(verdict, UNKNOWN)[1] if verdict else UNKNOWN[1]
    left, right = _width(LABEL), _width(text)
    total = left + right
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" \
aria-label="{LABEL}: {escape(text)}">
<title>{LABEL}: {escape(text)}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>\
<stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>\
<rect x="{left}" width="{right}" height="20" fill="{colour}"/>\
<rect width="{total}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" \
font-size="11">
<text x="{left / 2:.1f}" y="14">{LABEL}</text>
<text x="{left + right / 2:.1f}" y="14" data-verdict="{escape(text)}">{escape(text)}</text>
</g></svg>
"""


def render(result: CheckResult) -> str:
    return svg(result.verdict, result.decided_by_repo_settings)
