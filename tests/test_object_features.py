"""Object features against a real server: conditional writes and reads, the standard
object headers, storage class, tags, server-side encryption, versions."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from s3lite import (
    DeleteMarker,
    InvalidRequestError,
    NotModified,
    ObjectVersion,
    PreconditionFailed,
    S3Client,
)
from tests.conftest import TestServer
from tests.helpers import MiB

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_if_none_match_creates_only_once(s3: S3Client, bucket: str) -> None:
    await s3.put_object(bucket, "once", b"first", if_none_match="*")
    with pytest.raises(PreconditionFailed):
        await s3.put_object(bucket, "once", b"second", if_none_match="*")
    assert await (await s3.get_object(bucket, "once")).read() == b"first"


async def test_if_match_writes_only_over_that_version(s3: S3Client, bucket: str) -> None:
    first = await s3.put_object(bucket, "k", b"v1")
    with pytest.raises(PreconditionFailed):
        await s3.put_object(bucket, "k", b"v2", if_match="0" * 32)
    assert first.etag is not None
    await s3.put_object(bucket, "k", b"v2", if_match=first.etag)
    assert await (await s3.get_object(bucket, "k")).read() == b"v2"


async def test_a_conditional_multipart_upload_is_checked_when_it_completes(
    s3_server: TestServer, bucket: str
) -> None:
    data = os.urandom(11 * MiB)
    async with s3_server.client(part_size=5 * MiB, multipart_threshold=5 * MiB) as s3:
        await s3.put_object(bucket, "big", b"already here")
        with pytest.raises(PreconditionFailed):
            await s3.put_object(bucket, "big", data, if_none_match="*")
        assert await (await s3.get_object(bucket, "big")).read() == b"already here"
        assert [u async for u in s3.list_multipart_uploads(bucket)] == []  # aborted
        result = await s3.put_object(bucket, "new-big", data, if_none_match="*")
        assert result.parts == 3


async def test_the_standard_object_headers_round_trip(s3: S3Client, bucket: str) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    await s3.put_object(
        bucket,
        "described",
        b"<p>hi</p>",
        content_type="text/html",
        cache_control="max-age=60",
        content_disposition='attachment; filename="hi.html"',
        content_language="en",
        expires=expires,
    )
    info = await s3.head_object(bucket, "described")
    assert (info.cache_control, info.content_language) == ("max-age=60", "en")
    assert info.content_disposition == 'attachment; filename="hi.html"'
    assert info.expires == "Wed, 02 Jan 2030 03:04:05 GMT"


async def test_tags_on_upload_and_afterwards(s3: S3Client, bucket: str) -> None:
    await s3.put_object(bucket, "tagged", b"x", tagging={"team": "files", "note": "a b&c"})
    assert await s3.get_object_tagging(bucket, "tagged") == {"team": "files", "note": "a b&c"}
    assert (await s3.head_object(bucket, "tagged")).tag_count == 2
    await s3.put_object_tagging(bucket, "tagged", {"only": "this"})
    assert await s3.get_object_tagging(bucket, "tagged") == {"only": "this"}
    await s3.delete_object_tagging(bucket, "tagged")
    assert await s3.get_object_tagging(bucket, "tagged") == {}


async def test_a_storage_class_is_asked_for_and_reported(
    s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    if "one-storage-class" in s3_server.quirks:
        pytest.skip(f"{s3_server.kind} has only STANDARD (one-storage-class)")
    await s3.put_object(bucket, "ia", b"x", storage_class="STANDARD_IA")
    assert (await s3.head_object(bucket, "ia")).storage_class == "STANDARD_IA"


async def test_server_side_encryption_is_asked_for_and_reported(
    s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    if "no-sse-s3" in s3_server.quirks:
        pytest.skip(f"{s3_server.kind} has no SSE-S3 keys configured (no-sse-s3)")
    await s3.put_object(bucket, "sse", b"secret-ish", server_side_encryption="AES256")
    info = await s3.head_object(bucket, "sse")
    assert info.server_side_encryption == "AES256"
    assert await (await s3.get_object(bucket, "sse")).read() == b"secret-ish"


async def test_conditional_reads(s3: S3Client, bucket: str) -> None:
    stored = await s3.put_object(bucket, "c", b"data")
    assert stored.etag is not None
    with pytest.raises(NotModified):
        await s3.get_object(bucket, "c", if_none_match=stored.etag)
    with pytest.raises(PreconditionFailed):
        await s3.get_object(bucket, "c", if_match="0" * 32)
    with pytest.raises(NotModified):
        await s3.head_object(bucket, "c", if_modified_since=datetime.now(UTC) + timedelta(days=1))
    past = datetime.now(UTC) - timedelta(days=1)
    assert await (await s3.get_object(bucket, "c", if_modified_since=past)).read() == b"data"


async def test_versions_delete_markers_and_reading_an_old_version(
    s3: S3Client, bucket: str
) -> None:
    assert await s3.get_bucket_versioning(bucket) is None
    await s3.put_bucket_versioning(bucket, True)
    assert await s3.get_bucket_versioning(bucket) == "Enabled"
    old = await s3.put_object(bucket, "doc", b"version one")
    new = await s3.put_object(bucket, "doc", b"version two")
    assert old.version_id and new.version_id and old.version_id != new.version_id

    old_stream = await s3.get_object(bucket, "doc", version_id=old.version_id)
    assert await old_stream.read() == b"version one"
    marker = await s3.delete_object(bucket, "doc")
    assert marker is not None

    entries = [e async for e in s3.list_object_versions(bucket, prefix="doc")]
    versions = [e for e in entries if isinstance(e, ObjectVersion)]
    markers = [e for e in entries if isinstance(e, DeleteMarker)]
    assert {v.version_id for v in versions} == {old.version_id, new.version_id}
    assert [m.version_id for m in markers] == [marker] and markers[0].is_latest

    copied = await s3.copy_object(bucket, "doc", bucket, "doc-copy", src_version_id=old.version_id)
    assert copied.etag is not None
    assert await (await s3.get_object(bucket, "doc-copy")).read() == b"version one"

    await s3.delete_object(bucket, "doc", version_id=marker)  # undelete
    assert await (await s3.get_object(bucket, "doc")).read() == b"version two"
    result = await s3.delete_objects(bucket, [("doc", str(new.version_id))])
    assert result.errors == ()
    assert await (await s3.get_object(bucket, "doc")).read() == b"version one"
    await s3.put_bucket_versioning(bucket, False)
    assert await s3.get_bucket_versioning(bucket) == "Suspended"


async def test_bad_object_arguments_are_refused_before_sending(
    s3: S3Client, bucket: str
) -> None:
    with pytest.raises(InvalidRequestError, match="must be '\\*'"):
        await s3.put_object(bucket, "k", b"", if_none_match="abc")
    with pytest.raises(InvalidRequestError, match="storage_class"):
        await s3.put_object(bucket, "k", b"", storage_class="cheap please")
    with pytest.raises(InvalidRequestError, match="plain http"):
        await s3.put_object(bucket, "k", b"", sse_customer_key=os.urandom(32))
    with pytest.raises(InvalidRequestError, match="aware datetime"):
        await s3.put_object(bucket, "k", b"", expires=datetime(2030, 1, 1))
    with pytest.raises(InvalidRequestError, match="server_side_encryption must be"):
        await s3.put_object(bucket, "k", b"", server_side_encryption="rot13")
    assert not await s3.object_exists(bucket, "k")


async def test_a_copy_in_parts_keeps_the_metadata_and_takes_the_new_headers(
    s3_server: TestServer, bucket: str
) -> None:
    data = os.urandom(11 * MiB)
    async with s3_server.client(copy_threshold=6 * MiB, copy_part_size=5 * MiB) as s3:
        await s3.put_object(bucket, "src", data, content_type="text/x-src", metadata={"a": "1"})
        await s3.copy_object(bucket, "src", bucket, "dst", cache_control="no-store")
        info = await s3.head_object(bucket, "dst")
    assert (info.content_type, dict(info.metadata)) == ("text/x-src", {"a": "1"})
    assert info.cache_control == "no-store"
    assert info.size == len(data)
