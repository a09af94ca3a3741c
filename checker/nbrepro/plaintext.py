"""Text from an audited repository made safe to print on a terminal.

Light on purpose (no rich): the command line uses it for its one-line messages
before anything heavy is imported.
"""

from __future__ import annotations

import re

# C0 and C1 control characters (tab and newline excepted), DEL, and the Unicode
# line/paragraph separators and bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """`text` safe to show on a terminal: control characters written out as escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256
                        else f"\\u{ord(m.group(0)):04x}", str(text))
