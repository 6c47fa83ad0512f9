"""``s3lite._wire``: HTTP/1.1 response parsing, differentially against h11, and strictly.

h11 (installed with httpx) is the oracle: random valid responses, split at random
points as a socket would deliver them, must give the same status, headers and
body bytes from both parsers.
"""

from __future__ import annotations

import itertools

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3lite import InvalidRequestError, MalformedResponseError
from s3lite._wire import (
    MAX_HEAD,
    ChunkedReader,
    FramingKind,
    ResponseHead,
    encode_request_head,
    framing_of,
    parse_head,
)

_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_names = st.text(st.sampled_from(_TOKEN_CHARS), min_size=1, max_size=20).filter(
    lambda n: n.lower() not in ("content-length", "transfer-encoding", "connection")
)
_values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=30
).map(lambda v: v.strip())


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[str, str]], bytes]:
    """(wire bytes, status, headers, body) of one valid response."""
    status = draw(st.sampled_from([200, 201, 206, 301, 400, 403, 404, 500, 503]))
    headers = draw(st.lists(st.tuples(_names, _values), max_size=8))
    body = draw(st.binary(max_size=3000))
    chunked = draw(st.booleans())
    lines = [f"HTTP/1.1 {status} {draw(st.sampled_from(['OK', 'Not Found', '', 'X y']))}"]
    lines += [f"{name}:{draw(st.sampled_from(['', ' ', '  ']))}{value}" for name, value in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 700), max_size=10))
        pieces, offset = [], 0
        for size in sizes:
            if offset >= len(body):
                break
            piece = body[offset : offset + size]
            extension = draw(st.sampled_from(["", ";a=b", ';name="v"', ";x"]))
            pieces.append(f"{len(piece):x}{extension}\r\n".encode() + piece + b"\r\n")
            offset += len(piece)
        if offset < len(body):
            rest = body[offset:]
            pieces.append(f"{len(rest):X}\r\n".encode() + rest + b"\r\n")
        trailers = draw(st.sampled_from([b"", b"x-amz-checksum-crc32: AAAAAA==\r\n"]))
        payload = b"".join(pieces) + b"0\r\n" + trailers + b"\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    wire = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    return wire, status, [(n.lower(), v) for n, v in headers], body


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _ours(pieces: list[bytes]) -> tuple[int, list[tuple[str, str]], bytes]:
    buffer = b""
    received = iter(pieces)
    for piece in received:
        buffer += piece
        parsed = parse_head(buffer)
        if parsed is not None:
            break
    assert parsed is not None
    head, size = parsed
    rest = [buffer[size:], *received]
    framing = framing_of("GET", head)
    if framing.kind is FramingKind.LENGTH:
        body = b"".join(rest)[: framing.length]
    else:
        assert framing.kind is FramingKind.CHUNKED
        reader = ChunkedReader()
        out = [bytes(p) for piece in rest for p in reader.feed(piece)]
        assert reader.done
        body = b"".join(out)
    framing_headers = ("content-length", "transfer-encoding")
    return head.status, [h for h in head.headers if h[0] not in framing_headers], body


def _h11(pieces: list[bytes]) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    connection.send(h11.EndOfMessage())
    status, headers, body = 0, [], b""
    for piece in pieces:
        connection.receive_data(piece)
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                break
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = [
                    (n.decode(), v.decode())
                    for n, v in event.headers
                    if n not in (b"content-length", b"transfer-encoding")
                ]
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, body
    raise AssertionError("h11 did not finish the message")


@settings(max_examples=300, deadline=None)
@given(responses(), st.lists(st.integers(0, 10_000), max_size=12))
def test_random_valid_responses_parse_as_h11_parses_them(
    response: tuple[bytes, int, list[tuple[str, str]], bytes], cuts: list[int]
) -> None:
    wire, status, headers, body = response
    pieces = _cut(wire, cuts)
    assert _ours(pieces) == _h11(pieces) == (status, headers, body)


