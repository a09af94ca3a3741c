"""Resolve request paths inside the server's root directory, and nowhere else.

Every path the REST API accepts or answers is relative to the server's root
(POSIX separators); these helpers convert between that and real paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import BadRequest, Forbidden, NotFound


def resolve_inside(root: str | Path, rel: object) -> Path:
    """The real path of `rel` under `root`.

    Forbidden for absolute paths, `..` escapes and symlinks that lead out of the
    root; NotFound for paths that do not exist. Checked on the resolved path, so a
    symlink inside the root that points outside is refused too.
    """
    if not isinstance(rel, str) or not rel.strip():
        raise BadRequest("path must be a non-empty string")
    if "\x00" in rel:
        raise BadRequest("path contains a NUL byte")
    if os.path.isabs(rel) or rel.startswith("~"):
        raise Forbidden(f"path must be relative to the server root: {rel}")
    real_root = Path(root).resolve()
    target = (real_root / rel).resolve()
    if target != real_root and real_root not in target.parents:
        raise Forbidden(f"path is outside the server root: {rel}")
    if not target.exists():
        raise NotFound(f"no such file or directory: {rel}")
    return target


def relative_to_root(root: str | Path, path: str | Path | None) -> str | None:
    """`path` (absolute) as the API names it: relative to the server root, POSIX,
    "." for the root itself; None when it is not inside the root."""
    if not path:
        return None
    real_root, target = Path(root).resolve(), Path(path)
    if not target.is_absolute():
        return None
    if target != real_root and real_root not in target.parents:
        return None
    return target.relative_to(real_root).as_posix()
