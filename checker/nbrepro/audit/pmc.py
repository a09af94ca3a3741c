"""The published study's first stage: search PubMed Central's full text with NCBI's
E-utilities, fetch each article's XML, and keep the GitHub repositories it links
with the article's metadata (PMCID, PMID, DOI, title, journal, year).

NCBI asks for at most 3 requests a second, 10 with an API key (`$NCBI_API_KEY`);
requests are spaced accordingly. The address is `$NBREPRO_EUTILS_URL` (tests answer
from recorded responses on 127.0.0.1).
"""

from __future__ import annotations

import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import requests

from nbrepro.audit.sources import Publication, Repository, SourceList, normalise
from nbrepro.errors import InputError

DEFAULT_EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
TIMEOUT = 60
BATCH = 100  # articles per efetch request
SEARCH_PAGE = 500

_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?github\.com/[A-Za-z0-9-]+/[A-Za-z0-9._-]+[^\s<>\"']*"
    r"|(?:https?://)?[A-Za-z0-9-]+\.github\.io(?:/[A-Za-z0-9._-]+)?",
    re.I,
)
_XLINK = "{http://www.w3.org/1999/xlink}href"


def eutils_url() -> str:
    return os.environ.get("NBREPRO_EUTILS_URL", DEFAULT_EUTILS).rstrip("/")


class PubMedCentral:
    def __init__(self, base: str | None = None, api_key: str | None = None,
                 say: Callable[[str], None] = lambda _m: None) -> None:
        self.base = (base or eutils_url()).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("NCBI_API_KEY")
        self.interval = 0.1 if self.api_key else 1 / 3 + 0.01  # NCBI's request rate
        self.say = say
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "nbrepro"
        self._last = 0.0

    def _get(self, tool: str, params: dict[str, Any]) -> ET.Element:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        params = {**params, "tool": "nbrepro"}
        if os.environ.get("NCBI_EMAIL"):
            params["email"] = os.environ["NCBI_EMAIL"]
        if self.api_key:
            params["api_key"] = self.api_key
        for attempt in range(4):
            self._last = time.monotonic()
            try:
                response = self.http.post(f"{self.base}/{tool}", data=params, timeout=TIMEOUT)
            except requests.RequestException as exc:
                raise InputError(f"NCBI E-utilities {self.base}: {type(exc).__name__}") \
                    from None
            if response.status_code == 429 and attempt < 3:  # over the rate: back off
                self.say("NCBI rate limit reached: waiting 2 s")
                time.sleep(2.0 * (attempt + 1))
                continue
            if response.status_code != 200:
                raise InputError(f"NCBI {tool}: HTTP {response.status_code}")
            try:
                return ET.fromstring(response.content)
            except ET.ParseError as exc:
                raise InputError(f"NCBI {tool}: unreadable XML ({exc})") from None
        raise InputError(f"NCBI {tool}: still rate limited")

    def search_ids(self, query: str, limit: int | None) -> list[str]:
        ids: list[str] = []
        start = 0
        while True:
            root = self._get("esearch.fcgi", {"db": "pmc", "term": query,
                                              "retstart": start, "retmax": SEARCH_PAGE})
            error = root.findtext("ERROR")
            if error:
                raise InputError(f"PubMed Central search {query!r}: {error}")
            page = [e.text.strip() for e in root.iterfind("IdList/Id") if e.text]
            ids += page
            count = int(root.findtext("Count") or 0)
            start += len(page)
            if not page or start >= count or (limit is not None and len(ids) >= limit):
                break
        return ids[:limit] if limit is not None else ids

    def articles(self, ids: list[str]) -> Iterator[ET.Element]:
        for first in range(0, len(ids), BATCH):
            batch = ids[first:first + BATCH]
            self.say(f"PubMed Central: fetching articles {first + 1}-{first + len(batch)} "
                     f"of {len(ids)}")
            root = self._get("efetch.fcgi", {"db": "pmc", "id": ",".join(batch),
                                             "retmode": "xml"})
            yield from root.iter("article")

    def search(self, query: str, into: SourceList, limit: int | None = None) -> int:
        """Add the repositories linked by the articles `query` finds; returns how many
        articles were read. `limit` bounds the number of repositories."""
        label = f"pmc search {query!r}"
        ids = self.search_ids(query, None)
        read = 0
        for article in self.articles(ids):
            read += 1
            publication = article_metadata(article)
            linked: set[str] = set()  # one article naming a repository twice links it once
            for link in repository_links(article):
                try:
                    url, full_name = normalise(link)
                except InputError as exc:
                    into.problem(label, None, link, f"{publication.pmcid}: {exc}")
                    continue
                if url not in linked:
                    linked.add(url)
                    into.add(Repository(url, full_name, [publication]), label, None, link)
            if limit is not None and len(into.repositories) >= limit:
                break
        return read


def article_metadata(article: ET.Element) -> Publication:
    meta = article.find("front/article-meta")
    journal = article.find("front/journal-meta")
    ids: dict[str, str] = {}
    if meta is not None:
        for node in meta.iterfind("article-id"):
            kind = (node.get("pub-id-type") or "").lower()
            if node.text:
                ids[kind] = node.text.strip()
    pmcid = ids.get("pmcid") or ids.get("pmc") or ids.get("pmcaid")
    if pmcid and not pmcid.upper().startswith("PMC"):
        pmcid = f"PMC{pmcid}"
    title = _text(meta.find("title-group/article-title")) if meta is not None else None
    journal_title = None
    if journal is not None:
        journal_title = _text(journal.find("journal-title-group/journal-title")) or _text(
            journal.find("journal-title"))
    year = None
    if meta is not None:
        # the earliest publication date given (epub before ppub)
        years = [int(y.text) for y in meta.iterfind("pub-date/year")
                 if y.text and y.text.strip().isdigit()]
        year = min(years) if years else None
    return Publication(doi=ids.get("doi"), pmcid=pmcid, pmid=ids.get("pmid"), title=title,
                       journal=journal_title, year=year)


def repository_links(article: ET.Element) -> list[str]:
    """GitHub links of an article, in order of appearance, each once: hyperlinks
    (`ext-link`, `uri`) and links written as plain text."""
    found: list[str] = []
    for node in article.iter():
        href = node.get(_XLINK)
        if href:
            found += _LINK.findall(href)
        for chunk in (node.text, node.tail):
            if chunk:
                found += _LINK.findall(chunk)
    seen: dict[str, None] = {}
    for link in found:
        seen.setdefault(link, None)
    return list(seen)


def _text(node: ET.Element | None) -> str | None:
    if node is None:
        return None
    text = " ".join("".join(node.itertext()).split())
    return text or None
