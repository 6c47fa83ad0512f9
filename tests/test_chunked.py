"""aws-chunked framing against the example AWS publishes for S3 streaming uploads.

AWS documents a 66,560-byte object of ``a`` sent as a 64 KiB chunk, a 1 KiB chunk
and the empty final chunk, with the seed and chunk signatures below; the trailer
signature is the one AWS's CRT test suite expects for three trailing headers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3lite import _chunked as chunked
from s3lite import _signing as sig

CREDS = sig.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
WHEN = datetime(2013, 5, 24, tzinfo=UTC)
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
CHUNK_2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
FINAL = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
TRAILER = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"


def seed_signature() -> sig.HeaderSignature:
    return sig.sign_headers(
        "PUT",
        "/examplebucket/chunkObject.txt",
        [],
        [
            ("Host", "s3.amazonaws.com"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("Content-Length", "66824"),
        ],
        sig.STREAMING_PAYLOAD,
        CREDS,
        "us-east-1",
        WHEN,
    )


def signer() -> chunked.ChunkSigner:
    seed = seed_signature()
    key = sig.signing_key(CREDS.secret_key, "20130524", "us-east-1", "s3")
    return chunked.ChunkSigner(key, seed.amz_date, seed.scope, seed.signature)


def test_seed_signature_matches_the_aws_streaming_example() -> None:
    assert seed_signature().signature == SEED


def test_chunk_signatures_chain_like_the_aws_streaming_example() -> None:
    s = signer()
    assert s.header(b"a" * 65536) == f"10000;chunk-signature={CHUNK_1}\r\n".encode()
    assert s.header(b"a" * 1024) == f"400;chunk-signature={CHUNK_2}\r\n".encode()
    assert s.final() == f"0;chunk-signature={FINAL}\r\n\r\n".encode()


def test_trailer_signature_chains_to_the_final_chunk() -> None:
    s = signer()
    s.sign(b"a" * 65536)
    s.sign(b"a" * 1024)
    tail = s.final([("first", "1st"), ("second", "2nd"), ("third", "3rd")])
    assert (
        tail
        == (
            f"0;chunk-signature={FINAL}\r\n"
            "first:1st\r\nsecond:2nd\r\nthird:3rd\r\n"
            f"x-amz-trailer-signature:{TRAILER}\r\n\r\n"
        ).encode()
    )


def test_encoded_length_matches_the_aws_example_content_length() -> None:
    assert chunked.encoded_length(66560, 65536, signed=True) == 66824


def test_a_changed_byte_changes_every_later_signature() -> None:
    good, bad = signer(), signer()
    assert good.header(b"a" * 1024) != bad.header(b"a" * 1023 + b"b")
    assert good.final() != bad.final()


@given(
    size=st.integers(min_value=0, max_value=5000),
    chunk_size=st.integers(min_value=1, max_value=700),
    signed=st.booleans(),
    with_trailer=st.booleans(),
)
def test_encoded_length_equals_the_length_of_the_framed_body(
    size: int, chunk_size: int, signed: bool, with_trailer: bool
) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    trailers = [("x-amz-checksum-crc32", "AAAAAA==")] if with_trailer else []
    s = signer()
    body = bytearray()
    for start in range(0, size, chunk_size):
        piece = data[start : start + chunk_size]
        body += s.header(piece) if signed else chunked.unsigned_chunk_header(len(piece))
        body += piece + b"\r\n"
    body += s.final(trailers) if signed else chunked.unsigned_final_chunk(trailers)
    assert len(body) == chunked.encoded_length(size, chunk_size, signed=signed, trailers=trailers)


def test_unsigned_framing_carries_the_trailer_after_the_last_chunk() -> None:
    assert chunked.unsigned_chunk_header(255) == b"ff\r\n"
    assert (
        chunked.unsigned_final_chunk([("x-amz-checksum-crc32", "AAAAAA==")])
        == b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    )


def test_encoded_length_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        chunked.encoded_length(10, 0, signed=True)
