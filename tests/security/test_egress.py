"""nbrepro's egress proxy, the only network of build code (issue item 7): it refuses
loopback, private, link-local and this machine's own addresses, lets the package
index through wherever it is, and uses the user's own proxy with its credentials
added on the host, so that they never enter the sandbox. Real sockets throughout."""

from __future__ import annotations

import base64
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nbrepro.isolation.egress import EgressPolicy, EgressProxy, blocked, local_addresses
from nbrepro.isolation.environ import tool_environment, without_credentials
from tests.security.helpers import Listener, host_address


def _through(proxy: EgressProxy, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(20)
        client.connect(str(proxy.socket))
        client.sendall(request)
        chunks = []
        while True:
            try:
                data = client.recv(4096)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and request.startswith(b"CONNECT"):
                break
        return b"".join(chunks)


@pytest.fixture
def index() -> Iterator[tuple[int, list[str]]]:
    """A package index on 127.0.0.1 (a local devpi, say) that records requests."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>simple index</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3",
                                     "172.17.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "fd00::2", "fe80::1", "0.0.0.0",
                                     "::ffff:127.0.0.1", "2002:7f00:1::", "224.0.0.1"])
def test_private_and_local_addresses_are_blocked(address: str) -> None:
    assert blocked(ipaddress.ip_address(address)) is not None


def test_this_machines_own_addresses_are_blocked() -> None:
    own = ipaddress.ip_address(host_address())
    assert blocked(own, local_addresses()) is not None
    assert blocked(ipaddress.ip_address("151.101.0.223"), local_addresses()) is None


def test_loopback_services_are_refused_and_reported() -> None:
    listener = Listener("127.0.0.1")
    try:
        with EgressProxy() as proxy:
            answer = _through(proxy, f"CONNECT 127.0.0.1:{listener.port} HTTP/1.1\r\n"
                                     f"Host: 127.0.0.1\r\n\r\n".encode())
            plain = _through(proxy, f"GET http://localhost:{listener.port}/api HTTP/1.1\r\n"
                                    "Host: localhost\r\n\r\n".encode())
            report = proxy.report()
    finally:
        listener.close()
    assert answer.startswith(b"HTTP/1.1 403")
    assert plain.startswith(b"HTTP/1.1 403")
    assert listener.received == []
    assert f"127.0.0.1:{listener.port}: loopback" in report


def test_the_configured_index_is_reachable_wherever_it_is(index: tuple[int, list[str]]) -> None:
    port, seen = index
    policy = EgressPolicy({"UV_INDEX_URL": f"http://127.0.0.1:{port}/simple"})
    with EgressProxy(policy) as proxy:
        answer = _through(proxy, f"GET http://127.0.0.1:{port}/simple/six/ HTTP/1.1\r\n"
                                 f"Host: 127.0.0.1:{port}\r\n\r\n".encode())
        other = _through(proxy, f"GET http://127.0.0.1:{port + 1}/ HTTP/1.1\r\n"
                                f"Host: x\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n")[0]
    assert b"simple index" in answer
    assert seen == ["/simple/six/"]
    assert other.startswith(b"HTTP/1.1 403")  # only the index's own port


def test_the_users_proxy_gets_its_credentials_on_the_host() -> None:
    """The user's proxy (with a password) is used for the build's connections; the
    password is added here, never handed to the sandbox."""
    requests: list[bytes] = []
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen()

    def serve() -> None:
        conn, _ = upstream.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            requests.append(data)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            conn.sendall(conn.recv(4096).upper())  # the tunnel: an echo

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = upstream.getsockname()[1]
    environ = {"HTTPS_PROXY": f"http://corp:pa%40ss@127.0.0.1:{port}",
               "UV_INDEX_URL": "https://index.corp.example/simple"}
    assert "pa%40ss" not in str(tool_environment(environ))
    with EgressProxy(EgressPolicy(environ)) as proxy, socket.socket(socket.AF_UNIX) as client:
        client.settimeout(20)
        client.connect(str(proxy.socket))
        client.sendall(b"CONNECT index.corp.example:443 HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += client.recv(4096)
        client.sendall(b"hello")
        echoed = client.recv(4096)
    thread.join(timeout=10)
    upstream.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert echoed == b"HELLO"
    assert requests[0].startswith(b"CONNECT index.corp.example:443 HTTP/1.1")
    expected = base64.b64encode(b"corp:pa@ss").decode()
    assert f"Proxy-Authorization: Basic {expected}".encode() in requests[0]


@pytest.mark.parametrize(("value", "stripped"), [
    ("https://user:pw@pypi.example/simple", "https://pypi.example/simple"),
    ("https://tok@a.example/s https://b.example/t", "https://a.example/s https://b.example/t"),
    ("corp=https://u:p@c.example/simple", "corp=https://c.example/simple"),
    ("https://plain.example/simple", "https://plain.example/simple"),
])
def test_index_urls_lose_their_credentials(value: str, stripped: str) -> None:
    assert without_credentials(value) == stripped
