"""What s3lite writes, boto3 reads back identically, and the reverse (boto3 is test-only)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import pytest

from s3lite import S3Client
from tests.conftest import TestServer

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MiB = 1024 * 1024
KEYS = ["plain.txt", "x y+z", "ünïcødé/日本", "?#;,'\"", "tab\there", "%2F"]


@pytest.fixture
def boto(s3_server: TestServer) -> Iterator[Any]:
    settings = s3_server.settings
    client = boto3.client(
        "s3",
        endpoint_url=settings.service_url,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        region_name=settings.region,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    yield client
    client.close()


def data_for(key: str, size: int) -> bytes:
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // 32 + 1))[:size]


@pytest.mark.parametrize("key", KEYS)
async def test_boto3_reads_what_s3lite_wrote(
    s3: S3Client, bucket: str, boto: Any, key: str
) -> None:
    data = data_for(key, 70_000)
    await s3.put_object(
        bucket, key, data, content_type="text/x-s3lite", metadata={"from": "s3lite"}
    )
    got = await anyio.to_thread.run_sync(lambda: boto.get_object(Bucket=bucket, Key=key))
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/x-s3lite"
    assert got["Metadata"] == {"from": "s3lite"}
    listed = await anyio.to_thread.run_sync(lambda: boto.list_objects_v2(Bucket=bucket))
    assert [o["Key"] for o in listed["Contents"]] == [key]


@pytest.mark.parametrize("key", KEYS)
async def test_s3lite_reads_what_boto3_wrote(
    s3: S3Client, bucket: str, boto: Any, key: str
) -> None:
    data = data_for(key, 70_000)
    await anyio.to_thread.run_sync(
        lambda: boto.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType="text/x-boto", Metadata={"from": "boto"}
        )
    )
    obj = await s3.get_object(bucket, key)
    assert await obj.read() == data
    assert (obj.content_type, dict(obj.metadata)) == ("text/x-boto", {"from": "boto"})
    assert [e.key async for e in s3.list_objects(bucket)] == [key]


async def test_multipart_objects_interoperate_both_ways(
    s3_server: TestServer, bucket: str, boto: Any
) -> None:
    data = data_for("multipart", 21 * MiB + 11)
    transfer = boto3.s3.transfer.TransferConfig(
        multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB
    )
    await anyio.to_thread.run_sync(
        lambda: boto.upload_fileobj(io.BytesIO(data), bucket, "by-boto", Config=transfer)
    )
    async with s3_server.client(multipart_threshold=8 * MiB, part_size=5 * MiB) as s3:
        assert await (await s3.get_object(bucket, "by-boto")).read() == data
        result = await s3.put_object(bucket, "by-s3lite", data)
        assert result.parts == 5
    sink = io.BytesIO()
    await anyio.to_thread.run_sync(lambda: boto.download_fileobj(bucket, "by-s3lite", sink))
    assert sink.getvalue() == data
    head = await anyio.to_thread.run_sync(lambda: boto.head_object(Bucket=bucket, Key="by-s3lite"))
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-5")
