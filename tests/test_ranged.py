"""The pure parts of parallel transfers: part plans, argument checks, positional writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3lite import InvalidRequestError
from s3lite._checksums import Hasher
from s3lite._download_file import _PositionalFile
from s3lite._ranged import MIN_DOWNLOAD_PART, check_transfer_arguments, plan_parts


def test_parts_cover_the_object_exactly_once() -> None:
    assert plan_parts(10, 4) == [(0, 3), (4, 7), (8, 9)]
    assert plan_parts(8, 4) == [(0, 3), (4, 7)]
    assert plan_parts(3, 4) == [(0, 2)]
    assert plan_parts(0, 4) == []


@pytest.mark.parametrize(
    ("part_size", "max_concurrency", "message"),
    [
        (MIN_DOWNLOAD_PART - 1, 4, "part_size must be at least"),
        (True, 4, "part_size must be an int"),
        (MIN_DOWNLOAD_PART, 0, "max_concurrency must be at least 1"),
        (MIN_DOWNLOAD_PART, 2.0, "max_concurrency must be an int"),
    ],
)
def test_bad_transfer_arguments_are_named(
    part_size: object, max_concurrency: object, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        check_transfer_arguments(part_size, max_concurrency)  # type: ignore[arg-type]


def test_positional_writes_land_at_their_offsets_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        file = _PositionalFile(fd)
        file.write([b"world", b"!"], 6)
        file.write([b"hello", b" "], 0)
        assert file.size() == 12
        hasher = Hasher("md5")
        file.digest(hasher, 0, 12)
        assert hasher.b64() == Hasher.of("md5", b"hello world!")
    finally:
        os.close(fd)
    assert path.read_bytes() == b"hello world!"
