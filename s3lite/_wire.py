"""HTTP/1.1 on the wire, as pure functions and small state machines (RFC 9112).

Rules of this module:
- No I/O (h11's rule): bytes in, values out.  The engine (``_engine``) owns the
  socket and feeds what it reads to ``parse_head`` and ``ChunkedReader``.
- Strict: a response head that breaks RFC 9112 (a bad status line, a header
  without a token name, whitespace before a colon, obs-fold, control
  characters, conflicting Content-Length, Transfer-Encoding beside
  Content-Length, a head over ``MAX_HEAD``) raises ``MalformedResponseError``;
  nothing is guessed, so a response is never misframed and the next one on the
  connection never starts in the middle of this one's body.
- HEAD answers, 1xx, 204 and 304 carry no body; a body is framed by
  Content-Length, by chunked coding, or by the connection's close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ._exceptions import InvalidRequestError, MalformedResponseError

__all__ = [
    "MAX_HEAD",
    "ChunkedReader",
    "Framing",
    "FramingKind",
    "ResponseHead",
    "encode_request_head",
    "framing_of",
    "parse_head",
]

MAX_HEAD = 64 * 1024
"""The largest response head accepted (status line and headers)."""
MAX_CHUNK_LINE = 4 * 1024
"""The longest chunk-size line (with extensions) or trailer line accepted."""

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?")
_FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;.*)?")
_REQUEST_TEXT_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def encode_request_head(
    method: str, target: str, headers: list[tuple[str, str]]
) -> bytes:
    """``METHOD target HTTP/1.1`` and the headers, as one buffer (``Host`` among them).

    Names and values must already be valid; a CR, LF or other control character
    is refused here as a last line of defence against header injection.
    """
    if _REQUEST_TEXT_BAD.search(method + target) or " " in target:
        raise InvalidRequestError("the request line holds a space or a control character")
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers:
        if not _TOKEN.fullmatch(name.encode("latin-1", "replace")) or _REQUEST_TEXT_BAD.search(
            value
        ):
            raise InvalidRequestError(
                f"request header {name[:40]!r} holds a control character or a bad name"
            )
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidRequestError("request header values must be Latin-1 text") from None


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """A parsed status line and header block."""

    version: tuple[int, int]
    status: int
    reason: str
    headers: list[tuple[str, str]]
    """Names lower-cased, values as sent (OWS trimmed)."""

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (lower-case), in order."""
        return [value for key, value in self.headers if key == name]

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this response."""
        tokens = {
            token.strip().lower()
            for value in self.get_all("connection")
            for token in value.split(",")
        }
        if self.version >= (1, 1):
            return "close" not in tokens
        return "keep-alive" in tokens


def parse_head(buffer: bytes | bytearray) -> tuple[ResponseHead, int] | None:
    """The response head at the start of ``buffer`` and its length in bytes, or
    ``None`` when the head is not complete yet.  Raises ``MalformedResponseError``."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise MalformedResponseError(f"response head longer than {MAX_HEAD} bytes")
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise MalformedResponseError(f"malformed status line {lines[0][:80]!r}")
    major, minor, status = int(match[1]), int(match[2]), int(match[3])
    if major != 1:
        raise MalformedResponseError(f"unsupported HTTP version {major}.{minor}")
    reason = (match[4] or b"").decode("latin-1")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise MalformedResponseError("obsolete line folding (obs-fold) in a response header")
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise MalformedResponseError(f"malformed response header line {line[:80]!r}")
        value = value.strip(b" \t")
        if _FIELD_VALUE_BAD.search(value):
            raise MalformedResponseError(
                f"control character in response header {name.decode('ascii')!r}"
            )
        headers.append((name.decode("ascii").lower(), value.decode("latin-1")))
    return ResponseHead((major, minor), status, reason, headers), end + 4


class FramingKind(Enum):
    """How a response body is delimited."""

    NONE = "no body"
    LENGTH = "Content-Length"
    CHUNKED = "chunked"
    CLOSE = "until the connection closes"


@dataclass(frozen=True, slots=True)
class Framing:
    """How to read one response body (``length`` for ``LENGTH``)."""

    kind: FramingKind
    length: int = 0


