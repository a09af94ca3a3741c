"""Where an audit's repositories come from: text and CSV lists, GitHub's search, and
PubMed Central articles; and how a repository link is normalised.

Every entry becomes a `Repository`: one normalised URL (so `owner/name`,
`https://github.com/owner/name/tree/main/` and `git@github.com:owner/name.git` are
one repository), the publications that link it, and what the GitHub API said of it
when a search returned it. Lines that name no repository, and repositories already
listed, are `InputProblem`s: the audit reports them and goes on.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nbrepro.errors import InputError

DEFAULT_GITHUB_URL = "https://github.com"

# First path parts of github.com that are pages, not owners.
_RESERVED_OWNERS = frozenset({
    "about", "apps", "blog", "collections", "contact", "customer-stories", "enterprise",
    "explore", "features", "issues", "join", "login", "marketplace", "new", "notifications",
    "orgs", "organizations", "pricing", "pulls", "search", "security", "settings", "site",
    "sponsors", "topics", "trending", "users",
})
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.I)
# Characters that end a link in running text but are never part of a repository name.
_TRAILING = ".,;:!?)]}>'\"\u201d\u2019*"

PUBLICATION_FIELDS = ("doi", "pmcid", "pmid", "title", "journal", "year")
_URL_COLUMNS = ("repository", "repo", "url", "github", "repository_url", "repo_url",
                "github_url", "link")


def github_url() -> str:
    """The web address of GitHub (`$NBREPRO_GITHUB_URL`; tests point it at a local
    server): `owner/name` entries are repositories there."""
    return os.environ.get("NBREPRO_GITHUB_URL", DEFAULT_GITHUB_URL).rstrip("/")


@dataclass
class Publication:
    doi: str | None = None
    pmcid: str | None = None
    pmid: str | None = None
    title: str | None = None
    journal: str | None = None
    year: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def identity(self) -> tuple[Any, ...]:
        return (self.doi, self.pmcid, self.pmid, self.title)

    def to_dict(self) -> dict[str, Any]:
        return {"doi": self.doi, "pmcid": self.pmcid, "pmid": self.pmid, "title": self.title,
                "journal": self.journal, "year": self.year, "extra": dict(self.extra)}


@dataclass
class Repository:
    url: str  # normalised clone URL (also the audit's key for the repository)
    full_name: str | None = None  # owner/name when it is a GitHub repository
    publications: list[Publication] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)  # from the GitHub API


@dataclass
class InputProblem:
    source: str  # the list, or the search
    line: int | None
    text: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "text": self.text,
                "reason": self.reason}


@dataclass
class SourceList:
    """Repositories in the order first listed, and what could not be used."""

    repositories: list[Repository] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    entries: int = 0  # lines, rows and search results read
    _index: dict[str, Repository] = field(default_factory=dict)

    def add(self, repo: Repository, source: str, line: int | None, text: str) -> None:
        self.entries += 1
        known = self._index.get(repo.url)
        if known is None:
            self._index[repo.url] = repo
            self.repositories.append(repo)
            return
        # Another article linking the same repository is new metadata, not a duplicate.
        new = [p for p in repo.publications
               if p.identity() not in {k.identity() for k in known.publications}]
        known.publications.extend(new)
        known.metadata = known.metadata or repo.metadata
        if not new:
            self.problems.append(InputProblem(source, line, text,
                                              f"duplicate of {known.url}"))

    def problem(self, source: str, line: int | None, text: str, reason: str) -> None:
        self.entries += 1
        self.problems.append(InputProblem(source, line, text, reason))


def normalise(text: str, base: str | None = None) -> tuple[str, str | None]:
    """A repository link as written -> (clone URL, `owner/name` on GitHub or None).

    Raises `InputError` when `text` names no repository."""
    base = (base or github_url()).rstrip("/")
    link = text.strip().strip("<>").rstrip(_TRAILING).strip()
    if not link:
        raise InputError("empty")
    github_host = urlsplit(base).netloc.lower()
    m = re.match(r"^git@([^:]+):(.+)$", link)
    if m:  # scp-like ssh address
        host, path = m.group(1).lower(), m.group(2)
        if host in ("github.com", github_host):
            return _github(path, base, text)
        return link, None
    if not SCHEME.match(link):
        if re.match(r"^(www\.)?github\.com/", link, re.I) or re.match(
                r"^[\w-]+\.github\.io(/|$)", link, re.I):
            link = "https://" + link
        elif re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", link):
            return _github(link, base, text)
        else:
            raise InputError("not a repository URL or owner/name")
    parts = urlsplit(link)
    host = parts.netloc.lower().split("@")[-1]
    path = parts.path
    if host in ("github.com", "www.github.com") or (host == github_host and
                                                    parts.scheme != "file"):
        return _github(path, base, text)
    if host.endswith(".github.io"):
        # a project page: owner.github.io/name -> owner/name; a user page is the
        # repository owner.github.io itself
        owner = host.removesuffix(".github.io")
        first = [p for p in path.split("/") if p][:1]
        name = first[0] if first and _NAME.match(first[0]) and "." not in first[0] \
            else f"{owner}.github.io"
        return _github(f"{owner}/{name}", base, text)
    if parts.scheme not in ("https", "http", "git", "ssh", "file"):
        raise InputError(f"unsupported URL scheme {parts.scheme!r}")
    if parts.scheme == "file":
        return link.rstrip("/"), None
    if not host:
        raise InputError("URL without a host")
    # any other git host: keep the address, without a fragment, query or trailing slash
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}", None


def _github(path: str, base: str, text: str) -> tuple[str, str]:
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        raise InputError("a GitHub link without owner/name")
    owner, name = parts[0], parts[1].split("#")[0].split("?")[0]
    name = name.removesuffix(".git").rstrip(_TRAILING)
    if owner.lower() in _RESERVED_OWNERS:
        raise InputError(f"a GitHub page, not a repository ({owner}/...)")
    if not _OWNER.match(owner) or not _NAME.match(name) or name in (".", ".."):
        raise InputError("not a valid GitHub owner/name")
    return f"{base}/{owner}/{name}", f"{owner}/{name}"


def _is_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def read_text_list(path: Path, into: SourceList) -> None:
    """One repository per line: a URL or `owner/name`; `#` comments, blank lines."""
    label = str(path)
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if _is_comment(line):
            continue
        text = line.split(" #")[0].strip()  # an inline comment after the link
        try:
            url, full_name = normalise(text)
        except InputError as exc:
            into.problem(label, number, line.strip(), str(exc))
            continue
        into.add(Repository(url, full_name), label, number, line.strip())


def read_csv_list(path: Path, into: SourceList) -> None:
    """A CSV with a repository column; DOI, PMCID, PMID, title, journal and year
    columns (any subset) become the publication, other columns are kept with it."""
    label = str(path)
    text = _read(path)
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab \
        if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.DictReader(io.StringIO("\n".join(lines)), dialect=dialect)
    headers = {h.strip().lower(): h for h in (reader.fieldnames or []) if h}
    column = next((headers[c] for c in _URL_COLUMNS if c in headers), None)
    if column is None:
        raise InputError(f"{path}: no repository column (one of: {', '.join(_URL_COLUMNS)})")
    for number, row in enumerate(reader, start=2):
        raw = (row.get(column) or "").strip()
        if not raw:
            into.problem(label, number, ",".join(v or "" for v in row.values()),
                         "no repository in this row")
            continue
        try:
            url, full_name = normalise(raw)
        except InputError as exc:
            into.problem(label, number, raw, str(exc))
            continue
        publication = _publication(
            {k.strip().lower(): (v or "").strip() for k, v in row.items()
             if k and k != column})
        pubs = [publication] if any(publication.identity()) or publication.journal else []
        into.add(Repository(url, full_name, pubs), label, number, raw)


def _publication(values: dict[str, str]) -> Publication:
    year = values.get("year") or ""
    return Publication(
        doi=values.get("doi") or None, pmcid=values.get("pmcid") or None,
        pmid=values.get("pmid") or None, title=values.get("title") or None,
        journal=values.get("journal") or None,
        year=int(year) if year.isdigit() else None,
        extra={k: v for k, v in values.items() if k not in PUBLICATION_FIELDS and v},
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise InputError(f"no such source file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"a source is a folder, not a list: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
