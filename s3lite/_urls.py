"""Endpoint + bucket + key -> request host and path; bucket and key validation.

Rules of this module:
- Pure: strings in, strings out; no HTTP library.
- A key is encoded exactly once (``uri_encode_path``) and never normalised, so
  keys such as ``a//b`` or ``a/../b`` reach the server as they are.
- The path returned here is both what is sent and the SigV4 canonical URI.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Literal, get_args

from ._exceptions import ConfigurationError, InvalidRequestError
from ._signing import uri_encode_path

__all__ = [
    "ADDRESSING_STYLES",
    "DEFAULT_PORTS",
    "RESERVED_BUCKET_PREFIXES",
    "RESERVED_BUCKET_SUFFIXES",
    "AddressingStyle",
    "Endpoint",
    "Target",
    "bucket_name_problem",
    "parse_service_url",
    "validate_bucket_name",
    "validate_key",
]

AddressingStyle = Literal["auto", "path", "virtual"]
ADDRESSING_STYLES: tuple[AddressingStyle, ...] = get_args(AddressingStyle)
MAX_KEY_BYTES = 1024
_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IPV4_SHAPED = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
DEFAULT_PORTS = {"http": 80, "https": 443}
_AWS_S3_HOST = re.compile(
    r"s3(?:(?P<dualstack>\.dualstack\.)|[.-])?(?:[a-z]{2}(?:-[a-z]+)+-\d+)?\.amazonaws\.com"
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


@functools.lru_cache(maxsize=256)  # pure, and called for every request
def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` breaks S3's published bucket naming rules, or ``None`` if it does not.

    3-63 characters of lowercase letters, digits, dots and hyphens; starting and
    ending with a letter or digit; no ``..`` (nor ``.-`` / ``-.``: every DNS label
    starts and ends with a letter or digit, so virtual-hosted requests stay
    possible); not shaped like an IPv4 address; none of the reserved prefixes
    and suffixes.
    """
    if not 3 <= len(name) <= 63:
        return f"must be 3 to 63 characters long (it has {len(name)})"
    if not _BUCKET_CHARS.fullmatch(name):
        return "may contain only lowercase letters, digits, dots and hyphens"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must start and end with a letter or digit"
    if ".." in name:
        return "must not contain two adjacent dots"
    if ".-" in name or "-." in name:
        return "must not have a hyphen adjacent to a dot"
    if _IPV4_SHAPED.fullmatch(name):
        return "must not be formatted as an IP address"
    for prefix in RESERVED_BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"must not start with the reserved prefix {prefix!r}"
    for suffix in RESERVED_BUCKET_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with the reserved suffix {suffix!r}"
    return None


def validate_bucket_name(bucket: object) -> str:
    """Check ``bucket`` against S3's naming rules; return it or raise ``InvalidRequestError``."""
    if not isinstance(bucket, str):
        raise InvalidRequestError(f"bucket name must be a str, got {type(bucket).__name__}")
    problem = bucket_name_problem(bucket)
    if problem is not None:
        raise InvalidRequestError(f"invalid bucket name {_shown(bucket, 100)}: it {problem}")
    return bucket


def _shown(value: str, limit: int = 63) -> str:
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


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
        if self.port is None or DEFAULT_PORTS.get(self.scheme) == self.port:
            return host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL without query string."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if self.port is None else f"{host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"


def parse_service_url(url: object) -> tuple[str, str, int | None, str]:
    """``http(s)://host[:port][/base]`` as ``(scheme, host, port, base path)``: scheme
    and host lower-cased, an IPv6 host compressed (without brackets), a default
    port dropped (``None``), trailing slashes removed.  Raises ``ConfigurationError``
    saying what is wrong; the URL itself is never echoed (a connection string
    passed here by mistake would otherwise put its secret into the message)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("endpoint URL must be a non-empty string")
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    netloc = rest.partition("/")[0]
    if "@" in (netloc if sep else text):  # checked first: credentials are never echoed
        raise ConfigurationError(
            "endpoint URL must not carry credentials: it must not contain user info "
            "(user:password@)"
        )
    if not sep or scheme not in DEFAULT_PORTS:
        shown = f" (not {scheme!r})" if sep and _SCHEME.fullmatch(scheme) else ""
        raise ConfigurationError(f"endpoint URL must start with http:// or https://{shown}")
    if any(char.isspace() or not char.isprintable() for char in text):
        raise ConfigurationError("endpoint URL must not contain whitespace or control characters")
    if "?" in rest or "#" in rest:
        raise ConfigurationError("endpoint URL must not carry a query or a fragment")
    netloc, slash, path = rest.partition("/")
    if netloc.startswith("["):
        close = netloc.find("]")
        try:
            host = ipaddress.IPv6Address(netloc[1:close] if close > 0 else "").compressed
        except ValueError:
            raise ConfigurationError("endpoint URL has an invalid IPv6 host") from None
        port_part = netloc[close + 1 :]
        if port_part and not port_part.startswith(":"):
            raise ConfigurationError("endpoint URL has text after its IPv6 host")
        has_port, port_text = bool(port_part), port_part[1:]
    else:
        host, colon, port_text = netloc.partition(":")
        host, has_port = host.lower(), bool(colon)
        if not host:
            raise ConfigurationError("endpoint URL has no host")
        if len(host) > 253 or not _HOST.fullmatch(host):
            raise ConfigurationError(f"endpoint URL has an invalid host {_shown(host)}")
    port: int | None = None
    if has_port:
        if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
            raise ConfigurationError(f"endpoint URL has an invalid port {_shown(port_text, 8)}")
        port = int(port_text)
        if port == DEFAULT_PORTS[scheme]:
            port = None
    base_path = ("/" + path).rstrip("/") if slash else ""
    return scheme, host, port, base_path


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
        if addressing_style not in ADDRESSING_STYLES:
            raise ConfigurationError(
                f"addressing_style must be 'auto', 'path' or 'virtual', got {addressing_style!r}"
            )
        scheme, host, port, base_path = parse_service_url(url)
        return cls(scheme, host, port, base_path, addressing_style)

    @property
    def is_aws(self) -> bool:
        """Whether this is an AWS S3 endpoint (``*.amazonaws.com``)."""
        return self.host.endswith(".amazonaws.com")

    def in_region(self, region: str) -> Endpoint:
        """The same service in ``region``: AWS's regional S3 host names are rewritten
        (``s3.amazonaws.com``, ``s3.R.amazonaws.com``, ``s3-R.amazonaws.com``, and the
        dual-stack ones); any other host is the same for every region."""
        match = _AWS_S3_HOST.fullmatch(self.host)
        if match is None:
            return self
        prefix = "s3.dualstack." if match["dualstack"] else "s3."
        host = f"{prefix}{region}.amazonaws.com"
        return dataclasses.replace(self, host=host)

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
