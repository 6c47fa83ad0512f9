"""The null server's own ceiling, measured with a raw socket client.

A client cannot go faster against the null server than this: one connection,
the best of three rounds of one PUT and one GET of ``size`` bytes, sent and
received from preallocated
buffers with no HTTP library and no per-byte Python work.  Run it alone with
``python -m benchmarks.ceiling http://127.0.0.1:PORT``.  ``measure_parallel``
does the same over several connections at once (a thread each; socket calls
release the GIL), for the network profile's shaped server.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Ceiling", "measure", "measure_parallel"]

_BUFFER = 1 << 20


@dataclass(frozen=True)
class Ceiling:
    size: int
    put_seconds: float
    get_seconds: float

    @property
    def put_mbps(self) -> float:
        return self.size / self.put_seconds / 1e6

    @property
    def get_mbps(self) -> float:
        return self.size / self.get_seconds / 1e6


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("the null server closed the connection")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _put(sock: socket.socket, host: str, path: str, size: int) -> None:
    head = f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n\r\n"
    sock.sendall(head.encode())
    payload = memoryview(bytearray(_BUFFER))
    remaining = size
    while remaining:
        step = min(remaining, _BUFFER)
        sock.sendall(payload[:step])
        remaining -= step
    head_bytes, _ = _read_head(sock)
    if not head_bytes.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"PUT failed: {head_bytes[:80]!r}")


def _get(sock: socket.socket, host: str, path: str, size: int) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head, rest = _read_head(sock)
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"GET failed: {head[:80]!r}")
    scratch = memoryview(bytearray(_BUFFER))
    remaining = size - len(rest)
    while remaining:
        got = sock.recv_into(scratch, min(remaining, _BUFFER))
        if not got:
            raise ConnectionError("the body ended early")
        remaining -= got


def measure(endpoint: str, size: int, bucket: str = "ceiling", tries: int = 3) -> Ceiling:
    """The best of ``tries`` rounds of one PUT and one GET (the machine is shared)."""
    rounds = [_round(endpoint, size, bucket) for _ in range(tries)]
    return Ceiling(size, min(r.put_seconds for r in rounds), min(r.get_seconds for r in rounds))


def measure_parallel(
    endpoint: str, size: int, connections: int, bucket: str = "ceiling"
) -> Ceiling:
    """``connections`` sockets at once, each one GET then one PUT of ``size // connections``."""
    url = urlsplit(endpoint)
    share = size // connections
    path = f"/{bucket}/size-{share}"
    socks = [
        socket.create_connection((url.hostname or "127.0.0.1", url.port or 80))
        for _ in range(connections)
    ]
    try:
        for sock in socks:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def timed(operation: Callable[[socket.socket, str, str, int], None]) -> float:
            errors: list[BaseException] = []

            def one(sock: socket.socket) -> None:
                try:
                    operation(sock, url.netloc, path, share)
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=one, args=(sock,)) for sock in socks]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
            return time.perf_counter() - started

        get_seconds = timed(_get)
        put_seconds = timed(_put)
    finally:
        for sock in socks:
            sock.close()
    return Ceiling(share * connections, put_seconds, get_seconds)


def _round(endpoint: str, size: int, bucket: str) -> Ceiling:
    """PUT then GET ``size`` bytes over one keep-alive connection."""
    url = urlsplit(endpoint)
    host = url.netloc
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        path = f"/{bucket}/size-{size}"
        started = time.perf_counter()
        _put(sock, host, path, size)
        put_seconds = time.perf_counter() - started
        started = time.perf_counter()
        _get(sock, host, path, size)
        get_seconds = time.perf_counter() - started
    return Ceiling(size, put_seconds, get_seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="raw-socket ceiling of the null server")
    parser.add_argument("endpoint")
    parser.add_argument("--size", type=int, default=1 << 30)
    args = parser.parse_args(argv)
    result = measure(args.endpoint, args.size)
    print(f"PUT {result.put_mbps:,.0f} MB/s  GET {result.get_mbps:,.0f} MB/s")


if __name__ == "__main__":
    main()
