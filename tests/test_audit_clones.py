"""Clones in an audit: made ahead by the audit process for the worker that takes the
repository next, each task's clone its own, and nothing left behind."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from nbrepro import cache
from nbrepro.audit.prefetch import ClonePrefetcher
from nbrepro.audit.tasks import clone, run_repository
from tests.stand_ins import bare_repository, services


def _clones() -> set[Path]:
    folder = cache.cache_root() / "clones"
    return {p for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()


def _cloned_ahead(url: str) -> dict | None:
    ahead = ClonePrefetcher()
    try:
        ahead.ahead([url])
        return ahead.take(url)
    finally:
        ahead.close()


def test_the_task_checks_the_clone_made_ahead_and_removes_it(tmp_path: Path) -> None:
    bare = bare_repository(tmp_path, "made-ahead.git", {"README.md": "no notebooks\n"})
    url = f"file://{bare}"
    before = _clones()
    cloned = _cloned_ahead(url)
    assert cloned is not None and (Path(cloned["path"]) / "README.md").is_file()
    # gone from the server now: a task that cloned again would find it unreachable
    shutil.rmtree(bare)
    outcome = run_repository({"id": 1, "url": url, "github_metadata": False,
                              "cloned": cloned})
    assert outcome["status"] == "checked", outcome
    assert outcome["commit"] == cloned["commit"] and outcome["result"]["notebooks"] == []
    assert _clones() == before  # the task owned the clone and removed it


def test_what_cloning_ahead_found_unreachable_is_reported_as_such(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'missing.git'}"
    cloned = _cloned_ahead(url)
    assert cloned is not None and "reason" in cloned
    outcome = run_repository({"id": 1, "url": url, "github_metadata": False,
                              "cloned": cloned})
    assert outcome["status"] == "unreachable" and outcome["reason"] == cloned["reason"]


def test_clones_nobody_took_are_removed_when_the_audit_ends(tmp_path: Path) -> None:
    urls = [f"file://{bare_repository(tmp_path, f'r{i}.git', {'a.txt': str(i)})}"
            for i in range(3)]
    before = _clones()
    ahead = ClonePrefetcher()
    ahead.ahead(urls)
    deadline = time.monotonic() + 60
    while len(_clones() - before) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_clones() - before) == 3
    ahead.close()
    while _clones() != before and time.monotonic() < deadline:  # one may be finishing
        time.sleep(0.05)
    assert _clones() == before


def test_two_fresh_clones_of_one_commit_are_each_their_own(tmp_path: Path) -> None:
    # Two tasks (two audit clients, or a clone made ahead and a worker) may clone the
    # same repository at once; the first to finish removes its clone, never the other's.
    bare = bare_repository(tmp_path, "shared.git", {"data.csv": "a,b\n"})
    url = f"file://{bare}"
    first, one = clone(url)
    second, two = clone(url)
    assert not isinstance(one, str) and not isinstance(two, str)
    assert one.commit == two.commit and first != second
    shutil.rmtree(first)
    assert (second / "data.csv").read_text() == "a,b\n"
    shutil.rmtree(second)


def test_the_first_repositories_of_all_workers_clone_at_once(tmp_path: Path) -> None:
    # One thread per worker: at the start of an audit no worker waits for the clones
    # of the others' repositories (a slow server makes each clone take a while).
    root = tmp_path / "git"
    for name in ("one", "two"):
        bare_repository(root / "lab", f"{name}.git", {"README.md": name})
    with services(root) as running:
        running.server.git_delay = 0.4
        ahead = ClonePrefetcher(threads=2)
        try:
            ahead.ahead([running.url("lab/one.git"), running.url("lab/two.git")])
            cloned = [ahead.take(running.url(f"lab/{name}.git")) for name in ("one", "two")]
        finally:
            ahead.close()
        assert all(c is not None and "path" in c for c in cloned), cloned
        spans = {repo: [(start, end) for path, start, end in running.server.git_times
                        if path.startswith(f"/lab/{repo}.git")] for repo in ("one", "two")}
        # the second clone began before the first had ended
        assert min(s for s, _ in spans["two"]) < max(e for _, e in spans["one"]), spans
