"""``S3Client``, the facade, without a server: requests are answered by FakeS3.

What each operation puts on the wire (paths, queries, headers), how it reads the answer
(paging, batching), and what it refuses before sending.  The fake server is in
``tests/fakes3.py``; the pipeline, uploads and downloads have their own test files
(``test_pipeline.py``, ``test_multipart.py``, ``test_download.py``), and the integration
tests run the same client against a real S3 server.
"""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit
from xml.sax.saxutils import escape

import httpx
import pytest

from s3lite import AccessDenied, InvalidRequestError, ObjectSummary
from s3lite import _signing as sig
from tests.fakes3 import (
    ACCESS_KEY,
    BUCKET,
    NS,
    SECRET_KEY,
    FakeS3,
    Seen,
    check_signature,
    mock_client,
    xml_response,
)

pytestmark = pytest.mark.anyio


# --- request shapes and validation --------------------------------------------------------


async def test_invalid_bucket_or_key_is_refused_before_sending() -> None:
    fake = FakeS3()
    async with mock_client(fake) as s3:
        with pytest.raises(InvalidRequestError, match="bucket"):
            await s3.put_object("Bad_Bucket", "k", b"v")
        with pytest.raises(InvalidRequestError, match="key"):
            await s3.head_object(BUCKET, "")
        with pytest.raises(InvalidRequestError, match="range"):
            await s3.get_object(BUCKET, "k", range=(5, 2))
    assert fake.requests == []


@pytest.mark.parametrize("key", ["a/../b", "./a", "a/./b", "..", ".", "a//b", "a/b/..", "%2e%2e"])
async def test_keys_with_dot_segments_are_sent_with_the_raw_path(key: str) -> None:
    fake = FakeS3()
    async with mock_client(fake) as s3:
        await s3.put_object(BUCKET, key, b"v")
        assert await (await s3.get_object(BUCKET, key)).read() == b"v"
    expected = f"/{BUCKET}/" + quote(key, safe="/")
    assert [seen.raw_path for seen in fake.requests] == [expected, expected]
    assert list(fake.objects) == [key]
    for seen in fake.requests:
        check_signature(seen)


@pytest.mark.parametrize(("status", "exists"), [(200, True), (404, False)])
async def test_bucket_exists_reads_the_head_status(status: int, exists: bool) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "HEAD"
        return httpx.Response(status)

    async with mock_client(handler) as s3:
        assert await s3.bucket_exists(BUCKET) is exists


async def test_bucket_exists_does_not_hide_access_denied() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403)

    async with mock_client(handler) as s3:
        with pytest.raises(AccessDenied):
            await s3.bucket_exists(BUCKET)


# --- presigned URLs -----------------------------------------------------------------------


async def test_presign_get_url_carries_a_valid_signature() -> None:
    fake = FakeS3()
    async with mock_client(fake, region="eu-west-1") as s3:
        url = s3.presign_get(BUCKET, "dir/a b.txt", expires_in=900)
    assert fake.requests == []  # presigning is local
    parts = urlsplit(url)
    assert parts.path == "/bkt/dir/a%20b.txt"
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(params)
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "900"
    assert query["X-Amz-SignedHeaders"] == "host"
    assert query["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/")
    date = query["X-Amz-Date"][:8]
    scope = sig.credential_scope(date, "eu-west-1", "s3")
    assert query["X-Amz-Credential"] == f"{ACCESS_KEY}/{scope}"
    unsigned = [(name, value) for name, value in params if name != "X-Amz-Signature"]
    block, signed = sig.canonical_headers([("host", parts.netloc)])
    creq = sig.canonical_request(
        "GET", parts.path, sig.canonical_query(unsigned), block, signed, sig.UNSIGNED_PAYLOAD
    )
    expected = sig.signature(
        sig.signing_key(SECRET_KEY, date, "eu-west-1", "s3"),
        sig.string_to_sign(query["X-Amz-Date"], scope, creq),
    )
    assert query["X-Amz-Signature"] == expected