def framing_of(method: str, head: ResponseHead) -> Framing:
    """How the body of ``head`` (an answer to ``method``) is framed (RFC 9112 §6.3)."""
    if method == "HEAD" or head.status < 200 or head.status in (204, 304):
        return Framing(FramingKind.NONE)
    codings = [
        token.strip().lower()
        for value in head.get_all("transfer-encoding")
        for token in value.split(",")
        if token.strip()
    ]
    lengths = head.get_all("content-length")
    if codings:
        if lengths:
            raise MalformedResponseError(
                "response has both Transfer-Encoding and Content-Length (refused: "
                "such a response can be framed two ways)"
            )
        if codings[-1] == "chunked":
            if codings.count("chunked") > 1:
                raise MalformedResponseError("chunked coding applied twice")
            return Framing(FramingKind.CHUNKED)
        return Framing(FramingKind.CLOSE)
    if lengths:
        values = {v.strip() for value in lengths for v in value.split(",")}
        if len(values) != 1:
            raise MalformedResponseError(f"conflicting Content-Length values {sorted(values)}")
        text = values.pop()
        if not text.isascii() or not text.isdigit() or len(text) > 19:
            raise MalformedResponseError(f"invalid Content-Length {text[:20]!r}")
        return Framing(FramingKind.LENGTH, int(text))
    return Framing(FramingKind.CLOSE)


class _ChunkState(Enum):
    SIZE = "size line"
    DATA = "data"
    DATA_END = "CRLF after data"
    TRAILER = "trailer"
    DONE = "done"


class ChunkedReader:
    """Decodes a chunked body: ``feed(bytes)`` returns the data it completes.

    Data comes back as slices of what was fed (a chunk that fills a whole read is
    that read's own object);
    extensions are ignored, trailers are kept in ``trailers``; ``done`` tells
    when the last chunk and the trailer section are in; ``leftover`` is what
    followed them (which a client that does not pipeline never expects).
    """

    __slots__ = ("_buffer", "_remaining", "_state", "leftover", "trailers")

    def __init__(self) -> None:
        self._state = _ChunkState.SIZE
        self._buffer = b""
        self._remaining = 0
        self.trailers: list[tuple[str, str]] = []
        self.leftover = b""

    @property
    def done(self) -> bool:
        """Whether the body is complete."""
        return self._state is _ChunkState.DONE

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > MAX_CHUNK_LINE:
                raise MalformedResponseError(
                    f"chunk {self._state.value} line longer than {MAX_CHUNK_LINE} bytes"
                )
            return None
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line

    def feed(self, data: bytes) -> list[bytes]:
        """Feed received bytes; return the body data they complete, in order."""
        out: list[bytes] = []
        if self._state is _ChunkState.DONE:
            self.leftover += data
            return out
        self._buffer = self._buffer + data if self._buffer else data
        while self._buffer:
            state = self._state
            if state is _ChunkState.DATA:
                take = min(self._remaining, len(self._buffer))
                out.append(self._buffer[:take])
                self._buffer = self._buffer[take:]
                self._remaining -= take
                if not self._remaining:
                    self._state = _ChunkState.DATA_END
                continue
            if state is _ChunkState.DATA_END:
                if len(self._buffer) < 2:
                    break
                if self._buffer[:2] != b"\r\n":
                    raise MalformedResponseError("chunk data not followed by CRLF")
                self._buffer = self._buffer[2:]
                self._state = _ChunkState.SIZE
                continue
            line = self._line()
            if line is None:
                break
            if state is _ChunkState.SIZE:
                match = _CHUNK_SIZE.fullmatch(line)
                if match is None:
                    raise MalformedResponseError(f"malformed chunk size line {line[:40]!r}")
                self._remaining = int(match[1], 16)
                self._state = _ChunkState.DATA if self._remaining else _ChunkState.TRAILER
            elif line:  # a trailer field
                name, colon, value = line.partition(b":")
                if not colon or not _TOKEN.fullmatch(name) or _FIELD_VALUE_BAD.search(value):
                    raise MalformedResponseError(f"malformed trailer line {line[:40]!r}")
                field = (name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1"))
                self.trailers.append(field)
            else:
                self._state = _ChunkState.DONE
                self.leftover, self._buffer = self._buffer, b""
        return out
