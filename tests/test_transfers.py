"""File transfers and parallel ranged GETs against a real server: ``download_file``,
``upload_file``, ``get_object(..., max_concurrency=N)`` and ``progress``.

Faults come from ``tests.faultproxy`` between the client and the server; every failure
test checks that the target path holds what it held before (nothing, or the old file)
and that no temporary file is left beside it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from s3lite import (
    AccessDenied,
    DownloadResult,
    IntegrityError,
    InvalidRequestError,
    NoSuchKey,
    S3Client,
)
from tests.conftest import TestServer
from tests.faultproxy import FaultProxy, FlipByte, ResetDuringResponse, Respond, Rule, Stall
from tests.helpers import MiB, client_via

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

DATA = os.urandom(5 * MiB + 12_345)  # six parts of 1 MiB: five whole, one short
PART = 1 * MiB


def leftovers(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if "s3lite-download" in name)


class Calls:
    """A progress callback that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.calls.append((done, total))

    def check(self, total: int) -> None:
        done = [call[0] for call in self.calls]
        assert done == sorted(done), "bytes done only grow"
        assert self.calls[-1] == (total, total), "the last call reports the whole"


# --- download_file ------------------------------------------------------------------


async def test_download_file_writes_the_object_from_parallel_ranged_gets(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    stored = await s3.put_object(bucket, "big", DATA)
    progress = Calls()
    target = tmp_path / "big.bin"

    async with client_via(proxy, s3_server) as client:
        result = await client.download_file(
            bucket, "big", target, part_size=PART, max_concurrency=4, progress=progress
        )

    assert target.read_bytes() == DATA
    assert result == DownloadResult(str(target), len(DATA), str(stored.etag), 6, result.verified_by)
    assert result.verified_by in ("crc32", "etag-md5")
    gets = proxy.seen("GET", "/big$")
    assert sorted(g.header("range") or "" for g in gets) == sorted(
        f"bytes={start}-{min(start + PART, len(DATA)) - 1}" for start in range(0, len(DATA), PART)
    )
    assert all(g.header("if-match") == f'"{stored.etag}"' for g in gets[1:])
    assert proxy.count("HEAD", "/big$") == 1  # the stored checksum, asked for at the start
    assert leftovers(tmp_path) == []
    progress.check(len(DATA))


async def test_download_file_verifies_a_single_part_object_against_its_md5_etag(
    s3_server: TestServer, bucket: str, tmp_path: Path
) -> None:
    # Uploaded with Content-MD5 only: the server stores no flexible checksum.
    async with s3_server.client(checksum="md5") as md5_client:
        stored = await md5_client.put_object(bucket, "md5", DATA)
        assert len(str(stored.etag)) == 32
        result = await md5_client.download_file(bucket, "md5", tmp_path / "out", part_size=PART)

    assert result.verified_by == "etag-md5"
    assert result.parts == 6
    assert (tmp_path / "out").read_bytes() == DATA


async def test_download_file_of_an_empty_object(
    s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    await s3.put_object(bucket, "empty", b"")
    result = await s3.download_file(bucket, "empty", tmp_path / "empty")
    assert (tmp_path / "empty").read_bytes() == b""
    assert result.size == 0


async def test_download_file_of_an_object_smaller_than_a_part(
    s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    await s3.put_object(bucket, "small", DATA[:1000])
    result = await s3.download_file(bucket, "small", tmp_path / "small")
    assert (tmp_path / "small").read_bytes() == DATA[:1000]
    assert result.parts == 1


async def test_download_file_replaces_an_existing_file_only_when_complete(
    s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"old contents")
    with pytest.raises(NoSuchKey):
        await s3.download_file(bucket, "missing", target)
    assert target.read_bytes() == b"old contents"
    assert leftovers(tmp_path) == []

    await s3.put_object(bucket, "there", DATA)
    await s3.download_file(bucket, "there", target, part_size=PART)
    assert target.read_bytes() == DATA


async def test_download_file_refuses_a_bad_target_before_any_request(
    s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequestError, match="directory"):
        await s3.download_file(bucket, "k", tmp_path)
    with pytest.raises(InvalidRequestError, match="cannot create a file in"):
        await s3.download_file(bucket, "k", tmp_path / "no-such-dir" / "out")
    with pytest.raises(InvalidRequestError, match="part_size"):
        await s3.download_file(bucket, "k", tmp_path / "out", part_size=1000)
    with pytest.raises(InvalidRequestError, match="max_concurrency"):
        await s3.download_file(bucket, "k", tmp_path / "out", max_concurrency=0)
    with pytest.raises(InvalidRequestError, match="progress"):
        await s3.download_file(bucket, "k", tmp_path / "out", progress="yes")  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


async def test_a_part_cut_mid_body_is_resumed_on_its_own(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    stored = await s3.put_object(bucket, "big", DATA)
    third = f"bytes={2 * PART}-"
    proxy.add(Rule(ResetDuringResponse(after_bytes=100_000), method="GET", header=("range", third)))

    async with client_via(proxy, s3_server) as client:
        await client.download_file(bucket, "big", tmp_path / "out", part_size=PART)

    assert (tmp_path / "out").read_bytes() == DATA
    ranges = [g.header("range") for g in proxy.seen("GET", "/big$")]
    resumed = f"bytes={2 * PART + 100_000}-{3 * PART - 1}"
    assert resumed in ranges  # only that part, from the next byte it had not received
    assert len(ranges) == 7
    resume = next(g for g in proxy.seen("GET") if g.header("range") == resumed)
    assert resume.header("if-match") == f'"{stored.etag}"'


async def test_an_object_changed_mid_download_raises_and_leaves_no_file(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    await s3.put_object(bucket, "big", DATA)
    later = f"bytes={4 * PART}-"
    proxy.add(Rule(Stall(2.0, direction="request"), method="GET", header=("range", later)))
    target = tmp_path / "out"

    stalled = f"bytes={4 * PART}-{5 * PART - 1}"

    async def overwrite_while_stalled() -> None:
        await proxy.wait_for(lambda: any(g.header("range") == stalled for g in proxy.seen("GET")))
        await s3.put_object(bucket, "big", DATA[::-1])

    async with client_via(proxy, s3_server) as client, anyio.create_task_group() as group:
        group.start_soon(overwrite_while_stalled)
        with pytest.raises(IntegrityError, match="changed while it was being downloaded"):
            await client.download_file(bucket, "big", target, part_size=PART, max_concurrency=2)

    assert not target.exists()
    assert leftovers(tmp_path) == []


async def test_a_corrupted_part_fails_the_whole_file_check(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    await s3.put_object(bucket, "big", DATA)
    proxy.add(Rule(FlipByte(offset=500), method="GET", header=("range", f"bytes={PART}-")))

    async with client_via(proxy, s3_server) as client:
        with pytest.raises(IntegrityError, match="checksum mismatch"):
            await client.download_file(bucket, "big", tmp_path / "out", part_size=PART)

    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []


async def test_a_failed_part_fails_the_download(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    await s3.put_object(bucket, "big", DATA)
    proxy.add(Rule(Respond(403, "AccessDenied"), method="GET", header=("range", f"bytes={PART}-")))

    async with client_via(proxy, s3_server) as client:
        with pytest.raises(AccessDenied):
            await client.download_file(bucket, "big", tmp_path / "out", part_size=PART)

    assert os.listdir(tmp_path) == []


@pytest.fixture
def file_size_limit() -> Iterator[int]:
    """Writes past 2 MiB fail with EFBIG in this process (a full disk, as a file sees it)."""
    limit = 2 * MiB
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


async def test_a_full_disk_fails_the_download_and_leaves_no_file(
    s3: S3Client, bucket: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    await s3.put_object(bucket, "big", DATA)
    target = tmp_path / "out"
    target.write_bytes(b"old")
    request.getfixturevalue("file_size_limit")

    with pytest.raises(OSError) as raised:
        await s3.download_file(bucket, "big", target, part_size=PART)

    assert raised.value.errno in (27, 28)  # EFBIG, ENOSPC
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


async def test_a_cancelled_download_leaves_no_file(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    await s3.put_object(bucket, "big", DATA)
    proxy.add(Rule(Stall(5.0), method="GET", header=("range", f"bytes={3 * PART}-")))
    target = tmp_path / "out"

    async with client_via(proxy, s3_server) as client:
        with anyio.CancelScope() as scope:

            async def cancel_when_stalled() -> None:
                await proxy.wait_for(lambda: any(g.fault for g in proxy.seen("GET")))
                await anyio.sleep(0.2)  # the other parts are being written
                scope.cancel()

            async with anyio.create_task_group() as group:
                group.start_soon(cancel_when_stalled)
                await client.download_file(bucket, "big", target, part_size=PART)

    assert scope.cancelled_caught
    assert not target.exists()
    assert leftovers(tmp_path) == []


# --- parallel get_object --------------------------------------------------------------


async def test_parallel_get_reads_the_parts_in_order(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    await s3.put_object(bucket, "big", DATA)
    progress = Calls()

    async with client_via(proxy, s3_server) as client, client.get_object(
        bucket, "big", max_concurrency=3, part_size=PART, progress=progress
    ) as stream:
        assert stream.size == len(DATA) == stream.total_size
        data = await stream.read()

    assert data == DATA
    assert stream.verified_by in ("crc32", "etag-md5")
    assert proxy.count("GET", "/big$") == 6
    # Three parts held or in flight, plus the HEAD that opened beside the first.
    assert proxy.peak_connections <= 4
    progress.check(len(DATA))


async def test_parallel_get_detects_a_corrupted_part(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    await s3.put_object(bucket, "big", DATA)
    proxy.add(Rule(FlipByte(offset=10), method="GET", header=("range", f"bytes={3 * PART}-")))

    async with client_via(proxy, s3_server) as client:
        with pytest.raises(IntegrityError):
            async with client.get_object(bucket, "big", max_concurrency=2, part_size=PART) as st:
                await st.read()


async def test_parallel_get_delivers_a_part_error_in_order(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    await s3.put_object(bucket, "big", DATA)
    proxy.add(Rule(Respond(403, "AccessDenied"), method="GET", header=("range", f"bytes={PART}-")))
    received = bytearray()

    async with client_via(proxy, s3_server) as client:
        with pytest.raises(AccessDenied):
            async with client.get_object(bucket, "big", max_concurrency=4, part_size=PART) as st:
                async for chunk in st:
                    received += chunk

    assert bytes(received) == DATA[:PART]  # the first part, then the error


async def test_parallel_get_can_be_left_early(s3: S3Client, bucket: str) -> None:
    await s3.put_object(bucket, "big", DATA)
    with anyio.fail_after(10):
        async with s3.get_object(bucket, "big", max_concurrency=4, part_size=PART) as stream:
            async for chunk in stream:
                assert chunk == DATA[: len(chunk)]
                break
        # The client is still usable: no part was left holding a connection.
        assert await (await s3.get_object(bucket, "big")).read() == DATA


async def test_parallel_get_needs_async_with_and_no_range(s3: S3Client, bucket: str) -> None:
    with pytest.raises(InvalidRequestError, match="async with"):
        await s3.get_object(bucket, "k", max_concurrency=2)
    with pytest.raises(InvalidRequestError, match="range"):
        s3.get_object(bucket, "k", range=(0, 10), max_concurrency=2)
    with pytest.raises(NoSuchKey):
        async with s3.get_object(bucket, "missing", max_concurrency=2):
            pass


# --- upload_file and put_object progress -----------------------------------------------


async def test_upload_file_sends_parts_read_from_the_file(
    s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "src.bin"
    data = os.urandom(12 * MiB + 7)
    source.write_bytes(data)
    progress = Calls()

    result = await s3.upload_file(
        bucket,
        "up",
        str(source),
        part_size=5 * MiB,
        max_concurrency=3,
        content_type="application/x-test",
        metadata={"origin": "file"},
        progress=progress,
    )

    assert result.parts == 3 and result.size == len(data)
    info = await s3.head_object(bucket, "up")
    assert info.content_type == "application/x-test" and info.metadata == {"origin": "file"}
    assert await (await s3.get_object(bucket, "up")).read() == data
    progress.check(len(data))
    assert len(progress.calls) <= 4  # at most one call per part, and the last


async def test_upload_file_refuses_bad_arguments(
    s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequestError, match="cannot open file"):
        await s3.upload_file(bucket, "k", tmp_path / "missing")
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(InvalidRequestError, match="part_size"):
        await s3.upload_file(bucket, "k", tmp_path / "f", part_size=1024)
    assert not await s3.object_exists(bucket, "k")


async def test_put_object_reports_progress_with_an_async_callback(
    s3: S3Client, bucket: str
) -> None:
    calls: list[tuple[int, int | None]] = []

    async def record(done: int, total: int | None) -> None:
        await anyio.lowlevel.checkpoint()
        calls.append((done, total))

    await s3.put_object(bucket, "p", DATA, progress=record)
    assert calls[-1] == (len(DATA), len(DATA))


async def test_download_file_checks_the_whole_file_against_a_stored_sha256(
    s3_server: TestServer, bucket: str, tmp_path: Path
) -> None:
    if "no-flexible-checksums" in s3_server.quirks:
        pytest.skip(f"{s3_server.kind} stores no flexible checksums (no-flexible-checksums)")
    async with s3_server.client(checksum="sha256") as client:
        await client.put_object(bucket, "s", DATA)
        head = await client.head_object(bucket, "s")
        if "sha256" not in head.checksums:
            pytest.skip(f"{s3_server.kind} returned no SHA-256 for this object")
        expected = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
        assert head.checksums["sha256"] == expected
        result = await client.download_file(bucket, "s", tmp_path / "s", part_size=PART)
    assert result.verified_by == "sha256"
    assert (tmp_path / "s").read_bytes() == DATA
