"""What a distribution on PyPI really provides: the top-level modules of its wheel.

Restoration (`nbrepro.stages.restore`) installs a distribution for an undeclared
import only when the registry shows that its wheel provides that module. The wheel
is read where it lies, by HTTP range requests: its zip directory, then
`*.dist-info/RECORD` and `top_level.txt`. A wheel served without ranges is
downloaded into nbrepro's cache. Answers are cached (`registry/` in the cache) for
`ANSWER_DAYS`, refusals included, so a check asks the registry once per name.

Names reach the registry only after `valid_distribution_name`: nothing that could be
read as a URL, a path or an option is ever sent, or handed to an installer.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from packaging.utils import canonicalize_name

from nbrepro import cache

if TYPE_CHECKING:
    import requests

PYPI_URL = "https://pypi.org"
ANSWER_DAYS = 7
TIMEOUT = 30.0
BLOCK = 64 * 1024  # bytes fetched per range request
RECORD_LIMIT = 8 * 1024 * 1024  # a RECORD (or top_level.txt) longer than this is not read
DOWNLOAD_LIMIT = 512 * 1024 * 1024  # a wheel served without ranges is downloaded up to this

# PEP 508 names: letters, digits, and . _ - inside. Nothing else reaches the registry.
_DISTRIBUTION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")


def valid_distribution_name(name: str) -> bool:
    return bool(_DISTRIBUTION.fullmatch(name)) and ".." not in name


def valid_module_name(name: str) -> bool:
    """A top-level Python module name (ASCII identifier): never a path, URL or option."""
    return name.isascii() and name.isidentifier() and len(name) <= 100


@dataclass
class WheelModules:
    """What the registry says about one distribution: the modules of its latest wheel,
    or why there is no answer."""

    distribution: str  # as asked
    found: bool
    name: str | None = None  # as the registry spells the project
    version: str | None = None
    wheel: str | None = None  # the wheel's file name
    modules: list[str] = field(default_factory=list)  # top-level modules it installs
    top_level: list[str] = field(default_factory=list)  # top_level.txt, when it has one
    reason: str | None = None  # why not found
    asked_at: float = 0.0

    def provides(self, module: str) -> bool:
        return self.found and module in self.modules

    def evidence(self, module: str) -> str:
        where = "top_level.txt" if module in self.top_level else "RECORD"
        return f"{module} in the {where} of {self.wheel}"


class RegistryError(Exception):
    """The registry could not be asked (network, server): no answer, and none cached."""


def wheel_modules(distribution: str, use_cache: bool = True) -> WheelModules:
    """The top-level modules the latest wheel of `distribution` installs. Raises
    `RegistryError` when the registry cannot be reached; a project without a wheel or
    that does not exist is an answer (`found` False, with the reason)."""
    if not valid_distribution_name(distribution):
        return WheelModules(distribution, False, reason="not a distribution name")
    key = canonicalize_name(distribution)
    path = cache.entry("registry", cache.content_key("pypi-wheel-modules", key) + ".json")
    with cache.locked(path):
        if use_cache and path.is_file():
            try:
                data = json.loads(path.read_text())
                answer = WheelModules(**data)
                if time.time() - answer.asked_at < ANSWER_DAYS * 86400:
                    return answer
            except (ValueError, TypeError):
                pass  # an unreadable entry is asked again
        answer = _ask(distribution)
        answer.asked_at = time.time()
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(asdict(answer)))
        partial.replace(path)
        return answer


def _registry_url() -> str:
    return os.environ.get("NBREPRO_PYPI_URL", PYPI_URL).rstrip("/")


def _ask(distribution: str) -> WheelModules:
    import requests  # only when the registry is asked: most checks never do

    http = requests.Session()
    try:
        response = http.get(f"{_registry_url()}/pypi/{distribution}/json", timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise RegistryError(f"PyPI could not be asked about {distribution}: {exc}") from None
    if response.status_code == 404:
        return WheelModules(distribution, False, reason="no such project on PyPI")
    if response.status_code != 200:
        raise RegistryError(f"PyPI answered {response.status_code} about {distribution}")
    try:
        doc = response.json()
        info, files = doc["info"], doc["urls"]
        name, version = str(info["name"]), str(info["version"])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"PyPI's answer about {distribution} is not understood") from None
    # A mirror may give file addresses relative to the answer's own.
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            entry["url"] = urljoin(response.url, entry["url"])
    wheel = _pick_wheel(files)
    if wheel is None:
        return WheelModules(distribution, False, name=name, version=version,
                            reason=f"the latest release ({version}) has no wheel to verify")
    try:
        with _open_remote(http, wheel["url"], int(wheel.get("size") or 0),
                          wheel["filename"]) as handle, zipfile.ZipFile(handle) as archive:
            modules, top_level = _modules_of(archive)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        return WheelModules(distribution, False, name=name, version=version,
                            wheel=wheel["filename"], reason=f"its wheel could not be read ({exc})")
    except requests.RequestException as exc:
        raise RegistryError(f"the wheel of {distribution} could not be read: {exc}") from None
    return WheelModules(distribution, True, name=name, version=version,
                        wheel=wheel["filename"], modules=modules, top_level=top_level)


def _pick_wheel(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A wheel of the latest release: a pure-Python one first, then one for Linux
    x86-64 (the modules are the same; the pure one is smallest to read)."""
    wheels = [f for f in files if isinstance(f, dict) and str(f.get("filename", "")).endswith(
        ".whl") and not f.get("yanked") and str(f.get("url", "")).startswith(("https://", "http://"))]

    def rank(f: dict[str, Any]) -> tuple[int, int]:
        name = str(f["filename"])
        pure = name.endswith("-none-any.whl")
        linux = "manylinux" in name and "x86_64" in name
        return (0 if pure else 1 if linux else 2, int(f.get("size") or 0))

    return min(wheels, key=rank) if wheels else None


