"""Endpoint + bucket + key -> request host and path; bucket and key validation.

Rules of this module:
- Pure: strings in, strings out; no HTTP library.
- A key is encoded exactly once (``uri_encode_path``) and never normalised, so
  keys such as ``a//b`` or ``a/../b`` reach the server as they are.
- The path returned here is both what is sent and the SigV4 canonical URI.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, InvalidRequestError
from ._signing import uri_encode_path

__all__ = [
    "AddressingStyle",
    "Endpoint",
    "Target",
    "validate_bucket_name",
    "validate_key",
]

AddressingStyle = Literal["auto", "path", "virtual"]
MAX_KEY_BYTES = 1024
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")


def validate_bucket_name(bucket: object) -> str:
    """Check ``bucket`` against S3's naming rules; return it or raise ``InvalidRequestError``."""
    if not isinstance(bucket, str):
        raise InvalidRequestError(f"bucket name must be a str, got {type(bucket).__name__}")
    if not _BUCKET_RE.fullmatch(bucket):
        raise InvalidRequestError(
            f"invalid bucket name {bucket!r}: 3-63 characters of lowercase letters, digits, "
            "'.' and '-', starting and ending with a letter or digit"
        )
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        raise InvalidRequestError(f"invalid bucket name {bucket!r}: adjacent '.'/'-' characters")
    try:
        ipaddress.IPv4Address(bucket)
    except ValueError:
        return bucket
    raise InvalidRequestError(f"invalid bucket name {bucket!r}: must not look like an IP address")


def validate_key(key: object) -> str:
    """Check an object key: a non-empty str of at most 1024 UTF-8 bytes."""
    if not isinstance(key, str):
        raise InvalidRequestError(f"object key must be a str, got {type(key).__name__}")
    if not key:
        raise InvalidRequestError("object key must not be empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidRequestError("object key is not valid Unicode (lone surrogate)") from exc
    if size > MAX_KEY_BYTES:
        raise InvalidRequestError(f"object key is {size} bytes long; S3 allows at most 1024")
    return key


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes: scheme, host header, port and the encoded path."""

    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (port omitted when it is the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is None or _DEFAULT_PORTS.get(self.scheme) == self.port:
            return host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL without query string."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if self.port is None else f"{host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed service URL and the addressing style to use with it."""

    scheme: str
    host: str
    port: int | None
    base_path: str
    addressing_style: AddressingStyle = "auto"

    @classmethod
    def parse(cls, url: str, addressing_style: AddressingStyle = "auto") -> Endpoint:
        """Parse ``http(s)://host[:port][/base]``; raise ``ConfigurationError`` if malformed."""
        if not isinstance(url, str) or not url.strip():
            raise ConfigurationError("endpoint URL must be a non-empty string")
        parts = urlsplit(url.strip())
        if "@" in parts.netloc:  # checked first: the URL is never echoed with credentials
            raise ConfigurationError("endpoint URL must not carry credentials (user:password@)")
        # The URL itself is never echoed: a connection string passed here by mistake
        # would otherwise put its SecretKey into the message.
        if parts.scheme not in _DEFAULT_PORTS:
            shown = f" (not {parts.scheme!r})" if _SCHEME.fullmatch(parts.scheme) else ""
            raise ConfigurationError(f"endpoint URL must start with http:// or https://{shown}")
        if not parts.hostname:
            raise ConfigurationError("endpoint URL has no host")
        if parts.query or parts.fragment:
            raise ConfigurationError("endpoint URL must not carry a query or a fragment")
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError("endpoint URL has an invalid port") from None
        if addressing_style not in ("auto", "path", "virtual"):
            raise ConfigurationError(
                f"addressing_style must be 'auto', 'path' or 'virtual', got {addressing_style!r}"
            )
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), addressing_style)

    def uses_virtual_host(self, bucket: str) -> bool:
        """Whether requests for ``bucket`` put it in the host name."""
        if self.addressing_style == "path":
            return False
        if self.addressing_style == "virtual":
            return True
        # auto: virtual-hosted on AWS when the bucket is a valid DNS label for TLS.
        dns_safe = "." not in bucket or self.scheme == "http"
        return self.host.endswith(".amazonaws.com") and dns_safe

    def target(self, bucket: str | None = None, key: str | None = None) -> Target:
        """The host and encoded path for a service, bucket or object request."""
        if bucket is None:
            return Target(self.scheme, self.host, self.port, self.base_path + "/")
        encoded_key = uri_encode_path(key) if key is not None else ""
        if self.uses_virtual_host(bucket):
            return Target(
                self.scheme, f"{bucket}.{self.host}", self.port, f"{self.base_path}/{encoded_key}"
            )
        path = f"{self.base_path}/{bucket}" + (f"/{encoded_key}" if key is not None else "")
        return Target(self.scheme, self.host, self.port, path)

    def __str__(self) -> str:
        return Target(self.scheme, self.host, self.port, self.base_path).url
