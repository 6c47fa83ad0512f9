"""Plain values and functions the test files share (fixtures live in ``tests/conftest.py``).

- ``MiB``: sizes are written in it (``5 * MiB`` is S3's smallest part).
- ``DATA``: 256 KiB of random bytes, made once per session.
- ``pattern(size, seed)``: deterministic bytes that differ at every offset worth checking,
  so a misplaced range or a part sent twice is caught; the same ``seed`` gives the same bytes.
- ``chunks_of(data, size)``: ``data`` as a one-shot async stream of ``size``-byte chunks
  (with a checkpoint before each, as a socket or a file would).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncGenerator

import anyio.lowlevel

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
