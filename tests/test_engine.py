"""``s3lite._engine``: the connection pool against raw HTTP servers on 127.0.0.1.

Each test's server speaks HTTP/1.1 by hand, so it can misbehave exactly as a
real server or proxy sometimes does: close an idle connection, answer
``Connection: close``, stop after the head, stall.  It counts the sockets it
accepted and how many were open at once.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc
import pytest

from s3lite import MalformedResponseError, RequestTimeoutError, TransportError
from s3lite._engine import EngineTransport
from s3lite._http import HttpRequest, Response
from s3lite._urls import Target

pytestmark = pytest.mark.anyio

Stream = anyio.abc.SocketStream


@dataclass
class Counts:
    accepted: int = 0
    open: int = 0
    peak: int = 0


async def read_request(stream: Stream, buffer: bytearray) -> bool:
    """Read one request head (and its Content-Length body); False at end of stream."""
    while b"\r\n\r\n" not in buffer:
        try:
            buffer += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return False
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end]).decode("latin-1").lower()
    del buffer[:end]
    length = 0
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    while len(buffer) < length:
        buffer += await stream.receive()
    del buffer[:length]
    return True


Handler = Callable[[Stream, int, Counts], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[int, Counts]]:
    counts = Counts()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def serve(stream: Stream) -> None:
        counts.accepted += 1
        counts.open += 1
        counts.peak = max(counts.peak, counts.open)
        try:
            async with stream:
                await handler(stream, counts.accepted, counts)
        except (anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            pass
        finally:
            counts.open -= 1

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        try:
            yield port, counts
        finally:
            group.cancel_scope.cancel()


def ok(body: bytes = b"hello", *extra: str) -> bytes:
    head = "\r\n".join(["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra])
    return head.encode() + b"\r\n\r\n" + body


async def keep_answering(stream: Stream, _: int, __: Counts) -> None:
    buffer = bytearray()
    while await read_request(stream, buffer):
        await stream.send(ok())


def request(port: int, method: str = "GET", content: bytes | None = None) -> HttpRequest:
    headers = [("content-length", str(len(content)))] if content is not None else []
    return HttpRequest(method, Target("http", "127.0.0.1", port, "/b/k"), "", headers, content)


def engine(**options: float) -> EngineTransport:
    settings: dict[str, float] = {"timeout": 5.0, "connect_timeout": 5.0, "max_connections": 4}
    settings.update(options)
    return EngineTransport(
        timeout=settings["timeout"],
        connect_timeout=settings["connect_timeout"],
        max_connections=int(settings["max_connections"]),
        verify=True,
    )


async def read(response: Response) -> bytes:
    if response.body is None:
        return response.content
    return b"".join([chunk async for chunk in response.body])


async def test_a_connection_is_reused_when_its_body_was_read_to_the_end() -> None:
    async with raw_server(keep_answering) as (port, counts):
        transport = engine()
        for _ in range(5):
            response = await transport.send(request(port), stream=False)
            assert (response.status, response.content) == (200, b"hello")
        await transport.aclose()
    assert counts.accepted == 1


async def test_a_stale_idle_connection_is_replaced_and_the_request_sent_again() -> None:
    async def answer_once(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        if await read_request(stream, buffer):
            await stream.send(ok())
        # then close, as a server does with an idle keep-alive connection

    async with raw_server(answer_once) as (port, counts):
        transport = engine()
        assert (await transport.send(request(port), stream=False)).content == b"hello"
        await anyio.sleep(0.05)  # the server's close reaches us
        assert (await transport.send(request(port, "PUT", b"again"), stream=False)).status == 200
        await transport.aclose()
    assert counts.accepted == 2


async def test_connection_close_is_honoured() -> None:
    async def answer_with_close(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        while await read_request(stream, buffer):
            await stream.send(ok(b"bye", "Connection: close"))  # and keeps the socket open

    async with raw_server(answer_with_close) as (port, counts):
        transport = engine()
        for _ in range(3):
            assert (await transport.send(request(port), stream=False)).content == b"bye"
        assert transport.open_connections == 0
        await transport.aclose()
    assert counts.accepted == 3


async def test_a_server_that_closes_after_the_head_gives_a_transport_error() -> None:
    async def truncate(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        if await read_request(stream, buffer):
            await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")

    async with raw_server(truncate) as (port, _counts):
        transport = engine()
        response = await transport.send(request(port), stream=True)
        with pytest.raises(TransportError, match="mid-body"):
            await read(response)
        assert transport.open_connections == 0
        await transport.aclose()


async def test_a_malformed_head_is_refused_and_the_connection_closed() -> None:
    async def garbage(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        if await read_request(stream, buffer):
            await stream.send(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"
            )
            await anyio.sleep(1)

    async with raw_server(garbage) as (port, _counts):
        transport = engine()
        with pytest.raises(MalformedResponseError, match="conflicting Content-Length"):
            await transport.send(request(port), stream=False)
        assert transport.open_connections == 0
        await transport.aclose()


async def test_max_connections_is_never_exceeded() -> None:
    async def slow(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        while await read_request(stream, buffer):
            await anyio.sleep(0.02)
            await stream.send(ok())

    async with raw_server(slow) as (port, counts):
        transport = engine(max_connections=3)
        results: list[int] = []

        async def one() -> None:
            results.append((await transport.send(request(port), stream=False)).status)

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
        assert transport.open_connections <= 3
        await transport.aclose()
    assert results == [200] * 20
    assert counts.peak <= 3


async def test_a_body_left_unread_closes_its_connection_instead_of_reusing_it() -> None:
    async def big(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        while await read_request(stream, buffer):
            await stream.send(ok(b"x" * 3_000_000))

    async with raw_server(big) as (port, counts):
        transport = engine()
        response = await transport.send(request(port), stream=True)
        assert response.body is not None
        await anext(response.body)
        await response.body.aclose()
        assert transport.open_connections == 0
        again = await transport.send(request(port), stream=False)
        assert len(again.content) == 3_000_000
        await transport.aclose()
    assert counts.accepted == 2


async def three_bytes_then_stall(stream: Stream, _: int, __: Counts) -> None:
    """Answers with the head and 3 of 1,000 body bytes, then says nothing more."""
    buffer = bytearray()
    if await read_request(stream, buffer):
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")
        await anyio.sleep(10)


async def test_cancellation_mid_body_leaves_no_connection_behind() -> None:
    async with raw_server(three_bytes_then_stall) as (port, _counts):
        transport = engine()
        response = await transport.send(request(port), stream=True)
        assert response.body is not None
        with anyio.move_on_after(0.2):
            await read(response)
        assert transport.open_connections == 0
        await transport.aclose()


async def say_nothing(stream: Stream, _: int, __: Counts) -> None:
    """Accepts the connection and neither reads nor answers."""
    await anyio.sleep(10)


async def test_a_stalled_server_times_out() -> None:
    async with raw_server(say_nothing) as (port, _counts):
        transport = engine(timeout=0.2)
        with pytest.raises(RequestTimeoutError):
            await transport.send(request(port), stream=False)
        assert transport.open_connections == 0
        await transport.aclose()


async def test_a_body_that_stalls_midway_times_out_and_closes_its_connection() -> None:
    async with raw_server(three_bytes_then_stall) as (port, _counts):
        transport = engine(timeout=0.2)
        response = await transport.send(request(port), stream=True)
        with anyio.fail_after(5), pytest.raises(RequestTimeoutError):
            await read(response)
        assert transport.open_connections == 0
        await transport.aclose()


async def test_an_upload_the_server_never_reads_times_out() -> None:
    body = b"x" * (64 * 1024 * 1024)  # more than the kernel's buffers of both ends hold
    async with raw_server(say_nothing) as (port, _counts):
        transport = engine(timeout=0.3)
        with anyio.fail_after(5), pytest.raises(RequestTimeoutError):
            await transport.send(request(port, "PUT", body), stream=False)
        assert transport.open_connections == 0
        await transport.aclose()


async def test_interim_answers_are_skipped_and_chunked_bodies_decoded() -> None:
    async def chunked(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        while await read_request(stream, buffer):
            await stream.send(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                b"\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nx-t: 1\r\n\r\n"
            )

    async with raw_server(chunked) as (port, counts):
        transport = engine()
        for _ in range(3):
            assert (await transport.send(request(port), stream=False)).content == b"hello world"
        await transport.aclose()
    assert counts.accepted == 1


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_many_requests_leak_no_socket() -> None:
    async with raw_server(keep_answering) as (port, counts):
        transport = engine(max_connections=8)
        before = _open_fds()

        async def batch() -> None:
            for _ in range(1250):  # 10,000 requests in all
                response = await transport.send(request(port), stream=True)
                assert await read(response) == b"hello"

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(batch)
        assert transport.open_connections <= 8
        await transport.aclose()
        assert transport.open_connections == 0
        await anyio.sleep(0.05)
        assert _open_fds() <= before
    assert counts.accepted <= 8


async def _body_of(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 65536):
        yield b"b" * 65536


def expecting(port: int, size: int) -> HttpRequest:
    headers = [("content-length", str(size)), ("expect", "100-continue")]
    target = Target("http", "127.0.0.1", port, "/b/k")
    return HttpRequest("PUT", target, "", headers, _body_of(size))


async def test_expect_continue_sends_the_body_after_100_continue() -> None:
    received: list[int] = []

    async def continue_then_read(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            buffer += await stream.receive()
        assert b"expect: 100-continue" in bytes(buffer).lower()
        del buffer[: buffer.index(b"\r\n\r\n") + 4]
        await stream.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        while len(buffer) < 262144:
            buffer += await stream.receive()
        received.append(len(buffer))
        await stream.send(ok(b"stored"))

    async with raw_server(continue_then_read) as (port, _counts):
        transport = engine()
        response = await transport.send(expecting(port, 262144), stream=False)
        assert (response.status, response.content) == (200, b"stored")
        await transport.aclose()
    assert received == [262144]


async def test_expect_continue_refused_upload_never_sends_its_body() -> None:
    received: list[bytes] = []

    async def refuse(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            buffer += await stream.receive()
        del buffer[: buffer.index(b"\r\n\r\n") + 4]
        await stream.send(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\ndenied"
        )
        try:
            with anyio.move_on_after(0.5):
                buffer += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass  # the client closed the connection without sending the body
        received.append(bytes(buffer))

    async with raw_server(refuse) as (port, counts):
        transport = engine()
        response = await transport.send(expecting(port, 1 << 20), stream=False)
        assert (response.status, response.content) == (403, b"denied")
        assert transport.open_connections == 0  # the server may still expect the body
        await transport.aclose()
        await anyio.sleep(0.6)
    assert received == [b""]
    assert counts.accepted == 1


async def test_expect_continue_ignored_by_an_old_server_still_sends_the_body() -> None:
    async def ignore(stream: Stream, _: int, __: Counts) -> None:
        buffer = bytearray()
        if await read_request(stream, buffer):  # reads head and body, never says 100
            await stream.send(ok(b"late"))

    async with raw_server(ignore) as (port, _counts):
        transport = engine()
        started = anyio.current_time()
        response = await transport.send(expecting(port, 131072), stream=False)
        assert response.content == b"late"
        assert anyio.current_time() - started >= 0.9  # waited EXPECT_WAIT, then sent
        await transport.aclose()
