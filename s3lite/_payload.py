"""How a request body is put on the wire: length headers, payload hash, checksum, framing.

Rules of this module:
- One pure function decides the payload mode (``choose_plan``), from this table:

  ====================  ======  ==============  ========================================
  body                  signed  checksum        on the wire (``x-amz-content-sha256``)
  ====================  ======  ==============  ========================================
  in memory             no      any             raw, checksum header (UNSIGNED-PAYLOAD)
  in memory             yes     any             raw, checksum header (hex SHA-256)
  stream or file        no      none            raw (UNSIGNED-PAYLOAD)
  stream or file        no      md5             raw, Content-MD5 pre-pass (UNSIGNED-PAYLOAD)
  stream or file        no      crc32 / sha256  aws-chunked, trailer
                                                (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
  stream or file        yes     none            aws-chunked, signed chunks
                                                (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)
  stream or file        yes     md5             aws-chunked, signed, Content-MD5 pre-pass
  stream or file        yes     crc32 / sha256  aws-chunked, signed, trailer
                                                (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)
  ====================  ======  ==============  ========================================

  In-memory bodies are hashed and checksummed up front; streams (file ranges,
  buffered parts) are read once per attempt, their checksum computed as the
  bytes go by.  An empty body is always sent as an in-memory one (nothing to
  frame: some servers never read the final chunk of an empty aws-chunked body).
- A CRC32 or SHA-256 checksum travels with ``x-amz-sdk-checksum-algorithm``
  naming it (some servers only store a checksum when it is there).
- Every body is sent with a ``Content-Length`` (S3 refuses plain chunked PUTs).
- ``Payload.open`` is called once per attempt, after signing, so a retried
  request re-reads its source from the start and re-chains its signatures.
- s3lite copies no payload bytes here, except to join runs of small buffered
  chunks (``_body.MIN_PIECE``).  The httpx engine copies what is not a whole
  ``bytes`` object once (h11 would join its write buffers anyway).
- A piece of a streamed body is valid until the next one is asked for: a file's
  chunks are read into one reused buffer.  The engine's ``send`` returns once the
  socket has the bytes; the httpx engine hands httpx copies.
- A file range's first chunk can be read and hashed ahead (``read_lead``), before
  its request waits for a connection (``_multipart`` does it while other parts
  send), so the body's first bytes go out as soon as its head has.  Only the first
  attempt uses a lead, only when it was hashed for the plan the body is sent with,
  and only when the range yields the very chunk it read.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread

from ._body import READ_SIZE, Buffer, BytesSource, Prefetched, Source, whole_bytes
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

__all__ = [
    "EMPTY",
    "Lead",
    "Payload",
    "PayloadMode",
    "PayloadPlan",
    "choose_plan",
    "payload_for_source",
    "read_lead",
]

Content = bytes | AsyncIterable[Buffer] | None
Opener = Callable[[HeaderSignature, bytes], Content]
CHUNK_SIZE = 4 * READ_SIZE
"""Bytes read from a file or buffer per aws-chunked chunk (and per hash and send step).
4 MiB, not 1: per GiB uploaded from a file it saved about a quarter of the client's
CPU (fewer thread hops, syscalls and chunk signatures; benchmarks/results/analysis.md),
and it stays under MinIO's 16 MiB limit on a chunk."""
_HASH_IN_THREAD = 256 * 1024
_T = TypeVar("_T")
Headers = tuple[tuple[str, str], ...]
_FLEXIBLE = ("crc32", "sha256")


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
    def uses_trailer(self) -> bool:
        """Whether the checksum goes in an aws-chunked trailer."""
        return self.payload_hash in (STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER)

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


class PayloadMode(enum.Enum):
    """How a body goes on the wire, named by its ``x-amz-content-sha256``."""

    UNSIGNED = UNSIGNED_PAYLOAD
    """The raw body, not signed."""
    HASHED = "sha256-hex"
    """The raw body, its SHA-256 signed (in-memory bodies)."""
    UNSIGNED_TRAILER = STREAMING_UNSIGNED_PAYLOAD_TRAILER
    """aws-chunked, unsigned, with a checksum trailer."""
    SIGNED_CHUNKS = STREAMING_PAYLOAD
    """aws-chunked, every chunk signed."""
    SIGNED_CHUNKS_TRAILER = STREAMING_PAYLOAD_TRAILER
    """aws-chunked, every chunk signed, with a signed checksum trailer."""

    @property
    def chunked(self) -> bool:
        """Whether the body is framed as aws-chunked."""
        return self not in (PayloadMode.UNSIGNED, PayloadMode.HASHED)