@pytest.mark.parametrize("expires_in", [0, -1, 7 * 24 * 3600 + 1, 10**9])
async def test_presign_get_rejects_expiry_outside_1_second_to_7_days(expires_in: int) -> None:
    async with mock_client(FakeS3()) as s3:
        with pytest.raises(InvalidRequestError, match="7 days"):
            s3.presign_get(BUCKET, "k", expires_in=expires_in)


@pytest.mark.parametrize("expires_in", [1, 7 * 24 * 3600])
async def test_presign_get_accepts_expiry_at_the_bounds(expires_in: int) -> None:
    async with mock_client(FakeS3()) as s3:
        url = s3.presign_get(BUCKET, "k", expires_in=expires_in)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-Expires"] == str(expires_in)
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])


async def test_presign_put_signs_the_content_type() -> None:
    async with mock_client(FakeS3()) as s3:
        url = s3.presign_put(BUCKET, "k", content_type="image/png")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-SignedHeaders"] == "content-type;host"


# --- listing ------------------------------------------------------------------------------


async def test_list_objects_follows_continuation_tokens_and_decodes_keys() -> None:
    keys = sorted(["a b", "c+d", "dir/é.txt", "plain", "x%y", "amp&<lt>", "z~", "日本"])
    pages = [keys[0:3], keys[3:6], keys[6:]]
    tokens = ["first token/+=", "2nd&token"]
    seen_tokens: list[str | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen = Seen.of(request)
        check_signature(seen)
        assert seen.param("list-type") == "2"
        assert seen.param("encoding-type") == "url"
        assert seen.param("prefix") is None
        token = seen.param("continuation-token")
        seen_tokens.append(token)
        index = 0 if token is None else tokens.index(token) + 1
        contents = "".join(
            f"<Contents><Key>{quote_plus(key, safe='/')}</Key><Size>{len(key)}</Size>"
            f'<ETag>"etag-{n}"</ETag><LastModified>2024-05-01T12:00:00.000Z</LastModified>'
            "</Contents>"
            for n, key in enumerate(pages[index])
        )
        truncated = index < len(tokens)
        more = (
            f"<NextContinuationToken>{escape(tokens[index])}</NextContinuationToken>"
            if truncated
            else ""
        )
        inner = (
            f"<Name>{BUCKET}</Name><EncodingType>url</EncodingType>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{more}{contents}"
        )
        return xml_response(200, inner, "ListBucketResult")

    async with mock_client(handler) as s3:
        entries = [entry async for entry in s3.list_objects(BUCKET, page_size=3)]
    assert seen_tokens == [None, *tokens]
    assert all(isinstance(entry, ObjectSummary) for entry in entries)
    assert [entry.key for entry in entries] == keys
    assert [entry.size for entry in entries if isinstance(entry, ObjectSummary)] == [
        len(key) for key in keys
    ]


# --- batch delete -------------------------------------------------------------------------


async def test_delete_objects_sends_batches_of_1000_with_matching_content_md5() -> None:
    keys = [f"key-{n:05d}" for n in range(2500)]
    batches: list[list[str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen = Seen.of(request)
        assert seen.method == "POST" and seen.has("delete")
        check_signature(seen)
        digest = base64.b64encode(hashlib.md5(seen.body, usedforsecurity=False).digest()).decode()
        assert seen.headers["content-md5"] == digest
        assert seen.headers["content-length"] == str(len(seen.body))
        root = ET.fromstring(seen.body)
        batch = [node.text or "" for node in root.iter(f"{{{NS}}}Key")]
        batches.append(batch)
        inner = "".join(f"<Deleted><Key>{key}</Key></Deleted>" for key in batch)
        return xml_response(200, inner, "DeleteResult")

    async with mock_client(handler) as s3:
        result = await s3.delete_objects(BUCKET, iter(keys))
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert [key for batch in batches for key in batch] == keys
    assert list(result.deleted) == keys
    assert result.errors == ()
