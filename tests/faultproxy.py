"""A fault-injecting HTTP/1.1 proxy for reliability tests, written with anyio.

    async with FaultProxy("127.0.0.1", 8333) as proxy:
        proxy.add(Rule(ResetDuringRequest(after_bytes=1000), method="PUT"))
        ...  # point a client at proxy.endpoint
        assert proxy.count("PUT") == 2

Rules of this module:
- Bytes are relayed unchanged (a signed request stays valid: the Host header the
  client signed is the proxy's address, and that is what the server receives),
  except where a fault says otherwise.
- HTTP/1.1 is parsed just enough to find where each message ends (Content-Length,
  chunked, or end of stream), so faults apply per request on keep-alive connections.
  A request is relayed in full before its response is read: no pipelining and no
  ``Expect: 100-continue`` (neither is used by httpx).
- Body offsets count body bytes as they are framed on the wire (for a chunked or
  aws-chunked body, the chunk headers count too).
- One client connection gets one upstream connection.  Structured concurrency only:
  every connection is a task in the proxy's task group, cancelled on exit, and
  every socket is closed (reset or shut cleanly) when its task ends.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from types import TracebackType
from typing import Literal
from xml.sax.saxutils import escape

import anyio
from anyio.abc import SocketAttribute, SocketStream, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = [
    "Direction",
    "Fault",
    "FaultProxy",
    "FlipByte",
    "ResetDuringRequest",
    "ResetDuringResponse",
    "Respond",
    "Rule",
    "Seen",
    "Stall",
    "TruncateResponse",
    "upstream_of",
]

Direction = Literal["request", "response"]
_MAX_HEAD = 64 * 1024
_READ_SIZE = 64 * 1024


# --- faults and rules ------------------------------------------------------------------


@dataclass(frozen=True)
class ResetDuringRequest:
    """Relay the request head and ``after_bytes`` of its body, then reset both connections."""

    after_bytes: int = 0


@dataclass(frozen=True)
class ResetDuringResponse:
    """Relay the response head and ``after_bytes`` of its body, then reset both connections."""

    after_bytes: int = 0


@dataclass(frozen=True)
class TruncateResponse:
    """Relay the response head (its Content-Length unchanged) and ``after_bytes`` of the
    body, then close both connections cleanly."""

    after_bytes: int = 0


@dataclass(frozen=True)
class Stall:
    """Hold the request (before its head goes upstream) or the response (before its head
    goes back) for ``seconds``, then relay it."""

    seconds: float
    direction: Direction = "response"


@dataclass(frozen=True)
class Respond:
    """Answer with an S3 XML error instead of forwarding (the request body is drained)."""

    status: int
    code: str
    message: str = "injected by the fault proxy"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FlipByte:
    """Flip the lowest bit of the body byte at ``offset`` of the request or the response."""

    offset: int
    direction: Direction = "response"


Fault = ResetDuringRequest | ResetDuringResponse | TruncateResponse | Stall | Respond | FlipByte


@dataclass
class Rule:
    """Apply ``fault`` to the next ``times`` requests matching ``method``, the regex
    ``target`` (searched in the request target: path and query) and, with ``header``
    ``(name, regex)``, a request header whose value the regex matches from its start
    (``("range", "bytes=1048576-")`` picks one part of a parallel download)."""

    fault: Fault
    method: str | None = None
    target: str | None = None
    times: int = 1
    header: tuple[str, str] | None = None

    def matches(
        self, method: str, target: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> bool:
        if self.header is not None:
            value = _find_header(headers, self.header[0])
            if value is None or re.match(self.header[1], value) is None:
                return False
        return (
            self.times > 0
            and (self.method is None or self.method.upper() == method)
            and (self.target is None or re.search(self.target, target) is not None)
        )


@dataclass
class Seen:
    """One request the proxy received, the fault applied to it (if any), and the status
    of the response sent back (None when no response head was sent)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    fault: Fault | None
    status: int | None = None

    def header(self, name: str) -> str | None:
        return _find_header(self.headers, name)


# --- HTTP/1.1 framing ------------------------------------------------------------------


class _Cut(Exception):
    """A fault ended the connection: ``reset`` (RST) or a clean close."""

    def __init__(self, *, reset: bool) -> None:
        super().__init__("reset" if reset else "close")
        self.reset = reset


class _BadMessage(Exception):
    """The peer sent something this proxy does not understand."""


def _find_header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    name = name.lower()
    return next((value for key, value in headers if key.lower() == name), None)


@dataclass(frozen=True)
class _Head:
    raw: bytes
    start: tuple[str, str, str]  # (method, target, version) or (version, status, reason)
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        return _find_header(self.headers, name)

    @property
    def keep_alive(self) -> bool:
        return "close" not in (self.get("connection") or "").lower()