MALFORMED_HEADS = [
    (b"HTTP/1.1 200\r\nbad header\r\n\r\n", "malformed response header"),
    (b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n", "malformed response header"),
    (b"HTTP/1.1 200 OK\r\nA: 1\r\n  folded\r\n\r\n", "obs-fold"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
    (b"HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version"),
    (b"HTTP/1.1 200 OK\r\nA: x\x00y\r\n\r\n", "control character"),
    (b"ICY 200 OK\r\n\r\n", "status line"),
    (b"HTTP/1.1 200 OK\r\n: empty-name\r\n\r\n", "malformed response header"),
]


@pytest.mark.parametrize(("wire", "reason"), MALFORMED_HEADS)
def test_malformed_heads_are_refused(wire: bytes, reason: str) -> None:
    with pytest.raises(MalformedResponseError, match=reason):
        parse_head(wire)


def _head(*headers: tuple[str, str], status: int = 200) -> ResponseHead:
    return ResponseHead((1, 1), status, "OK", [(n.lower(), v) for n, v in headers])


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ((("Content-Length", "5"), ("Content-Length", "6")), "conflicting Content-Length"),
        ((("Content-Length", "5, 6"),), "conflicting Content-Length"),
        ((("Content-Length", "-1"),), "invalid Content-Length"),
        ((("Content-Length", "0x10"),), "invalid Content-Length"),
        ((("Content-Length", "5"), ("Transfer-Encoding", "chunked")), "both Transfer-Encoding"),
        ((("Transfer-Encoding", "chunked, chunked"),), "chunked coding applied twice"),
    ],
)
def test_ambiguous_framing_is_refused(headers: tuple[tuple[str, str], ...], reason: str) -> None:
    with pytest.raises(MalformedResponseError, match=reason):
        framing_of("GET", _head(*headers))


def test_repeated_equal_content_lengths_are_one_length() -> None:
    framing = framing_of("GET", _head(("Content-Length", "7"), ("Content-Length", "7")))
    assert (framing.kind, framing.length) == (FramingKind.LENGTH, 7)


@pytest.mark.parametrize(
    ("method", "status", "kind"),
    [
        ("HEAD", 200, FramingKind.NONE),
        ("GET", 204, FramingKind.NONE),
        ("GET", 304, FramingKind.NONE),
        ("GET", 100, FramingKind.NONE),
        ("GET", 200, FramingKind.CLOSE),
    ],
)
def test_bodiless_answers_and_close_delimited_bodies(
    method: str, status: int, kind: FramingKind
) -> None:
    assert framing_of(method, _head(status=status)).kind is kind


def test_a_head_answer_carries_no_body_even_with_a_content_length() -> None:
    assert framing_of("HEAD", _head(("Content-Length", "1000"))).kind is FramingKind.NONE


def test_a_head_too_long_is_refused_before_its_end_arrives() -> None:
    with pytest.raises(MalformedResponseError, match="longer than"):
        parse_head(b"HTTP/1.1 200 OK\r\nA: " + b"x" * (MAX_HEAD + 10))
    assert parse_head(b"HTTP/1.1 200 OK\r\nA: x") is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"zz\r\n", "malformed chunk size"),
        (b"5\r\nabcdeXX", "not followed by CRLF"),
        (b"-1\r\n", "malformed chunk size"),
        (b"1" * 5000, "longer than"),
        (b"0\r\nbad trailer\r\n\r\n", "malformed trailer"),
    ],
)
def test_malformed_chunked_bodies_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedResponseError, match=reason):
        ChunkedReader().feed(body)


def test_chunked_reader_keeps_trailers_and_what_follows() -> None:
    reader = ChunkedReader()
    data = reader.feed(b"3;ext=1\r\nabc\r\n0\r\nX-Amz-Checksum-Crc32: AAAAAA==\r\n\r\nHTTP/1.1")
    assert data == [b"abc"]
    assert reader.done
    assert reader.trailers == [("x-amz-checksum-crc32", "AAAAAA==")]
    assert reader.leftover == b"HTTP/1.1"


def test_keep_alive_follows_version_and_connection_tokens() -> None:
    assert _head().keep_alive
    assert not _head(("Connection", "keep-alive, Close")).keep_alive
    assert not ResponseHead((1, 0), 200, "", []).keep_alive
    assert ResponseHead((1, 0), 200, "", [("connection", "keep-alive")]).keep_alive


def test_request_heads_are_one_buffer_and_refuse_injected_lines() -> None:
    head = encode_request_head("GET", "/b/k?x=1", [("host", "h:9"), ("x-a", "1")])
    assert head == b"GET /b/k?x=1 HTTP/1.1\r\nhost: h:9\r\nx-a: 1\r\n\r\n"
    with pytest.raises(InvalidRequestError, match="control character"):
        encode_request_head("GET", "/", [("x-a", "1\r\nx-b: 2")])
    with pytest.raises(InvalidRequestError, match="Latin-1"):
        encode_request_head("GET", "/", [("content-type", "текст")])
