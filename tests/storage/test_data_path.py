"""The storage data path: one hand-over of the body to the store, one ``Rechunker``."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import httpx
import pytest

from s3lite import IntegrityError, S3Client
from s3lite._options import ClientOptions, MiB, TransferOptions
from s3lite.storage import S3, FileStorage
from s3lite.storage._s3_store import S3Store
from s3lite.storage._stores import Content, Digest, Rechunker
from tests.conftest import TestServer
from tests.storage.conftest import Buckets
from tests.storage.dbhelpers import DatabaseSpec

pytestmark = pytest.mark.anyio


class _Blocks:
    def __init__(self) -> None:
        self.blocks: list[object] = []

    async def __call__(self, block: object) -> None:
        self.blocks.append(block)


async def test_rechunker_cuts_exact_blocks_and_passes_whole_ones_through() -> None:
    sink = _Blocks()
    chunker = Rechunker(4, sink)
    aligned = b"abcdefgh"
    await chunker.write(aligned)  # two whole blocks: views of the caller's bytes
    assert [bytes(b) for b in sink.blocks] == [b"abcd", b"efgh"]  # type: ignore[call-overload]
    assert all(isinstance(b, memoryview) and b.obj is aligned for b in sink.blocks)
    sink.blocks.clear()
    await chunker.write(b"ij")
    await chunker.write(bytearray(b"klmnop"))  # tops up the partial block, then a view
    await chunker.write(memoryview(b"q"))
    assert [bytes(b) for b in sink.blocks] == [b"ijkl", b"mnop"]  # type: ignore[call-overload]
    assert isinstance(sink.blocks[0], bytearray)  # the one copy of a partial block
    assert chunker.pending == 1
    assert bytes(chunker.remainder()) == b"q"
    assert chunker.pending == 0 and bytes(chunker.remainder()) == b""


async def test_rechunker_of_random_writes_reassembles_the_content() -> None:
    import random

    rng = random.Random(7)
    data = rng.randbytes(100_000)
    sink = _Blocks()
    chunker = Rechunker(4096, sink)
    offset = 0
    while offset < len(data):
        step = rng.choice([1, 17, 4095, 4096, 4097, 9000])
        await chunker.write(data[offset : offset + step])
        offset += step
    tail = chunker.remainder()
    sizes = [len(b) for b in sink.blocks]  # type: ignore[arg-type]
    assert set(sizes) == {4096}
    joined = b"".join(bytes(b) for b in sink.blocks) + bytes(tail)  # type: ignore[call-overload]
    assert joined == data


async def test_content_hands_replayable_bodies_on_as_themselves(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 5)
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    with path.open("rb") as file:
        file.seek(5)
        bodies: list[object] = [data, bytearray(data), path, file]
        for body in bodies:
            content = Content(body)  # type: ignore[arg-type]
            assert await content.replayable() is body
            if body is file:
                assert file.tell() == 5  # rewound to where it was
                assert content.digest.sha256 == hashlib.sha256(data[5:]).hexdigest()
            else:
                assert (content.digest.size, content.digest.sha256) == (len(data), expected)
            await content.check_unchanged()
            with pytest.raises(RuntimeError, match="only once"):
                await content.replayable()

    async def stream() -> AsyncIterator[bytes]:
        yield data[:1000]
        yield data[1000:]

    content = Content(stream())
    assert await content.replayable() is None
    async with aclosing(content.chunks(MiB)) as chunks:
        assert b"".join([bytes(c) async for c in chunks]) == data
    assert content.digest.sha256 == expected
    pipe = Content(io.BufferedReader(io.BytesIO(data)))  # seekable: replayable
    assert await pipe.replayable() is not None


async def test_a_file_that_changes_while_stored_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.bin"
    path.write_bytes(b"x" * 1000)
    content = Content(path, Digest())
    assert await content.replayable() is path
    path.write_bytes(b"y" * 2000)
    with pytest.raises(IntegrityError, match="changed"):
        await content.check_unchanged()


async def test_bytes_reach_put_object_whole_and_streams_as_streams(
    s3_server: TestServer, buckets: Buckets
) -> None:
    """On the wire: a bytes body is signed with its own SHA-256 (sent as one
    replayable buffer); a stream goes out aws-chunked."""
    seen: list[tuple[str, str]] = []

    async def record(request: httpx.Request) -> None:
        if request.method == "PUT" and request.url.path.count("/") >= 2:
            seen.append((request.url.path, request.headers.get("x-amz-content-sha256", "")))

    data = os.urandom(MiB + 1)
    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        client = S3Client.from_settings(s3_server.settings, http_client=http)
        async with client:
            store = S3Store(client, buckets.object_bucket, None)
            whole, streamed = uuid.uuid4(), uuid.uuid4()
            await store.write(whole, Content(data))

            async def stream() -> AsyncIterator[bytes]:
                yield data

            await store.write(streamed, Content(stream()))
            for file_id in (whole, streamed):
                obj = await client.get_object(buckets.object_bucket, str(file_id))
                assert await obj.read() == data
    by_key = {path.rsplit("/", 1)[-1]: mode for path, mode in seen}
    assert by_key[str(whole)] == hashlib.sha256(data).hexdigest()
    assert by_key[str(streamed)].startswith("STREAMING-")


async def test_a_path_upload_to_s3_is_multipart_and_checked(
    database: DatabaseSpec, buckets: Buckets, s3: S3Client, tmp_path: Path
) -> None:
    data = os.urandom(11 * MiB)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    options = ClientOptions(
        transfer=TransferOptions(part_size=5 * MiB, multipart_threshold=5 * MiB)
    )
    seen: list[int] = []
    async with FileStorage(database, buckets.connection_string, s3_options=options) as fs:
        await fs.set_active_storage(S3)
        info = await fs.upload("ActivityFile", uuid.uuid4(), "big.bin", path, progress=seen.append)
        assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert seen[-1] == len(data)
        assert await fs.read(info.id) == data
    head = await s3.head_object(buckets.object_bucket, str(info.id))
    assert head.etag.endswith("-3")
