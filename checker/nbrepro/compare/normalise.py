"""Named normalisers: each turns one kind of noise into a canonical form.

A normaliser is a function from text to text. The comparer applies them one at a
time, in order, and names the first one after which stored and new outputs match.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Normaliser = Callable[[str], str]

_MEMORY_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,16}\b")


def memory_address(text: str) -> str:
    """`<object at 0x7f3a2c1d9e50>` -> `<object at 0xADDRESS>`."""
    return _MEMORY_ADDRESS.sub("0xADDRESS", text)


NORMALISERS: dict[str, Normaliser] = {
    "memory-address": memory_address,
}

DEFAULT_NORMALISERS: tuple[str, ...] = tuple(NORMALISERS)