@dataclass(frozen=True, slots=True)
class PayloadPlan:
    """One row of the module's table: the mode, and where the checksum goes."""

    mode: PayloadMode
    header_checksum: ChecksumAlgorithm | None = None
    """Checksum sent as a header before the body (computed up front)."""
    trailer_checksum: ChecksumAlgorithm | None = None
    """Checksum sent in the aws-chunked trailer (computed on the way)."""


def choose_plan(
    *, in_memory: bool, signed: bool, checksum: ChecksumAlgorithm | None
) -> PayloadPlan:
    """The row of the module's table for a body (pure)."""
    if in_memory:
        return PayloadPlan(PayloadMode.HASHED if signed else PayloadMode.UNSIGNED, checksum)
    header = checksum if checksum == "md5" else None  # Content-MD5 cannot trail the body
    trailer = checksum if checksum in ("crc32", "sha256") else None
    if not signed:
        mode = PayloadMode.UNSIGNED_TRAILER if trailer else PayloadMode.UNSIGNED
    else:
        mode = PayloadMode.SIGNED_CHUNKS_TRAILER if trailer else PayloadMode.SIGNED_CHUNKS
    return PayloadPlan(mode, header, trailer)


@dataclass(slots=True)
class Lead:
    """The first chunk of a file range, read and hashed before its request is sent."""

    prefetched: Prefetched
    chunk_hash: str | None
    """The chunk's SHA-256 in hex, for its chunk signature (signed payloads only)."""
    hasher: Hasher | None
    """The trailer checksum, fed with the chunk (None: no trailer)."""

    def fits(self, signed: bool, algorithm: ChecksumAlgorithm | None) -> bool:
        """Whether it was hashed for a body sent this way."""
        trailer = self.hasher.algorithm if self.hasher is not None else None
        return (self.chunk_hash is not None) == signed and trailer == algorithm

    def release(self) -> None:
        """Give its buffer back unused."""
        self.prefetched.release()


def _lead_digests(
    signed: bool, algorithm: ChecksumAlgorithm | None, chunk: memoryview
) -> tuple[str | None, Hasher | None]:
    hasher = Hasher(algorithm) if algorithm else None
    if hasher is not None:
        hasher.update(chunk)
    return (hashlib.sha256(chunk).hexdigest() if signed else None), hasher


async def read_lead(
    source: Source, start: int, size: int, *, signed: bool, checksum: ChecksumAlgorithm | None
) -> Lead | None:
    """Read and hash the first chunk of bytes ``[start, start + size)`` of ``source``
    ahead, for a body sent aws-chunked with ``signed`` and ``checksum``; None where
    there is nothing to read ahead (an in-memory body, a raw one, a caller's file)."""
    plan = choose_plan(in_memory=False, signed=signed, checksum=checksum)
    if not plan.mode.chunked:
        return None
    algorithm = plan.trailer_checksum
    work = functools.partial(_lead_digests, signed, algorithm)
    read = await source.prefetch(start, size, CHUNK_SIZE, work)
    if read is None:
        return None
    prefetched, (chunk_hash, hasher) = read
    return Lead(prefetched, chunk_hash, hasher)


def _read_ahead(chunk: Buffer, lead: Lead | None) -> Lead | None:
    """``lead`` if ``chunk`` is the very chunk it read and hashed (not read again)."""
    return lead if lead is not None and chunk is lead.prefetched.view else None


async def _one(view: memoryview) -> AsyncIterator[memoryview]:
    yield view  # not copied here (the httpx engine copies it once when it writes)


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
    lead: Lead | None = None,
) -> AsyncIterator[Buffer]:
    async with aclosing(chunks):
        async for chunk in chunks:
            ahead, lead = _read_ahead(chunk, lead), None
            if ahead is not None:  # hashed when it was read ahead, for this plan (Lead.fits)
                hasher = ahead.hasher  # fed with this chunk
                frame = signer.header(chunk, ahead.chunk_hash)
            else:
                frame = await _in_thread_if_large(
                    len(chunk), functools.partial(_sign_and_hash, signer, hasher, chunk)
                )
            yield frame  # the frame around the data; the data itself goes out untouched
            yield whole_bytes(chunk)
            yield b"\r\n"
    trailers = []
    if hasher is not None:
        computed.append(hasher.b64())
        trailers = [(header_for(hasher.algorithm), computed[-1])]
    yield signer.final(trailers)


