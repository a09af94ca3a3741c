"""An audit's list of repositories, gathered from every kind of source: list files
(text or CSV), GitHub's search and PubMed Central's articles."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from nbrepro.audit.sources import (
    SCHEME,
    Repository,
    SourceList,
    normalise,
    read_csv_list,
    read_text_list,
)
from nbrepro.errors import InputError


def read_sources(
    files: Iterable[str],
    github_queries: Iterable[str] = (),
    pmc_queries: Iterable[str] = (),
    limit: int | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> SourceList:
    """All repositories of the given lists and searches, de-duplicated, in order.

    A file argument that is itself a repository URL is one entry. Raises
    `InputError` when a source cannot be read or nothing at all was found."""
    found = SourceList()
    for item in files:
        path = Path(item).expanduser()
        if SCHEME.match(item) and not path.exists():
            try:
                url, full_name = normalise(item)
            except InputError as exc:
                raise InputError(f"{item}: {exc}") from None
            found.add(Repository(url, full_name), "arguments", None, item)
        elif path.suffix.lower() in (".csv", ".tsv"):
            read_csv_list(path, found)
        else:
            read_text_list(path, found)
    # The search clients (and `requests`) are imported only by audits that search:
    # an audit of lists starts sooner.
    for query in github_queries:
        from nbrepro.audit.github import GitHub

        GitHub(say=say).search(query, found, limit=limit)
    for query in pmc_queries:
        from nbrepro.audit.pmc import PubMedCentral

        PubMedCentral(say=say).search(query, found, limit=limit)
    if not found.repositories:
        what = ", ".join([*files, *(f"search {q!r}" for q in [*github_queries, *pmc_queries])])
        detail = f" ({len(found.problems)} line(s) unusable)" if found.problems else ""
        raise InputError(f"no repositories found in {what}{detail}")
    if limit is not None:
        found.repositories = found.repositories[:limit]
    return found
