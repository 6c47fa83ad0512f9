"""The checksum policy (``s3lite._checksum_policy``): the pure table, and the client on fake
servers that lack trailers or flexible checksums (``tests.fakes3.FakeS3``), and leniency
where a server answers oddly after it committed an object."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from s3lite import CompletedPart, IntegrityError, NoSuchUpload, ServiceError
from s3lite._checksum_policy import (
    ServerFeatures,
    download_check,
    is_md5_etag,
    upload_checksum,
)
from s3lite._signing import EMPTY_SHA256
from tests.fakes3 import BUCKET, FakeS3, Seen, body_response, error_response, etag_of, mock_client
from tests.helpers import MiB, pattern

pytestmark = pytest.mark.anyio

TRAILER_MODES = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")


def puts(fake: FakeS3) -> list[Seen]:
    return [seen for seen in fake.requests if seen.method == "PUT"]


# --- the pure table ------------------------------------------------------------------------


def features(*, trailers: bool = True, flexible: bool = True) -> ServerFeatures:
    known = ServerFeatures("example.test")
    known.trailers, known.flexible_checksums = trailers, flexible
    return known


@pytest.mark.parametrize(
    ("trailers", "flexible", "in_memory", "signed", "expected"),
    [
        (True, True, True, True, "crc32"),
        (True, True, False, False, "crc32"),
        (False, True, True, False, "crc32"),  # no trailer needed for an in-memory body
        (False, True, False, True, None),  # signed chunks protect the stream
        (False, True, False, False, "md5"),
        (True, False, True, True, None),  # the signed SHA-256 protects it
        (True, False, True, False, "md5"),
        (True, False, False, False, "md5"),
    ],
)
def test_auto_picks_what_the_server_can_check(
    trailers: bool, flexible: bool, in_memory: bool, signed: bool, expected: str | None
) -> None:
    known = features(trailers=trailers, flexible=flexible)
    assert upload_checksum("auto", known, in_memory=in_memory, signed=signed) == expected


@pytest.mark.parametrize("setting", ["crc32", "sha256", "md5", None])
def test_an_explicit_setting_is_used_on_every_server(setting: str | None) -> None:
    known = features(trailers=False, flexible=False)
    assert upload_checksum(setting, known, in_memory=False, signed=True) == setting  # type: ignore[arg-type]


def test_features_are_only_turned_off_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    known = ServerFeatures("example.test")
    assert known.flexible_checksums is None  # not known before the first answer
    with caplog.at_level(logging.INFO, logger="s3lite"):
        known.note_upload_answer("crc32", httpx.Headers({"x-amz-checksum-crc32": "AAAAAA=="}))
        assert known.flexible_checksums is True
        known.note_upload_answer("crc32", httpx.Headers({}))
        known.note_upload_answer("crc32", httpx.Headers({}))
        known.refuse_trailers("NotImplemented")
        known.refuse_trailers("NotImplemented")
    assert not known.flexible_checksums and not known.trailers
    assert len(caplog.records) == 2
    assert "example.test" in caplog.records[0].getMessage()


MD5_HEX = hashlib.md5(b"data", usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    ("etag", "headers", "expected"),
    [
        (MD5_HEX, {}, True),
        (MD5_HEX.upper(), {"x-amz-server-side-encryption": "AES256"}, True),
        (MD5_HEX + "-2", {}, False),
        (MD5_HEX[:-1], {}, False),
        ("not-hex-" + MD5_HEX[8:], {}, False),
        (MD5_HEX, {"x-amz-server-side-encryption": "aws:kms"}, False),
        (MD5_HEX, {"x-amz-server-side-encryption": "aws:kms:dsse"}, False),
        (MD5_HEX, {"x-amz-server-side-encryption-customer-algorithm": "AES256"}, False),
    ],
)
def test_md5_etags_are_recognised_as_other_sdks_do(
    etag: str, headers: dict[str, str], expected: bool
) -> None:
    assert is_md5_etag(etag, httpx.Headers(headers)) is expected


def test_download_check_prefers_the_stored_checksum_then_the_etag() -> None:
    none = httpx.Headers({})
    md5_b64 = base64.b64encode(bytes.fromhex(MD5_HEX)).decode()
    assert download_check(none, {"crc32": "AAAAAA=="}, MD5_HEX, whole=True, etag_md5=True) == (
        "crc32",
        "crc32",
        "AAAAAA==",
    )
    assert download_check(none, {}, MD5_HEX, whole=True, etag_md5=True) == (
        "etag-md5",
        "md5",
        md5_b64,
    )
    assert download_check(none, {}, MD5_HEX, whole=True, etag_md5=False)[0] == "size-only"
    assert download_check(none, {}, MD5_HEX, whole=False, etag_md5=True)[0] == "size-only"
    composite = httpx.Headers({"x-amz-checksum-type": "COMPOSITE"})
    assert download_check(composite, {"crc32": "AAAAAA=="}, MD5_HEX + "-3", whole=True,
                          etag_md5=True)[0] == "size-only"  # fmt: skip


# --- uploads on servers without trailers or flexible checksums -----------------------------


@pytest.mark.parametrize("signing", ["signed", "unsigned"])
async def test_a_refused_trailer_is_resent_once_without_and_remembered(
    signing: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "body"
    path.write_bytes(pattern(300_000))
    fake = FakeS3(trailers=False)
    with caplog.at_level(logging.INFO, logger="s3lite"):
        async with mock_client(fake, payload_signing=signing) as s3:
            await s3.put_object(BUCKET, "a", path)
            await s3.put_object(BUCKET, "b", path)
    first, resent, second = puts(fake)
    assert first.headers["x-amz-content-sha256"] in TRAILER_MODES
    for seen in (resent, second):
        mode = seen.headers["x-amz-content-sha256"]
        assert mode not in TRAILER_MODES and "x-amz-trailer" not in seen.headers
        if signing == "signed":
            assert mode == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"  # every chunk signed
        else:
            assert mode == "UNSIGNED-PAYLOAD"
            expected = base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()
            assert seen.headers["content-md5"] == expected
    assert fake.objects["a"] == fake.objects["b"] == path.read_bytes()
    refusals = [r for r in caplog.records if "refused an aws-chunked" in r.getMessage()]
    assert len(refusals) == 1


async def test_an_explicit_crc32_is_not_given_up(tmp_path: Path) -> None:
    path = tmp_path / "body"
    path.write_bytes(pattern(1000))
    fake = FakeS3(trailers=False)
    async with mock_client(fake, checksum="crc32") as s3:
        with pytest.raises(ServiceError) as info:
            await s3.put_object(BUCKET, "a", path)
    assert info.value.code == "XAmzContentSHA256Mismatch"
    assert len(puts(fake)) == 1 and "a" not in fake.objects


async def test_a_multipart_upload_falls_back_part_by_part(tmp_path: Path) -> None:
    path = tmp_path / "body"
    data = pattern(12 * MiB)
    path.write_bytes(data)
    fake = FakeS3(trailers=False)
    async with mock_client(fake, part_size=5 * MiB, multipart_threshold=5 * MiB,
                           max_concurrency=1) as s3:  # fmt: skip
        result = await s3.put_object(BUCKET, "big", path)
    assert fake.objects["big"] == data and result.parts == 3
    modes = [seen.headers["x-amz-content-sha256"] for seen in puts(fake)]
    assert modes[0] in TRAILER_MODES  # refused, then every part without a trailer
    assert modes[1:] == ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD"] * 3


async def test_a_server_that_ignores_flexible_checksums_gets_content_md5() -> None:
    fake = FakeS3(flexible_checksums=False)
    async with mock_client(fake, payload_signing="unsigned") as s3:
        await s3.put_object(BUCKET, "a", b"first")
        await s3.put_object(BUCKET, "b", b"second")
    first, second = puts(fake)
    # Before the server has shown what it checks, an unsigned body carries both.
    assert "x-amz-checksum-crc32" in first.headers and "content-md5" in first.headers
    assert "x-amz-checksum-crc32" not in second.headers
    expected = base64.b64encode(hashlib.md5(b"second").digest()).decode()
    assert second.headers["content-md5"] == expected


@pytest.mark.parametrize("flexible", [True, False])
async def test_unsigned_parts_skip_content_md5_once_the_create_answer_names_the_algorithm(
    tmp_path: Path, flexible: bool
) -> None:
    path = tmp_path / "big"
    path.write_bytes(pattern(3 * 5 * MiB))
    fake = FakeS3(flexible_checksums=flexible)
    async with mock_client(
        fake, payload_signing="unsigned", multipart_threshold=5 * MiB, part_size=5 * MiB,
        max_concurrency=3,
    ) as s3:  # fmt: skip
        await s3.put_object(BUCKET, "big", path)
        learnt = s3._pipeline.features.flexible_checksums
    parts = [seen for seen in puts(fake) if seen.has("partNumber")]
    assert len(parts) == 3
    if flexible:  # AWS's answer to CreateMultipartUpload: no part needs Content-MD5
        assert learnt is True
        assert not any("content-md5" in seen.headers for seen in parts)
    else:  # nothing learnt before the parts went out: each carries Content-MD5 too
        assert learnt is False
        assert all("content-md5" in seen.headers for seen in parts)
    assert all(seen.headers["x-amz-trailer"] == "x-amz-checksum-crc32" for seen in parts)


async def test_a_server_that_echoes_checksums_keeps_getting_crc32(tmp_path: Path) -> None:
    path = tmp_path / "body"
    path.write_bytes(pattern(1000))
    fake = FakeS3()
    async with mock_client(fake) as s3:
        for key in ("a", "b"):
            await s3.put_object(BUCKET, key, b"in memory")
            await s3.put_object(BUCKET, key + "-file", path)
        assert s3._pipeline.features.flexible_checksums and s3._pipeline.features.trailers
    for seen in puts(fake):
        assert seen.headers["x-amz-sdk-checksum-algorithm"] == "CRC32"
        assert "content-md5" not in seen.headers  # signed (http): the signature covers it
        assert "x-amz-checksum-crc32" in seen.headers or seen.headers["x-amz-trailer"] == (
            "x-amz-checksum-crc32"
        )


@pytest.mark.parametrize("kind", ["path", "stream"])
async def test_an_empty_body_is_a_plain_empty_body(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")

    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    fake = FakeS3()
    async with mock_client(fake) as s3:
        await s3.put_object(BUCKET, "e", path if kind == "path" else nothing())
    (seen,) = puts(fake)
    assert seen.headers["content-length"] == "0" and seen.body == b""
    assert "content-encoding" not in seen.headers
    assert seen.headers["x-amz-content-sha256"] == EMPTY_SHA256
    assert fake.objects["e"] == b""


# --- downloads -----------------------------------------------------------------------------


async def test_a_download_without_a_stored_checksum_is_checked_against_the_md5_etag() -> None:
    data = pattern(200_000)

    async def corrupt(seen: Seen) -> httpx.Response | None:
        if seen.method == "GET":
            flipped = bytearray(data)
            flipped[1000] ^= 1
            return body_response(200, bytes(flipped), {"etag": etag_of(data)})
        return None

    fake = FakeS3()
    fake.objects["k"] = data
    async with mock_client(fake) as s3:
        good = await s3.get_object(BUCKET, "k")
        assert good.verified_by == "etag-md5"
        assert await good.read() == data
        async with s3.get_object(BUCKET, "k", range=(0, 9)) as part:
            assert part.verified_by == "size-only"
        fake.intercept = corrupt
        bad = await s3.get_object(BUCKET, "k")
        with pytest.raises(IntegrityError, match="MD5 ETag"):
            await bad.read()
    async with mock_client(fake, checksum=None) as s3:
        unchecked = await s3.get_object(BUCKET, "k")
        assert unchecked.verified_by == "size-only"
        assert len(await unchecked.read()) == len(data)


# --- lenient where the object is already committed -------------------------------------


@pytest.mark.parametrize("where", ["header", "head", "nowhere"])
async def test_an_empty_etag_from_complete_is_not_a_failure(where: str) -> None:
    data = pattern(11 * MiB)
    real = etag_of(data)

    async def empty_etag(seen: Seen) -> httpx.Response | None:
        if seen.method == "POST" and seen.has("uploadId"):
            answer = fake.serve(seen)
            headers = {"etag": real} if where == "header" else {}
            body = b"<CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>"
            assert answer.status_code == 200
            return httpx.Response(200, headers=headers, content=body)
        if seen.method == "HEAD" and where == "nowhere":
            return httpx.Response(200, headers={"content-length": str(len(data))})
        return None

    fake = FakeS3(intercept=empty_etag)
    async with mock_client(fake, part_size=5 * MiB, multipart_threshold=5 * MiB) as s3:
        result = await s3.put_object(BUCKET, "big", data)
    assert fake.objects["big"] == data
    assert fake.aborted == []  # never aborted after the server committed the object
    assert result.etag == (None if where == "nowhere" else real.strip('"'))


async def test_an_unknown_upload_is_no_such_upload_even_when_the_server_says_no_such_key() -> None:
    async def rgw_like(seen: Seen) -> httpx.Response | None:
        if seen.method == "GET" and seen.has("uploadId"):
            return error_response(404, "NoSuchKey", "The specified key does not exist.")
        if seen.method == "POST" and seen.has("uploadId"):
            return error_response(500, "InternalError", "")
        return None

    fake = FakeS3(intercept=rgw_like)
    async with mock_client(fake) as s3:
        with pytest.raises(NoSuchUpload):
            await s3.list_parts(BUCKET, "k", "gone")
        with pytest.raises(NoSuchUpload, match="InternalError"):
            await s3.complete_multipart_upload(BUCKET, "k", "gone", [CompletedPart(1, "e")])


async def test_unsigned_uploads_carry_content_md5_only_until_the_server_confirms_crc32() -> None:
    fake = FakeS3()
    async with mock_client(fake, payload_signing="unsigned") as s3:
        await s3.put_object(BUCKET, "a", b"first")
        await s3.put_object(BUCKET, "b", b"second")
    first, second = puts(fake)
    assert "content-md5" in first.headers and "x-amz-checksum-crc32" in first.headers
    assert "content-md5" not in second.headers and "x-amz-checksum-crc32" in second.headers
