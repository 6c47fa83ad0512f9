"""The workloads, written once against the ``BenchClient`` protocol.

Rules of this module:
- A workload returns what it moved (bytes, objects) and raises if the server
  gave back fewer bytes than expected; timing and accounting are the worker's.
- The upload generator yields one pre-generated buffer again and again, so its
  own cost is nothing next to the client's.
- Fixtures a workload reads (the large object, the small objects) were put
  there by the runner before any measurement, by keys from ``config``.
- The network profile's ``transfer-download`` / ``transfer-upload`` take their
  key, part size, connection count and target file from ``spec.extra``; the
  caller checks and deletes the downloaded file after the run (outside the
  measured span).  An ``extra["key"]`` also names the object of
  ``download-stream`` / ``upload-file`` (default: the fixture's key).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from .clients import BenchClient
from .config import Spec

__all__ = ["WORKLOAD_FUNCTIONS", "Moved", "generate"]


@dataclass(frozen=True)
class Moved:
    bytes: int
    objects: int


async def generate(size: int, chunk: bytes, *, fresh: bool = False) -> AsyncIterator[bytes]:
    """``size`` bytes as repeats of ``chunk`` (the last one cut short).

    With ``fresh``, every chunk is a new object (one memcpy each), as from a real
    producer: a client that keeps references instead of copying then holds real
    memory, so the memory workload measures what it would in production.
    """
    full, rest = divmod(size, len(chunk))
    for _ in range(full):
        yield bytes(memoryview(chunk)) if fresh else chunk
    if rest:
        yield chunk[:rest]


def _check(what: str, got: int, expected: int) -> None:
    if got != expected:
        raise RuntimeError(f"{what}: received {got} bytes, expected {expected}")


async def upload_generator(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    key = spec.server.run_key(client.name, spec.workload)
    await client.put_stream(key, generate(spec.size, chunk), spec.size)
    return Moved(spec.size, 1)


async def upload_file(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    key = spec.extra.get("key") or spec.server.run_key(client.name, spec.workload)
    await client.put_file(key, Path(spec.file_path), spec.size)
    return Moved(spec.size, 1)


async def download_stream(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    key = spec.extra.get("key") or spec.server.large_key(spec.size)
    _check("download", await client.get_stream(key), spec.size)
    return Moved(spec.size, 1)


async def small_upload(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    sizes = spec.sizes
    keys = spec.server.run_small_keys(client.name, sizes.small_count)
    await client.put_many(keys, os.urandom(sizes.small_size), sizes.concurrency)
    return Moved(sizes.small_count * sizes.small_size, sizes.small_count)


async def small_download(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    sizes = spec.sizes
    expected = sizes.small_count * sizes.small_size
    received = await client.get_many(spec.server.small_keys(sizes.small_count), sizes.concurrency)
    _check("small downloads", received, expected)
    return Moved(expected, sizes.small_count)


async def copy(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    source = spec.server.large_key(spec.size)
    await client.copy(source, spec.server.run_key(client.name, "copy"))
    return Moved(spec.size, 1)


async def memory(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    """A streamed upload (fresh chunks) then a streamed download of the same object."""
    key = spec.server.run_key(client.name, spec.workload)
    await client.put_stream(key, generate(spec.size, chunk, fresh=True), spec.size)
    _check("memory download", await client.get_stream(key), spec.size)
    return Moved(2 * spec.size, 2)


async def transfer_download(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    """The library's parallel ranged download into ``extra["target"]``."""
    extra = spec.extra
    await client.download_file(
        extra["key"], Path(extra["target"]), int(extra["part_size"]), int(extra["connections"])
    )
    return Moved(spec.size, 1)  # the file's size is checked by the caller, after the run


async def transfer_upload(client: BenchClient, spec: Spec, chunk: bytes) -> Moved:
    """The library's parallel multipart upload of ``spec.file_path``."""
    extra = spec.extra
    await client.upload_file(
        extra["key"],
        Path(spec.file_path),
        spec.size,
        int(extra["part_size"]),
        int(extra["connections"]),
    )
    return Moved(spec.size, 1)


Workload = Callable[[BenchClient, Spec, bytes], Awaitable[Moved]]

WORKLOAD_FUNCTIONS: dict[str, Workload] = {
    "upload-generator": upload_generator,
    "upload-file": upload_file,
    "download-stream": download_stream,
    "small-upload": small_upload,
    "small-download": small_download,
    "copy": copy,
    "memory": memory,
    "transfer-download": transfer_download,
    "transfer-upload": transfer_upload,
}
