"""TLS: verification is on by default, and a custom CA bundle can be given.

A TLS-terminating forwarder (anyio) sits in front of the local S3 server, with a
certificate from a throwaway CA (trustme). Over https the client's defaults change:
the body is sent as UNSIGNED-PAYLOAD with a CRC32 trailer, which the server checks.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
import trustme
from anyio.abc import ByteStream, SocketAttribute
from anyio.streams.tls import TLSListener

from s3lite import CertificateError, S3Client, ServiceError, TransportError
from tests.conftest import TestServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def _pipe(source: ByteStream, sink: ByteStream) -> None:
    try:
        async for data in source:
            await sink.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream):
        pass
    finally:
        await sink.aclose()


@asynccontextmanager
async def tls_forwarder(upstream_port: int, context: ssl.SSLContext) -> AsyncIterator[int]:
    """Accept TLS on 127.0.0.1 and forward the plain bytes to the upstream port."""
    listener = TLSListener(
        await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0),
        context,
        standard_compatible=False,
    )

    async def handle(client: ByteStream) -> None:
        async with client:
            try:
                upstream = await anyio.connect_tcp("127.0.0.1", upstream_port)
            except OSError:
                return
            async with upstream, anyio.create_task_group() as group:
                group.start_soon(_pipe, client, upstream)
                group.start_soon(_pipe, upstream, client)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, handle)
            yield listener.listener.extra(SocketAttribute.local_port)
            group.cancel_scope.cancel()
    finally:
        await listener.aclose()


@pytest.fixture
def certificate_authority() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def upstream_port(s3_server: TestServer) -> int:
    if s3_server.kind != "seaweedfs":
        pytest.skip("the TLS forwarder fronts the local server")
    return int(s3_server.settings.service_url.rsplit(":", 1)[1])


def https_client(s3_server: TestServer, port: int, **options: object) -> S3Client:
    settings = s3_server.settings
    return S3Client(
        f"https://127.0.0.1:{port}",
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        region=settings.region,
        addressing_style="path",
        **options,  # type: ignore[arg-type]
    )


async def test_an_unknown_certificate_authority_is_refused_by_default(
    s3_server: TestServer, bucket: str, certificate_authority: trustme.CA
) -> None:
    context = server_context(certificate_authority)
    async with tls_forwarder(upstream_port(s3_server), context) as port:
        s3 = https_client(s3_server, port)
        async with s3:
            with pytest.raises(CertificateError, match="certificate verify failed"):
                await s3.put_object(bucket, "never", b"x")
    assert isinstance(CertificateError("x"), TransportError)


async def test_a_custom_ca_bundle_is_trusted_and_https_uploads_work(
    s3_server: TestServer, bucket: str, certificate_authority: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    context = server_context(certificate_authority)
    data = hashlib.sha256(b"tls").digest() * 200_000  # 6.4 MB: one streamed PUT from a file
    path = tmp_path / "body"
    path.write_bytes(data)
    async with tls_forwarder(upstream_port(s3_server), context) as port:
        s3 = https_client(s3_server, port, verify=str(bundle))
        async with s3:
            await s3.put_object(bucket, "in-memory", data[:1000])
            await s3.put_object(bucket, "streamed", path)
            assert await (await s3.get_object(bucket, "in-memory")).read() == data[:1000]
            assert await (await s3.get_object(bucket, "streamed")).read() == data


async def test_verification_can_be_switched_off_explicitly(
    s3_server: TestServer, bucket: str, certificate_authority: trustme.CA
) -> None:
    context = server_context(certificate_authority)
    async with tls_forwarder(upstream_port(s3_server), context) as port:
        s3 = https_client(s3_server, port, verify=False)
        async with s3:
            await s3.put_object(bucket, "insecure", b"ok")
            assert await (await s3.get_object(bucket, "insecure")).read() == b"ok"


async def test_sse_c_objects_are_written_and_read_with_their_key_over_https(
    s3_server: TestServer, bucket: str, certificate_authority: trustme.CA, tmp_path: Path
) -> None:
    key = os.urandom(32)
    data = os.urandom(11 * 1024 * 1024)  # three parts of 5 MiB: SSE-C on every part
    context = server_context(certificate_authority)
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    async with tls_forwarder(upstream_port(s3_server), context) as port:
        s3 = https_client(
            s3_server, port, verify=str(bundle), part_size=5 * 1024 * 1024,
            multipart_threshold=5 * 1024 * 1024,
        )
        async with s3:
            await s3.put_object(bucket, "small", b"sealed", sse_customer_key=key)
            try:
                plain = await (await s3.get_object(bucket, "small")).read()
            except ServiceError:
                plain = None
            if plain == b"sealed":
                pytest.skip(f"{s3_server.kind} ignores SSE-C (the object reads without its key)")
            stream = await s3.get_object(bucket, "small", sse_customer_key=key)
            assert await stream.read() == b"sealed"
            await s3.put_object(bucket, "big", data, sse_customer_key=key)
            result = await s3.download_file(
                bucket, "big", tmp_path / "big", part_size=4 * 1024 * 1024,
                sse_customer_key=key,
            )
            assert (tmp_path / "big").read_bytes() == data and result.parts == 3
            with pytest.raises(ServiceError):
                await s3.head_object(bucket, "big", sse_customer_key=os.urandom(32))
