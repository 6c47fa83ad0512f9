"""Shared fixtures: the anyio backends, a real S3 server, clients, scratch buckets, and a
fault-injecting proxy in front of the server.  (Plain shared values and functions are in
``tests/helpers.py``; the fake server of the unit tests is ``tests/fakes3.py``.)

The server is started on 127.0.0.1 for the whole session: SeaweedFS by default, Ceph RGW
with ``--s3-server=rgw`` (or ``S3LITE_TEST_SERVER=rgw``).  ``S3LITE_TEST_CONNECTION_STRING``
points the suite at another server instead (MinIO, AWS); its credentials need permission
to create and delete buckets, and ``S3LITE_TEST_QUIRKS`` names what it lacks.

Quirks: what a server does differently from AWS S3.  A test that meets one skips with
the quirk's name, or checks the behaviour s3lite promises on such a server instead:

- ``collapses-double-slash``: ``a//b`` is stored as ``a/b``
- ``refuses-dot-segments``: keys with ``.`` or ``..`` segments are refused (400)
- ``segment-max-255-bytes``: one path segment over 255 bytes is refused
- ``unsorted-listing``: listings are not in byte order
- ``keeps-aws-chunked-encoding``: objects streamed as aws-chunked report that Content-Encoding
- ``no-trailing-checksum``: aws-chunked trailers (``STREAMING-*-TRAILER``) are refused
- ``no-flexible-checksums``: ``x-amz-checksum-*`` is neither checked on upload nor returned
- ``recreate-own-bucket-ok``: creating a bucket you already own answers 200 (as AWS us-east-1)
- ``ignores-session-token``: an unknown ``x-amz-security-token`` is not refused
- ``no-full-object-checksum``: multipart uploads cannot state a FULL_OBJECT CRC32
- ``one-storage-class``: only ``STANDARD`` exists (other storage classes are refused)
- ``no-sse-s3``: ``x-amz-server-side-encryption: AES256`` is refused (no keys configured)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Unpack

import pytest

from s3lite import (
    ClientOptions,
    ConnectionSettings,
    DeleteMarker,
    ObjectVersion,
    S3Client,
    S3Error,
    parse_connection_string,
)
from s3lite._options import OptionArguments
from tests.faultproxy import FaultProxy, upstream_of
from tests.pgserver import PostgresServer, postgres_server

CONNECTION_ENV = "S3LITE_TEST_CONNECTION_STRING"
SERVER_ENV = "S3LITE_TEST_SERVER"
SERVERS = ("seaweedfs", "rgw")


@dataclass(frozen=True)
class TestServer:
    """How to reach the S3 server under test, and what it is known not to support."""

    settings: ConnectionSettings
    kind: str
    quirks: frozenset[str] = field(default_factory=frozenset)
    log_path: Path | None = None

    __test__ = False  # not a test class

    def client(self, **options: Unpack[OptionArguments]) -> S3Client:
        return S3Client.from_settings(
            self.settings, options=ClientOptions().with_changes(**options)
        )

    def connection_string(self, object_bucket: str, recycle_bucket: str) -> str:
        s = self.settings
        return (
            f"ServiceUrl={s.service_url}; AccessKey={s.access_key}; SecretKey={s.secret_key}; "
            f"ObjectBucketName={object_bucket}; RecycleBucketName={recycle_bucket}; "
            f"Region={s.region}; AddressingStyle={s.addressing_style};"
        )


# What SeaweedFS does differently from AWS S3 (seen by probing weed 4.48).
SEAWEEDFS_QUIRKS = frozenset(
    {
        "collapses-double-slash",  # a//b is stored as a/b
        "refuses-dot-segments",  # keys with . or .. segments: 400 InvalidRequest
        "segment-max-255-bytes",  # one path segment over 255 bytes: KeyTooLongError
        "unsorted-listing",  # listing follows its folder walk, not byte order
        "keeps-aws-chunked-encoding",  # objects streamed with aws-chunked report that encoding
    }
)


# What Ceph RGW 16.2 (Debian bookworm's radosgw) does differently (see tests/rgwserver.py).
RGW_QUIRKS = frozenset(
    {
        "no-trailing-checksum",
        "no-flexible-checksums",
        "no-full-object-checksum",
        "recreate-own-bucket-ok",
        "ignores-session-token",
        "one-storage-class",
        "no-sse-s3",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--s3-server",
        choices=SERVERS,
        default=None,
        help=f"the S3 server the integration tests start (default: ${SERVER_ENV} or seaweedfs)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the real server is an integration test (``-m integration``)."""
    for item in items:
        if "s3_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