async def _unsigned_chunks(
    chunks: AsyncGenerator[Buffer, None],
    hasher: Hasher,
    computed: list[str],
    lead: Lead | None = None,
) -> AsyncIterator[Buffer]:
    async with aclosing(chunks):
        async for chunk in chunks:
            ahead, lead = _read_ahead(chunk, lead), None
            if ahead is not None and ahead.hasher is not None:
                hasher = ahead.hasher  # hashed when it was read ahead, fed with this chunk
            else:
                await _in_thread_if_large(len(chunk), functools.partial(hasher.update, chunk))
            yield unsigned_chunk_header(len(chunk))
            yield whole_bytes(chunk)
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
    content_md5: bool = False,
    lead: Lead | None = None,
) -> Payload:
    """The payload for bytes ``[start, start + size)`` of a replayable source
    (``content_md5``: a ``Content-MD5`` too, besides a CRC32 or SHA-256; ``lead``: its
    first chunk, read ahead by ``read_lead``, used if it was hashed for this plan)."""
    if size == 0 and not isinstance(source, BytesSource):
        source, start = BytesSource(b""), 0
    in_memory = isinstance(source, BytesSource)
    plan = choose_plan(in_memory=in_memory, signed=signed, checksum=checksum)
    if lead is not None and not (plan.mode.chunked and lead.fits(signed, plan.trailer_checksum)):
        lead.release()
        lead = None
    md5_too = content_md5 and checksum in _FLEXIBLE
    if isinstance(source, BytesSource):
        return await _in_memory(source, start, size, plan, md5_too)
    headers: Headers = (("content-length", str(size)),)
    value = None
    if plan.header_checksum is not None or md5_too:  # md5: one extra pass over the range
        md5 = await _range_checksum(source, start, size, "md5")
        value = md5 if plan.header_checksum is not None else None
        headers += ((header_for("md5"), md5),)
    if not plan.mode.chunked:
        return Payload(
            headers, UNSIGNED_PAYLOAD, True, lambda _s, _k: source.ranged(start, size), value
        )
    return _chunked(source, start, size, plan, headers[1:], lead)


async def _in_memory(
    source: BytesSource, start: int, size: int, plan: PayloadPlan, md5_too: bool
) -> Payload:
    view = source.view[start : start + size]
    digest = UNSIGNED_PAYLOAD
    if plan.mode is PayloadMode.HASHED:
        digest = await _in_thread_if_large(size, functools.partial(_sha256_hex, view))
    value = None
    algorithm = plan.header_checksum
    if algorithm is not None:
        value = await _in_thread_if_large(size, functools.partial(Hasher.of, algorithm, view))
    extra: Headers = ((header_for(algorithm), value),) if algorithm and value else ()
    if algorithm in _FLEXIBLE:
        extra += (("x-amz-sdk-checksum-algorithm", algorithm.upper()),)
    if md5_too:
        md5 = await _in_thread_if_large(size, functools.partial(Hasher.of, "md5", view))
        extra += ((header_for("md5"), md5),)
    # A range that is a whole ``bytes`` object goes out as that object (no copy below).
    obj = source.view.obj
    whole = isinstance(obj, bytes) and start == 0 and size == len(obj) == len(source.view)
    body: bytes | None = obj if whole else None  # type: ignore[assignment]
    return Payload(
        (("content-length", str(size)), *extra),
        digest,
        True,
        lambda _s, _k: body if body is not None else _one(view),
        value,
    )


def _chunked(
    source: Source, start: int, size: int, plan: PayloadPlan, extra: Headers, lead: Lead | None
) -> Payload:
    algorithm = plan.trailer_checksum
    trailer = header_for(algorithm) if algorithm else None
    # Checksums have a fixed length, so a placeholder gives the exact encoded length.
    placeholder = (
        [(trailer, "=" * encoded_checksum_length(algorithm))] if algorithm and trailer else []
    )
    signed = plan.mode is not PayloadMode.UNSIGNED_TRAILER
    pieces = source.piece_sizes(start, size, CHUNK_SIZE)
    wire_length = encoded_length_of(pieces, signed=signed, trailers=placeholder)
    headers: Headers = (
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", str(size)),
        ("content-length", str(wire_length)),
        *((("x-amz-trailer", trailer),) if trailer else ()),
        *((("x-amz-sdk-checksum-algorithm", algorithm.upper()),) if algorithm else ()),
        *extra,  # a Content-MD5 computed up front
    )
    computed: list[str] = []
    leads = [lead] if lead is not None else []  # for the first attempt only

    def open_chunked(signature: HeaderSignature, key: bytes) -> Content:
        first = leads.pop() if leads else None
        hasher = Hasher(algorithm) if algorithm else None
        prefetched = first.prefetched if first is not None else None
        chunks = source.ranged_reusing(start, size, CHUNK_SIZE, prefetched)
        if not signed:
            assert hasher is not None
            return _unsigned_chunks(chunks, hasher, computed, first)
        signer = ChunkSigner(key, signature.amz_date, signature.scope, signature.signature)
        return _signed_chunks(chunks, signer, hasher, computed, first)

    return Payload(headers, plan.mode.value, True, open_chunked, None, computed)
