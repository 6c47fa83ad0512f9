"""Fake AWS credential endpoints on 127.0.0.1: EC2 instance metadata, the container
endpoint and STS, for the credential chain's tests.

``FakeAws`` is a real HTTP server (the standard library's, in a thread), so the chain
reaches it through s3lite's own engine as it would reach AWS.  ``routes`` maps
``(method, path)`` to a function of the request returning ``(status, headers, body)``;
every request is recorded in ``requests``.  Helpers build the documents AWS answers:
``credentials_json`` (IMDS and container), ``sts_credentials`` and ``sts_error``.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = [
    "Answer",
    "FakeAws",
    "Request",
    "credentials_json",
    "running",
    "sts_credentials",
    "sts_error",
]

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


Route = Callable[[Request], Answer]


@dataclass
class FakeAws:
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def of(self, method: str, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.method == method and path in (None, r.path)]


def credentials_json(key: str, secret: str, token: str, expiration: str) -> bytes:
    document = {
        "Code": "Success",
        "Type": "AWS-HMAC",
        "AccessKeyId": key,
        "SecretAccessKey": secret,
        "Token": token,
        "Expiration": expiration,
    }
    return json.dumps(document).encode()


def sts_credentials(action: str, key: str, secret: str, token: str, expiration: str) -> bytes:
    return (
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<{action}Result><Credentials><AccessKeyId>{key}</AccessKeyId>"
        f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>"
        f"<Expiration>{expiration}</Expiration></Credentials></{action}Result>"
        f"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{action}Response>"
    ).encode()


def sts_error(code: str, message: str) -> bytes:
    return (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        f"<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>r-2</RequestId></ErrorResponse>"
    ).encode()


@contextmanager
def running(fake: FakeAws) -> Iterator[FakeAws]:
    """Serve ``fake`` on a free 127.0.0.1 port until the block ends."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.partition("?")[0]
            request = Request(
                self.command, path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            fake.requests.append(request)
            route = fake.routes.get((self.command, path))
            status, headers, answer = route(request) if route else (404, {}, b"not found")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer)))
            try:
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the slow-answer tests)

        do_GET = do_PUT = do_POST = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
