"""How a request body is put on the wire: length headers, payload hash, checksum, framing.

Rules of this module:
- One place decides the payload mode.  In-memory bodies are hashed (when the
  payload is signed) and checksummed up front and sent as they are.  Streams
  (file ranges) are read once: signed, they go as aws-chunked with per-chunk
  signatures; unsigned, as ``UNSIGNED-PAYLOAD``; either way a CRC32/SHA-256
  checksum rides in a trailer, computed as the bytes go by.
- Every body is sent with a ``Content-Length`` (S3 refuses plain chunked PUTs).
- ``Payload.open`` is called once per attempt, after signing, so a retried
  request re-reads its source from the start and re-chains its signatures.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import anyio.to_thread

from ._body import READ_SIZE, Buffer, BytesSource, Source
from ._checksums import ChecksumAlgorithm, Hasher, encoded_checksum_length, header_for
from ._chunked import ChunkSigner, encoded_length_of, unsigned_chunk_header, unsigned_final_chunk
from ._signing import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD,
    HeaderSignature,
)

__all__ = ["EMPTY", "Payload", "PayloadSigning", "payload_for_source"]

PayloadSigning = Literal["auto", "signed", "unsigned"]
Content = bytes | AsyncIterable[Buffer] | None
Opener = Callable[[HeaderSignature, bytes], Content]
CHUNK_SIZE = READ_SIZE
_HASH_IN_THREAD = 256 * 1024
_T = TypeVar("_T")
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Payload:
    """A request body: the headers that describe it, its payload hash, and how to open it."""

    headers: Headers
    payload_hash: str
    replayable: bool
    opener: Opener
    checksum: str | None = None
    """The body's checksum (base64) when known before sending."""
    computed: list[str] = field(default_factory=list)
    """Checksums computed while a streamed body was sent (one per attempt)."""

    @property
    def sent_checksum(self) -> str | None:
        """The checksum of what was sent: known up front, or computed on the way."""
        return self.checksum or (self.computed[-1] if self.computed else None)

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
    yield view  # h11 accepts any buffer: no copy here


def _as_bytes(chunk: Buffer) -> Buffer:
    # A view of a whole bytes object goes out as that object: h11 then sends it without a copy.
    if (
        isinstance(chunk, memoryview)
        and isinstance(chunk.obj, bytes)
        and chunk.nbytes == len(chunk.obj)
    ):
        return chunk.obj
    return chunk


def _sign_and_hash(signer: ChunkSigner, hasher: Hasher | None, chunk: Buffer) -> bytes:
    if hasher is not None:
        hasher.update(chunk)
    return signer.header(chunk)


async def _in_thread_if_large(size: int, work: Callable[[], _T]) -> _T:
    # hashlib and zlib release the GIL on large buffers: hashing one chunk in a worker
    # thread overlaps with sending the previous one (the second core does the hashing).
    if size >= _HASH_IN_THREAD:
        return await anyio.to_thread.run_sync(work)
    return work()


async def _signed_chunks(
    chunks: AsyncGenerator[Buffer, None],
    signer: ChunkSigner,
    hasher: Hasher | None,
    computed: list[str],
) -> AsyncIterator[Buffer]:
    async with aclosing(chunks):
        async for chunk in chunks:
            frame = await _in_thread_if_large(
                len(chunk), functools.partial(_sign_and_hash, signer, hasher, chunk)
            )
            yield frame  # the frame around the data; the data itself goes out untouched
            yield _as_bytes(chunk)
            yield b"\r\n"
    trailers = []
    if hasher is not None:
        computed.append(hasher.b64())
        trailers = [(header_for(hasher.algorithm), computed[-1])]
    yield signer.final(trailers)


async def _unsigned_chunks(
    chunks: AsyncGenerator[Buffer, None], hasher: Hasher, computed: list[str]
) -> AsyncIterator[Buffer]:
    async with aclosing(chunks):
        async for chunk in chunks:
            await _in_thread_if_large(len(chunk), functools.partial(hasher.update, chunk))
            yield unsigned_chunk_header(len(chunk))
            yield _as_bytes(chunk)
            yield b"\r\n"
    computed.append(hasher.b64())
    yield unsigned_final_chunk([(header_for(hasher.algorithm), computed[-1])])


def _sha256_hex(view: memoryview) -> str:
    return hashlib.sha256(view).hexdigest()


async def _range_checksum(
    source: Source, start: int, size: int, algorithm: ChecksumAlgorithm
) -> str:
    hasher = Hasher(algorithm)
    async with aclosing(source.ranged(start, size)) as chunks:
        async for chunk in chunks:
            hasher.update(chunk)
    return hasher.b64()


async def payload_for_source(
    source: Source,
    start: int,
    size: int,
    *,
    signed: bool,
    checksum: ChecksumAlgorithm | None,
) -> Payload:
    """The payload for bytes ``[start, start + size)`` of a replayable source."""
    length: Headers = (("content-length", str(size)),)
    if isinstance(source, BytesSource):
        view = source.view[start : start + size]
        digest = UNSIGNED_PAYLOAD
        if signed:
            digest = await _in_thread_if_large(size, functools.partial(_sha256_hex, view))
        value = None
        if checksum:
            value = await _in_thread_if_large(size, functools.partial(Hasher.of, checksum, view))
        extra: Headers = ((header_for(checksum), value),) if checksum and value else ()
        whole = isinstance(source.view.obj, bytes) and size == len(source.view)
        body: bytes | None = source.view.obj if whole else None  # type: ignore[assignment]
        return Payload(
            length + extra,
            digest,
            True,
            lambda _s, _k: body if body is not None else _one(view),
            value,
        )

    if checksum == "md5":  # Content-MD5 cannot trail the body: one extra pass over the range
        value = await _range_checksum(source, start, size, "md5")
        length += (("content-md5", value),)
        if not signed:
            return Payload(
                length, UNSIGNED_PAYLOAD, True, lambda _s, _k: source.ranged(start, size), value
            )
        checksum = None
    if not signed and checksum is None:
        return Payload(length, UNSIGNED_PAYLOAD, True, lambda _s, _k: source.ranged(start, size))

    trailer = header_for(checksum) if checksum else None
    # Checksums have a fixed length, so a placeholder gives the exact encoded length.
    placeholder = (
        [(trailer, "=" * encoded_checksum_length(checksum))] if checksum and trailer else []
    )
    pieces = source.piece_sizes(start, size, CHUNK_SIZE)
    wire_length = encoded_length_of(pieces, signed=signed, trailers=placeholder)
    headers: Headers = (
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", str(size)),
        ("content-length", str(wire_length)),
        *((("x-amz-trailer", trailer),) if trailer else ()),
        *(length[1:]),  # a content-md5 computed above
    )

    computed: list[str] = []

    def open_chunked(signature: HeaderSignature, key: bytes) -> Content:
        hasher = Hasher(checksum) if checksum else None
        chunks = source.ranged(start, size, CHUNK_SIZE)
        if not signed:
            assert hasher is not None
            return _unsigned_chunks(chunks, hasher, computed)
        signer = ChunkSigner(key, signature.amz_date, signature.scope, signature.signature)
        return _signed_chunks(chunks, signer, hasher, computed)

    if signed:
        mode = STREAMING_PAYLOAD_TRAILER if checksum else STREAMING_PAYLOAD
    else:
        mode = STREAMING_UNSIGNED_PAYLOAD_TRAILER
    return Payload(headers, mode, True, open_chunked, None, computed)
