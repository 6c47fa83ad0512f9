"""``s3lite._payload``: the payload table row by row, and what each row puts on the wire."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from s3lite._body import MIN_PIECE, BytesSource, ChunksSource, Source, StreamSource, make_source
from s3lite._checksums import ChecksumAlgorithm
from s3lite._chunked import encoded_length_of
from s3lite._payload import (
    CHUNK_SIZE,
    Lead,
    PayloadMode,
    PayloadPlan,
    choose_plan,
    payload_for_source,
    read_lead,
)
from s3lite._signing import HeaderSignature

# in memory, signed, checksum -> the plan (the module docstring's table)
TABLE: list[tuple[bool, bool, ChecksumAlgorithm | None, PayloadPlan]] = [
    (True, False, None, PayloadPlan(PayloadMode.UNSIGNED)),
    (True, False, "crc32", PayloadPlan(PayloadMode.UNSIGNED, "crc32")),
    (True, False, "md5", PayloadPlan(PayloadMode.UNSIGNED, "md5")),
    (True, True, None, PayloadPlan(PayloadMode.HASHED)),
    (True, True, "sha256", PayloadPlan(PayloadMode.HASHED, "sha256")),
    (False, False, None, PayloadPlan(PayloadMode.UNSIGNED)),
    (False, False, "md5", PayloadPlan(PayloadMode.UNSIGNED, "md5")),
    (False, False, "crc32", PayloadPlan(PayloadMode.UNSIGNED_TRAILER, None, "crc32")),
    (False, False, "sha256", PayloadPlan(PayloadMode.UNSIGNED_TRAILER, None, "sha256")),
    (False, True, None, PayloadPlan(PayloadMode.SIGNED_CHUNKS)),
    (False, True, "md5", PayloadPlan(PayloadMode.SIGNED_CHUNKS, "md5")),
    (False, True, "crc32", PayloadPlan(PayloadMode.SIGNED_CHUNKS_TRAILER, None, "crc32")),
    (False, True, "sha256", PayloadPlan(PayloadMode.SIGNED_CHUNKS_TRAILER, None, "sha256")),
]


@pytest.mark.parametrize(("in_memory", "signed", "checksum", "plan"), TABLE)
def test_choose_plan_follows_the_table(
    in_memory: bool, signed: bool, checksum: ChecksumAlgorithm | None, plan: PayloadPlan
) -> None:
    assert choose_plan(in_memory=in_memory, signed=signed, checksum=checksum) == plan


def test_only_stream_modes_are_chunked() -> None:
    assert {mode for mode in PayloadMode if mode.chunked} == {
        PayloadMode.UNSIGNED_TRAILER,
        PayloadMode.SIGNED_CHUNKS,
        PayloadMode.SIGNED_CHUNKS_TRAILER,
    }


def _signature() -> HeaderSignature:
    return HeaderSignature(
        (), "0" * 64, "", "", "20260101/us-east-1/s3/aws4_request", "20260101T000000Z"
    )


async def _wire(payload_bytes: object) -> bytes:
    if payload_bytes is None:
        return b""
    if isinstance(payload_bytes, bytes):
        return payload_bytes
    return b"".join([bytes(piece) async for piece in payload_bytes])  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_in_memory_signed_body_carries_its_sha256_and_crc32_header() -> None:
    data = b"x" * 1000
    payload = await payload_for_source(BytesSource(data), 0, 1000, signed=True, checksum="crc32")
    assert payload.payload_hash == hashlib.sha256(data).hexdigest()
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert ("x-amz-checksum-crc32", crc) in payload.headers
    assert ("content-length", "1000") in payload.headers
    assert await _wire(payload.open(_signature(), b"k" * 32)) == data


@pytest.mark.anyio
async def test_unsigned_stream_with_md5_is_sent_raw_with_content_md5() -> None:
    data = b"y" * 5000
    source = ChunksSource([memoryview(data)])
    payload = await payload_for_source(source, 0, 5000, signed=False, checksum="md5")
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert payload.payload_hash == "UNSIGNED-PAYLOAD"
    assert dict(payload.headers) == {"content-length": "5000", "content-md5": md5}
    assert await _wire(payload.open(_signature(), b"k" * 32)) == data


@pytest.mark.anyio
@pytest.mark.parametrize("signed", [False, True])
async def test_chunked_stream_has_the_exact_announced_length_and_trailer(signed: bool) -> None:
    data = bytes(range(256)) * 1000
    source = ChunksSource([memoryview(data[:100_000]), memoryview(data[100_000:])])
    payload = await payload_for_source(source, 0, len(data), signed=signed, checksum="crc32")
    headers = dict(payload.headers)
    assert headers["content-encoding"] == "aws-chunked"
    assert headers["x-amz-decoded-content-length"] == str(len(data))
    assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    wire = await _wire(payload.open(_signature(), b"k" * 32))
    assert len(wire) == int(headers["content-length"])
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert f"x-amz-checksum-crc32:{crc}".encode() in wire
    assert payload.sent_checksum == crc


async def _chunks_of(size: int, count: int) -> StreamSource:
    async def produce() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"z" * size

    return StreamSource(produce(), None)


@pytest.mark.anyio
async def test_small_producer_chunks_are_joined_into_pieces_of_at_least_64_kib() -> None:
    # AWS refuses aws-chunks under 8 KiB except the last (InvalidChunkSizeError).
    stream = await _chunks_of(1024, 300)
    part = await stream.take(300 * 1024)
    assert await stream.exhausted()
    await stream.aclose()
    sizes = part.piece_sizes(0, 300 * 1024)
    assert sum(sizes) == 300 * 1024
    assert all(size >= MIN_PIECE for size in sizes[:-1])
    pieces = [bytes(p) async for p in part.ranged(0, 300 * 1024)]
    assert [len(p) for p in pieces] == sizes
    assert b"".join(pieces) == b"z" * 300 * 1024


@pytest.mark.anyio
async def test_large_producer_chunks_are_cut_not_copied() -> None:
    data = b"q" * (3 * 1024 * 1024)
    part = ChunksSource([memoryview(data)])
    pieces = [p async for p in part.ranged(0, len(data))]
    assert [len(p) for p in pieces] == [1024 * 1024] * 3
    assert all(isinstance(p, memoryview) and p.obj is data for p in pieces)


@pytest.mark.anyio
async def test_chunk_sizes_on_the_wire_match_the_planned_pieces() -> None:
    stream = await _chunks_of(1000, 200)
    part = await stream.take(200_000)
    await stream.aclose()
    payload = await payload_for_source(part, 0, 200_000, signed=False, checksum="crc32")
    wire = await _wire(payload.open(_signature(), b"k" * 32))
    sizes = []
    rest = wire
    while True:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        sizes.append(size)
        rest = rest[size + 2 :]
    assert sizes == part.piece_sizes(0, 200_000)
    assert all(size >= 8192 for size in sizes[:-1])
    assert len(wire) == encoded_length_of(
        sizes, signed=False, trailers=[("x-amz-checksum-crc32", "A" * 8)]
    )


@pytest.mark.anyio
async def test_a_view_of_part_of_a_bytes_object_sends_only_that_part() -> None:
    # Found failing: the check for "the whole bytes object" compared the range with
    # the view's length, not the object's, and sent all 100 bytes for a 60-byte view.
    data = bytes(range(100))
    source = BytesSource(memoryview(data)[20:80])
    payload = await payload_for_source(source, 0, 60, signed=False, checksum=None)
    assert await _wire(payload.open(_signature(), b"k" * 32)) == data[20:80]
    whole = await payload_for_source(BytesSource(data), 0, 100, signed=False, checksum=None)
    assert whole.open(_signature(), b"k" * 32) is data  # the object itself: no copy


# --- a first chunk read and hashed ahead ------------------------------------------------


@pytest.fixture
def big_file(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    data = os.urandom(2 * CHUNK_SIZE + 1000)  # three aws-chunks: 4 MiB, 4 MiB, 1000 bytes
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    yield path, data


@pytest.fixture
async def source(big_file: tuple[Path, bytes]) -> AsyncIterator[Source]:
    """``big_file`` opened as a source, closed after the test."""
    opened = await make_source(big_file[0])
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("signed", "checksum"),
    [(False, "crc32"), (False, "sha256"), (True, "crc32"), (True, "sha256"), (True, None)],
)
async def test_a_body_sent_from_its_lead_is_the_body_sent_without_one(
    source: Source, big_file: tuple[Path, bytes], signed: bool, checksum: ChecksumAlgorithm | None
) -> None:
    path, data = big_file
    start, size = 1000, len(data) - 1000
    plain = await payload_for_source(source, start, size, signed=signed, checksum=checksum)
    expected = await _wire(plain.open(_signature(), b"k" * 32))
    lead = await read_lead(source, start, size, signed=signed, checksum=checksum)
    assert lead is not None
    led = await payload_for_source(source, start, size, signed=signed, checksum=checksum, lead=lead)
    assert led.headers == plain.headers
    with path.open("r+b") as file:  # the lead's bytes change on disk after it was read
        file.seek(start)
        file.write(bytes(CHUNK_SIZE))
    # The first attempt sends the lead as read (not read again), the rest as on disk,
    # which there is unchanged: the body sent without a lead before the change.
    assert await _wire(led.open(_signature(), b"k" * 32)) == expected
    assert led.sent_checksum == plain.sent_checksum
    # A second attempt (a retry) reads everything afresh: the file as it is now.
    changed = await payload_for_source(source, start, size, signed=signed, checksum=checksum)
    assert await _wire(led.open(_signature(), b"k" * 32)) == await _wire(
        changed.open(_signature(), b"k" * 32)
    )
    if checksum is not None:
        digest = hashlib.sha256(data[start:]).digest() if checksum == "sha256" else None
        crc = zlib.crc32(data[start:]).to_bytes(4, "big")
        assert led.computed[0] == base64.b64encode(digest or crc).decode()
        assert led.computed[1] != led.computed[0]


async def _wire_of(
    source: Source,
    start: int,
    signed: bool,
    checksum: ChecksumAlgorithm | None,
    lead: Lead | None = None,
) -> bytes:
    """What goes on the wire for bytes ``[start, end)`` of ``source`` (one attempt)."""
    size = (source.length or 0) - start
    payload = await payload_for_source(
        source, start, size, signed=signed, checksum=checksum, lead=lead
    )
    return await _wire(payload.open(_signature(), b"k" * 32))


@pytest.mark.anyio
async def test_a_lead_hashed_for_another_plan_or_range_is_not_used(
    source: Source,
    big_file: tuple[Path, bytes],
) -> None:
    data = big_file[1]
    expected = await _wire_of(source, 0, True, "sha256")
    for signed in (True, False):  # hashed for a CRC32 trailer, signed or not
        lead = await read_lead(source, 0, len(data), signed=signed, checksum="crc32")
        assert lead is not None
        assert await _wire_of(source, 0, True, "sha256", lead) == expected
    # Hashed for this plan, but for a range starting elsewhere: read and hashed again.
    elsewhere = await read_lead(source, 0, len(data), signed=True, checksum=None)
    assert elsewhere is not None
    assert await _wire_of(source, 10, True, None, elsewhere) == await _wire_of(
        source, 10, True, None
    )


@pytest.mark.anyio
async def test_nothing_is_read_ahead_for_a_body_sent_raw_or_held_in_memory(
    source: Source,
    big_file: tuple[Path, bytes],
) -> None:
    data = big_file[1]
    assert await read_lead(source, 0, len(data), signed=False, checksum=None) is None
    assert await read_lead(source, 0, len(data), signed=False, checksum="md5") is None
    assert await read_lead(BytesSource(data), 0, len(data), signed=True, checksum="crc32") is None
