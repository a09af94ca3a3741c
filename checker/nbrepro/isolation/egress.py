"""The only way audited build code reaches the network: nbrepro's egress proxy.

Resolving and installing run the audited repository's build code (`setup.py`, build
backends, `postBuild`) and need the package index. They run without a network of
their own (a bubblewrap sandbox with its own network namespace, a container with
`--network none`); a small forwarder inside (`forwarder.py`) passes their
connections over a unix socket to this proxy on the host, which speaks HTTP
`CONNECT` (and plain `http://` requests) and connects only to public addresses:
never to loopback, private, link-local, shared (CGNAT), multicast or reserved
addresses, nor to any address of this machine (a Jupyter server, the Docker API,
a cloud metadata service). The hosts of the configured package indexes are always
reachable, wherever they are. When the user has a proxy of their own, connections
go through it, with its credentials added here, so they never enter the sandbox.
Refused connections are recorded and reported with the step's output.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import socket
import socketserver
import tempfile
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

import psutil

from nbrepro.isolation.environ import INDEX_VARIABLES
from nbrepro.isolation.forwarder import copy_until_closed

DEFAULT_INDEX_HOSTS = (("pypi.org", 443), ("files.pythonhosted.org", 443))
CONNECT_TIMEOUT = 30
HEADER_LIMIT = 64 * 1024
# Address blocks a build may never reach (besides the machine's own addresses).
_BLOCKED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
    "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
)]
FORWARDER_SOURCE = (Path(__file__).with_name("forwarder.py")).read_text(encoding="utf-8")


def local_addresses() -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address of this machine's interfaces."""
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(ValueError):
                    found.add(ipaddress.ip_address(address.address.split("%")[0]))
    return found


def blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
            local: Collection[ipaddress.IPv4Address | ipaddress.IPv6Address] = ()) -> str | None:
    """Why a build may not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return blocked(embedded, local)
    for network in _BLOCKED:
        if address.version == network.version and address in network:
            if address.is_loopback:
                return "loopback"
            if address.is_link_local:
                return "link-local"
            return "a private or reserved address"
    if address in local:
        return "an address of this machine"
    return None


def index_hosts(environ: Mapping[str, str]) -> set[tuple[str, int]]:
    """(host, port) of every package index and find-links URL configured."""
    hosts = set(DEFAULT_INDEX_HOSTS)
    for name in INDEX_VARIABLES:
        for word in environ.get(name, "").replace(",", " ").split():
            url = word.split("=", 1)[1] if "=" in word.split("://")[0] else word
            with contextlib.suppress(ValueError):
                parts = urlsplit(url)
                if parts.scheme in ("http", "https") and parts.hostname:
                    hosts.add((parts.hostname.lower(),
                               parts.port or (443 if parts.scheme == "https" else 80)))
    return hosts


@dataclass
class Upstream:
    """The user's own proxy (from HTTPS_PROXY/HTTP_PROXY), used from the host."""

    host: str
    port: int
    authorization: str | None = None
    no_proxy: list[str] = field(default_factory=list)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], scheme: str) -> Upstream | None:
        names = ("HTTPS_PROXY", "https_proxy") if scheme == "https" else ("HTTP_PROXY",
                                                                           "http_proxy")
        url = next((environ[n] for n in (*names, "ALL_PROXY", "all_proxy") if environ.get(n)),
                   "")
        if not url:
            return None
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if not parts.hostname:
            return None
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        no_proxy = (environ.get("NO_PROXY") or environ.get("no_proxy") or "").split(",")
        return cls(parts.hostname, parts.port or 80, auth,
                   [n.strip().lower().lstrip(".") for n in no_proxy if n.strip()])

    def applies(self, host: str) -> bool:
        host = host.lower()
        return not any(n == "*" or host == n or host.endswith("." + n) for n in self.no_proxy)


class Refused(Exception):
    """A destination the policy does not allow."""


