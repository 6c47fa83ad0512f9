"""``s3lite._asyncio_stream``: the engine's plain-TCP stream on asyncio, against raw
sockets on 127.0.0.1 (ends of stream, resets, flow control both ways, cancellation)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import anyio.abc
import anyio.to_thread
import pytest
import trustme
from anyio.streams.tls import TLSListener

from s3lite import CertificateError
from s3lite._asyncio_stream import (
    HIGH_WATER,
    LARGE_READ,
    SHRINK_AFTER,
    SMALL_READ,
    AsyncioStream,
    connect,
)
from s3lite._engine import EngineTransport
from s3lite._http import HttpRequest
from s3lite._urls import Target

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the stream exists for asyncio only (trio keeps anyio's)


@asynccontextmanager
async def pair() -> AsyncIterator[tuple[AsyncioStream, socket.socket]]:
    """A connected (client stream, server's plain blocking socket): the server reads only
    when a test says so (anyio's own streams would read ahead)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = await connect("127.0.0.1", listener.getsockname()[1])
        server, _ = listener.accept()  # the connection is already in the backlog
        with server:
            try:
                yield client, server
            finally:
                await client.aclose()


async def test_bytes_arrive_in_order_then_end_of_stream() -> None:
    async with pair() as (client, server):
        server.sendall(b"hello ")
        server.sendall(b"world")
        server.shutdown(socket.SHUT_WR)
        received = b""
        with pytest.raises(anyio.EndOfStream):
            while True:
                received += await client.receive(4)  # asks for less than arrived
        assert received == b"hello world"


async def test_a_reset_is_a_broken_resource_not_an_end_of_stream() -> None:
    async with pair() as (client, server):
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server.close()
        with pytest.raises(anyio.BrokenResourceError):
            await client.receive()
        with pytest.raises(anyio.BrokenResourceError):
            await client.send(b"x")


async def test_reading_pauses_when_the_reader_lags_and_loses_nothing() -> None:
    data = os.urandom(3 * HIGH_WATER)
    async with pair() as (client, server), anyio.create_task_group() as group:
        async def send_all() -> None:
            await anyio.to_thread.run_sync(server.sendall, data)

        group.start_soon(send_all)
        protocol = client._protocol
        for _ in range(1000):  # up to 10 s for the server to fill the buffer
            if protocol.reading_paused:
                break
            await anyio.sleep(0.01)
        await anyio.sleep(0.1)  # paused: nothing more is read however long we wait
        assert HIGH_WATER < protocol.unread <= HIGH_WATER + 1024 * 1024
        digest, size = hashlib.sha256(), 0
        while size < len(data):
            chunk = await client.receive(1 << 20)
            digest.update(chunk)
            size += len(chunk)
        assert size == len(data)
        assert digest.digest() == hashlib.sha256(data).digest()
        assert not protocol.reading_paused


async def test_a_send_waits_for_a_slow_reader_and_cancellation_interrupts_it() -> None:
    async with pair() as (client, _server):
        big = b"x" * (64 * 1024 * 1024)  # more than both kernel buffers hold
        with anyio.move_on_after(0.5) as scope:
            await client.send(big)
        assert scope.cancelled_caught  # it waited: the server never read
        await client.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await client.send(b"more")
        with pytest.raises(anyio.ClosedResourceError):
            await client.receive()


async def test_a_send_returns_holding_nothing_of_its_buffer() -> None:
    backlog = os.urandom(32 * 1024 * 1024)  # more than the kernel's buffers hold
    piece = os.urandom(20_000)  # under asyncio's default high-water mark
    received = bytearray()

    def read_all() -> None:
        while len(received) < len(backlog) + len(piece):
            received.extend(server.recv(64 * 1024))

    async with pair() as (client, server), anyio.create_task_group() as group:
        with anyio.move_on_after(0.3):
            await client.send(backlog)  # the server reads nothing yet: the send waits
        assert client._transport.get_write_buffer_size() > 0  # the rest waits in asyncio
        group.start_soon(anyio.to_thread.run_sync, read_all)
        buffer = bytearray(piece)
        await client.send(cast("bytes", memoryview(buffer)))  # queued behind the rest
        assert client._transport.get_write_buffer_size() == 0
        buffer[:] = bytes(len(buffer))  # the caller reuses its buffer at once
    assert received == backlog + piece  # what was sent, not what the buffer held later


async def test_a_waiting_receive_is_cancelled_and_the_stream_stays_usable() -> None:
    async with pair() as (client, server):
        with anyio.move_on_after(0.1) as scope:
            await client.receive()
        assert scope.cancelled_caught
        server.sendall(b"late")
        assert await client.receive() == b"late"


async def test_a_wait_limit_bounds_each_wait_and_only_waits() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = await connect("127.0.0.1", listener.getsockname()[1], wait_limit=0.2)
        server, _ = listener.accept()
        with server:
            server.sendall(b"ready")
            await anyio.sleep(0.3)  # longer than the limit, but receive does not wait
            assert await client.receive() == b"ready"
            started = anyio.current_time()
            with pytest.raises(TimeoutError):
                await client.receive()
            assert 0.15 < anyio.current_time() - started < 2
            server.sendall(b"late")  # a timed-out receive lost nothing
            assert await client.receive() == b"late"
            with pytest.raises(TimeoutError):
                await client.send(b"x" * (64 * 1024 * 1024))  # the server never reads
            assert not client._protocol.readable._future  # no waiter left behind
            await client.aclose()


async def test_each_wait_gets_its_whole_limit_from_one_lazy_timer() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = await connect("127.0.0.1", listener.getsockname()[1], wait_limit=0.4)
        server, _ = listener.accept()
        with server:
            loop = asyncio.get_running_loop()
            readable = client._protocol.readable
            timers = set()
            for _ in range(20):  # short waits: the first one's timer serves them all
                loop.call_later(0.002, server.sendall, b"x")
                assert await client.receive() == b"x"
                timers.add(readable._timer)
            assert len(timers) == 1 and None not in timers
            await anyio.sleep(0.3)  # the timer, armed for the first wait, is near due
            started = anyio.current_time()
            with pytest.raises(TimeoutError):
                await client.receive()  # a new wait: the whole limit, not the rest
            assert anyio.current_time() - started >= 0.39
            await client.aclose()
            assert readable._timer is None  # closing dropped the timer


async def test_peer_spoke_tells_bytes_and_end_of_stream_on_an_idle_stream() -> None:
    async with pair() as (client, server):
        assert not client.peer_spoke()
        server.sendall(b"unasked")
        await wait_until(client.peer_spoke)
        assert await client.receive() == b"unasked"
        assert not client.peer_spoke()
        server.shutdown(socket.SHUT_WR)
        await wait_until(client.peer_spoke)


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # up to 5 s for the loop to read what the server did
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_the_read_size_grows_for_bulk_bodies_and_shrinks_for_small_answers() -> None:
    async with pair() as (client, server):
        protocol = client._protocol
        transport = client._transport
        assert protocol.read_size == transport.max_size == SMALL_READ  # type: ignore[attr-defined]
        data = os.urandom(16 * 1024 * 1024)

        async def send_all() -> None:
            await anyio.to_thread.run_sync(server.sendall, data)

        async with anyio.create_task_group() as group:
            group.start_soon(send_all)
            received = bytearray()
            while len(received) < len(data):
                received += await client.receive(LARGE_READ)
                if protocol.read_size == LARGE_READ:
                    break
            assert protocol.read_size == LARGE_READ == transport.max_size  # type: ignore[attr-defined]
            while len(received) < len(data):
                received += await client.receive(LARGE_READ)
        assert received == data
        # The bulk body's tail may itself have come in small reads (a thread sends it, and
        # this side can drain the socket faster), and they count: start the small answers
        # from the large read size and no small read yet.
        protocol.small_reads = 0
        protocol._ask_for(LARGE_READ)
        for answer in range(SHRINK_AFTER):  # small answers, one read each
            assert protocol.read_size == LARGE_READ  # not after fewer of them
            server.sendall(b"small answer %d" % answer)
            assert await client.receive() == b"small answer %d" % answer
        assert protocol.read_size == SMALL_READ == transport.max_size  # type: ignore[attr-defined]


async def test_a_bulk_body_in_uneven_reads_keeps_the_large_read_size() -> None:
    async with pair() as (client, server):
        protocol = client._protocol
        pieces = [os.urandom(n) for n in (LARGE_READ, 3000, 100_000, 2000) * 8]

        def send_unevenly() -> None:
            for piece in pieces:  # each written on its own: reads bring small pieces too
                server.sendall(piece)
                time.sleep(0.002)

        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, send_unevenly)
            received = bytearray()
            sizes = []
            while len(received) < sum(map(len, pieces)):
                received += await client.receive(LARGE_READ)
                sizes.append(protocol.read_size)
        assert received == b"".join(pieces)
        grown = sizes.index(LARGE_READ)
        assert set(sizes[grown:]) == {LARGE_READ}  # no shrinking between the large reads


async def test_aclose_closes_the_socket_before_it_returns() -> None:
    async with pair() as (client, _server):
        raw = client.extra(anyio.abc.SocketAttribute.raw_socket)
        assert raw.fileno() >= 0
        await client.aclose()
        assert raw.fileno() == -1


async def test_two_receives_at_once_are_refused() -> None:
    async with pair() as (client, _server), anyio.create_task_group() as group:
        group.start_soon(client.receive)
        await anyio.sleep(0.05)
        with pytest.raises(anyio.BusyResourceError):
            await client.receive()
        group.cancel_scope.cancel()


def tls_listener(tcp: anyio.abc.Listener[Any], ca: trustme.CA) -> TLSListener:
    """TLS on ``tcp`` with a certificate for 127.0.0.1 issued by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return TLSListener(tcp, context, standard_compatible=False)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("native", [True, False])
async def test_the_engine_uses_it_on_asyncio_unless_told_not_to(native: bool, scheme: str) -> None:
    async def answer(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            await stream.receive()
            await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    listener: anyio.abc.Listener[Any] = tcp
    verify: bool | ssl.SSLContext = True
    if scheme == "https":  # a throwaway CA, trusted by this engine only
        ca = trustme.CA()
        listener = tls_listener(tcp, ca)
        verify = ssl.create_default_context()
        ca.configure_trust(verify)
    engine = EngineTransport(
        timeout=5, connect_timeout=5, max_connections=1, verify=verify, native_asyncio=native
    )
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, answer)
        target = Target(scheme, "127.0.0.1", port, "/b/k")
        response = await engine.send(HttpRequest("GET", target, "", [], None), stream=False)
        assert response.content == b"ok"
        (connection,) = engine._idle[(scheme, "127.0.0.1", port)]
        assert isinstance(connection.stream, AsyncioStream) is native
        await engine.aclose()
        group.cancel_scope.cancel()


async def test_an_untrusted_certificate_is_refused_on_its_tls() -> None:
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    listener = tls_listener(tcp, trustme.CA())  # a CA the engine does not trust

    async def answer(stream: anyio.abc.ByteStream) -> None:
        await stream.aclose()

    engine = EngineTransport(timeout=5, connect_timeout=5, max_connections=1, verify=True)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, answer)
        target = Target("https", "127.0.0.1", port, "/b/k")
        with pytest.raises(CertificateError):
            await engine.send(HttpRequest("GET", target, "", [], None), stream=False)
        assert engine.open_connections == 0
        await engine.aclose()
        group.cancel_scope.cancel()


async def test_sends_over_tls_finish_and_hold_nothing_of_their_buffer() -> None:
    ca = trustme.CA()
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    pieces = [os.urandom(8 * 1024 * 1024), os.urandom(20_000), b"x"]
    received = bytearray()

    async def read_all(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            while len(received) < sum(map(len, pieces)):
                received.extend(await stream.receive())

    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    async with tls_listener(tcp, ca) as listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, read_all)
        client = await connect("127.0.0.1", port, wait_limit=10, tls=trust)
        for piece in pieces:  # TLS pauses at its high-water mark, not above it
            buffer = bytearray(piece)
            await client.send(cast("bytes", memoryview(buffer)))
            assert client._transport.get_write_buffer_size() == 0
            buffer[:] = bytes(len(buffer))
        await wait_until(lambda: len(received) == sum(map(len, pieces)))
        assert received == b"".join(pieces)
        await client.aclose()
        group.cancel_scope.cancel()
