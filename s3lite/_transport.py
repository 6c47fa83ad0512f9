"""The httpx engine behind the transport seam (``_http.Transport``); the only httpx caller.

Rules of this module:
- httpx errors become s3lite errors here, in ``translate_errors``, and nowhere else.
- httpx types stay here: the pipeline gets ``_http.Response`` values.
- The request path is sent byte for byte as built by ``_urls`` (httpx would
  otherwise remove ``.``/``..`` segments, which are legal in S3 keys).
- Response bodies are read raw (no content decoding): an object stored with
  ``Content-Encoding: gzip`` comes back as the bytes that were stored.
- A streamed request body reaches httpx as ``bytes`` pieces: a piece that is a view is
  copied once (h11 would join it into a new ``bytes`` anyway), because s3lite may reuse
  a piece's buffer once the next piece is asked for, and an httpx transport (a
  ``MockTransport``, say) may keep pieces until the body ends.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import cast

import httpx

from ._exceptions import (
    CertificateError,
    ConfigurationError,
    RequestTimeoutError,
    TransportError,
)
from ._http import Buffer, Headers, HttpRequest, Response, close_content
from ._tls import certificate_failure, ssl_context
from ._urls import Target

__all__ = ["HttpxTransport", "translate_errors"]


def _describe(exc: BaseException) -> str:
    """The exception's message, or its causes' (httpx errors are often empty on trio)."""
    parts: list[str] = [type(exc).__name__]
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        text = str(seen)
        if text and text not in parts:
            parts.append(text)
            break
        seen = seen.__cause__ or seen.__context__
    return ": ".join(parts)


def _translate(exc: httpx.HTTPError | httpx.StreamError, what: str) -> TransportError:
    """The s3lite error for an httpx error."""
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{what}: timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        failure = certificate_failure(exc)
        if failure is not None:
            return CertificateError(
                f"{what}: the server's TLS certificate was not accepted: {failure}"
            )
        return TransportError(f"{what}: {_describe(exc)}")
    return TransportError(f"{what}: {type(exc).__name__}: {exc}")


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Map httpx exceptions raised inside the block to ``TransportError`` subclasses."""
    try:
        yield
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise _translate(exc, what) from exc


def build_url(target: Target, query: str) -> httpx.URL:
    """An ``httpx.URL`` whose path is exactly ``target.path`` (no dot-segment removal)."""
    url = httpx.URL(target.url + (f"?{query}" if query else ""))
    if url.raw_path.split(b"?", 1)[0] != target.path.encode("ascii"):
        # httpx normalised the path: put the encoded path back as it was built.
        reference = getattr(url, "_uri_reference", None)
        if reference is None or not hasattr(reference, "_replace"):  # pragma: no cover
            raise ConfigurationError(
                "this httpx version cannot send keys with '.' or '..' path segments"
            )
        url._uri_reference = reference._replace(path=target.path)
    return url


class _BodyIterator:
    """The raw body of a streamed response, chunk by chunk; ``aclose`` releases it.

    A class rather than a generator, so that stopping early leaves nothing to be
    finalised later: ``aclose`` closes httpx's iterator and the response at once.
    """

    def __init__(self, response: httpx.Response, what: str) -> None:
        self._response = response
        self._what = what
        # A transport may hand back a response whose body is already in memory.
        self._loaded: bytes | None = response.content if response.is_stream_consumed else None
        self._raw: AsyncGenerator[bytes, None] | None = None
        if self._loaded is None:
            self._raw = cast("AsyncGenerator[bytes, None]", response.aiter_raw())

    def __aiter__(self) -> _BodyIterator:
        return self

    async def __anext__(self) -> bytes:
        if self._raw is None:
            data, self._loaded = self._loaded, b""
            if not data:
                raise StopAsyncIteration
            return data
        try:
            return await anext(self._raw)
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise _translate(exc, self._what) from exc

    async def aclose(self) -> None:
        try:
            if self._raw is not None:
                await self._raw.aclose()
        finally:
            await self._response.aclose()


class _Shard:
    """One httpx client of the sharded pool, and how many responses it has open."""

    __slots__ = ("active", "client")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.active = 0


class _ReleasingStream(httpx.AsyncByteStream):
    """A response stream that gives its shard's slot back when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, shard: _Shard) -> None:
        self._inner = inner
        self._shard: _Shard | None = shard

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        if self._shard is not None:
            self._shard.active -= 1
            self._shard = None
        await self._inner.aclose()


class HttpxTransport:
    """Pooled httpx clients with s3lite's timeouts, TLS settings and error mapping.

    The pool is sharded over several small httpx clients (at most ``SHARD_SIZE``
    connections each), and each request goes to the least busy one: httpcore's
    pool rescans all of its connections on every request (O(connections x
    waiting requests); encode/httpcore#1035), which dominated client CPU at high
    concurrency.  Small shards keep that scan short.  A caller's own
    ``http_client`` is used as it is, and not closed here.
    """

    SHARD_SIZE = 8

    def __init__(
        self,
        *,
        timeout: float,
        connect_timeout: float,
        max_connections: int,
        verify: bool | str | ssl.SSLContext,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._owned = http_client is None
        if http_client is not None:
            self._shards = [_Shard(http_client)]
            return
        context = ssl_context(verify, _httpx_trust_store)
        count = -(-max_connections // self.SHARD_SIZE)
        per_shard = -(-max_connections // count)
        self._shards = [
            _Shard(
                httpx.AsyncClient(
                    timeout=httpx.Timeout(timeout, connect=connect_timeout),
                    limits=httpx.Limits(
                        max_connections=per_shard,
                        max_keepalive_connections=per_shard,
                        keepalive_expiry=30.0,
                    ),
                    verify=context,
                    follow_redirects=False,
                    trust_env=False,
                )
            )
            for _ in range(count)
        ]

    async def send(self, request: HttpRequest, *, stream: bool) -> Response:
        """Send one request; with ``stream`` the body is left unread in ``Response.body``."""
        shard = min(self._shards, key=_busyness)
        what = f"{request.method} {request.target.host_header}"
        content = request.content
        pieces = content if isinstance(content, bytes | None) else _bytes_pieces(content)
        built = shard.client.build_request(
            request.method,
            build_url(request.target, request.query),
            headers=request.headers,
            content=pieces,
        )
        shard.active += 1
        sent = False
        try:
            with translate_errors(what):
                response = await shard.client.send(built, stream=True)
                sent = True
                response.stream = _ReleasingStream(
                    cast("httpx.AsyncByteStream", response.stream), shard
                )
                body: _BodyIterator | None = None
                if stream:
                    body = _BodyIterator(response, f"{request.method} {request.target.path}")
                else:
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
        finally:
            if not sent:
                shard.active -= 1
            await close_content(pieces)
            await close_content(content)
        return Response(
            method=request.method,
            status=response.status_code,
            reason=response.reason_phrase,
            headers=Headers(response.headers.multi_items()),
            content=b"" if stream else response.content,
            body=body,
        )

    async def aclose(self) -> None:
        """Close the pool (only the httpx clients this transport created)."""
        if self._owned:
            for shard in self._shards:
                await shard.client.aclose()


@functools.lru_cache(maxsize=2)
def _httpx_trust_store(verify: bool) -> ssl.SSLContext:
    # httpx's default context (certifi's CA bundle), built once per process.
    return httpx.create_ssl_context(verify=verify)


async def _bytes_pieces(content: AsyncIterable[Buffer]) -> AsyncGenerator[bytes, None]:
    async for piece in content:
        yield piece if isinstance(piece, bytes) else bytes(piece)


def _busyness(shard: _Shard) -> int:
    return shard.active
