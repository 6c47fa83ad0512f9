"""``download_file``: an object written to a local file by parallel ranged GETs.

Rules of this module:
- The file is written under a temporary name in the target's directory and
  renamed over the target only once every byte has arrived and been verified; on
  any failure or cancellation the temporary file is removed, so the target never
  holds a partial or mixed file.
- Parts run in one task group, at most ``max_concurrency`` at a time (``_ranged``
  opens them, pinned to one ETag).  Each part is written at its own offset with
  positional writes in a worker thread, in batches of about ``WRITE_SIZE`` bytes:
  memory is about one batch per part in flight, whatever the object's size.
- Verification: the size always; a stored full-object CRC32 is combined from the
  parts' CRC32s; a stored SHA-256 or MD5 ETag (single-part objects) is computed in
  order by reading back what was written, in a worker thread, while later parts
  still download.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Sequence

import anyio
import anyio.to_thread

from ._checksum_policy import VerifiedBy
from ._checksums import ChecksumAlgorithm, Hasher, combine_crc32_b64
from ._download import ObjectStream, checksum_mismatch
from ._exceptions import IntegrityError, InvalidRequestError
from ._models import DownloadResult
from ._pipeline import Pipeline
from ._progress import Progress, ProgressCallback
from ._ranged import FirstPart, Span, open_first, open_part
from ._requests import Same
from ._tasks import first_error
from ._urls import validate_bucket_name, validate_key

__all__ = ["WRITE_SIZE", "download_file"]

WRITE_SIZE = 1024 * 1024
"""About how many bytes one positional write carries."""
_READ_BACK = 1024 * 1024
_MAX_BUFFERS = 512  # well under IOV_MAX (1024 on Linux)


class _PositionalFile:
    """Writes and reads at offsets of one open file, from worker threads."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()  # only for platforms without pwrite/pread

    def write(self, buffers: Sequence[bytes], offset: int) -> None:
        """Write ``buffers`` one after the other at ``offset`` (short writes continued)."""
        pending = list(buffers)
        while pending:
            written = self._write_some(pending, offset)
            offset += written
            while pending and written >= len(pending[0]):
                written -= len(pending.pop(0))
            if pending and written:
                pending[0] = pending[0][written:]

    def _write_some(self, buffers: list[bytes], offset: int) -> int:
        if hasattr(os, "pwritev"):
            return os.pwritev(self._fd, buffers, offset)
        if hasattr(os, "pwrite"):
            return os.pwrite(self._fd, buffers[0], offset)
        with self._lock:
            os.lseek(self._fd, offset, os.SEEK_SET)
            return os.write(self._fd, buffers[0])

    def digest(self, hasher: Hasher, start: int, size: int) -> None:
        """Feed bytes ``[start, start + size)`` of the file to ``hasher``."""
        end = start + size
        while start < end:
            want = min(_READ_BACK, end - start)
            if hasattr(os, "pread"):
                data = os.pread(self._fd, want, start)
            else:
                with self._lock:
                    os.lseek(self._fd, start, os.SEEK_SET)
                    data = os.read(self._fd, want)
            if not data:
                raise IntegrityError("the file being downloaded shrank while it was read back")
            hasher.update(data)
            start += len(data)

    def size(self) -> int:
        return os.fstat(self._fd).st_size


def _target(path: str | os.PathLike[str]) -> str:
    if not isinstance(path, str | os.PathLike):
        raise InvalidRequestError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    target = os.path.abspath(os.fspath(path))
    if os.path.isdir(target):
        raise InvalidRequestError(f"cannot download to {target!r}: it is a directory")
    return target


def _create_temporary(target: str) -> tuple[int, str]:
    directory, name = os.path.split(target)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.s3lite-download")
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        return os.open(temporary, flags, 0o666), temporary
    except OSError as exc:
        raise InvalidRequestError(
            f"cannot create a file in {directory!r}: {exc.strerror}"
        ) from exc