async def _read_head(reader: BufferedByteReceiveStream) -> _Head | None:
    """The next message head, or None when the peer closed the connection between messages."""
    try:
        data = await reader.receive_until(b"\r\n\r\n", _MAX_HEAD)
    except anyio.IncompleteRead:
        return None
    lines = data.lstrip(b"\r\n").decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2:
        raise _BadMessage(f"bad start line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _BadMessage(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    start = (parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    return _Head(data + b"\r\n\r\n", start, tuple(headers))


Framing = Literal["none", "length", "chunked", "eof"]


def _framing(head: _Head, *, response_to: str | None = None) -> tuple[Framing, int]:
    """How the body after ``head`` ends (``response_to``: the request method, for a
    response head)."""
    if response_to is not None:
        status = int(head.start[1])
        if response_to == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return "none", 0
    if "chunked" in (head.get("transfer-encoding") or "").lower():
        return "chunked", 0
    length = head.get("content-length")
    if length is not None:
        return "length", int(length)
    return ("none", 0) if response_to is None else ("eof", 0)


Sink = Callable[[bytes], Awaitable[None]]


async def _relay_body(
    reader: BufferedByteReceiveStream, framing: Framing, length: int, sink: Sink
) -> None:
    """Pass the body's wire bytes to ``sink`` until the body ends."""
    if framing == "length":
        while length:
            data = await reader.receive(min(length, _READ_SIZE))
            length -= len(data)
            await sink(data)
    elif framing == "chunked":
        while True:
            line = await reader.receive_until(b"\r\n", _MAX_HEAD)
            await sink(line + b"\r\n")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadMessage(f"bad chunk size line {line!r}") from None
            if size == 0:
                break
            await _relay_body(reader, "length", size + 2, sink)  # data and its CRLF
        while trailer := await reader.receive_until(b"\r\n", _MAX_HEAD):
            await sink(trailer + b"\r\n")
        await sink(b"\r\n")
    elif framing == "eof":
        with contextlib.suppress(anyio.EndOfStream):
            while True:
                await sink(await reader.receive(_READ_SIZE))


async def _discard(data: bytes) -> None:
    pass


class _FaultySink:
    """Sends body bytes on, applying the fault meant for this direction."""

    def __init__(self, send: Sink, fault: Fault | None, direction: Direction) -> None:
        self._send = send
        self._offset = 0
        self._flip = (
            fault.offset if isinstance(fault, FlipByte) and fault.direction == direction else None
        )
        self._cut_after: int | None = None
        self._reset = not isinstance(fault, TruncateResponse)
        cuts = ResetDuringRequest if direction == "request" else ResetDuringResponse
        if isinstance(fault, cuts) or (
            direction == "response" and isinstance(fault, TruncateResponse)
        ):
            self._cut_after = fault.after_bytes

    async def __call__(self, data: bytes) -> None:
        start, self._offset = self._offset, self._offset + len(data)
        if self._flip is not None and start <= self._flip < self._offset:
            i = self._flip - start
            data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        if self._cut_after is not None and self._offset >= self._cut_after:
            data = data[: self._cut_after - start]
            if data:
                await self._send(data)
            raise _Cut(reset=self._reset)
        if data:
            await self._send(data)

    def finish(self) -> None:
        """At the end of the body: a cut not reached yet happens now."""
        if self._cut_after is not None:
            raise _Cut(reset=self._reset)


def _error_response(fault: Respond, method: str) -> bytes:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(fault.code)}</Code><Message>{escape(fault.message)}</Message>"
        "<RequestId>fault-proxy</RequestId></Error>"
    ).encode()
    headers = {
        "Content-Type": "application/xml",
        "Content-Length": str(len(body)),
        "x-amz-request-id": "fault-proxy",
        "Date": formatdate(usegmt=True),
    }
    given = {name.lower() for name in fault.headers}
    lines = [f"HTTP/1.1 {fault.status} {HTTPStatus(fault.status).phrase}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in given]
    lines += [f"{k}: {v}" for k, v in fault.headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if method == "HEAD" else head + body


async def _close(stream: SocketStream | None, *, reset: bool) -> None:
    """Close ``stream``; with ``reset``, abort it (SO_LINGER 0 makes close send an RST)."""
    if stream is None:
        return
    if reset:
        with contextlib.suppress(OSError, anyio.TypedAttributeLookupError):
            raw = stream.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with anyio.CancelScope(shield=True):
        await stream.aclose()


def upstream_of(service_url: str) -> tuple[str, int]:
    """``(host, port)`` of a plain-HTTP service URL; ValueError otherwise (no TLS here)."""
    url = urllib.parse.urlsplit(service_url)
    if url.scheme != "http" or not url.hostname:
        raise ValueError(f"the fault proxy needs a plain http:// upstream, got {service_url!r}")
    return url.hostname, url.port or 80


# --- the proxy -------------------------------------------------------------------------

# What ends a connection without being a bug in the proxy.
_CONNECTION_ENDED = (
    _Cut,
    _BadMessage,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.DelimiterNotFound,
    OSError,
)


class FaultProxy:
    """A TCP proxy on 127.0.0.1 that forwards HTTP/1.1 to an upstream and injects faults.

    ``endpoint`` is its URL; ``requests`` logs every request head received (``Seen``);
    ``open_connections`` counts client connections still open, ``peak_connections`` the
    most that were open at once.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.requests: list[Seen] = []
        self.rules: list[Rule] = []
        self.open_connections = 0
        self.peak_connections = 0
        self._port: int | None = None
        self._stack = contextlib.AsyncExitStack()
        self._group: TaskGroup | None = None
        self._changed: anyio.Event | None = None

    @property
    def endpoint(self) -> str:
        if self._port is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._port}"

    def add(self, rule: Rule) -> Rule:
        """Add a rule (rules are tried in the order added; the first that matches applies)."""
        self.rules.append(rule)
        return rule

    def seen(self, method: str | None = None, target: str | None = None) -> list[Seen]:
        """The requests received with this method and a target matching the regex."""
        probe = Rule(Stall(0), method, target, times=1)
        return [r for r in self.requests if probe.matches(r.method, r.target)]

    def count(self, method: str | None = None, target: str | None = None) -> int:
        return len(self.seen(method, target))

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds; it is checked whenever a request arrives, a
        response head is relayed, or a connection opens or closes."""
        while not condition():
            if self._changed is None:
                raise RuntimeError("the proxy is not running")
            await self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = anyio.Event()

    async def __aenter__(self) -> FaultProxy:
        async with contextlib.AsyncExitStack() as stack:
            self._changed = anyio.Event()
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
            await stack.enter_async_context(listener)
            self._port = listener.extra(SocketAttribute.local_port)
            self._group = await stack.enter_async_context(anyio.create_task_group())
            self._group.start_soon(listener.serve, self._serve, self._group)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._group is not None:
            self._group.cancel_scope.cancel()  # stalls and idle connections end now
        self._port = None
        self._changed = None
        try:
            return await self._stack.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # trio wraps the body's own exception in a group: give the test its error back.
            if exc is None or group.exceptions != (exc,):
                raise
        raise exc

    def _take_fault(
        self, method: str, target: str, headers: tuple[tuple[str, str], ...]
    ) -> Fault | None:
        for rule in self.rules:
            if rule.matches(method, target, headers):
                rule.times -= 1
                return rule.fault
        return None

    async def _serve(self, client: SocketStream) -> None:
        self.open_connections += 1
        self.peak_connections = max(self.peak_connections, self.open_connections)
        self._notify()
        upstream: SocketStream | None = None
        reset = False
        try:
            client_reader = BufferedByteReceiveStream(client)
            upstream_reader: BufferedByteReceiveStream | None = None
            while request := await _read_head(client_reader):
                method, target, _ = request.start
                fault = self._take_fault(method, target, request.headers)
                seen = Seen(method, target, request.headers, fault)
                self.requests.append(seen)
                self._notify()
                framing, length = _framing(request)
                if isinstance(fault, Respond):
                    await _relay_body(client_reader, framing, length, _discard)
                    await client.send(_error_response(fault, method))
                    seen.status = fault.status
                    self._notify()
                    if not request.keep_alive:
                        return
                    continue
                if isinstance(fault, Stall) and fault.direction == "request":
                    await anyio.sleep(fault.seconds)
                if upstream is None or upstream_reader is None:
                    upstream = await anyio.connect_tcp(*self.upstream)
                    upstream_reader = BufferedByteReceiveStream(upstream)
                await upstream.send(request.raw)
                sink = _FaultySink(upstream.send, fault, "request")
                await _relay_body(client_reader, framing, length, sink)
                sink.finish()
                keep_alive = await self._relay_response(upstream_reader, client, seen)
                if not (keep_alive and request.keep_alive):
                    return
        except _CONNECTION_ENDED as ended:
            reset = not isinstance(ended, _Cut) or ended.reset
        finally:
            try:
                await _close(upstream, reset=reset)
            finally:
                await _close(client, reset=reset)
                self.open_connections -= 1
                self._notify()

    async def _relay_response(
        self, reader: BufferedByteReceiveStream, client: SocketStream, seen: Seen
    ) -> bool:
        """Relay one response (after any 1xx); whether the connection may be reused."""
        fault = seen.fault
        while True:
            response = await _read_head(reader)
            if response is None:
                raise anyio.EndOfStream  # upstream closed without answering
            if isinstance(fault, Stall) and fault.direction == "response":
                await anyio.sleep(fault.seconds)
                fault = None
            await client.send(response.raw)
            seen.status = int(response.start[1])
            self._notify()
            if not 100 <= int(response.start[1]) < 200:
                break
        framing, length = _framing(response, response_to=seen.method)
        sink = _FaultySink(client.send, fault, "response")
        await _relay_body(reader, framing, length, sink)
        sink.finish()
        return response.keep_alive and framing != "eof"
