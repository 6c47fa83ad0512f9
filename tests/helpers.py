"""Plain values and functions the test files share (fixtures live in ``tests/conftest.py``).

- ``MiB``: sizes are written in it (``5 * MiB`` is S3's smallest part).
- ``DATA``: 256 KiB of random bytes, made once per session.
- ``pattern(size, seed)``: deterministic bytes that differ at every offset worth checking,
  so a misplaced range or a part sent twice is caught; the same ``seed`` gives the same bytes.
- ``chunks_of(data, size)``: ``data`` as a one-shot async stream of ``size``-byte chunks
  (with a checkpoint before each, as a socket or a file would).
- ``client_via(proxy, server)``: an ``S3Client`` that reaches the test server through the
  fault proxy, with fast retries (``FAST_RETRY``) and 5 MiB parts.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Literal

import anyio.lowlevel

from s3lite import RetryPolicy, S3Client

if TYPE_CHECKING:
    from tests.conftest import TestServer
    from tests.faultproxy import FaultProxy

MiB = 1024 * 1024

DATA = os.urandom(256 * 1024)


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes of ``size`` whose 64 KiB period depends on ``seed``."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


async def chunks_of(data: bytes, size: int) -> AsyncGenerator[bytes, None]:
    """``data`` as a one-shot stream of ``size``-byte chunks."""
    for start in range(0, len(data), size):
        await anyio.lowlevel.checkpoint()
        yield data[start : start + size]


FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, total_timeout=30.0)


def client_via(
    proxy: FaultProxy,
    server: TestServer,
    *,
    retry: RetryPolicy = FAST_RETRY,
    timeout: float = 10.0,
    max_connections: int = 16,
    payload_signing: Literal["auto", "signed", "unsigned"] = "auto",
    multipart_threshold: int = 16 * MiB,
) -> S3Client:
    s = server.settings
    return S3Client(
        proxy.endpoint,
        access_key=s.access_key,
        secret_key=s.secret_key,
        region=s.region,
        addressing_style="path",
        retry=retry,
        timeout=timeout,
        connect_timeout=timeout,
        max_connections=max_connections,
        payload_signing=payload_signing,
        multipart_threshold=multipart_threshold,
        part_size=5 * MiB,
    )
