"""s3lite's own CPU per small request, with no network: ``python -m benchmarks.microbench``.

An in-memory transport behind the client's transport seam answers every request
at once, so what is measured is s3lite's own path: validation, request building,
signing, payload framing, the pipeline and response parsing.  Regressions show
here first.  Prints microseconds of CPU per operation (median of rounds).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import time
import zlib

import anyio

from s3lite import S3Client
from s3lite._http import Headers, HttpRequest, Response

_BODY = b"x" * 16 * 1024
_CRC32 = base64.b64encode(zlib.crc32(_BODY).to_bytes(4, "big")).decode()
_ETAG = '"' + hashlib.md5(_BODY, usedforsecurity=False).hexdigest() + '"'
# As AWS answers an object uploaded with a CRC32: the GET carries it (and s3lite checks
# it), the PUT's answer echoes the checksum it was sent.
_GET_HEADERS = Headers(
    [
        ("content-length", str(len(_BODY))),
        ("etag", _ETAG),
        ("x-amz-checksum-crc32", _CRC32),
        ("x-amz-checksum-type", "FULL_OBJECT"),
        ("last-modified", "Wed, 02 Dec 2026 03:00:00 GMT"),
        ("content-type", "application/octet-stream"),
    ]
)
_PUT_HEADERS = Headers(
    [("etag", _ETAG), ("x-amz-checksum-crc32", _CRC32), ("content-length", "0")]
)


class _Chunks:
    """A streamed body of one chunk."""

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        data, self._data = self._data, None
        if data is None:
            raise StopAsyncIteration
        return data

    async def aclose(self) -> None:
        self._data = None


class InstantTransport:
    """Answers GET with a 16 KiB body and anything else with an empty 200."""

    async def send(self, request: HttpRequest, *, stream: bool) -> Response:
        content = request.content
        if content is not None and not isinstance(content, bytes):
            async for _ in content:
                pass
        if request.method == "GET":
            return Response("GET", 200, "OK", _GET_HEADERS, b"", _Chunks(_BODY))
        return Response(request.method, 200, "OK", _PUT_HEADERS, b"", None)

    async def aclose(self) -> None:
        pass


def _client(signing: str) -> S3Client:
    client = S3Client(
        "http://127.0.0.1:9000",
        access_key="AKIAMICROBENCH",
        secret_key="microbench-secret",
        addressing_style="path",
        payload_signing=signing,  # type: ignore[arg-type]
    )
    client._pipeline._transport = InstantTransport()  # the seam, filled by hand
    return client


async def _measure(operations: int, rounds: int, signing: str) -> dict[str, float]:
    results: dict[str, list[float]] = {"put 16 KiB": [], "get 16 KiB": [], "head": []}
    async with _client(signing) as s3:
        for _ in range(rounds):
            start = time.process_time()
            for i in range(operations):
                await s3.put_object("bench", f"k{i}", _BODY)
            results["put 16 KiB"].append(time.process_time() - start)
            start = time.process_time()
            for i in range(operations):
                await (await s3.get_object("bench", f"k{i}")).read()
            results["get 16 KiB"].append(time.process_time() - start)
            start = time.process_time()
            for i in range(operations):
                await s3.head_object("bench", f"k{i}")
            results["head"].append(time.process_time() - start)
    return {name: statistics.median(v) / operations * 1e6 for name, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for backend in ("asyncio", "trio"):
        for signing in ("unsigned", "signed"):
            figures = anyio.run(_measure, args.operations, args.rounds, signing, backend=backend)
            shown = ", ".join(f"{name} {value:.1f} us" for name, value in figures.items())
            print(f"{backend:8} payload {signing:8}: {shown} (s3lite CPU per operation)")


if __name__ == "__main__":
    main()
