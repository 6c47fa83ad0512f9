"""Object checksums: CRC32, SHA-256 and MD5, computed incrementally.

Rules of this module:
- Pure: bytes in, base64 text out (the form S3 uses in ``x-amz-checksum-*`` and
  ``Content-MD5``); stdlib only (``zlib``, ``hashlib``).
- One table says which header carries which algorithm; S3 can echo CRC32 and
  SHA-256 back on GET (``x-amz-checksum-mode: ENABLED``), never MD5.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import zlib
from typing import Literal

__all__ = [
    "ALGORITHMS",
    "ChecksumAlgorithm",
    "Hasher",
    "combine_crc32_b64",
    "crc32_combine",
    "encoded_checksum_length",
    "header_for",
    "verifiable_checksum",
]

ChecksumAlgorithm = Literal["crc32", "sha256", "md5"]
ALGORITHMS: tuple[ChecksumAlgorithm, ...] = ("crc32", "sha256", "md5")
_HEADERS: dict[str, str] = {
    "crc32": "x-amz-checksum-crc32",
    "sha256": "x-amz-checksum-sha256",
    "md5": "content-md5",
}
_DIGEST_SIZES = {"crc32": 4, "sha256": 32, "md5": 16}


def header_for(algorithm: ChecksumAlgorithm) -> str:
    """The request header that carries ``algorithm``'s checksum."""
    return _HEADERS[algorithm]


def encoded_checksum_length(algorithm: ChecksumAlgorithm) -> int:
    """Length of the base64 checksum text (fixed per algorithm)."""
    return len(base64.b64encode(bytes(_DIGEST_SIZES[algorithm])))


class Hasher:
    """An incremental checksum; ``b64()`` gives S3's base64 form."""

    __slots__ = ("_algorithm", "_crc", "_hash")

    def __init__(self, algorithm: ChecksumAlgorithm) -> None:
        self._algorithm = algorithm
        self._crc = 0
        self._hash = (
            None
            if algorithm == "crc32"
            else hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
        )

    @property
    def algorithm(self) -> ChecksumAlgorithm:
        """The algorithm in use."""
        return self._algorithm

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed more bytes."""
        if self._hash is None:
            self._crc = zlib.crc32(data, self._crc)
        else:
            self._hash.update(data)

    def digest(self) -> bytes:
        """The raw checksum."""
        if self._hash is None:
            return self._crc.to_bytes(4, "big")
        return self._hash.digest()

    def b64(self) -> str:
        """The checksum as S3 writes it (base64)."""
        return base64.b64encode(self.digest()).decode("ascii")

    @classmethod
    def of(cls, algorithm: ChecksumAlgorithm, data: bytes | bytearray | memoryview) -> str:
        """Checksum of ``data`` in one call (base64)."""
        hasher = cls(algorithm)
        hasher.update(data)
        return hasher.b64()


_CRC32_POLY = 0xEDB88320


def _gf2_times(matrix: list[int] | tuple[int, ...], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int] | tuple[int, ...]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


@functools.lru_cache(maxsize=64)
def _zeros_operator(length: int) -> tuple[int, ...]:
    """The GF(2) matrix that appends ``length`` zero bytes to a CRC32 register."""
    result = [1 << n for n in range(32)]  # identity
    odd = [_CRC32_POLY] + [1 << n for n in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:  # a byte at a time, doubling each step
        even = _gf2_square(odd)
        if length & 1:
            result = [_gf2_times(even, column) for column in result]
        length >>= 1
        if not length:
            break
        odd = _gf2_square(even)
        if length & 1:
            result = [_gf2_times(odd, column) for column in result]
        length >>= 1
        if not length:
            break
    return tuple(result)


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)`` (zlib's method).

    Lets a multipart upload state the whole object's CRC32 from its parts' CRCs,
    which are computed concurrently, without reading anything twice.  The operator
    for a length is cached: parts mostly share one size.
    """
    if length2 <= 0:
        return crc1
    return _gf2_times(_zeros_operator(length2), crc1) ^ crc2


def combine_crc32_b64(parts: list[tuple[str, int]]) -> str:
    """Whole-object CRC32 (base64) from each part's CRC32 (base64) and size, in order."""
    crc = 0
    for value, size in parts:
        crc = crc32_combine(crc, int.from_bytes(base64.b64decode(value), "big"), size)
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def verifiable_checksum(
    checksums: dict[str, str] | None, checksum_type: str | None
) -> tuple[ChecksumAlgorithm, str] | None:
    """The full-object checksum from a GET's ``x-amz-checksum-*`` headers that can be checked.

    Composite checksums of multipart objects (``value-N``, or type ``COMPOSITE``)
    cover parts, not the object, so they are not returned.
    """
    if not checksums or (checksum_type or "").upper() == "COMPOSITE":
        return None
    candidates: tuple[ChecksumAlgorithm, ...] = ("crc32", "sha256")
    for algorithm in candidates:
        value = checksums.get(algorithm)
        if value and "-" not in value:
            return algorithm, value
    return None
