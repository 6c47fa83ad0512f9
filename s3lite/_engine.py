"""s3lite's own HTTP/1.1 engine on anyio: a connection pool, requests, response bodies.

Rules of this module:
- It implements the transport seam (``_http.Transport``); framing and parsing are
  ``_wire``'s pure functions, this module only moves bytes.
- A connection is reused only when its last response was read to the end and
  allowed keep-alive; anything else (an error, a cancellation, a body left
  unread, a ``Connection: close``) closes it.  Idle connections expire after
  ``keepalive_expiry`` seconds, and one found closed by the server is dropped.
- At most ``max_connections`` sockets are open at once; a request waits for a
  slot (the pool timeout is the read timeout).
- A request sent on a reused connection that got no byte back (the server had
  closed the idle connection) is sent once more on a fresh one, when its body
  can be sent again (bytes or none; streamed bodies are retried by the pipeline).
- Errors become ``TransportError`` subclasses here; cleanup runs shielded.
- Connections on asyncio run on ``_asyncio_stream`` (asyncio's transport directly, its
  TLS included: no loop round trip per ``send`` and ``receive``); trio's on anyio's
  streams.  Both are ``anyio.abc.ByteStream``: nothing below the connect differs.
- A free connection slot is taken without waiting (no checkpoint); only a full pool
  waits, under the pool timeout.
- The timeout bounds each wait for the socket.  ``_asyncio_stream`` enforces it
  itself (a timer armed only when a call waits); on anyio's streams a cancel scope
  (``_deadline``) does, one per step of a request (sending, the answer's head, each
  body read).
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import time
from collections import deque
from contextlib import AbstractContextManager, nullcontext
from typing import NoReturn, cast

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

from . import _asyncio_stream as asyncio_stream
from ._asyncio_stream import AsyncioStream, running_on_asyncio
from ._exceptions import (
    CertificateError,
    MalformedResponseError,
    RequestTimeoutError,
    S3Error,
    TransportError,
)
from ._http import Content, Headers, HttpRequest, Response, close_content
from ._tls import certificate_failure, ssl_context
from ._urls import DEFAULT_PORTS
from ._wire import (
    ChunkedReader,
    FramingKind,
    ResponseHead,
    encode_request_head,
    framing_of,
    parse_head,
)

__all__ = ["EngineTransport"]

READ_SIZE = 256 * 1024
"""How much one read asks the socket for (on trio; asyncio's stream grows its reads to the
same size): 1 MiB reads took a streamed GET 1.5x the CPU of 256 KiB ones, and a third
more time (ad-hoc, trio, null server, 2026-12-07)."""
_JOIN_LIMIT = 64 * 1024
"""Bodies up to this size go out in the same write as the head."""
EXPECT_WAIT = 1.0
"""How long a request with ``Expect: 100-continue`` waits for 100 before sending its body."""

Origin = tuple[str, str, int]
_NO_DEADLINE = nullcontext()


class _StaleConnection(Exception):
    """Internal: a reused connection closed before answering a single byte."""


def _translate(exc: BaseException, what: str) -> S3Error:
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, TimeoutError):
        return RequestTimeoutError(f"{what}: timed out")
    failure = certificate_failure(exc)
    if failure is not None:
        return CertificateError(f"{what}: the server's TLS certificate was not accepted: {failure}")
    if isinstance(exc, anyio.EndOfStream | anyio.IncompleteRead):
        return TransportError(f"{what}: the server closed the connection")
    text = str(exc) or type(exc).__name__
    return TransportError(f"{what}: {type(exc).__name__}: {text}")


_NETWORK_ERRORS = (
    OSError,
    TimeoutError,
    ssl.SSLError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    anyio.IncompleteRead,
)


class _Connection:
    """One socket to one origin and the bytes read past the last response head."""

    __slots__ = ("buffer", "idle_since", "origin", "socket", "stream", "times_out")

    def __init__(self, stream: anyio.abc.ByteStream, origin: Origin) -> None:
        self.stream = stream
        self.origin = origin
        self.buffer = b""
        self.idle_since = 0.0
        # Whether the stream bounds its own waits (then no cancel scope is needed).
        self.times_out = isinstance(stream, AsyncioStream) and stream.wait_limit is not None
        # Looked up once: ``extra()`` builds its table of attributes on every call.
        self.socket: socket.socket | None = stream.extra(SocketAttribute.raw_socket, None)

    def closed_by_peer(self) -> bool:
        """Whether the server closed (or wrote to) this idle connection: a poll, no wait.

        An idle connection has nothing to say; if its socket is readable, it holds
        an end of stream or bytes nobody asked for, and either way it is dropped.
        (asyncio may already have read the end of stream; the stale-connection
        retry covers that case.)  ``_asyncio_stream`` keeps reading on, so its own
        record answers without a system call."""
        if isinstance(self.stream, AsyncioStream):
            return self.stream.peer_spoke()
        raw = self.socket
        if raw is None:
            return False
        try:
            readable, _, _ = select.select([raw.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(self.stream)


class EngineTransport:
    """Pooled HTTP/1.1 connections on anyio with s3lite's timeouts and TLS settings."""

    def __init__(
        self,
        *,
        timeout: float,
        connect_timeout: float,
        max_connections: int,
        verify: bool | str | ssl.SSLContext,
        keepalive_expiry: float = 15.0,
        read_size: int = READ_SIZE,
        native_asyncio: bool = True,
    ) -> None:
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._verify = verify
        self._context: ssl.SSLContext | None = None
        self._keepalive_expiry = keepalive_expiry
        self._read_size = read_size
        self._native_asyncio = native_asyncio
        self._slots = anyio.Semaphore(max_connections)
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._open = 0
        self._closed = False

    @property
    def open_connections(self) -> int:
        """How many sockets the pool has open (busy and idle)."""
        return self._open

    # --- connections -------------------------------------------------------------

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl_context(self._verify)
        return self._context

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        with anyio.fail_after(self._connect_timeout):
            tls = self._tls() if scheme == "https" else None
            stream: anyio.abc.ByteStream
            if self._native_asyncio and running_on_asyncio():
                # Fewer loop round trips, and the read and write timeout without a
                # cancel scope.
                stream = await asyncio_stream.connect(
                    host, port, wait_limit=self._timeout, tls=tls
                )
            elif tls is not None:
                stream = await anyio.connect_tcp(
                    host, port, tls=True, ssl_context=tls, tls_hostname=host
                )
            else:
                stream = await anyio.connect_tcp(host, port)
        connection = _Connection(stream, origin)
        if connection.socket is not None:
            connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._open += 1
        return connection

    def _deadline(self, connection: _Connection) -> AbstractContextManager[object]:
        """The timeout of the waits in one step, unless the stream bounds them itself."""
        return _NO_DEADLINE if connection.times_out else anyio.fail_after(self._timeout)

    async def _discard(self, connection: _Connection) -> None:
        self._open -= 1
        await connection.close()

    async def _checkout(self, origin: Origin) -> tuple[_Connection, bool]:
        """An idle connection to ``origin`` (``True``: reused) or a new one."""
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used: least likely to have expired
            if now - connection.idle_since < self._keepalive_expiry and not (
                connection.closed_by_peer()
            ):
                return connection, True
            await self._discard(connection)
        if self._open >= self._max_connections:
            await self._close_oldest_idle()
        return await self._connect(origin), False

    async def _close_oldest_idle(self) -> None:
        oldest: deque[_Connection] | None = None
        for queue in self._idle.values():
            if queue and (oldest is None or queue[0].idle_since < oldest[0].idle_since):
                oldest = queue
        if oldest is not None:
            await self._discard(oldest.popleft())

    async def _give_back(self, connection: _Connection) -> None:
        if self._closed:
            await self._discard(connection)
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.origin, deque()).append(connection)

    # --- one exchange ------------------------------------------------------------

    async def send(self, request: HttpRequest, *, stream: bool) -> Response:
        """Send one request; with ``stream`` the body is left unread in ``Response.body``."""
        if self._closed:
            raise RuntimeError("the HTTP engine is closed")
        target = request.target
        origin: Origin = (target.scheme, target.host, target.port or DEFAULT_PORTS[target.scheme])
        what = f"{request.method} {target.host_header}"
        try:
            # A free slot is taken without a wait; only a full pool costs a cancel scope
            # and the event loop's round trips (the request's own I/O checkpoints).
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            try:
                with anyio.fail_after(self._timeout):
                    await self._slots.acquire()
            except TimeoutError:
                await close_content(request.content)
                raise RequestTimeoutError(f"{what}: no connection free in time (pool)") from None
        connection: _Connection | None = None
        holds_slot = True
        try:
            connection, reused = await self._checkout(origin)
            try:
                head, reusable = await self._exchange(connection, request, reused=reused)
            except _StaleConnection:
                await self._discard(connection)
                connection = None
                connection = await self._connect(origin)
                head, reusable = await self._exchange(connection, request, reused=False)
            body = _Body(self, connection, request.method, head, what, reusable=reusable)
            connection, holds_slot = None, False  # the body owns both now
            if stream:
                return _response(request.method, head, b"", body)
            return _response(request.method, head, await body.read_all(), None)
        except BaseException as exc:
            if connection is not None:
                await self._discard(connection)
            if holds_slot:
                self._slots.release()
            if isinstance(exc, _NETWORK_ERRORS):
                raise _translate(exc, what) from exc
            raise
        finally:
            await close_content(request.content)

    async def _exchange(
        self, connection: _Connection, request: HttpRequest, *, reused: bool
    ) -> tuple[ResponseHead, bool]:
        """Send the request, return the answer's head and whether the connection may
        carry another request afterwards (as far as the request side goes)."""
        target = request.target
        path = f"{target.path}?{request.query}" if request.query else target.path
        head = encode_request_head(
            request.method, path, [("host", target.host_header), *request.headers]
        )
        content = request.content
        replayable = content is None or isinstance(content, bytes)
        try:
            if content is not None and ("expect", "100-continue") in request.headers:
                return await self._exchange_expecting(connection, head, content)
            if content is None or (isinstance(content, bytes) and len(content) <= _JOIN_LIMIT):
                # A small request: one write, and one deadline step for it and the
                # answer's head.
                with self._deadline(connection):
                    await connection.stream.send(head + content if content else head)
                    return await self._read_head(connection), True
            await self._write(connection, head, content)
            with self._deadline(connection):
                return await self._read_head(connection), True
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError) as exc:
            if reused and replayable and not connection.buffer:
                raise _StaleConnection from exc
            raise

    async def _exchange_expecting(
        self, connection: _Connection, head: bytes, content: Content
    ) -> tuple[ResponseHead, bool]:
        """``Expect: 100-continue``: the head alone, then the body only once the server
        says 100 Continue (or has said nothing for ``EXPECT_WAIT`` seconds: old servers
        ignore the header).  A final answer first means the body is never sent, and the
        connection, whose request the server may still be reading, is not reused."""
        with self._deadline(connection):
            await connection.stream.send(head)
        early: ResponseHead | None = None
        with anyio.move_on_after(EXPECT_WAIT):
            early = await self._read_head(connection, interim=True)
        if early is not None and early.status >= 200:
            return early, False
        await self._write(connection, b"", content)
        with self._deadline(connection):
            return await self._read_head(connection), True

    async def _write(self, connection: _Connection, head: bytes, content: Content) -> None:
        """Write a head and a large or streamed body, each write under the timeout."""
        send = connection.stream.send
        if head:
            with self._deadline(connection):
                await send(head)
        if isinstance(content, bytes):
            with self._deadline(connection):
                await send(content)
            return
        assert content is not None
        async for piece in content:
            if not piece:
                continue
            with self._deadline(connection):
                # The caller's buffer as it is, no join, no copy: anyio's streams pass
                # any bytes-like object to the socket (typed ``bytes`` only).
                await send(cast("bytes", piece))

    async def _receive(self, connection: _Connection) -> bytes:
        """The next bytes of a body, under the read timeout."""
        if connection.buffer:
            data, connection.buffer = connection.buffer, b""
            return data
        with self._deadline(connection):
            return await connection.stream.receive(self._read_size)

    async def _read_head(self, connection: _Connection, *, interim: bool = False) -> ResponseHead:
        """The answer's head; interim 1xx heads are skipped unless ``interim``.  Bytes
        read stay in ``connection.buffer`` as they arrive, so a cancelled wait (the
        100-continue wait) loses nothing.  The caller sets the deadline."""
        while True:
            buffer = connection.buffer
            parsed = parse_head(buffer) if buffer else None
            if parsed is None:
                try:
                    data = await connection.stream.receive(self._read_size)
                except anyio.EndOfStream:
                    if connection.buffer:
                        raise MalformedResponseError(
                            "the server closed the connection in the middle of a response head"
                        ) from None
                    raise
                connection.buffer = connection.buffer + data if connection.buffer else data
                continue
            head, size = parsed
            connection.buffer = buffer[size:]
            if 100 <= head.status < 200 and head.status != 101 and not interim:
                continue  # an interim answer (100 Continue ...): the real one follows
            return head

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when released."""
        self._closed = True
        idle, self._idle = self._idle, {}
        for queue in idle.values():
            for connection in queue:
                await self._discard(connection)


def _response(method: str, head: ResponseHead, content: bytes, body: _Body | None) -> Response:
    return Response(method, head.status, head.reason, Headers(head.headers), content, body)


class _Body:
    """A response body read from its connection; ``aclose`` releases the connection
    (back to the pool when the body was read to the end and keep-alive allows)."""

    __slots__ = (
        "_chunked",
        "_connection",
        "_engine",
        "_framing",
        "_keep_alive",
        "_remaining",
        "_what",
    )

    def __init__(
        self,
        engine: EngineTransport,
        connection: _Connection,
        method: str,
        head: ResponseHead,
        what: str,
        *,
        reusable: bool = True,
    ) -> None:
        self._engine = engine
        self._connection: _Connection | None = connection
        framing = framing_of(method, head)
        self._framing = framing.kind
        self._remaining = framing.length if framing.kind is FramingKind.LENGTH else math.inf
        self._chunked = ChunkedReader() if framing.kind is FramingKind.CHUNKED else None
        self._keep_alive = reusable and head.keep_alive and framing.kind is not FramingKind.CLOSE
        self._what = what

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        connection = self._connection
        if connection is None:
            raise StopAsyncIteration
        try:
            data = await self._next(connection)
        except BaseException as exc:
            await self._release(reuse=False)
            if isinstance(exc, _NETWORK_ERRORS):
                raise _translate(exc, self._what) from exc
            raise
        if data is None:
            await self._release(reuse=self._keep_alive)
            raise StopAsyncIteration
        return data

    async def _next(self, connection: _Connection) -> bytes | None:
        kind = self._framing
        if kind is FramingKind.NONE:
            return None
        if kind is FramingKind.LENGTH:
            if not self._remaining:
                return None
            try:
                data = await self._engine._receive(connection)
            except anyio.EndOfStream:
                self._truncated()
            if len(data) > self._remaining:  # bytes past the body: nothing to trust here
                self._keep_alive = False
                data = data[: int(self._remaining)]
            self._remaining -= len(data)
            return data
        if kind is FramingKind.CHUNKED:
            reader = self._chunked
            assert reader is not None
            while not reader.done:
                try:
                    received = await self._engine._receive(connection)
                except anyio.EndOfStream:
                    self._truncated()
                pieces = reader.feed(received)
                if pieces:
                    if reader.done:
                        self._after_chunked(reader)
                    return pieces[0] if len(pieces) == 1 else b"".join(pieces)
            self._after_chunked(reader)
            return None
        try:  # until the connection closes
            return await self._engine._receive(connection)
        except anyio.EndOfStream:
            return None

    def _after_chunked(self, reader: ChunkedReader) -> None:
        if reader.leftover:
            self._keep_alive = False

    def _truncated(self) -> NoReturn:
        raise TransportError(f"{self._what}: the server closed the connection mid-body")

    async def read_all(self) -> bytes:
        """The whole body (for answers read whole: XML documents, errors)."""
        return b"".join([chunk async for chunk in self])

    async def _release(self, *, reuse: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if reuse:
                await self._engine._give_back(connection)
            else:
                await self._engine._discard(connection)
        finally:
            self._engine._slots.release()

    async def aclose(self) -> None:
        """Release the connection: reused if the body was read to the end, else closed."""
        finished = self._framing is FramingKind.NONE or (
            self._framing is FramingKind.LENGTH and not self._remaining
        )
        await self._release(reuse=finished and self._keep_alive)
