"""The transport seam: what the pipeline hands an HTTP engine, and what it gets back.

Rules of this module:
- Plain values and one protocol; no HTTP library is imported here.  An engine
  (``_engine.EngineTransport``, s3lite's own and the default, or
  ``_transport.HttpxTransport`` over a caller's ``httpx.AsyncClient``) implements
  ``Transport`` and is the only code that knows how bytes reach the socket.
- Header names in a ``Response`` are lower-case; values are kept as received.
- A streamed body is read once and must be closed (``aclose``), which returns or
  closes its connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import anyio

from ._urls import Target

__all__ = [
    "Body",
    "Buffer",
    "Content",
    "Headers",
    "HttpRequest",
    "Response",
    "Transport",
    "close_content",
    "read_limited",
]

Buffer = bytes | bytearray | memoryview
Content = bytes | AsyncIterable[Buffer] | None
"""A request body: bytes, an async iterable of buffers (its length is in the
headers), or nothing."""


class Headers:
    """Response headers: pairs in arrival order, looked up case-insensitively.

    ``get`` joins repeated headers with ``", "`` (RFC 9110 field combination).
    """

    __slots__ = ("_index", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = [(name.lower(), value) for name, value in pairs]
        index: dict[str, str] = {}
        for name, value in self._pairs:
            index[name] = f"{index[name]}, {value}" if name in index else value
        self._index = index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name`` (any case), or ``default``."""
        return self._index.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def items(self) -> list[tuple[str, str]]:
        """Every header as received (lower-case names), repeats included."""
        return list(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


class Body(Protocol):
    """A streamed response body: chunks of bytes, then ``aclose``."""

    def __aiter__(self) -> Body: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request as the pipeline built and signed it."""

    method: str
    target: Target
    query: str
    """The canonical (signed) query string, without ``?``."""
    headers: list[tuple[str, str]]
    content: Content


@dataclass(slots=True)
class Response:
    """One HTTP response.  ``content`` holds the body when it was read whole;
    ``body`` is the unread stream when the request asked for one."""

    method: str
    status: int
    reason: str
    headers: Headers
    content: bytes = b""
    body: Body | None = None


class Transport(Protocol):
    """An HTTP engine: sends one request, returns its response."""

    async def send(self, request: HttpRequest, *, stream: bool) -> Response:
        """Send ``request``; with ``stream`` leave the body unread in ``Response.body``."""
        ...

    async def aclose(self) -> None:
        """Close every connection this engine opened."""
        ...


async def close_content(content: Content) -> None:
    """Close a request body iterator an engine may have left part-way (engines call
    this once per request, shielded, whatever happened)."""
    closer = getattr(content, "aclose", None)
    if closer is not None:
        with anyio.CancelScope(shield=True):
            await closer()


async def read_limited(body: Body, limit: int = 1 << 20) -> bytes:
    """At most ``limit`` bytes of a streamed body (for error documents); closes it."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in body:
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        await body.aclose()
    return b"".join(chunks)[:limit]
