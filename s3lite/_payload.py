"""How a request body is put on the wire: length headers, payload hash, framing.

Rules of this module:
- One place decides the payload mode: a SHA-256 of in-memory bytes, a
  streamed ``UNSIGNED-PAYLOAD``, or aws-chunked with per-chunk signatures
  (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) so a stream is signed in one pass.
- Every body is sent with a ``Content-Length`` (S3 refuses plain chunked PUTs).
- ``Payload.open`` is called once per attempt, after signing, so a retried
  request re-reads its source from the start and re-chains its signatures.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import anyio.to_thread

from ._body import READ_SIZE, BytesSource, Source
from ._chunked import ChunkSigner, encoded_length
from ._signing import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    UNSIGNED_PAYLOAD,
    HeaderSignature,
)

__all__ = ["EMPTY", "Payload", "PayloadSigning", "payload_for_source"]

PayloadSigning = Literal["auto", "signed", "unsigned"]
Content = bytes | AsyncIterable[bytes | bytearray | memoryview] | None
Opener = Callable[[HeaderSignature, bytes], Content]
CHUNK_SIZE = READ_SIZE
_HASH_IN_THREAD = 256 * 1024


@dataclass(frozen=True, slots=True)
class Payload:
    """A request body: the headers that describe it, its payload hash, and how to open it."""

    headers: tuple[tuple[str, str], ...]
    payload_hash: str
    replayable: bool
    opener: Opener

    def open(self, signed: HeaderSignature, key: bytes) -> Content:
        """The body to send for one attempt (``key`` is the request's signing key)."""
        return self.opener(signed, key)

    @classmethod
    def of_bytes(cls, data: bytes, *, signed: bool) -> Payload:
        """A small in-memory body (XML documents): hashed and sent as is."""
        digest = hashlib.sha256(data).hexdigest() if signed else UNSIGNED_PAYLOAD
        return cls((("content-length", str(len(data))),), digest, True, lambda _s, _k: data)


EMPTY = Payload((), EMPTY_SHA256, True, lambda _s, _k: None)


async def _one(view: memoryview) -> AsyncIterator[memoryview]:
    yield view  # h11 accepts any buffer; no copy here


async def _signed_chunks(
    chunks: AsyncIterator[bytes | bytearray | memoryview], signer: ChunkSigner
) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield b"".join((signer.header(chunk), chunk, b"\r\n"))
    yield signer.final()


async def payload_for_source(source: Source, start: int, size: int, *, signed: bool) -> Payload:
    """The payload for bytes ``[start, start + size)`` of a replayable source."""
    length = (("content-length", str(size)),)
    if isinstance(source, BytesSource):
        view = source.view[start : start + size]
        if signed:
            if size > _HASH_IN_THREAD:
                digest = await anyio.to_thread.run_sync(lambda: hashlib.sha256(view).hexdigest())
            else:
                digest = hashlib.sha256(view).hexdigest()
        else:
            digest = UNSIGNED_PAYLOAD
        whole = isinstance(source.view.obj, bytes) and size == len(source.view)
        body: bytes | None = source.view.obj if whole else None  # type: ignore[assignment]
        return Payload(
            length,
            digest,
            True,
            lambda _s, _k: body if body is not None else _one(view),
        )
    if not signed:
        return Payload(length, UNSIGNED_PAYLOAD, True, lambda _s, _k: source.ranged(start, size))

    def open_chunked(signature: HeaderSignature, key: bytes) -> Content:
        signer = ChunkSigner(key, signature.amz_date, signature.scope, signature.signature)
        return _signed_chunks(source.ranged(start, size, CHUNK_SIZE), signer)

    headers: Sequence[tuple[str, str]] = (
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", str(size)),
        ("content-length", str(encoded_length(size, CHUNK_SIZE, signed=True))),
    )
    return Payload(tuple(headers), STREAMING_PAYLOAD, True, open_chunked)
