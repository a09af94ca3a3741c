"""Runs inside a sandbox or build container that has no network of its own.

    python -I -S -c <this file's text> SOCKET -- COMMAND [ARGS...]

Listens on 127.0.0.1 (the sandbox's own loopback), forwards every connection to
SOCKET (nbrepro's egress proxy on the host, a unix socket bound into the sandbox),
points the proxy variables at itself and runs COMMAND. Only the standard library:
this text runs with the harness's or the base image's interpreter, in isolated mode.
"""

import contextlib
import os
import socket
import sys
import threading

PROXY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
               "all_proxy")


def copy_until_closed(source, target):
    """Copy one direction of a connection until it ends (egress.py relays with it too)."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _pair(client, path):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=copy_until_closed, args=(upstream, client), daemon=True)
    back.start()
    copy_until_closed(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _serve(listener, path):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            continue
        threading.Thread(target=_pair, args=(client, path), daemon=True).start()


def main(args):
    path, command = args[0], args[2:]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    if os.fork() == 0:
        # The forwarder must not hold the command's output pipes open: the harness
        # reads them to the end. It dies with the sandbox's PID namespace.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        try:
            _serve(listener, path)
        finally:
            os._exit(0)
    listener.close()
    for name in PROXY_NAMES:
        os.environ[name] = f"http://127.0.0.1:{port}"
    os.environ.pop("NO_PROXY", None)
    os.environ.pop("no_proxy", None)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