def chosen_server(config: pytest.Config) -> str:
    """Which local server the session starts: the option, else the environment."""
    name = config.getoption("--s3-server") or os.environ.get(SERVER_ENV) or "seaweedfs"
    if name not in SERVERS:
        raise pytest.UsageError(f"{SERVER_ENV} must be one of {', '.join(SERVERS)}, got {name!r}")
    return str(name)


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(CONNECTION_ENV):
        quirks = os.environ.get("S3LITE_TEST_QUIRKS", "") or "none"
        return f"S3 server: external ({CONNECTION_ENV}); quirks: {quirks}"
    return f"S3 server: {chosen_server(config)} on 127.0.0.1"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on asyncio and on trio."""
    return str(request.param)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use; tests/pgserver.py)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestServer]:
    """A real S3 server for the session (SeaweedFS on 127.0.0.1 unless configured)."""
    text = os.environ.get(CONNECTION_ENV)
    if text:
        settings = parse_connection_string(text)
        quirks = frozenset(q for q in os.environ.get("S3LITE_TEST_QUIRKS", "").split(",") if q)
        yield TestServer(settings, kind="external", quirks=quirks)
        return
    kind = chosen_server(request.config)
    from tests.rgwserver import find_rgw, run_rgw
    from tests.s3server import find_weed, run_seaweedfs

    find, run, quirks = (
        (find_rgw, run_rgw, RGW_QUIRKS)
        if kind == "rgw"
        else (find_weed, run_seaweedfs, SEAWEEDFS_QUIRKS)
    )
    try:
        find()
    except RuntimeError as exc:
        pytest.skip(f"no S3 server: {exc} (or set {CONNECTION_ENV})")
    with run(tmp_path_factory.mktemp(kind)) as server:
        settings = parse_connection_string(server.connection_string())
        yield TestServer(settings, kind, quirks, server.log_path)


@pytest.fixture
async def s3(s3_server: TestServer) -> AsyncIterator[S3Client]:
    """An open client on the test server."""
    async with s3_server.client() as client:
        yield client


def unique_bucket_name(tag: str = "t") -> str:
    return f"s3lite-{tag}-{uuid.uuid4().hex[:16]}"


async def empty_and_delete_bucket(client: S3Client, bucket: str) -> None:
    """Remove every object and pending upload, then the bucket itself."""
    try:
        async for upload in client.list_multipart_uploads(bucket):
            await client.abort_multipart_upload(bucket, upload.key, upload.upload_id)
        keys = [entry.key async for entry in client.list_objects(bucket)]
        if keys:
            await client.delete_objects(bucket, keys)
        if await client.get_bucket_versioning(bucket) is not None:  # old versions, markers
            versions: list[str | tuple[str, str]] = [
                (entry.key, entry.version_id)
                async for entry in client.list_object_versions(bucket)
                if isinstance(entry, ObjectVersion | DeleteMarker)
            ]
            if versions:
                await client.delete_objects(bucket, versions)
        await client.delete_bucket(bucket)
    except S3Error:
        pass  # best effort: a leftover scratch bucket must not fail the test


@pytest.fixture
async def bucket(s3: S3Client) -> AsyncIterator[str]:
    """A new, empty bucket for one test; emptied and deleted afterwards."""
    name = unique_bucket_name()
    await s3.create_bucket(name)
    try:
        yield name
    finally:
        await empty_and_delete_bucket(s3, name)


@pytest.fixture
async def proxy(s3_server: TestServer) -> AsyncIterator[FaultProxy]:
    """``tests.faultproxy.FaultProxy`` relaying to the test server (skips if it cannot)."""
    try:
        host, port = upstream_of(s3_server.settings.service_url)
    except ValueError as exc:
        pytest.skip(str(exc))
    async with FaultProxy(host, port) as running:
        yield running
