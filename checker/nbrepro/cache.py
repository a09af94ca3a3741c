"""Where nbrepro keeps what it can reuse: locks, environments, clones.

Everything is content-addressed: an entry's name is a hash of what made it, so a
cached entry is valid by construction and two checks that need the same entry
share it. A file lock next to each entry makes concurrent builders wait for each
other instead of racing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock
from platformdirs import user_cache_dir


def cache_root() -> Path:
    """`$NBREPRO_CACHE_DIR`, else the user cache dir (e.g. ~/.cache/nbrepro)."""
    env = os.environ.get("NBREPRO_CACHE_DIR")
    return Path(env) if env else Path(user_cache_dir("nbrepro"))


def content_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def entry(kind: str, key: str) -> Path:
    folder = cache_root() / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / key


@contextmanager
def locked(path: Path, timeout: float = 3600) -> Iterator[None]:
    """Hold an exclusive lock on `path` (a sibling `.lock` file) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=timeout):
        yield
