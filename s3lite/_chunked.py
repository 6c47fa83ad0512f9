"""aws-chunked framing for streaming uploads, as pure functions.

Rules of this module:
- No I/O: the framer takes chunks of bytes and returns the bytes to put on the
  wire around them; the payload itself is never copied, only framed.
- Signed chunks chain: each chunk signature signs the previous signature, so a
  ``ChunkSigner`` carries that one piece of state and nothing else.
- ``encoded_length`` is exact, because S3 requires a ``Content-Length`` for
  aws-chunked bodies (plain HTTP chunked PUTs are refused).

Wire formats (CRLF line ends)::

    signed:    <hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n ... 0;chunk-signature=<sig>\\r\\n
    unsigned:  <hex size>\\r\\n<data>\\r\\n ... 0\\r\\n
    then, without trailer: \\r\\n
    with a trailer:        <name>:<value>\\r\\n [x-amz-trailer-signature:<sig>\\r\\n] \\r\\n
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ._signing import EMPTY_SHA256, signature

__all__ = [
    "CHUNK_ALGORITHM",
    "TRAILER_ALGORITHM",
    "ChunkSigner",
    "chunk_string_to_sign",
    "encoded_length",
    "encoded_length_of",
    "trailer_string_to_sign",
    "unsigned_chunk_header",
    "unsigned_final_chunk",
]

CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
_SIGNATURE_HEX = 64
_CHUNK_SIGNATURE_EXT = ";chunk-signature="
_TRAILER_SIGNATURE_NAME = "x-amz-trailer-signature"

Buffer = bytes | bytearray | memoryview


def chunk_string_to_sign(
    timestamp: str, scope: str, previous_signature: str, chunk_hash: str
) -> str:
    """String to sign for one chunk (``chunk_hash`` is the chunk's SHA-256 hex)."""
    return "\n".join(
        (CHUNK_ALGORITHM, timestamp, scope, previous_signature, EMPTY_SHA256, chunk_hash)
    )


def trailer_block(trailers: Sequence[tuple[str, str]]) -> str:
    """Trailing headers as they are hashed for the trailer signature: ``name:value\\n`` each."""
    return "".join(f"{name.lower()}:{value.strip()}\n" for name, value in trailers)


def trailer_string_to_sign(
    timestamp: str, scope: str, previous_signature: str, trailers: Sequence[tuple[str, str]]
) -> str:
    """String to sign for the trailing headers, chained to the final chunk's signature."""
    hashed = hashlib.sha256(trailer_block(trailers).encode("utf-8")).hexdigest()
    return "\n".join((TRAILER_ALGORITHM, timestamp, scope, previous_signature, hashed))


def _trailer_lines(trailers: Sequence[tuple[str, str]]) -> bytes:
    return "".join(f"{name.lower()}:{value.strip()}\r\n" for name, value in trailers).encode()


def unsigned_chunk_header(size: int) -> bytes:
    """The line that opens an unsigned chunk of ``size`` bytes."""
    return b"%x\r\n" % size


def unsigned_final_chunk(trailers: Sequence[tuple[str, str]] = ()) -> bytes:
    """The zero-length last chunk of an unsigned stream, with its trailers and the end."""
    return b"0\r\n" + _trailer_lines(trailers) + b"\r\n"


class ChunkSigner:
    """Frames signed chunks, chaining each chunk signature to the previous one.

    Start it with the seed signature (the request's own signature), call
    ``header(chunk)`` before each non-empty chunk's data (followed on the wire by
    the data and ``b"\\r\\n"``), then ``final(trailers)`` once.
    """

    __slots__ = ("_key", "_previous", "_scope", "_timestamp")

    def __init__(self, key: bytes, timestamp: str, scope: str, seed_signature: str) -> None:
        self._key = key
        self._timestamp = timestamp
        self._scope = scope
        self._previous = seed_signature

    @property
    def previous_signature(self) -> str:
        """The last signature produced (the seed before any chunk)."""
        return self._previous

    def sign(self, chunk: Buffer, chunk_hash: str | None = None) -> str:
        """Sign one chunk and advance the chain (``chunk_hash``: its SHA-256 in hex,
        when already known)."""
        digest = chunk_hash if chunk_hash is not None else hashlib.sha256(chunk).hexdigest()
        text = chunk_string_to_sign(self._timestamp, self._scope, self._previous, digest)
        self._previous = signature(self._key, text)
        return self._previous

    def header(self, chunk: Buffer, chunk_hash: str | None = None) -> bytes:
        """The line that opens ``chunk`` on the wire (signs it)."""
        sig = self.sign(chunk, chunk_hash)
        return b"%x;chunk-signature=%s\r\n" % (len(chunk), sig.encode())

    def final(self, trailers: Sequence[tuple[str, str]] = ()) -> bytes:
        """The zero-length last chunk, the signed trailers if any, and the end of the body."""
        sig = self.sign(b"")
        out = b"0;chunk-signature=%s\r\n" % sig.encode()
        if not trailers:
            return out + b"\r\n"
        trailer_sig = signature(
            self._key, trailer_string_to_sign(self._timestamp, self._scope, sig, trailers)
        )
        self._previous = trailer_sig
        return (
            out
            + _trailer_lines(trailers)
            + f"{_TRAILER_SIGNATURE_NAME}:{trailer_sig}\r\n\r\n".encode()
        )


def encoded_length(
    decoded_length: int,
    chunk_size: int,
    *,
    signed: bool,
    trailers: Sequence[tuple[str, str]] = (),
) -> int:
    """Exact length of the aws-chunked body for ``decoded_length`` payload bytes.

    Chunks are ``chunk_size`` bytes except the last non-empty one.  Trailer
    values must have their final length (checksums have a fixed length, so a
    placeholder of the right size works).
    """
    if decoded_length < 0 or chunk_size <= 0:
        raise ValueError("decoded_length must be >= 0 and chunk_size > 0")
    full, rest = divmod(decoded_length, chunk_size)
    sizes = [chunk_size] * full + ([rest] if rest else [])
    return encoded_length_of(sizes, signed=signed, trailers=trailers)


def encoded_length_of(
    sizes: Iterable[int], *, signed: bool, trailers: Sequence[tuple[str, str]] = ()
) -> int:
    """Exact length of the aws-chunked body whose non-empty chunks have these sizes."""
    ext = len(_CHUNK_SIGNATURE_EXT) + _SIGNATURE_HEX if signed else 0
    total = sum(len(f"{size:x}") + ext + 2 + size + 2 for size in sizes if size)
    total += 1 + ext + 2  # "0" [";chunk-signature=<sig>"] CRLF
    total += len(_trailer_lines(trailers))
    if trailers and signed:
        total += len(_TRAILER_SIGNATURE_NAME) + 1 + _SIGNATURE_HEX + 2
    return total + 2  # closing CRLF