async def download_file(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    path: str | os.PathLike[str],
    *,
    part_size: int,
    max_concurrency: int,
    progress: ProgressCallback | None,
    same: Same = ((), ()),
) -> DownloadResult:
    """Download ``bucket/key`` to ``path`` (see the module's rules); ``same``: the version
    and SSE-C headers every request repeats."""
    validate_bucket_name(bucket)
    validate_key(key)
    target = _target(path)
    fd, temporary = await anyio.to_thread.run_sync(_create_temporary, target)
    try:
        try:
            file = _PositionalFile(fd)
            result = await _fill(
                pipeline, bucket, key, file, part_size, max_concurrency, progress, same
            )
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return DownloadResult(target, *result)


async def _fill(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    file: _PositionalFile,
    part_size: int,
    max_concurrency: int,
    callback: ProgressCallback | None,
    same: Same,
) -> tuple[int, str, int, VerifiedBy]:
    """Write the whole object into ``file``; its (size, etag, parts, verified_by)."""
    first = await open_first(pipeline, bucket, key, part_size, same)
    try:
        spans = first.spans(part_size)
        algorithm = first.check.algorithm
        progress = Progress(callback, first.total)
        actual = await _write_parts(
            pipeline, bucket, key, file, first, spans, max_concurrency, progress
        )
    finally:
        with anyio.CancelScope(shield=True):
            await first.stream.aclose()
    if file.size() != first.total:
        raise IntegrityError(
            f"the file written for {key!r} holds {file.size()} bytes, the object {first.total}"
        )
    if algorithm is not None and actual != first.check.expected:
        check = first.check
        raise checksum_mismatch(key, check.verified_by, str(check.expected), str(actual))
    return first.total, first.etag, len(spans), first.check.verified_by


async def _write_parts(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    file: _PositionalFile,
    first: FirstPart,
    spans: list[Span],
    max_concurrency: int,
    progress: Progress,
) -> str | None:
    """Run every part; the checksum of what was written (None when nothing is checked)."""
    algorithm: ChecksumAlgorithm | None = first.check.algorithm
    several = len(spans) > 1
    part_crcs: dict[int, str] = {}
    written = [anyio.Event() for _ in spans]
    read_back = Hasher(algorithm) if several and algorithm in ("sha256", "md5") else None
    slots = anyio.Semaphore(max_concurrency)

    async def run(index: int, span: Span) -> None:
        try:
            if index == 0:
                stream = first.stream
            else:
                stream = await open_part(pipeline, bucket, key, first, span)
            hasher = None
            if algorithm == "crc32" or (algorithm is not None and not several):
                hasher = Hasher(algorithm)
            await _write_stream(file, stream, span[0], hasher, progress)
            if hasher is not None:
                part_crcs[index] = hasher.b64()
            written[index].set()
        finally:
            slots.release()

    async def digest_in_order() -> None:
        assert read_back is not None
        for index, (start, last) in enumerate(spans):
            await written[index].wait()
            await anyio.to_thread.run_sync(file.digest, read_back, start, last - start + 1)

    try:
        async with anyio.create_task_group() as group:
            if read_back is not None:
                group.start_soon(digest_in_order)
            for index, span in enumerate(spans):
                await slots.acquire()
                group.start_soon(run, index, span)
    except BaseExceptionGroup as errors:
        raise first_error(errors) from None
    await progress.finish()
    if read_back is not None:
        return read_back.b64()
    if algorithm == "crc32" and several:
        return combine_crc32_b64([(part_crcs[i], s[1] - s[0] + 1) for i, s in enumerate(spans)])
    return part_crcs.get(0)


async def _write_stream(
    file: _PositionalFile,
    stream: ObjectStream,
    offset: int,
    hasher: Hasher | None,
    progress: Progress,
) -> None:
    """Write one part's body at ``offset``, in batches; the stream checks its length."""
    batch: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            if hasher is not None:
                hasher.update(chunk)
            batch.append(chunk)
            size += len(chunk)
            if size >= WRITE_SIZE or len(batch) >= _MAX_BUFFERS:
                await anyio.to_thread.run_sync(file.write, batch, offset)
                await progress.advance(size)
                offset += size
                batch, size = [], 0
        if batch:
            await anyio.to_thread.run_sync(file.write, batch, offset)
            await progress.advance(size)
    finally:
        await stream.aclose()
