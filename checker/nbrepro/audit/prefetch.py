"""Clones fetched ahead of the workers.

While the workers check repositories, the audit process clones the next ones in the
queue (one background thread per worker, so the first repositories of all workers
clone at once) into the cache the workers read, so a worker that takes the next
repository starts checking it at once instead of waiting for git. Only for executors
whose workers share this machine's files (the local pool, a local Dask cluster); a
clone handed over becomes the task's, which removes it after the check unless clones
are kept.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nbrepro.audit.tasks import prefetch_clone


class ClonePrefetcher:
    def __init__(self, threads: int = 1) -> None:
        self._changed = threading.Condition()
        self._wanted: list[str] = []  # to clone next, in order
        self._current: set[str] = set()  # being cloned
        self._results: dict[str, dict[str, Any]] = {}  # cloned, not taken yet
        self._closed = False
        self._threads = max(1, threads)
        # Daemon threads: an interrupted audit does not wait for a slow clone to end.
        for number in range(self._threads):
            threading.Thread(target=self._work, name=f"nbrepro-clone-ahead-{number + 1}",
                             daemon=True).start()

    def ahead(self, urls: Iterable[str]) -> None:
        """Clone these repositories next (those not asked for already), in order."""
        with self._changed:
            for url in urls:
                if url not in self._wanted and url not in self._results \
                        and url not in self._current:
                    self._wanted.append(url)
            self._changed.notify_all()

    def take(self, url: str) -> dict[str, Any] | None:
        """The clone of `url` (`tasks.prefetch_clone`'s answer), waiting for it when it
        is under way or next for a free thread; None when it waits behind others (the
        worker then clones it) or was never asked for."""
        with self._changed:
            while url in self._current or (
                    len(self._current) < self._threads and not self._closed
                    and self._wanted[:1] == [url]):
                self._changed.wait()
            if url in self._wanted:
                self._wanted.remove(url)
                return None
            return self._results.pop(url, None)

    def close(self) -> None:
        """Stop cloning ahead and remove the clones nobody took."""
        with self._changed:
            self._closed = True
            self._wanted.clear()
            untaken = list(self._results.values())
            self._results.clear()
            self._changed.notify_all()
        for cloned in untaken:
            _discard(cloned)

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._wanted and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                url = self._wanted.pop(0)
                self._current.add(url)
            try:
                cloned: dict[str, Any] | None = prefetch_clone(url)
            except Exception:  # nbrepro's own failure: the worker clones and says why
                cloned = None
            with self._changed:
                self._current.discard(url)
                if cloned is not None and not self._closed:
                    self._results[url], cloned = cloned, None
                self._changed.notify_all()
            if cloned is not None:  # closed meanwhile: nobody will take it
                _discard(cloned)


def _discard(cloned: dict[str, Any] | None) -> None:
    """Remove a clone made ahead that no task will use."""
    if cloned and cloned.get("path"):
        shutil.rmtree(Path(cloned["path"]), ignore_errors=True)