class EgressPolicy:
    """Decides where a build may connect and opens the connection."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.allowed = index_hosts(environ)
        self.local = local_addresses()
        self.upstream = {scheme: Upstream.from_environ(environ, scheme)
                         for scheme in ("http", "https")}

    def connect(self, host: str, port: int, scheme: str) -> tuple[socket.socket, bool]:
        """A connection to host:port (through the user's proxy when there is one:
        then the second value is True). Raises `Refused`."""
        host = host.strip("[]").lower()
        if not host or not 0 < port < 65536:
            raise Refused(f"{host}:{port}: not a destination")
        index = (host, port) in self.allowed
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            infos = []
        addresses = []
        for info in infos:
            with contextlib.suppress(ValueError):
                addresses.append(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        if not index:
            for address in addresses:
                why = blocked(address, self.local)
                if why:
                    raise Refused(f"{host}:{port}: {why} ({address})")
        upstream = self.upstream.get(scheme)
        if upstream is not None and upstream.applies(host):
            if not infos and (host == "localhost" or _is_ip(host)):
                raise Refused(f"{host}:{port}: not a public address")
            sock = socket.create_connection((upstream.host, upstream.port), CONNECT_TIMEOUT)
            return sock, True
        if not addresses:
            raise Refused(f"{host}:{port}: the name does not resolve")
        # Connect to the address that was checked (never resolve the name again).
        error: OSError | None = None
        for address in addresses:
            try:
                return socket.create_connection((str(address), port), CONNECT_TIMEOUT), False
            except OSError as exc:
                error = exc
        raise Refused(f"{host}:{port}: {error}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _relay(a: socket.socket, b: socket.socket) -> None:
    back = threading.Thread(target=copy_until_closed, args=(b, a), daemon=True)
    back.start()
    copy_until_closed(a, b)
    back.join()


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(CONNECT_TIMEOUT)
        head, rest = _read_head(client)
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, _, target = lines[0].partition(" ")
        target = target.rsplit(" ", 1)[0]
        try:
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                scheme, path = "https", ""
                port_number = int(port)
            else:
                parts = urlsplit(target)
                if parts.scheme != "http" or not parts.hostname:
                    raise Refused(f"{target[:100]}: only CONNECT and http:// requests")
                host, scheme, port_number = parts.hostname, "http", parts.port or 80
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
            upstream, through_proxy = self.server.policy.connect(host, port_number, scheme)
        except (Refused, ValueError) as exc:
            self.server.refuse(str(exc))
            with contextlib.suppress(OSError):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                               b"Connection: close\r\n\r\nnbrepro refused this connection\n")
            return
        with upstream:
            upstream.settimeout(None)
            client.settimeout(None)
            proxy = self.server.policy.upstream.get(scheme)
            auth = (f"Proxy-Authorization: {proxy.authorization}\r\n"
                    if through_proxy and proxy and proxy.authorization else "")
            early = b""
            if method == "CONNECT":
                if through_proxy:
                    upstream.sendall(f"CONNECT {host}:{port_number} HTTP/1.1\r\n"
                                     f"Host: {host}:{port_number}\r\n{auth}\r\n".encode())
                    answer, early = _read_head(upstream)
                    if answer is None or answer.split(b" ", 2)[1:2] != [b"200"]:
                        self.server.refuse(f"{host}:{port_number}: the user's proxy refused")
                        return
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if early:
                    client.sendall(early)
            else:
                headers = [ln for ln in lines[1:] if ln and not ln.lower().startswith(
                    ("proxy-", "connection:"))]
                first = (f"{method} {target} HTTP/1.1" if through_proxy
                         else f"{method} {path} HTTP/1.1")
                request = "\r\n".join([first, *headers, "Connection: close"]) + "\r\n"
                upstream.sendall((request + auth + "\r\n").encode("latin-1"))
            if rest:
                upstream.sendall(rest)
            _relay(client, upstream)


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except OSError:
            return None, b""
        if not chunk or len(data) > HEADER_LIMIT:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, policy: EgressPolicy) -> None:
        self.policy = policy
        self.refused: list[str] = []
        self.lock = threading.Lock()
        super().__init__(path, _Handler)

    def refuse(self, what: str) -> None:
        with self.lock:
            if what not in self.refused:
                self.refused.append(what)


class EgressProxy:
    """The proxy for one step: a unix socket in a folder of its own (bind that folder
    into the sandbox), served from a thread until `close`."""

    def __init__(self, policy: EgressPolicy | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="nbrepro-egress-"))
        # A container's user may be another uid than ours: it must reach the socket.
        self.folder.chmod(0o711)
        self.socket = self.folder / "proxy.sock"
        self.server = _Server(str(self.socket), policy or EgressPolicy())
        self.socket.chmod(0o666)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.2})
        self.thread.start()

    @property
    def refused(self) -> list[str]:
        return list(self.server.refused)

    def report(self) -> str:
        """A line for the step's output when connections were refused."""
        if not self.server.refused:
            return ""
        return ("nbrepro refused network access (only public addresses and the package "
                "index are reachable while building): " + "; ".join(self.server.refused[:10]))

    def wrap(self, python: str, argv: list[str]) -> list[str]:
        """`argv` started behind the forwarder, run by `python` inside the sandbox."""
        return [python, "-I", "-S", "-c", FORWARDER_SOURCE, str(self.socket), "--", *argv]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.socket.unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()

    def __enter__(self) -> EgressProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
