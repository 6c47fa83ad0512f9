"""The fault proxy itself, driven by plain httpx against the real S3 server.

Requests are signed as presigned URLs for the proxy's address (``Host`` is part of the
signature, and the proxy relays it unchanged), so no s3lite code is on the request path.
A tiny in-test upstream covers the framings the S3 server does not produce (chunked and
close-delimited responses).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from s3lite import S3Client
from tests.conftest import TestServer
from tests.faultproxy import (
    FaultProxy,
    FlipByte,
    ResetDuringRequest,
    ResetDuringResponse,
    Respond,
    Rule,
    Stall,
    TruncateResponse,
    upstream_of,
)
from tests.helpers import DATA

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
async def signer(s3_server: TestServer, proxy: FaultProxy) -> AsyncIterator[S3Client]:
    """Presigns URLs for the proxy's address (it sends nothing itself)."""
    s = s3_server.settings
    async with S3Client(
        proxy.endpoint,
        access_key=s.access_key,
        secret_key=s.secret_key,
        region=s.region,
        addressing_style="path",
    ) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        yield client


async def put(http: httpx.AsyncClient, signer: S3Client, bucket: str, key: str) -> httpx.Response:
    return await http.put(signer.presign_put(bucket, key), content=DATA)


async def read_until_error(
    http: httpx.AsyncClient, url: str
) -> tuple[httpx.Response, bytes, Exception | None]:
    """GET ``url`` streamed: the response, the bytes received, and the error that ended it."""
    received = bytearray()
    async with http.stream("GET", url) as response:
        try:
            async for chunk in response.aiter_raw():
                received += chunk
        except httpx.TransportError as exc:
            return response, bytes(received), exc
    return response, bytes(received), None


async def wait_until_closed(proxy: FaultProxy) -> None:
    """The proxy sees a client's close a few loop iterations later (asyncio)."""
    with anyio.fail_after(5):
        await proxy.wait_for(lambda: proxy.open_connections == 0)


# --- pass-through ------------------------------------------------------------------------


async def test_relays_requests_unchanged_on_one_keep_alive_connection(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str
) -> None:
    assert (await put(http, signer, bucket, "k")).status_code == 200
    got = await http.get(signer.presign_get(bucket, "k"))
    head = await http.head(signer.presign_get(bucket, "k"))
    missing = await http.get(signer.presign_get(bucket, "missing"))

    assert got.status_code == 200 and got.content == DATA
    assert head.status_code == 403  # signed for GET; what matters: no body is expected
    assert missing.status_code == 404 and b"NoSuchKey" in missing.content
    assert [(r.method, r.status, r.fault) for r in proxy.requests] == [
        ("PUT", 200, None),
        ("GET", 200, None),
        ("HEAD", 403, None),
        ("GET", 404, None),
    ]
    assert proxy.requests[0].header("host") == proxy.endpoint.removeprefix("http://")
    assert proxy.open_connections == 1
    await http.aclose()
    await wait_until_closed(proxy)


async def test_relays_a_chunked_request_body_as_the_server_would_see_it(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str, s3: S3Client
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(DATA), 100_000):
            yield DATA[start : start + 100_000]

    direct = await http.put(s3.presign_put(bucket, "direct"), content=body())
    proxied = await http.put(signer.presign_put(bucket, "proxied"), content=body())

    assert proxy.requests[0].header("transfer-encoding") == "chunked"
    assert proxied.status_code == direct.status_code
    if direct.status_code == 200:  # the server accepts chunked framing
        assert await (await s3.get_object(bucket, "proxied")).read() == DATA
    # The connection is still in step: the next request on it works.
    assert (await http.get(signer.presign_get(bucket, "missing"))).status_code == 404
    assert proxy.open_connections == 1


# --- each fault --------------------------------------------------------------------------


async def test_reset_during_request_aborts_the_upload(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str, s3: S3Client
) -> None:
    proxy.add(Rule(ResetDuringRequest(after_bytes=1000), method="PUT"))

    with pytest.raises(httpx.TransportError):
        await put(http, signer, bucket, "k")

    assert [(r.method, r.status) for r in proxy.requests] == [("PUT", None)]
    assert not await s3.object_exists(bucket, "k")
    assert (await put(http, signer, bucket, "k")).status_code == 200  # rule used up


async def test_reset_during_response_sends_n_body_bytes_then_resets(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str
) -> None:
    await put(http, signer, bucket, "k")
    proxy.add(Rule(ResetDuringResponse(after_bytes=1000), method="GET"))

    response, received, error = await read_until_error(http, signer.presign_get(bucket, "k"))

    assert response.status_code == 200
    assert received == DATA[:1000]
    assert isinstance(error, httpx.ReadError)  # ECONNRESET, not a clean end of stream


async def test_truncate_response_keeps_content_length_and_closes_cleanly(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str
) -> None:
    await put(http, signer, bucket, "k")
    proxy.add(Rule(TruncateResponse(after_bytes=1000), method="GET"))

    response, received, error = await read_until_error(http, signer.presign_get(bucket, "k"))

    assert response.headers["content-length"] == str(len(DATA))
    assert received == DATA[:1000]
    assert isinstance(error, httpx.RemoteProtocolError)  # a clean close, too early


async def test_stall_holds_the_response_past_a_read_timeout(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str
) -> None:
    await put(http, signer, bucket, "k")
    proxy.add(Rule(Stall(0.6), method="GET", times=2))
    url = signer.presign_get(bucket, "k")

    with pytest.raises(httpx.ReadTimeout):
        await http.get(url, timeout=0.2)
    started = time.monotonic()
    response = await http.get(url)

    assert time.monotonic() - started >= 0.6
    assert response.content == DATA


