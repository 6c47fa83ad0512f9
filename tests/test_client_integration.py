"""S3Client against a real S3 server (SeaweedFS on 127.0.0.1, or the configured server).

Each test gets a fresh bucket; every async test runs on asyncio and on trio.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from s3lite import (
    CommonPrefix,
    CompletedPart,
    InvalidRange,
    InvalidRequestError,
    LifecycleRule,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    ObjectSummary,
    S3Client,
    ServiceError,
    SignatureDoesNotMatch,
)
from s3lite._body import Body
from s3lite._checksum_policy import ChecksumSetting
from s3lite._checksums import Hasher
from s3lite._options import PayloadSigning
from tests.conftest import TestServer, empty_and_delete_bucket, unique_bucket_name
from tests.helpers import MiB, chunks_of, pattern

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(params=["engine", "httpx"])
async def s3(request: pytest.FixtureRequest, s3_server: TestServer) -> AsyncIterator[S3Client]:
    """The client on each of its HTTP engines: s3lite's own (the default) and httpx
    (a caller's own ``httpx.AsyncClient``), so both run every test in this file."""
    if request.param == "engine":
        async with s3_server.client() as client:
            yield client
        return
    async with (
        httpx.AsyncClient(timeout=60.0, trust_env=False) as http,
        S3Client.from_settings(s3_server.settings, http_client=http) as client,
    ):
        yield client


async def sha256_of(s3: S3Client, bucket: str, key: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    total = 0
    async with s3.get_object(bucket, key) as obj:
        async for chunk in obj:
            digest.update(chunk)
            total += len(chunk)
    return digest.hexdigest(), total


# --- put / get / head ----------------------------------------------------------------


async def test_put_then_get_returns_the_same_bytes_and_metadata(s3: S3Client, bucket: str) -> None:
    data = pattern(100_000)
    put = await s3.put_object(
        bucket,
        "docs/report.bin",
        data,
        content_type="application/x-test",
        metadata={"Owner": "ann"},
    )
    obj = await s3.get_object(bucket, "docs/report.bin")
    assert await obj.read() == data
    assert obj.size == len(data)
    assert obj.etag == put.etag == hashlib.md5(data).hexdigest()
    assert obj.content_type == "application/x-test"
    assert obj.metadata == {"owner": "ann"}
    assert obj.last_modified is not None


async def test_head_object_reports_size_etag_and_metadata(s3: S3Client, bucket: str) -> None:
    await s3.put_object(bucket, "k", b"abc", metadata={"color": "blue"}, content_type="text/x-abc")
    info = await s3.head_object(bucket, "k")
    assert (info.key, info.size, info.etag) == ("k", 3, hashlib.md5(b"abc").hexdigest())
    assert info.metadata == {"color": "blue"}
    assert info.content_type == "text/x-abc"
    assert await s3.object_exists(bucket, "k")
    assert not await s3.object_exists(bucket, "missing")


@pytest.mark.parametrize("source", ["bytes", "file", "path", "generator"])
async def test_zero_byte_objects_round_trip_from_every_body_type(
    s3: S3Client, bucket: str, tmp_path: Path, source: str
) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    bodies: dict[str, Body] = {
        "bytes": b"",
        "file": io.BytesIO(b""),
        "path": empty,
        "generator": chunks_of(b"", 1),
    }
    body = bodies[source]
    result = await s3.put_object(bucket, "empty", body)
    assert result.size == 0
    assert (await s3.head_object(bucket, "empty")).size == 0
    assert await (await s3.get_object(bucket, "empty")).read() == b""


async def test_64_mib_streamed_upload_reads_back_with_the_same_checksum(
    s3: S3Client, bucket: str
) -> None:
    data = pattern(64 * MiB, seed=64)
    result = await s3.put_object(bucket, "big/64mib", chunks_of(data, 3 * MiB + 17))
    assert result.parts >= 2  # above the 16 MiB threshold: a multipart upload
    assert result.size == len(data)
    assert await sha256_of(s3, bucket, "big/64mib") == (hashlib.sha256(data).hexdigest(), len(data))


async def test_large_file_upload_uses_ranged_parts_and_round_trips(
    s3_server: TestServer, bucket: str, tmp_path: Path
) -> None:
    data = pattern(23 * MiB + 5, seed=7)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    async with s3_server.client(multipart_threshold=8 * MiB, part_size=5 * MiB) as s3:
        result = await s3.put_object(bucket, "file", path)
        assert result.parts == 5
        with path.open("rb") as handle:
            await s3.put_object(bucket, "fileobj", handle)
        for key in ("file", "fileobj"):
            assert await sha256_of(s3, bucket, key) == (hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize("signing", ["signed", "unsigned"])
async def test_both_payload_signing_modes_are_accepted(
    s3_server: TestServer, bucket: str, tmp_path: Path, signing: PayloadSigning
) -> None:
    data = pattern(3 * MiB + 1, seed=3)
    path = tmp_path / "body"
    path.write_bytes(data)
    async with s3_server.client(payload_signing=signing) as s3:
        await s3.put_object(bucket, "from-bytes", data)
        await s3.put_object(bucket, "from-path", path)
        for key in ("from-bytes", "from-path"):
            assert await (await s3.get_object(bucket, key)).read() == data


async def test_only_a_server_that_checks_part_checksums_is_believed_from_its_create_answer(
    s3_server: TestServer, bucket: str
) -> None:
    async with s3_server.client(payload_signing="unsigned") as s3:
        upload_id = await s3.create_multipart_upload(bucket, "probe", checksum="crc32")
        learnt = s3._pipeline.features.flexible_checksums
        await s3.abort_multipart_upload(bucket, "probe", upload_id)
    if "no-flexible-checksums" in s3_server.quirks:  # RGW: parts must keep Content-MD5
        assert learnt is None
    else:
        assert learnt in (True, None)


@pytest.mark.parametrize("checksum", ["auto", "crc32", "sha256", "md5", None])
@pytest.mark.parametrize("signing", ["signed", "unsigned"])
async def test_every_checksum_mode_stores_the_right_checksum_and_reads_back(
    s3_server: TestServer,
    bucket: str,
    tmp_path: Path,
    checksum: ChecksumSetting,
    signing: PayloadSigning,
) -> None:
    small, large = pattern(300_000, seed=1), pattern(11 * MiB + 5, seed=2)
    path = tmp_path / "large"
    path.write_bytes(large)
    quirks = s3_server.quirks
    async with s3_server.client(
        checksum=checksum, payload_signing=signing, multipart_threshold=6 * MiB, part_size=5 * MiB
    ) as s3:
        await s3.put_object(bucket, "small", small)  # in memory: checksum header
        if checksum in ("crc32", "sha256") and "no-trailing-checksum" in quirks:
            # An explicit flexible checksum is not given up: a streamed body fails loudly.
            with pytest.raises(ServiceError):
                await s3.put_object(bucket, "single-stream", io.BytesIO(small))
            assert await (await s3.get_object(bucket, "small")).read() == small
            pytest.skip(f"{s3_server.kind} takes no trailer (no-trailing-checksum)")
        await s3.put_object(bucket, "streamed", path)  # multipart, parts streamed from the file
        await s3.put_object(bucket, "single-stream", io.BytesIO(small))  # one streamed PUT
        for key, data in (("small", small), ("streamed", large), ("single-stream", small)):
            obj = await s3.get_object(bucket, key)
            assert await obj.read() == data
            if "no-flexible-checksums" in quirks:
                assert obj.info.checksums == {}
                expected_check = (
                    "size-only" if key == "streamed" or checksum is None else "etag-md5"
                )
                assert obj.verified_by == expected_check
                continue
            stored = "crc32" if checksum == "auto" else checksum
            if stored in ("crc32", "sha256") and key != "streamed":
                expected = Hasher.of(stored, data)
                assert obj.info.checksums.get(stored) == expected
                assert (await s3.head_object(bucket, key)).checksums.get(stored) == expected
                assert obj.verified_by == stored
            if stored == "crc32" and key == "streamed":  # multipart: a full-object CRC32
                assert obj.info.checksums.get("crc32") == Hasher.of("crc32", large)
                assert obj.verified_by == "crc32"
            if stored == "sha256" and key == "streamed":  # no full-object SHA-256 in S3
                assert obj.info.checksums.get("sha256", "").endswith("-3")  # composite of 3 parts


# --- ranges ----------------------------------------------------------------------------


async def test_ranged_get_returns_inclusive_byte_positions(s3: S3Client, bucket: str) -> None:
    data = pattern(1000)
    await s3.put_object(bucket, "r", data)
    obj = await s3.get_object(bucket, "r", range=(5, 9))
    assert await obj.read() == data[5:10]
    assert (obj.size, obj.total_size, obj.content_range) == (5, 1000, (5, 9))
    tail = await s3.get_object(bucket, "r", range=(990, None))
    assert await tail.read() == data[990:]


async def test_range_beyond_the_end_raises_invalid_range(s3: S3Client, bucket: str) -> None:
    await s3.put_object(bucket, "r", b"0123456789")
    with pytest.raises(InvalidRange):
        await s3.get_object(bucket, "r", range=(20, None))


@pytest.mark.parametrize("bad", [(-1, 3), (5, 2), (1.5, 2), ("0", 1), (0,)])
async def test_invalid_ranges_are_refused_before_sending(
    s3: S3Client, bucket: str, bad: object
) -> None:
    with pytest.raises(InvalidRequestError, match="range"):
        s3.get_object(bucket, "k", range=bad)  # type: ignore[arg-type]


# --- awkward keys ----------------------------------------------------------------------

AWKWARD_KEYS = {
    "double-slash": ("a//b", "collapses-double-slash"),
    "space-plus": ("x y+z", None),
    "lead-trail-space": (" lead and trail ", None),
    "tilde": ("~tilde", None),
    "unicode": ("ünïcødé/日本/ключ", None),
    "percent-2f": ("%2F", None),
    "punctuation": ("?#;,'\"", None),
    "tab": ("tab\there", None),
    "dot-segment": ("a/./b", "refuses-dot-segments"),
    "dotdot-segment": ("a/../b", "refuses-dot-segments"),
    "long-segment": ("s" * 300, "segment-max-255-bytes"),
    "ampersand-xml": ("a&b<c>d", None),
}


async def fetch_raw(url: str) -> bytes:
    """GET ``url`` with its path sent exactly as written (httpx would resolve ``a/./b``,
    which breaks the signature of a key that has such segments)."""
    parts = urllib.parse.urlsplit(url)

    def get() -> bytes:
        connection = http.client.HTTPConnection(parts.netloc, timeout=30)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            data = response.read()
            assert response.status == 200, (response.status, data[:300])
            return data
        finally:
            connection.close()

    return await anyio.to_thread.run_sync(get)


@pytest.mark.parametrize("name", sorted(AWKWARD_KEYS))
async def test_awkward_keys_round_trip_through_put_get_list_and_delete(
    s3: S3Client, s3_server: TestServer, bucket: str, name: str
) -> None:
    key, quirk = AWKWARD_KEYS[name]
    body = key.encode() + b"-body"
    if quirk in s3_server.quirks:
        # The server refuses or rewrites this key; what it must not do is reject the signature.
        try:
            await s3.put_object(bucket, key, body)
        except ServiceError as error:
            assert not isinstance(error, SignatureDoesNotMatch)
            assert error.status == 400
        pytest.skip(f"{s3_server.kind} does not store this key as given ({quirk})")
    await s3.put_object(bucket, key, body)
    assert await (await s3.get_object(bucket, key)).read() == body
    assert (await s3.head_object(bucket, key)).size == len(body)
    listed = [entry.key async for entry in s3.list_objects(bucket)]
    assert listed == [key]
    url = s3.presign_get(bucket, key)
    assert await fetch_raw(url) == body
    await s3.delete_object(bucket, key)
    assert not await s3.object_exists(bucket, key)


# --- errors ----------------------------------------------------------------------------


async def test_missing_key_raises_no_such_key_with_details(s3: S3Client, bucket: str) -> None:
    with pytest.raises(NoSuchKey) as caught:
        await s3.get_object(bucket, "no/such key")
    error = caught.value
    assert (error.code, error.status, error.bucket, error.key) == (
        "NoSuchKey",
        404,
        bucket,
        "no/such key",
    )
    assert error.request_id
    with pytest.raises(NoSuchKey):
        await s3.head_object(bucket, "no/such key")


async def test_missing_bucket_raises_no_such_bucket(s3: S3Client) -> None:
    missing = unique_bucket_name("missing")
    with pytest.raises(NoSuchBucket):
        await s3.put_object(missing, "k", b"x")
    with pytest.raises(NoSuchBucket):
        await s3.list_objects(missing).__anext__()
    assert not await s3.bucket_exists(missing)


async def test_wrong_secret_raises_signature_does_not_match(
    s3_server: TestServer, bucket: str
) -> None:
    settings = s3_server.settings
    async with S3Client(
        settings.service_url,
        access_key=settings.access_key,
        secret_key="definitely-not-the-secret",
        region=settings.region,
        addressing_style=settings.addressing_style,
    ) as wrong:
        with pytest.raises(SignatureDoesNotMatch) as caught:
            await wrong.put_object(bucket, "k", b"x")
    assert "definitely-not-the-secret" not in str(caught.value)
    assert caught.value.status == 403


# --- copy / delete / list ---------------------------------------------------------------


async def test_copy_object_copies_or_replaces_metadata(s3: S3Client, bucket: str) -> None:
    await s3.put_object(bucket, "src", b"payload", metadata={"a": "1"}, content_type="text/a")
    await s3.copy_object(bucket, "src", bucket, "same-meta")
    kept = await s3.head_object(bucket, "same-meta")
    assert (kept.metadata, kept.content_type) == ({"a": "1"}, "text/a")
    await s3.copy_object(
        bucket, "src", bucket, "new-meta", metadata={"b": "2"}, content_type="text/b"
    )
    replaced = await s3.head_object(bucket, "new-meta")
    assert (replaced.metadata, replaced.content_type) == ({"b": "2"}, "text/b")
    assert await (await s3.get_object(bucket, "new-meta")).read() == b"payload"


async def test_copy_between_buckets_and_missing_source(s3: S3Client, bucket: str) -> None:
    other = unique_bucket_name("copy")
    await s3.create_bucket(other)
    try:
        await s3.put_object(bucket, "x y+z", b"data")
        await s3.copy_object(bucket, "x y+z", other, "copied")
        assert await (await s3.get_object(other, "copied")).read() == b"data"
        with pytest.raises(NoSuchKey):
            await s3.copy_object(bucket, "missing", other, "nothing")
    finally:
        await empty_and_delete_bucket(s3, other)


async def test_large_copies_go_through_upload_part_copy(s3_server: TestServer, bucket: str) -> None:
    data = pattern(12 * MiB + 3, seed=12)
    async with s3_server.client(copy_threshold=6 * MiB, copy_part_size=5 * MiB) as s3:
        await s3.put_object(bucket, "src", data, metadata={"m": "v"}, content_type="app/x")
        await s3.copy_object(bucket, "src", bucket, "dst")
        assert await sha256_of(s3, bucket, "dst") == (hashlib.sha256(data).hexdigest(), len(data))
        info = await s3.head_object(bucket, "dst")
        assert (info.metadata, info.content_type) == ({"m": "v"}, "app/x")
        assert info.etag.endswith("-3")  # three copied parts


async def test_delete_object_and_batch_delete(s3: S3Client, bucket: str) -> None:
    keys = [f"many/{i:04d}" for i in range(1003)]
    limiter = anyio.CapacityLimiter(32)

    async def put(key: str) -> None:
        async with limiter:
            await s3.put_object(bucket, key, key.encode())

    async with anyio.create_task_group() as group:
        for key in keys:
            group.start_soon(put, key)
    await s3.delete_object(bucket, keys[0])
    await s3.delete_object(bucket, "never-existed")  # deleting a missing key is not an error
    result = await s3.delete_objects(bucket, keys[1:])  # two batches: 1000 + 2
    assert sorted(result.deleted) == sorted(keys[1:])
    assert result.errors == ()
    assert [e async for e in s3.list_objects(bucket)] == []


async def test_list_objects_pages_prefixes_and_delimiters(
    s3: S3Client, s3_server: TestServer, bucket: str
) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d", "e e"]
    for key in keys:
        await s3.put_object(bucket, key, b".")
    everything = [e async for e in s3.list_objects(bucket, page_size=2)]
    assert all(isinstance(e, ObjectSummary) for e in everything)
    listed = [e.key for e in everything if isinstance(e, ObjectSummary)]
    if "unsorted-listing" in s3_server.quirks:
        listed.sort()
    assert listed == sorted(keys)
    assert [e.key async for e in s3.list_objects(bucket, prefix="a/")] == ["a/1", "a/2", "a/b/3"]
    rolled = [e async for e in s3.list_objects(bucket, delimiter="/", page_size=2)]
    prefixes = sorted(e.prefix for e in rolled if isinstance(e, CommonPrefix))
    objects = sorted(e.key for e in rolled if isinstance(e, ObjectSummary))
    assert (prefixes, objects) == (["a/", "b/"], ["c", "d", "e e"])
    summary = next(e for e in everything if e.key == "c")
    assert (summary.size, summary.etag) == (1, hashlib.md5(b".").hexdigest())


# --- buckets and lifecycle ---------------------------------------------------------------


async def test_bucket_lifecycle_create_exists_delete(s3: S3Client, s3_server: TestServer) -> None:
    name = unique_bucket_name("life")
    assert not await s3.bucket_exists(name)
    await s3.create_bucket(name)
    try:
        assert await s3.bucket_exists(name)
        assert name in await s3.list_buckets()
        await s3.create_bucket(name, exist_ok=True)
        if "recreate-own-bucket-ok" in s3_server.quirks:
            await s3.create_bucket(name)  # 200, as AWS us-east-1 answers
        else:
            with pytest.raises(ServiceError):
                await s3.create_bucket(name)
    finally:
        await s3.delete_bucket(name)
    assert not await s3.bucket_exists(name)


async def test_lifecycle_rule_round_trips(s3: S3Client, bucket: str) -> None:
    assert await s3.get_bucket_lifecycle(bucket) == []
    rule = LifecycleRule(id="expire-recycled", days=90)
    await s3.put_bucket_lifecycle(bucket, [rule])
    assert await s3.get_bucket_lifecycle(bucket) == [rule]


# --- multipart -------------------------------------------------------------------------


async def test_manual_multipart_upload_assembles_parts(s3: S3Client, bucket: str) -> None:
    first, second = pattern(5 * MiB, seed=1), pattern(1234, seed=2)
    upload_id = await s3.create_multipart_upload(bucket, "mp", content_type="app/mp")
    parts = [
        await s3.upload_part(bucket, "mp", upload_id, 1, first),
        await s3.upload_part(bucket, "mp", upload_id, 2, chunks_of(second, 100)),
    ]
    listed = await s3.list_parts(bucket, "mp", upload_id)
    assert [(p.part_number, p.size) for p in listed] == [(1, len(first)), (2, len(second))]
    await s3.complete_multipart_upload(bucket, "mp", upload_id, parts)
    assert await (await s3.get_object(bucket, "mp")).read() == first + second
    assert (await s3.head_object(bucket, "mp")).content_type == "app/mp"


async def test_aborted_multipart_upload_leaves_nothing_behind(s3: S3Client, bucket: str) -> None:
    upload_id = await s3.create_multipart_upload(bucket, "aborted")
    await s3.upload_part(bucket, "aborted", upload_id, 1, pattern(5 * MiB))
    assert [u.upload_id async for u in s3.list_multipart_uploads(bucket)] == [upload_id]
    await s3.abort_multipart_upload(bucket, "aborted", upload_id)
    assert [u async for u in s3.list_multipart_uploads(bucket)] == []
    with pytest.raises(NoSuchUpload):
        await s3.list_parts(bucket, "aborted", upload_id)
    assert not await s3.object_exists(bucket, "aborted")
    with pytest.raises(NoSuchUpload):
        await s3.complete_multipart_upload(
            bucket, "aborted", upload_id, [CompletedPart(1, "0" * 32)]
        )


async def test_failing_stream_aborts_its_multipart_upload(s3: S3Client, bucket: str) -> None:
    async def breaks_after_40_mib() -> AsyncIterator[bytes]:
        chunk = pattern(MiB)
        for _ in range(40):
            yield chunk
        raise OSError("source went away")

    with pytest.raises(OSError, match="source went away"):
        await s3.put_object(bucket, "broken", breaks_after_40_mib())
    assert [u async for u in s3.list_multipart_uploads(bucket)] == []
    assert not await s3.object_exists(bucket, "broken")


async def test_cancelled_upload_aborts_its_multipart_upload(s3: S3Client, bucket: str) -> None:
    async def slow_after_20_mib() -> AsyncIterator[bytes]:
        chunk = pattern(MiB)
        for _ in range(20):
            yield chunk
        await anyio.sleep(60)
        yield chunk

    with anyio.move_on_after(3) as scope:
        await s3.put_object(bucket, "cancelled", slow_after_20_mib())
    assert scope.cancelled_caught
    assert [u async for u in s3.list_multipart_uploads(bucket)] == []


# --- presigned URLs and addressing ---------------------------------------------------------


async def test_presigned_get_and_put_work_with_plain_httpx(
    s3: S3Client, s3_server: TestServer, bucket: str
) -> None:
    async with httpx.AsyncClient() as plain:
        put_url = s3.presign_put(bucket, "presigned", expires_in=60, content_type="text/plain")
        response = await plain.put(
            put_url, content=b"via url", headers={"content-type": "text/plain"}
        )
        assert response.status_code == 200
        get_url = s3.presign_get(bucket, "presigned", expires_in=60)
        fetched = await plain.get(get_url)
        assert (fetched.status_code, fetched.content) == (200, b"via url")
        tampered = get_url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        assert (await plain.get(tampered)).status_code == 403
    assert s3_server.settings.secret_key not in get_url


class _LoopbackTransport(httpx.AsyncBaseTransport):
    """Connects every request to 127.0.0.1, keeping the virtual-hosted Host header."""

    def __init__(self, port: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._port = port

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(host="127.0.0.1", port=self._port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_virtual_hosted_addressing_puts_the_bucket_in_the_host(
    s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    if s3_server.kind != "seaweedfs":
        pytest.skip("needs a server with a known virtual-host domain")
    from tests.s3server import VIRTUAL_HOST_DOMAIN

    port = int(s3_server.settings.service_url.rsplit(":", 1)[1])
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.headers["host"])

    http = httpx.AsyncClient(transport=_LoopbackTransport(port), event_hooks={"request": [record]})
    settings = s3_server.settings
    async with (
        http,
        S3Client(
            f"http://{VIRTUAL_HOST_DOMAIN}:{port}",
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            region=settings.region,
            addressing_style="virtual",
            http_client=http,
        ) as virtual,
    ):
        await virtual.put_object(bucket, "vh/key", b"virtual")
        assert await (await virtual.get_object(bucket, "vh/key")).read() == b"virtual"
        assert [e.key async for e in virtual.list_objects(bucket)] == ["vh/key"]
    assert set(seen) == {f"{bucket}.{VIRTUAL_HOST_DOMAIN}:{port}"}
    assert await (await s3.get_object(bucket, "vh/key")).read() == b"virtual"


async def test_a_streamed_body_is_released_when_the_reader_stops_early(
    s3: S3Client, bucket: str
) -> None:
    await s3.put_object(bucket, "partial", pattern(4 * MiB))
    for _ in range(3 * int(os.environ.get("S3LITE_POOL_CHECK", "30"))):
        async with s3.get_object(bucket, "partial") as obj:
            async for _chunk in obj:
                break  # leaving early must return the connection to the pool
    assert await (await s3.get_object(bucket, "partial", range=(0, 3))).read() == pattern(4)