def _modules_of(archive: zipfile.ZipFile) -> tuple[list[str], list[str]]:
    """(top-level modules from RECORD or the zip listing, top_level.txt's names)."""
    names = archive.namelist()
    dist_info = sorted({n.split("/", 1)[0] for n in names
                        if n.split("/", 1)[0].endswith(".dist-info")})
    listed = names
    top_level: list[str] = []
    for folder in dist_info[:1]:
        record = f"{folder}/RECORD"
        if record in names and archive.getinfo(record).file_size <= RECORD_LIMIT:
            text = archive.read(record).decode("utf-8", "replace")
            listed = [line.split(",", 1)[0] for line in text.splitlines() if line.strip()]
        top = f"{folder}/top_level.txt"
        if top in names and archive.getinfo(top).file_size <= RECORD_LIMIT:
            top_level = sorted({line.strip().split("/")[0] for line in
                                archive.read(top).decode("utf-8", "replace").splitlines()
                                if valid_module_name(line.strip().split("/")[0])})
    modules = {m for m in (_top_module(p) for p in listed) if m}
    return sorted(modules | set(top_level)), top_level


def _top_module(path: str) -> str | None:
    """The importable top-level name a wheel path installs, if any."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 3 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
        parts = parts[2:]
    if not parts or parts[0].endswith((".dist-info", ".data")):
        return None
    first = parts[0]
    if len(parts) == 1:  # a module file at the top: name.py, name.cpython-312-x86_64.so
        if not first.endswith((".py", ".so", ".pyd")):
            return None
        first = first.split(".", 1)[0]
    return first if valid_module_name(first) else None


class _RangeReader(io.RawIOBase):
    """A remote file read by HTTP range requests, in blocks: enough for `zipfile`,
    which reads the directory at the end and then the members it is asked for."""

    def __init__(self, http: requests.Session, url: str, size: int) -> None:
        self.http, self.url, self.size, self.position = http, url, size, 0
        self.blocks: dict[int, bytes] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _block(self, index: int) -> bytes:
        if index not in self.blocks:
            start = index * BLOCK
            end = min(self.size, start + BLOCK) - 1
            response = self.http.get(self.url, headers={"Range": f"bytes={start}-{end}"},
                                     timeout=TIMEOUT)
            if response.status_code != 206:
                raise _NoRanges()
            self.blocks[index] = response.content
        return self.blocks[index]

    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self.position + n)
        chunks = []
        while self.position < end:
            block = self._block(self.position // BLOCK)
            offset = self.position % BLOCK
            piece = block[offset: offset + end - self.position]
            if not piece:
                break
            chunks.append(piece)
            self.position += len(piece)
        return b"".join(chunks)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _NoRanges(OSError):
    """The server sent the whole file where a range was asked."""


def _open_remote(http: requests.Session, url: str, size: int, filename: str) -> io.IOBase:
    """The wheel by ranges when the server allows it, else downloaded into the cache."""
    if size > 0:
        reader = _RangeReader(http, url, size)
        try:
            reader.seek(-min(size, BLOCK), io.SEEK_END)
            reader.read(1)
            reader.seek(0)
            return reader
        except _NoRanges:
            pass
    if not re.fullmatch(r"[A-Za-z0-9._+-]+\.whl", filename):
        raise ValueError("not a wheel file name")
    target = cache.entry("wheels", filename)
    if not target.is_file():
        partial = target.with_name(target.name + ".part")
        with http.get(url, stream=True, timeout=TIMEOUT) as response:
            response.raise_for_status()
            written = 0
            with partial.open("wb") as out:
                for chunk in response.iter_content(1 << 20):
                    written += len(chunk)
                    if written > DOWNLOAD_LIMIT:
                        raise ValueError("wheel larger than nbrepro reads")
                    out.write(chunk)
        partial.replace(target)
    return target.open("rb")
