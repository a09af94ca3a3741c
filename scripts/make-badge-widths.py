"""Write the text-width table the badge renderer measures with (nbrepro/report/badge-widths.json).

Advance widths of DejaVu Sans (the font the badge names first, and the metric-compatible
stand-in for Verdana) at 11 px, read from the font file with fontTools, for printable
ASCII, Latin-1 and the punctuation nbrepro's messages use. Kerning is left out: it only
ever narrows text, so the table errs on the wide side.

    python scripts/make-badge-widths.py [FONT.ttf]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fontTools.ttLib import TTFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SIZE = 11
TARGET = Path(__file__).resolve().parents[1] / "checker/nbrepro/report/badge-widths.json"
EXTRA = "\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u2022\u00d7\u2192"


def main() -> None:
    font = TTFont(sys.argv[1] if len(sys.argv) > 1 else FONT)
    scale = SIZE / font["head"].unitsPerEm
    cmap, metrics = font.getBestCmap(), font["hmtx"].metrics
    chars = [chr(c) for c in (*range(32, 127), *range(160, 256))] + list(EXTRA)
    widths = {ch: round(metrics[cmap[ord(ch)]][0] * scale, 3) for ch in chars if ord(ch) in cmap}
    table = {"font": "DejaVu Sans", "size": SIZE, "fallback": max(widths.values()),
             "widths": widths}
    TARGET.write_text(json.dumps(table, ensure_ascii=False, sort_keys=True) + "\n",
                      encoding="utf-8")
    print(f"wrote {TARGET}: {len(widths)} characters")


if __name__ == "__main__":
    main()
