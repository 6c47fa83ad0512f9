"""``FileStorage(s3_options=...)``: the S3 client options reach the client that stores files."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from s3lite import S3Client
from s3lite._options import ClientOptions, MiB, TransferOptions
from s3lite.storage import S3, FileStorage, InvalidStorageRequest
from tests.storage.conftest import Buckets
from tests.storage.dbhelpers import DatabaseSpec

pytestmark = pytest.mark.anyio


async def _multipart_etag_parts(
    database: DatabaseSpec, buckets: Buckets, s3: S3Client, options: ClientOptions | None
) -> int:
    content = os.urandom(12 * MiB)
    async with FileStorage(database, buckets.connection_string, s3_options=options) as fs:
        await fs.set_active_storage(S3)
        info = await fs.upload("ActivityFile", uuid.uuid4(), "big.bin", content)
        assert await fs.read(info.id) == content
    head = await s3.head_object(buckets.object_bucket, str(info.id))
    _, _, parts = head.etag.partition("-")
    return int(parts or 1)


async def test_transfer_options_decide_the_parts_on_the_server(
    tmp_path: Path, buckets: Buckets, s3: S3Client
) -> None:
    # 12 MiB: two parts by default (8 MiB parts), three with 5 MiB parts.
    assert await _multipart_etag_parts(tmp_path / "a.db", buckets, s3, None) == 2
    small = ClientOptions(transfer=TransferOptions(part_size=5 * MiB, multipart_threshold=5 * MiB))
    assert await _multipart_etag_parts(tmp_path / "b.db", buckets, s3, small) == 3
    single = ClientOptions(transfer=TransferOptions(multipart_threshold=16 * MiB))
    assert await _multipart_etag_parts(tmp_path / "c.db", buckets, s3, single) == 1


async def test_client_options_are_those_of_the_client(
    database: DatabaseSpec, buckets: Buckets
) -> None:
    options = ClientOptions(checksum=None, payload_signing="unsigned", timeout=5.0)
    async with FileStorage(database, buckets.connection_string, s3_options=options) as fs:
        client = fs._s3_store().client
        assert client.options == options
        await fs.set_active_storage(S3)
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"no checksum")
        assert await fs.read(info.id) == b"no checksum"


def test_s3_options_must_be_client_options(database: DatabaseSpec) -> None:
    with pytest.raises(InvalidStorageRequest, match="ClientOptions"):
        FileStorage(database, s3_options={"checksum": None})  # type: ignore[arg-type]
