"""A TCP (or TLS) byte stream straight on asyncio's transport, for the engine's connections.

anyio's asyncio socket stream yields to the event loop on every ``send`` that did not
block and every ``receive`` that found data waiting, and pauses and resumes reading
around every ``receive`` (two ``epoll_ctl`` calls).  For a 16 KiB GET that is a few
loop iterations and syscalls more than the request itself needs
(benchmarks/results/analysis.md).  This stream keeps reading on and only waits when
it has to.

Rules of this module:
- It is an ``anyio.abc.ByteStream`` and raises what anyio's streams raise
  (``EndOfStream``, ``BrokenResourceError``, ``ClosedResourceError``), so the engine
  cannot tell it from anyio's.
- Used on asyncio, for ``http://`` and ``https://`` (asyncio's own TLS transport);
  trio keeps anyio's streams.
- A wait is a plain future awaited in the caller's task, so anyio's cancel scopes
  (timeouts, cancellation) interrupt it as they interrupt anything else.
- ``wait_limit`` (seconds, or None) bounds every wait of ``receive`` and ``send`` on
  its own, raising ``TimeoutError``: a deadline per wait, checked by one lazy timer of
  the loop (``_Wakeup``).  The engine relies on it instead of a cancel scope per
  call (a cancel scope costs several times a timer, and most calls never wait).
- Bounded memory: reading pauses while more than ``HIGH_WATER`` bytes wait unread,
  and resumes once they are taken.
- ``send`` returns once the transport holds nothing of the item (its write buffer is
  empty: the kernel has every byte), as anyio's ``send`` does; the caller may then
  reuse the buffer (file uploads read each chunk into the buffer of the one before).
- No copies: received chunks are handed out as asyncio read them; a write hands
  the caller's buffer to the transport.
- The transport's read size adapts (``SMALL_READ`` up to ``LARGE_READ``): small
  answers are read into small buffers, bulk bodies into large ones (see
  ``SMALL_READ`` for why it matters); it grows at once and shrinks only after
  ``SHRINK_AFTER`` small reads in a row.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

__all__ = ["HIGH_WATER", "AsyncioStream", "connect", "running_on_asyncio"]

HIGH_WATER = 4 * 1024 * 1024
"""Unread bytes at which reading pauses (a few of asyncio's 256 KiB reads)."""
SMALL_READ = 64 * 1024
"""What a read asks the socket for until reads fill it.  asyncio asks for 256 KiB, and
glibc serves a block that large with ``mmap``: a read that brings a 16 KiB answer then
costs an ``mmap``, an ``mremap`` and a ``munmap`` (22 µs here, more than the read)."""
LARGE_READ = 256 * 1024
"""The read size a bulk body grows to (x4 each time a read fills the current one).  Not
1 MiB: streamed 1 GiB GETs from the null server ran at 2.6-3.8 GB/s and 0.23-0.36 CPU
s/GiB with reads of 512 KiB or 1 MiB, and at 4.2-5.8 GB/s and 0.17-0.22 s/GiB with 128 or
256 KiB (ad-hoc, interleaved; benchmarks/results/analysis.md, 2026-12-07)."""
SHRINK_AFTER = 8
"""Reads under ``SMALL_READ`` in a row that take the read size back down.  One is not
enough: a bulk body often arrives in a few small reads between large ones, and a size
that went down after each grew again at once (a 64/256 KiB seesaw that cost every
read an ``mmap`` and a streamed GET 3-4x its CPU)."""
_VIEW_ABOVE = 64 * 1024
"""Writes larger than this go to the transport as memoryviews (one copy fewer)."""
_TIMER_SLACK = 0.001
"""A wait timer that fires this close to the deadline ends the wait (asyncio runs a
timer up to its clock resolution early)."""


def running_on_asyncio() -> bool:
    """Whether the current task runs on an asyncio event loop (not trio)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Wakeup:
    """Where one task (a reader or a writer) waits for the protocol to call it.

    The wait limit is kept with one lazy timer: a wait records its deadline, and a
    timer is armed only when none is; when it fires it ends a wait past its deadline
    and re-arms itself for a later one.  Most waits end long before the limit, so a
    wait costs a clock read, not a timer armed and cancelled (call_later was ~5 % of
    a 16 KiB PUT's samples)."""

    __slots__ = ("_deadline", "_future", "_timer", "_what")

    def __init__(self, what: str) -> None:
        self._what = what
        self._future: asyncio.Future[None] | None = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def wait(self, limit: float | None) -> None:
        """Until woken; ``TimeoutError`` after ``limit`` seconds (None: no limit)."""
        if self._future is not None:
            raise anyio.BusyResourceError(self._what)
        loop = asyncio.get_running_loop()
        future = self._future = loop.create_future()
        if limit is None:
            self._deadline = None
        else:
            deadline = self._deadline = loop.time() + limit
            timer = self._timer
            if timer is not None and timer.when() > deadline:  # the limit was lowered
                timer.cancel()
                timer = None
            if timer is None:
                self._timer = loop.call_at(deadline, self._on_timer)
        try:
            await future
        finally:
            self._future = None

    def _on_timer(self) -> None:
        self._timer = None
        future, deadline = self._future, self._deadline
        if future is None or deadline is None or future.done():
            return  # no wait now (or none limited): the next one arms a timer again
        loop = future.get_loop()
        if deadline - loop.time() > _TIMER_SLACK:
            self._timer = loop.call_at(deadline, self._on_timer)  # a later wait's deadline
        else:
            future.set_exception(TimeoutError())

    def wake(self) -> None:
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.set_result(None)

    def close(self) -> None:
        """Wake any waiter and drop the timer."""
        self.wake()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Protocol(asyncio.Protocol):
    """Collects what the transport reads and wakes whoever waits for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.unread = 0
        self.eof = False
        self.error: BaseException | None = None
        self.lost = False
        self.reading_paused = False
        self.readable = _Wakeup("receiving")
        self.writable = _Wakeup("sending")
        self.writing_paused = False
        self.read_size = 0
        """What the transport's reads ask for (0: the transport's own, not adapted)."""
        self.small_reads = 0
        """Reads under ``SMALL_READ`` in a row, while the read size is above it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # Writing pauses whenever the transport keeps bytes back, and resumes when it has
        # none: a ``send`` that returns leaves no reference to its buffer behind (from
        # Python 3.12 the transport keeps a view of what the socket did not take).  The
        # socket transport pauses above ``high``, the TLS one at ``high`` and more (with
        # 0 it would pause with nothing kept, and never resume).
        tls = transport.get_extra_info("ssl_object") is not None
        transport.set_write_buffer_limits(high=1 if tls else 0, low=0)
        # ``max_size`` is what asyncio's selector transport passes to ``recv``; another
        # loop's transport may not have it, and then keeps its own read size.
        if hasattr(transport, "max_size"):
            self._ask_for(SMALL_READ)

    def _ask_for(self, size: int) -> None:
        self.transport.max_size = size  # type: ignore[union-attr]
        self.read_size = size

    def data_received(self, data: bytes) -> None:
        size = len(data)
        if self.read_size:  # the read size adapts
            if size >= self.read_size and self.read_size < LARGE_READ:
                self._ask_for(min(self.read_size * 4, LARGE_READ))
            if size >= SMALL_READ:
                self.small_reads = 0
            elif self.read_size > SMALL_READ:
                self.small_reads += 1
                if self.small_reads >= SHRINK_AFTER:
                    self.small_reads = 0
                    self._ask_for(SMALL_READ)
        self.chunks.append(data)
        self.unread += size
        if self.unread > HIGH_WATER and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()
        self.readable.wake()

    def eof_received(self) -> bool:
        self.eof = True
        self.readable.wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        self.eof = True
        self.readable.close()
        self.writable.close()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.writable.wake()


class AsyncioStream(anyio.abc.ByteStream):
    """One TCP connection: ``receive`` returns what arrived, ``send`` writes it all;
    each gives up with ``TimeoutError`` after waiting ``wait_limit`` seconds."""

    def __init__(
        self, transport: asyncio.Transport, protocol: _Protocol, wait_limit: float | None = None
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False
        self.wait_limit = wait_limit

    async def receive(self, max_bytes: int = 65536) -> bytes:
        protocol = self._protocol
        if self._closed:
            raise anyio.ClosedResourceError
        while not protocol.chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if protocol.eof:
                if protocol.error is not None:
                    raise anyio.BrokenResourceError from protocol.error
                raise anyio.EndOfStream
            await protocol.readable.wait(self.wait_limit)
        chunk = protocol.chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            protocol.chunks.appendleft(rest)
        protocol.unread -= len(chunk)
        if protocol.reading_paused and protocol.unread <= HIGH_WATER // 2:
            protocol.reading_paused = False
            if not protocol.lost:
                self._transport.resume_reading()
        return chunk

    async def send(self, item: bytes) -> None:
        protocol = self._protocol
        if self._closed:
            raise anyio.ClosedResourceError
        if protocol.lost or self._transport.is_closing():
            raise anyio.BrokenResourceError from protocol.error
        # asyncio keeps what the socket did not take at once with ``data[n:]``: a copy
        # of a ``bytes`` object, a view of a memoryview (its buffer copies it once more).
        self._transport.write(memoryview(item) if len(item) > _VIEW_ABOVE else item)
        while protocol.writing_paused:
            await protocol.writable.wait(self.wait_limit)
            if self._closed:
                raise anyio.ClosedResourceError
            if protocol.lost:
                raise anyio.BrokenResourceError from protocol.error

    def peer_spoke(self) -> bool:
        """Whether bytes or the end of the stream arrived and wait unread (as far as the
        loop has read: reading stays on, so without a system call)."""
        protocol = self._protocol
        return bool(protocol.chunks) or protocol.eof or self._closed

    async def send_eof(self) -> None:
        if self._transport.can_write_eof() and not self._transport.is_closing():
            self._transport.write_eof()

    async def aclose(self) -> None:
        """Close at once: unsent bytes are dropped (the engine closes only connections
        it will not reuse)."""
        self._closed = True
        self._transport.abort()
        self._protocol.readable.close()
        self._protocol.writable.close()
        # abort() closes the socket in a callback of the loop's next iteration: let it
        # run, or a loop that ends now (the end of a program) leaves the socket open.
        await asyncio.sleep(0)

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        raw = self._transport.get_extra_info("socket")
        return {SocketAttribute.raw_socket: lambda: raw}


async def connect(
    host: str,
    port: int,
    *,
    wait_limit: float | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncioStream:
    """Open a TCP connection to the first of the host's addresses that answers (IPv4 or
    IPv6, tried in turn), with TLS under ``tls`` (the host name checked against the
    certificate); ``wait_limit`` bounds each later wait of the stream, not this
    connect.  Not asyncio's happy eyeballs: on Python 3.11 a cancelled staggered
    attempt leaves its socket open (seen in this suite)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        _Protocol, host, port, ssl=tls, server_hostname=host if tls is not None else None
    )
    assert isinstance(transport, asyncio.Transport)
    # The engine sets TCP_NODELAY, as for anyio's streams.
    return AsyncioStream(transport, protocol, wait_limit)
