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
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    lockfile = str(path) + ".lock"
    with FileLock(lockfile, timeout=timeout):
        # The lock file's time says when the entry was last used: `nbrepro cache
        # prune` removes the least recently used entries first.
        os.utime(lockfile)
        yield


# --- `nbrepro cache`: what the cache holds, and pruning it to a size ------------------

KINDS = ("envs", "locks", "clones", "images", "registry", "wheels")
RECENT = 600.0  # entries used this recently may be in use: prune leaves them


@dataclass
class CacheEntry:
    kind: str  # envs, locks, clones, or "docker" for an image
    key: str
    size: int  # bytes
    last_used: float  # seconds since the epoch
    path: Path | None = None  # None for a docker image
    image_id: str | None = None


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                total += st.st_size
    return total


def _last_used(path: Path) -> float:
    lock = Path(str(path) + ".lock")
    times = [p.stat().st_mtime for p in (lock, path) if p.exists()]
    return max(times) if times else 0.0


# The label every image of the docker backend carries: its cache key.
IMAGE_LABEL_KEY = "org.nbrepro.key"


def entries(docker_images: bool = True) -> list[CacheEntry]:
    """Every entry of the cache (and nbrepro's docker images when an engine answers),
    least recently used first."""
    found: list[CacheEntry] = []
    root = cache_root()
    for kind in KINDS:
        folder = root / kind
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.endswith((".lock", ".part")) or path.name.startswith("clone-"):
                continue
            if kind == "images":  # docker backend bookkeeping; the images are below
                continue
            found.append(CacheEntry(kind, path.name, _size(path), _last_used(path), path))
    if docker_images:
        found += _docker_images(root / "images")
    return sorted(found, key=lambda e: e.last_used)


def _docker_images(bookkeeping: Path) -> list[CacheEntry]:
    try:
        import docker

        client = docker.from_env(timeout=5)
        images = client.images.list(filters={"label": IMAGE_LABEL_KEY})
    except Exception:  # no engine here: nothing of docker's to show or prune
        return []
    found = []
    for image in images:
        key = image.labels.get(IMAGE_LABEL_KEY, "")
        # Only the images this cache built or used: another cache folder (another user,
        # a test run) keeps its own.
        if not key or not Path(str(bookkeeping / key) + ".lock").exists():
            continue
        found.append(CacheEntry("docker", key, int(image.attrs.get("Size") or 0),
                                _last_used(bookkeeping / key), image_id=image.id))
    return found


def remove(entry: CacheEntry) -> bool:
    """Remove one entry unless a check holds it right now; True when removed."""
    from filelock import Timeout

    if entry.image_id is not None:
        try:
            import docker

            docker.from_env(timeout=30).images.remove(entry.image_id)
            return True
        except Exception:  # in use by a container, or already gone
            return False
    assert entry.path is not None
    try:
        with locked(entry.path, timeout=0.1):
            if entry.path.is_dir() and not entry.path.is_symlink():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink(missing_ok=True)
    except Timeout:
        return False
    Path(str(entry.path) + ".lock").unlink(missing_ok=True)
    return True


def prune(max_size: int, now: float | None = None) -> tuple[list[CacheEntry], int]:
    """Remove least recently used entries until the cache is at most `max_size`
    bytes; entries used in the last minutes are kept. Returns (removed, size left)."""
    import time

    now = now or time.time()
    found = entries()
    total = sum(e.size for e in found)
    removed: list[CacheEntry] = []
    for entry in found:
        if total <= max_size:
            break
        if now - entry.last_used < RECENT:
            continue
        if remove(entry):
            removed.append(entry)
            total -= entry.size
    return removed, total


def clear() -> list[CacheEntry]:
    return [e for e in entries() if remove(e)]
