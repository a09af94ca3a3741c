"""`nbrepro cache`: what the cache holds, pruning to a size (least recently used
first, recently used entries kept) and clearing it."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbrepro import cache


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    saved = os.environ.get("NBREPRO_CACHE_DIR")
    os.environ["NBREPRO_CACHE_DIR"] = str(tmp_path / "cache")
    yield tmp_path / "cache"
    if saved is None:
        os.environ.pop("NBREPRO_CACHE_DIR", None)
    else:
        os.environ["NBREPRO_CACHE_DIR"] = saved


def _entry(root: Path, kind: str, key: str, size: int, used_ago: float) -> Path:
    path = root / kind / key
    path.mkdir(parents=True)
    (path / "blob").write_bytes(b"x" * size)
    lock = Path(str(path) + ".lock")
    lock.write_text("")
    when = time.time() - used_ago
    for made in (lock, path / "blob", path):  # built and last used `used_ago` seconds ago
        os.utime(made, (when, when))
    return path


def _cli(*args: str) -> tuple[int, str]:
    from nbrepro.cli import main

    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(["cache", *args])
        except SystemExit as stopped:
            code = int(stopped.code or 0)
    return code, out.getvalue()


def test_using_an_entry_marks_it_as_recently_used(cache_dir: Path) -> None:
    old = _entry(cache_dir, "envs", "a", 10, used_ago=86400)
    with cache.locked(old):
        pass
    (entry,) = cache.entries(docker_images=False)
    assert time.time() - entry.last_used < 60


def test_prune_removes_least_recently_used_first_and_keeps_recent_ones(
        cache_dir: Path) -> None:
    oldest = _entry(cache_dir, "envs", "oldest", 4000, used_ago=3 * 86400)
    older = _entry(cache_dir, "clones", "older", 3000, used_ago=2 * 86400)
    old = _entry(cache_dir, "envs", "old", 2000, used_ago=86400)
    fresh = _entry(cache_dir, "envs", "fresh", 5000, used_ago=5)  # maybe in use now
    code, out = _cli("list")
    assert code == 0 and "envs" in out and "clones" in out
    code, out = _cli("prune", "--max-size", "9k")
    assert code == 0
    assert not oldest.exists() and not older.exists()
    assert old.exists() and fresh.exists()
    assert "removed 2 entries" in out
    code, _ = _cli("prune", "--max-size", "1k")
    assert not old.exists() and fresh.exists()  # a recently used entry is never pruned
    code, out = _cli("clear")
    assert not fresh.exists() and "removed 1 entry" in out


def test_a_bad_size_is_one_line_exit_2(cache_dir: Path) -> None:
    from nbrepro.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stopped:
        main(["cache", "prune", "--max-size", "lots"])
    assert stopped.value.code == 2
    assert err.getvalue().count("\n") == 1 and "not a size" in err.getvalue()
