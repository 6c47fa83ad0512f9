"""Checksums: incremental hashing and CRC32 combination (pure)."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from s3lite._checksums import (
    ALGORITHMS,
    Hasher,
    combine_crc32_b64,
    crc32_combine,
    verifiable_checksum,
)


@given(st.binary(max_size=2000), st.binary(max_size=2000))
def test_crc32_combine_equals_the_crc_of_the_concatenation(first: bytes, second: bytes) -> None:
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(
        first + second
    )


@given(st.lists(st.binary(max_size=700), min_size=1, max_size=8))
def test_combining_part_checksums_gives_the_whole_object_checksum(parts: list[bytes]) -> None:
    combined = combine_crc32_b64([(Hasher.of("crc32", part), len(part)) for part in parts])
    assert combined == Hasher.of("crc32", b"".join(parts))


def test_large_lengths_combine_exactly() -> None:
    first, second = b"a" * 1000, b"b" * (5 * 1024 * 1024 + 3)
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(
        first + second
    )


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=700))
def test_incremental_hashing_equals_one_shot(data: bytes, step: int) -> None:
    for algorithm in ALGORITHMS:
        hasher = Hasher(algorithm)
        for start in range(0, len(data), step):
            hasher.update(memoryview(data)[start : start + step])
        assert hasher.b64() == Hasher.of(algorithm, data)


def test_only_full_object_checksums_are_verified() -> None:
    assert verifiable_checksum({"crc32": "AAAAAA=="}, None) == ("crc32", "AAAAAA==")
    assert verifiable_checksum({"crc32": "AAAAAA==-3"}, None) is None
    assert verifiable_checksum({"crc32": "AAAAAA=="}, "COMPOSITE") is None
    assert verifiable_checksum({"sha256": "x="}, "FULL_OBJECT") == ("sha256", "x=")
    assert verifiable_checksum({}, None) is None
