"""Stable IRIs for every entity, derived from the repository URL, commit and path.

Two exports of the same results give the same IRIs, and two databases that
checked the same commit name its notebooks and cells alike (their runs differ).
Every part that comes from an audited repository or a user's list (notebook
paths, URLs, DOIs) is percent-encoded whole, so no crafted name can break an
IRI, reach into another entity's IRI or carry credentials into the graph.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import SplitResult, quote, urlsplit

from nbrepro.graph.vocabulary import ID

# Characters kept as they are inside one percent-encoded segment.
_SAFE = "-._~"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_SCP = re.compile(r"^[\w.\-]+@([\w.\-]+):(.+)$")  # git@github.com:owner/name.git


def segment(text: str) -> str:
    """One IRI path segment: everything but unreserved characters encoded (also
    '/', so a crafted path cannot add segments); '.' and '..' encoded too."""
    encoded = quote(text, safe=_SAFE)
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def repository_key(source: str, path: str | None = None) -> str:
    """What names a repository: host and path of its URL (no scheme, credentials,
    query, `.git` or trailing slash; GitHub names lower-cased as GitHub treats
    them), or `local` and the folder that was checked."""
    text = source.strip()
    scp = _SCP.match(text)
    if scp and not _SCHEME.match(text):
        text = f"ssh://{scp.group(1)}/{scp.group(2)}"
    if _SCHEME.match(text) and not text.lower().startswith("file://"):
        parts = urlsplit(text)
        host = _host(parts)
        name = parts.path.strip("/")
        name = name[:-4] if name.endswith(".git") else name
        if host in ("github.com", "www.github.com"):
            host, name = "github.com", name.lower()
        return "/".join([host, *(n for n in name.split("/") if n)])
    folder = path or (urlsplit(text).path if text.lower().startswith("file://") else text)
    return "local/" + folder.strip("/")


def repository(source: str, path: str | None = None) -> str:
    key = repository_key(source, path)
    return ID + "repository/" + "/".join(segment(part) for part in key.split("/"))


def commit(repo_iri: str, sha: str | None) -> str:
    # A folder that is not a git work tree has no commit: its notebooks are named
    # after the folder as it was ("worktree").
    return f"{repo_iri}/commit/{segment(sha) if sha else 'worktree'}"


def notebook(commit_iri: str, path: str) -> str:
    return f"{commit_iri}/notebook/{segment(path)}"


def cell(notebook_iri: str, index: int) -> str:
    return f"{notebook_iri}/cell/{index}"


def check(commit_iri: str, check_id: int, created: datetime | None) -> str:
    stamp = created.strftime("%Y%m%dT%H%M%SZ") if created else "undated"
    return f"{commit_iri}/check/{stamp}-{check_id}"


def run(check_iri: str, path: str) -> str:
    return f"{check_iri}/run/{segment(path)}"


def audit(name: str) -> str:
    return ID + "audit/" + segment(name)


def software(version: str) -> str:
    return ID + "software/nbrepro/" + segment(version or "unknown")


def package_version(name: str, version: str) -> str:
    """A released distribution, named by its page on the Python Package Index."""
    return f"https://pypi.org/project/{segment(name)}/{segment(version)}/"


def article(doi: str | None, pmcid: str | None, pmid: str | None, title: str | None) -> str:
    """An article by its most durable identifier: DOI, then PMCID, then PMID."""
    if doi:
        return "https://doi.org/" + quote(doi.strip(), safe="/:;()._-")
    if pmcid:
        return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{segment(pmcid.strip())}/"
    if pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{segment(pmid.strip())}/"
    return ID + "article/" + segment(title or "untitled")


def license_iri(spdx: str) -> str | None:
    """The SPDX page of a licence identifier (GitHub's `spdx_id`); None for GitHub's
    `NOASSERTION` and anything that is not an identifier."""
    if not re.fullmatch(r"[A-Za-z0-9.+\-]{1,64}", spdx) or spdx.upper() == "NOASSERTION":
        return None
    return f"https://spdx.org/licenses/{spdx}"


def web_location(source: str) -> str | None:
    """The repository's http(s), git or ssh URL without credentials, query or
    fragment (its `doap:location`); None for a local folder."""
    text = source.strip()
    if not re.match(r"^(https?|git|ssh)://", text, re.I):
        return None
    parts = urlsplit(text)
    if not parts.hostname:
        return None
    clean = parts._replace(netloc=_host(parts), query="", fragment="").geturl()
    return quote(clean, safe=":/%-._~")


def _host(parts: SplitResult) -> str:
    """Host and port of a URL, never its user name or password."""
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a crafted port
        port = None
    return f"{host}:{port}" if port else host