async def test_stall_can_hold_the_request_before_it_reaches_the_server(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str, s3: S3Client
) -> None:
    proxy.add(Rule(Stall(0.6, direction="request"), method="PUT"))
    started = time.monotonic()

    async with anyio.create_task_group() as group:
        group.start_soon(put, http, signer, bucket, "k")
        await anyio.sleep(0.3)
        assert not await s3.object_exists(bucket, "k")  # still held by the proxy

    assert time.monotonic() - started >= 0.6
    assert await s3.object_exists(bucket, "k")


async def test_respond_answers_with_an_s3_error_without_forwarding(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str, s3: S3Client
) -> None:
    date = "Wed, 01 Jan 2031 00:00:00 GMT"
    proxy.add(Rule(Respond(503, "SlowDown", "Please reduce", headers={"Date": date})))
    proxy.add(Rule(Respond(500, "InternalError"), method="HEAD"))

    response = await put(http, signer, bucket, "k")
    head = await http.head(signer.presign_get(bucket, "k"))

    assert response.status_code == 503
    assert response.headers["date"] == date
    assert response.headers["x-amz-request-id"] == "fault-proxy"
    assert b"<Code>SlowDown</Code><Message>Please reduce</Message>" in response.content
    assert b"<RequestId>fault-proxy</RequestId>" in response.content
    assert head.status_code == 500 and head.content == b""  # no body after a HEAD
    assert not await s3.object_exists(bucket, "k")  # the PUT never reached the server
    assert (await put(http, signer, bucket, "k")).status_code == 200
    assert proxy.open_connections == 1  # all on one keep-alive connection


async def test_flip_byte_changes_one_bit_of_the_response_body(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str
) -> None:
    await put(http, signer, bucket, "k")
    proxy.add(Rule(FlipByte(200_000), method="GET"))

    got = (await http.get(signer.presign_get(bucket, "k"))).content

    assert [i for i in range(len(DATA)) if got[i] != DATA[i]] == [200_000]
    assert got[200_000] ^ DATA[200_000] == 1


async def test_flip_byte_in_a_request_body_is_stored_by_an_unprotected_upload(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str, s3: S3Client
) -> None:
    # A presigned PUT carries no checksum (UNSIGNED-PAYLOAD): nothing can notice.
    proxy.add(Rule(FlipByte(12_345, direction="request"), method="PUT"))

    assert (await put(http, signer, bucket, "k")).status_code == 200

    stored = await (await s3.get_object(bucket, "k")).read()
    assert [i for i in range(len(DATA)) if stored[i] != DATA[i]] == [12_345]


async def test_rules_match_method_and_target_for_their_number_of_times(
    proxy: FaultProxy, signer: S3Client, http: httpx.AsyncClient, bucket: str
) -> None:
    await put(http, signer, bucket, "a")
    await put(http, signer, bucket, "b")
    proxy.requests.clear()
    first = proxy.add(Rule(Respond(500, "InternalError"), method="get", target=r"/a\?", times=2))
    proxy.add(Rule(Respond(503, "SlowDown"), target=r"/a\?"))
    url_a, url_b = signer.presign_get(bucket, "a"), signer.presign_get(bucket, "b")

    statuses = [(await http.get(url)).status_code for url in (url_a, url_b, url_a, url_a, url_a)]

    assert statuses == [500, 200, 500, 503, 200]
    assert first.times == 0
    assert proxy.count("GET", r"/a\?") == 4 and proxy.count(target=r"/b\?") == 1


# --- framings the S3 server does not produce, and shutdown ---------------------------------


async def fake_upstream(stream: SocketStream) -> None:
    """Answers GET /chunked with a chunked body (keep-alive), anything else close-delimited."""
    async with stream:
        reader = BufferedByteReceiveStream(stream)
        while True:
            try:
                head = await reader.receive_until(b"\r\n\r\n", 65536)
            except anyio.IncompleteRead:
                return
            if head.startswith(b"GET /chunked "):
                await stream.send(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
                )
            else:
                await stream.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                return


async def test_relays_chunked_and_close_delimited_responses() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, fake_upstream)
        port = listener.extra(SocketAttribute.local_port)
        async with FaultProxy("127.0.0.1", port) as proxy:
            proxy.add(Rule(FlipByte(9), method="GET", target="/chunked"))
            async with httpx.AsyncClient(base_url=proxy.endpoint, trust_env=False) as http:
                flipped = await http.get("/chunked")
                plain = await http.get("/chunked")
                assert proxy.open_connections == 1  # chunked: the connection stays open
                eof = await http.get("/eof")
            await wait_until_closed(proxy)
        group.cancel_scope.cancel()

    assert plain.content == b"hello world"
    assert flipped.content == b"iello world"  # offsets count the chunk-size line "5;ext=1"
    assert flipped.headers["transfer-encoding"] == "chunked"
    assert eof.content == b"until the end"
    assert [r.status for r in proxy.requests] == [200, 200, 200]


async def test_leaving_the_proxy_ends_stalled_exchanges_at_once(
    s3_server: TestServer, http: httpx.AsyncClient
) -> None:
    host, port = upstream_of(s3_server.settings.service_url)
    errors: list[Exception] = []

    async def get(url: str) -> None:
        try:
            await http.get(url)
        except httpx.TransportError as exc:
            errors.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            async with FaultProxy(host, port) as proxy:
                proxy.add(Rule(Stall(60)))
                group.start_soon(get, f"{proxy.endpoint}/")
                await proxy.wait_for(lambda: bool(proxy.requests))
            assert proxy.open_connections == 0

    assert len(errors) == 1
