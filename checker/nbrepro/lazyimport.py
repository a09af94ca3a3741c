"""Modules imported on first use, for what a quick check may never need (numpy and
Pillow compare images; a notebook without images never touches them)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """`name` as a module object that imports itself when first used."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def skip_unused_imports() -> None:
    """Keep out what nbrepro's processes never use but would pay for at import."""
    # jsonschema (imported by nbformat) imports every optional format checker's library
    # at import, and compiles an IRI grammar when rfc3987_syntax is installed; nbformat
    # validates without a format checker, so nbrepro does without them (a noticeable
    # part of a quick check's start-up; jsonschema skips a format whose library is
    # missing).
    for name in ("rfc3987_syntax", "rfc3987", "rfc3986_validator", "rfc3339_validator",
                 "isoduration", "uri_template", "webcolors", "fqdn"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
