"""``s3lite._body``: every accepted body type becomes a ``Source``; everything else is refused."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3lite._body import BufferPool, BytesSource, FileSource, Source, StreamSource, make_source
from s3lite._exceptions import IntegrityError, InvalidRequestError

pytestmark = pytest.mark.anyio

DATA = bytes(range(256)) * 40 + b"tail"

hypothesis_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


async def read_all(source: Source, size: int) -> list[bytes]:
    """Every ``read(size)`` result up to (not including) the empty one at EOF."""
    reads: list[bytes] = []
    while chunk := await source.read(size):
        reads.append(bytes(chunk))
    return reads


async def collect(chunks: AsyncIterator[Any]) -> bytes:
    """The bytes of every chunk, each copied as it arrives (``ranged_reusing`` reuses a
    chunk's buffer for the next one)."""
    return b"".join([bytes(chunk) async for chunk in chunks])


async def agen(chunks: Sequence[object]) -> AsyncGenerator[Any, None]:
    for chunk in chunks:
        await anyio.lowlevel.checkpoint()
        yield chunk


class NonSeekable(io.RawIOBase):
    """A binary reader that says it cannot seek, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(min(len(buffer), 7))  # short reads, as pipes do
        buffer[: len(data)] = data
        return len(data)


@asynccontextmanager
async def stream_source(
    chunks: Sequence[object], content_length: int | None = None
) -> AsyncIterator[Source]:
    """A source over an async generator; both are closed on exit, whatever happened."""
    async with aclosing(agen(chunks)) as body:
        source = await make_source(body, content_length=content_length)
        try:
            yield source
        finally:
            await source.aclose()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


@pytest.fixture
async def source(data_file: Path) -> AsyncIterator[Source]:
    """``data_file`` opened as a source, closed after the test."""
    opened = await make_source(data_file)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def pipe_reader() -> Iterator[IO[bytes]]:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "wb") as writer:
        writer.write(DATA)  # smaller than a pipe buffer
    with os.fdopen(read_fd, "rb") as reader:
        yield reader


# --------------------------------------------------------------------------- in-memory buffers


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
async def test_make_source_wraps_buffers_without_copying(kind: type) -> None:
    original = bytearray(DATA)
    body: bytes | bytearray | memoryview
    if kind is bytes:
        body = bytes(original)
    elif kind is bytearray:
        body = original
    else:
        body = memoryview(original)
    source = await make_source(body)
    assert isinstance(source, BytesSource)
    assert source.replayable is True
    assert source.length == len(DATA)
    if kind is bytes:
        assert source.view.obj is body
    else:
        original[0] ^= 0xFF  # a change to the caller's buffer shows through the view
        assert source.view[0] == original[0]
        assert source.view[0] != DATA[0]


async def test_make_source_casts_multibyte_memoryview_to_bytes() -> None:
    words = memoryview(bytearray(DATA[:64])).cast("I")
    source = await make_source(words)
    assert source.length == 64
    assert bytes(await source.read(64)) == DATA[:64]


async def test_bytes_source_reads_sequentially_and_then_returns_empty() -> None:
    source = await make_source(DATA)
    reads = await read_all(source, 1000)
    assert b"".join(reads) == DATA
    assert all(len(chunk) == 1000 for chunk in reads[:-1])
    assert bytes(await source.read(10)) == b""


async def test_bytes_source_ranged_slices_share_memory() -> None:
    buffer = bytearray(DATA)
    source = await make_source(buffer)
    chunks = [chunk async for chunk in source.ranged(10, 100, 30)]
    assert [len(chunk) for chunk in chunks] == [30, 30, 30, 10]
    buffer[10] ^= 0xFF
    assert chunks[0][0] == buffer[10]


@hypothesis_settings
@given(
    data=st.binary(max_size=3000),
    start_fraction=st.floats(0, 1),
    size_fraction=st.floats(0, 1),
    chunk=st.integers(1, 700),
)
async def test_bytes_source_ranged_yields_exactly_the_slice(
    data: bytes, start_fraction: float, size_fraction: float, chunk: int
) -> None:
    start = int(start_fraction * len(data))
    size = int(size_fraction * (len(data) - start))
    source = await make_source(data)
    chunks = [bytes(c) async for c in source.ranged(start, size, chunk)]
    assert b"".join(chunks) == data[start : start + size]
    assert all(0 < len(c) <= chunk for c in chunks)
    # replayable: the same range again gives the same bytes
    assert await collect(source.ranged(start, size, chunk)) == data[start : start + size]


@hypothesis_settings
@given(data=st.binary(max_size=3000), size=st.integers(1, 1000))
async def test_bytes_source_read_returns_full_reads_until_the_end(data: bytes, size: int) -> None:
    source = await make_source(data)
    reads = await read_all(source, size)
    assert b"".join(reads) == data
    assert all(len(chunk) == size for chunk in reads[:-1])


@pytest.mark.parametrize("kind", [bytes, bytearray])
async def test_make_source_refuses_content_length_that_differs_from_buffer(kind: type) -> None:
    for wrong in (len(DATA) - 1, len(DATA) + 1, 0):
        with pytest.raises(InvalidRequestError, match=f"content_length={wrong}"):
            await make_source(kind(DATA), content_length=wrong)


async def test_make_source_accepts_content_length_equal_to_buffer() -> None:
    source = await make_source(DATA, content_length=len(DATA))
    assert source.length == len(DATA)


@pytest.mark.parametrize("length", [-1, True, 1.5, "10"])
async def test_make_source_refuses_invalid_content_length(length: object) -> None:
    with pytest.raises(InvalidRequestError, match="content_length must be an int"):
        await make_source(DATA, content_length=length)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- files


async def test_path_source_takes_length_from_the_file(source: Source, data_file: Path) -> None:
    assert isinstance(source, FileSource)
    assert source.replayable is True
    assert source.length == (await anyio.Path(data_file).stat()).st_size


async def test_path_source_ranged_reads_the_right_bytes_twice(source: Source) -> None:
    start, size = 1000, 5000
    first = await collect(source.ranged(start, size, 333))
    second = await collect(source.ranged(start, size, 4096))
    assert first == second == DATA[start : start + size]


async def test_path_source_read_is_sequential(source: Source) -> None:
    reads = await read_all(source, 4000)
    assert b"".join(reads) == DATA
    assert [len(chunk) for chunk in reads[:-1]] == [4000] * (len(reads) - 1)


async def test_path_source_aclose_closes_the_file_it_opened(data_file: Path) -> None:
    source = await make_source(data_file)
    assert isinstance(source, FileSource)
    file = source._file
    await source.aclose()
    assert file.closed


async def test_string_path_is_refused_but_pathlike_accepted(data_file: Path) -> None:
    with pytest.raises(InvalidRequestError, match="str body is ambiguous"):
        await make_source(str(data_file))

    class PathLike:
        def __fspath__(self) -> str:
            return str(data_file)

    source = await make_source(PathLike())
    try:
        assert source.length == len(DATA)
    finally:
        await source.aclose()


async def test_path_source_refuses_content_length_mismatch(data_file: Path) -> None:
    with pytest.raises(InvalidRequestError, match="holds"):
        await make_source(data_file, content_length=len(DATA) + 1)


async def test_missing_file_is_refused_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "missing.bin"
    with pytest.raises(InvalidRequestError) as info:
        await make_source(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


async def test_directory_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="cannot open"):
        await make_source(tmp_path)


async def test_seekable_file_object_counts_from_its_current_position(data_file: Path) -> None:
    with data_file.open("rb") as file:
        file.seek(300)
        source = await make_source(file)
        assert isinstance(source, FileSource)
        assert source.length == len(DATA) - 300
        assert await collect(source.ranged(0, 10)) == DATA[300:310]
        assert b"".join(await read_all(source, 1000)) == DATA[300:]
        await source.aclose()
        assert not file.closed  # the caller's file is the caller's to close


async def test_bytesio_is_a_replayable_file_source() -> None:
    buffer = io.BytesIO(DATA)
    buffer.read(5)
    source = await make_source(buffer)
    assert source.replayable is True
    assert source.length == len(DATA) - 5
    assert await collect(source.ranged(0, 20, 3)) == DATA[5:25]
    assert await collect(source.ranged(0, 20, 7)) == DATA[5:25]


async def test_file_source_shrinking_while_read_raises_integrity_error(
    source: Source, data_file: Path
) -> None:
    first = await source.read(100)
    assert bytes(first) == DATA[:100]
    with data_file.open("r+b") as file:
        file.truncate(200)
    with pytest.raises(IntegrityError, match="shrank"):
        await read_all(source, 1000)
    with pytest.raises(IntegrityError, match="shrank"):
        await collect(source.ranged(0, len(DATA)))
    with pytest.raises(IntegrityError, match="shrank"):
        await collect(source.ranged_reusing(0, len(DATA), 64))


async def test_file_source_reads_every_chunk_into_the_buffer_of_the_one_before(
    source: Source,
) -> None:
    buffers = set()
    for start, size in ((0, len(DATA)), (100, 3000), (5, 1)):
        got = bytearray()
        async with aclosing(source.ranged_reusing(start, size, 1024)) as chunks:
            async for chunk in chunks:
                assert isinstance(chunk, memoryview) and 0 < len(chunk) <= 1024
                buffers.add(id(chunk.obj))
                got += chunk
        assert bytes(got) == DATA[start : start + size]
    assert len(buffers) == 1  # one buffer for every chunk of all three ranges


async def test_prefetched_first_chunk_is_not_read_again_and_its_buffer_serves_the_range(
    source: Source,
    data_file: Path,
) -> None:
    read = await source.prefetch(100, 3000, 1024, bytes)
    assert read is not None
    first, copied = read
    assert copied == DATA[100:1124]
    with data_file.open("r+b") as file:  # the first chunk changes on disk after it was read
        file.write(b"\xff" * 2000)
    buffers = set()
    got = bytearray()
    async with aclosing(source.ranged_reusing(100, 3000, 1024, first)) as chunks:
        async for chunk in chunks:
            assert isinstance(chunk, memoryview)
            buffers.add(id(chunk.obj))
            got += chunk
    # The first chunk is the one read ahead (not read again); the rest is read now.
    assert bytes(got[:1024]) == DATA[100:1124]
    assert bytes(got[1024:]) == (b"\xff" * 2000 + DATA[2000:])[1124:3100]
    assert buffers == {id(first.buffer)}
    async with aclosing(source.ranged_reusing(0, 10, 1024)) as chunks:
        async for chunk in chunks:  # the buffer went back to the source after the range
            assert isinstance(chunk, memoryview) and chunk.obj is first.buffer


async def test_a_chunk_read_ahead_for_another_range_is_given_back_not_sent(
    source: Source,
) -> None:
    read = await source.prefetch(0, 5000, 1024, len)
    assert read is not None
    first, length = read
    assert length == 1024
    assert await collect(source.ranged_reusing(2048, 3000, 1024, first)) == DATA[2048:5048]
    async with aclosing(source.ranged_reusing(0, 10, 1024)) as chunks:
        async for chunk in chunks:  # back with the source, so the next range reuses it
            assert isinstance(chunk, memoryview) and chunk.obj is first.buffer


async def test_a_read_ahead_given_back_twice_is_still_one_buffer_for_one_range(
    source: Source,
) -> None:
    read = await source.prefetch(0, 10, 1024, bytes)
    assert read is not None
    read[0].release()
    read[0].release()
    # Two ranges read at once must not share a buffer (each overwrites it).
    one = source.ranged_reusing(0, 2048, 1024)
    two = source.ranged_reusing(2048, 2048, 1024)
    async with aclosing(one), aclosing(two):
        first_of_one = await one.__anext__()
        first_of_two = await two.__anext__()
        assert isinstance(first_of_one, memoryview)
        assert isinstance(first_of_two, memoryview)
        assert first_of_one.obj is not first_of_two.obj
        assert bytes(first_of_one) == DATA[:1024]
        assert bytes(first_of_two) == DATA[2048:3072]


async def test_a_read_ahead_buffer_says_once_when_it_is_free_again(source: Source) -> None:
    # Taken by its range: free when the range ends, not before, and only once.
    read = await source.prefetch(0, 3000, 1024, bytes)
    assert read is not None
    freed: list[str] = []
    read[0].when_free(lambda: freed.append("taken"))
    async with aclosing(source.ranged_reusing(0, 3000, 1024, read[0])) as chunks:
        async for _ in chunks:
            assert freed == []
    assert freed == ["taken"]
    read[0].release()  # its part ends later: nothing more
    assert freed == ["taken"]
    # Given back unused (twice): free once.
    read = await source.prefetch(0, 3000, 1024, bytes)
    assert read is not None
    read[0].when_free(lambda: freed.append("unused"))
    read[0].release()
    read[0].release()
    assert freed == ["taken", "unused"]
    # Offered to another range: given back at once, unused.
    read = await source.prefetch(0, 3000, 1024, bytes)
    assert read is not None
    read[0].when_free(lambda: freed.append("refused"))
    assert await collect(source.ranged_reusing(1024, 100, 1024, read[0])) == DATA[1024:1124]
    assert freed == ["taken", "unused", "refused"]


def test_a_buffer_pool_keeps_at_most_its_limit_once_buffers_come_back() -> None:
    pool = BufferPool()
    pool.keep = 2
    taken = [pool.take(1024) for _ in range(3)]  # a moment that needs three
    assert len({id(b) for b in taken}) == 3 and pool.alive == 3
    for buffer in taken:
        pool.give_back(buffer)
    assert pool.alive == 2
    again = [pool.take(1024), pool.take(1024)]
    assert {id(b) for b in again} <= {id(b) for b in taken}  # kept ones, not new
    assert pool.alive == 2
    fresh = pool.take(1024)  # none kept: a new one
    assert all(fresh is not b for b in taken) and pool.alive == 3


async def test_when_free_after_the_buffer_is_free_calls_back_at_once(source: Source) -> None:
    read = await source.prefetch(0, 100, 1024, bytes)
    assert read is not None
    read[0].release()
    calls: list[int] = []
    read[0].when_free(lambda: calls.append(1))
    assert calls == [1]


async def test_prefetch_of_a_shrunken_file_raises_integrity_error(
    source: Source, data_file: Path
) -> None:
    with data_file.open("r+b") as file:
        file.truncate(500)
    with pytest.raises(IntegrityError, match="shrank"):
        await source.prefetch(0, len(DATA), 1024, bytes)


async def test_a_range_read_ahead_whole_still_finds_the_file_shrunk(
    source: Source, data_file: Path
) -> None:
    read = await source.prefetch(3000, 500, 1024, bytes)
    assert read is not None
    with data_file.open("r+b") as file:
        file.truncate(3200)  # after the read ahead, before the range is sent
    with pytest.raises(IntegrityError, match="shrank"):
        await collect(source.ranged_reusing(3000, 500, 1024, read[0]))


async def test_only_a_file_opened_here_reads_ahead(data_file: Path) -> None:
    with data_file.open("rb") as file:
        callers = await make_source(file)
        assert await callers.prefetch(0, 100, 64, bytes) is None
    assert await BytesSource(DATA).prefetch(0, 100, 64, bytes) is None


def _with_temp_file(data: bytes) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    directory = tempfile.TemporaryDirectory()
    path = Path(directory.name) / "f.bin"
    path.write_bytes(data)
    return directory, path


@hypothesis_settings
@given(
    data=st.binary(max_size=3000),
    offset_fraction=st.floats(0, 1),
    start_fraction=st.floats(0, 1),
    size_fraction=st.floats(0, 1),
    chunk=st.integers(1, 700),
    read_size=st.integers(1, 700),
)
async def test_file_source_ranged_and_read_agree_with_the_data(
    data: bytes,
    offset_fraction: float,
    start_fraction: float,
    size_fraction: float,
    chunk: int,
    read_size: int,
) -> None:
    directory, path = _with_temp_file(data)
    with directory:
        offset = int(offset_fraction * len(data))  # where the caller left the file
        visible = data[offset:]
        start = int(start_fraction * len(visible))
        size = int(size_fraction * (len(visible) - start))
        with path.open("rb") as file:
            file.seek(offset)
            source = await make_source(file)
            assert source.length == len(visible)
            chunks = [bytes(c) async for c in source.ranged(start, size, chunk)]
            assert b"".join(chunks) == visible[start : start + size]
            assert all(0 < len(c) <= chunk for c in chunks)
            reads = await read_all(source, read_size)
            assert b"".join(reads) == visible
            assert all(len(r) == read_size for r in reads[:-1])
            pieces = await collect(source.ranged_reusing(start, size, chunk))
            assert pieces == visible[start : start + size]
        owned = await make_source(path)
        try:
            assert await collect(owned.ranged(start, size, chunk)) == data[start : start + size]
            pieces = await collect(owned.ranged_reusing(start, size, chunk))
            assert pieces == data[start : start + size]
            read = await owned.prefetch(start, size, chunk, bytes)
            if size == 0:
                assert read is None
            else:
                assert read is not None
                assert read[1] == data[start : start + min(chunk, size)]
                pieces = await collect(owned.ranged_reusing(start, size, chunk, read[0]))
                assert pieces == data[start : start + size]
        finally:
            await owned.aclose()


# --------------------------------------------------------------------------- one-shot streams


async def test_pipe_is_a_one_shot_stream(pipe_reader: IO[bytes]) -> None:
    assert not pipe_reader.seekable()
    source = await make_source(pipe_reader)
    assert isinstance(source, StreamSource)
    assert source.replayable is False
    assert source.length is None
    with pytest.raises(InvalidRequestError, match="cannot be replayed"):
        source.ranged(0, 10)
    assert b"".join(await read_all(source, 4096)) == DATA


async def test_non_seekable_wrapper_is_read_with_full_reads_until_eof() -> None:
    source = await make_source(io.BufferedReader(NonSeekable(DATA), buffer_size=16))
    assert source.replayable is False
    reads = await read_all(source, 1000)
    assert b"".join(reads) == DATA
    assert all(len(chunk) == 1000 for chunk in reads[:-1])


async def test_non_seekable_file_with_content_length_checks_the_length(
    pipe_reader: IO[bytes],
) -> None:
    source = await make_source(pipe_reader, content_length=len(DATA) + 1)
    assert source.length == len(DATA) + 1
    with pytest.raises(IntegrityError, match="content_length"):
        await read_all(source, 4096)


async def test_async_iterable_is_one_shot_with_read_semantics() -> None:
    source = await make_source(agen([b"ab", b"", bytearray(b"cde"), memoryview(b"f")]))
    assert isinstance(source, StreamSource)
    assert source.replayable is False
    assert source.length is None
    assert await source.read(4) == b"abcd"
    assert await source.read(4) == b"ef"  # short only at the end
    assert await source.read(4) == b""
    assert await source.read(4) == b""


async def test_async_iterable_object_with_aiter_is_accepted() -> None:
    class Chunks:
        def __aiter__(self) -> AsyncIterator[bytes]:
            return agen([b"x" * 5, b"y" * 5])

    source = await make_source(Chunks(), content_length=10)
    assert source.length == 10
    assert b"".join(await read_all(source, 3)) == b"x" * 5 + b"y" * 5


@hypothesis_settings
@given(
    chunks=st.lists(st.binary(max_size=300), max_size=12),
    sizes=st.lists(st.integers(1, 500), min_size=1, max_size=8),
)
async def test_async_iterable_reads_are_full_until_eof(
    chunks: list[bytes], sizes: list[int]
) -> None:
    data = b"".join(chunks)
    source = await make_source(agen(chunks), content_length=len(data))
    out = bytearray()
    index = 0
    while True:
        size = sizes[index % len(sizes)]
        index += 1
        piece = await source.read(size)
        out += piece
        if len(piece) < size:
            assert len(out) == len(data)  # a short read only at the end
            break
    assert bytes(out) == data
    assert await source.read(1) == b""


async def test_async_iterable_shorter_than_content_length_raises_integrity_error() -> None:
    source = await make_source(agen([b"12345"]), content_length=10)
    assert await source.read(5) == b"12345"
    with pytest.raises(IntegrityError, match="produced 5 bytes but content_length said 10"):
        await source.read(5)


async def test_async_iterable_longer_than_content_length_raises_integrity_error() -> None:
    async with stream_source([b"1234", b"5678"], content_length=6) as source:
        with pytest.raises(IntegrityError, match="more bytes than content_length"):
            await read_all(source, 100)


async def test_async_iterable_yielding_str_is_refused() -> None:
    async with stream_source([b"ok", "text", b"more"]) as source:
        with pytest.raises(InvalidRequestError, match="must yield bytes, got str"):
            await read_all(source, 100)


async def test_stream_source_aclose_ends_its_iteration() -> None:
    async with stream_source([b"a", b"b"]) as source:
        assert isinstance(source, StreamSource)
        assert await source.read(1) == b"a"
        await source.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(source._chunks)


async def test_stream_source_aclose_closes_the_callers_generator() -> None:
    closed = False

    async def chunks() -> AsyncGenerator[bytes, None]:
        nonlocal closed
        try:
            yield b"a"
            yield b"b"
        finally:
            closed = True

    body = chunks()
    try:
        source = await make_source(body)
        assert await source.read(1) == b"a"
        await source.aclose()
        assert closed
    finally:
        await body.aclose()  # keep the failure from leaking a ResourceWarning elsewhere


# --------------------------------------------------------------------------- refused bodies


async def test_str_body_is_refused_pointing_to_bytes_and_path() -> None:
    with pytest.raises(InvalidRequestError) as info:
        await make_source("hello")
    message = str(info.value)
    assert "bytes" in message
    assert "Path" in message


async def test_text_mode_file_is_refused(data_file: Path) -> None:
    with (
        data_file.open("r", encoding="latin-1") as file,
        pytest.raises(InvalidRequestError, match="binary mode"),
    ):
        await make_source(file)
    with pytest.raises(InvalidRequestError, match="binary mode"):
        await make_source(io.StringIO("text"))


def _sync_generator() -> Iterator[bytes]:
    yield b"data"


@pytest.mark.parametrize(
    "body",
    [None, 42, 1.5, [b"a", b"b"], (b"a",), {"a": b"b"}, _sync_generator(), object()],
    ids=lambda body: type(body).__name__,
)
async def test_unsupported_body_types_are_refused_naming_the_type(body: object) -> None:
    with pytest.raises(InvalidRequestError, match="body must be bytes") as info:
        await make_source(body)
    assert type(body).__name__ in str(info.value)
