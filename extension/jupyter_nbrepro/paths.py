"""Resolve request paths inside the server's root directory, and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

from tornado.web import HTTPError


def resolve_inside(root: str | Path, rel: str) -> Path:
    """The real path of `rel` under `root`.

    403 for absolute paths, `..` escapes and symlinks that lead out of the root;
    404 for paths that do not exist. Checked on the resolved path, so a symlink
    inside the root that points outside is refused too.
    """
    if not isinstance(rel, str) or not rel.strip():
        raise HTTPError(400, "path must be a non-empty string")
    if "\x00" in rel:
        raise HTTPError(400, "path contains a NUL byte")
    if os.path.isabs(rel) or rel.startswith("~"):
        raise HTTPError(403, f"path must be relative to the server root: {rel}")
    real_root = Path(root).resolve()
    target = (real_root / rel).resolve()
    if target != real_root and real_root not in target.parents:
        raise HTTPError(403, f"path is outside the server root: {rel}")
    if not target.exists():
        raise HTTPError(404, f"no such file or directory: {rel}")
    return target
