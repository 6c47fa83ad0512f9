"""The keyword arguments that describe an object or condition a request, as headers.

Rules of this module:
- Pure: validated values in, header pairs out.  A bad value raises
  ``InvalidRequestError`` naming the argument; a secret (an SSE-C key) is never
  echoed.
- The same names across methods: ``WriteOptions`` for what a new object is
  (``put_object``, ``upload_file``, the multipart calls, a copy that replaces),
  ``Conditions`` for ``if_match`` / ``if_none_match`` / ``if_modified_since`` /
  ``if_unmodified_since``, ``customer_key_headers`` for SSE-C.
- What a multipart upload needs where: every describing header on
  CreateMultipartUpload, SSE-C again on each UploadPart, conditions on
  CompleteMultipartUpload (where S3 checks them).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TypedDict

from ._exceptions import InvalidRequestError

__all__ = [
    "CONDITION_NAMES",
    "SERVER_SIDE_ENCRYPTIONS",
    "Conditions",
    "ReadArguments",
    "WriteArguments",
    "WriteOptions",
    "customer_key_headers",
    "tagging_header",
]

SERVER_SIDE_ENCRYPTIONS = ("AES256", "aws:kms", "aws:kms:dsse")


class WriteArguments(TypedDict, total=False):
    """The keyword arguments of a write (``put_object``, ``upload_file``)."""

    if_match: str
    if_none_match: str
    cache_control: str
    content_disposition: str
    content_encoding: str
    content_language: str
    expires: datetime
    storage_class: str
    tagging: Mapping[str, str]
    server_side_encryption: str
    sse_kms_key_id: str
    sse_customer_key: bytes


class ReadArguments(TypedDict, total=False):
    """The keyword arguments of a read (``get_object``, ``head_object``)."""

    version_id: str
    if_match: str
    if_none_match: str
    if_modified_since: datetime
    if_unmodified_since: datetime
    sse_customer_key: bytes


CONDITION_NAMES = ("if_match", "if_none_match", "if_modified_since", "if_unmodified_since")
"""The keyword arguments that are ``Conditions``."""
_STORAGE_CLASS_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
        raise InvalidRequestError(f"{name} must be a str without line breaks")
    if not value.isascii():
        raise InvalidRequestError(f"{name} must be ASCII (encode other text, e.g. RFC 5987)")
    return value


def _http_date(name: str, value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidRequestError(f"{name} must be an aware datetime (with a time zone)")
        return format_datetime(value.astimezone(UTC), usegmt=True)
    raise InvalidRequestError(f"{name} must be a datetime, got {type(value).__name__}")


def tagging_header(tagging: object, name: str = "tagging") -> str:
    """``k1=v1&k2=v2`` (URL-encoded) for ``x-amz-tagging``."""
    if not isinstance(tagging, Mapping):
        raise InvalidRequestError(f"{name} must be a mapping of str to str")
    for key, value in tagging.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise InvalidRequestError(f"{name} keys and values must be str (keys non-empty)")
    return urllib.parse.urlencode(list(tagging.items()), quote_via=urllib.parse.quote)


def customer_key_headers(key: object, *, prefix: str = "") -> list[tuple[str, str]]:
    """SSE-C headers for a 32-byte key (``prefix`` ``"copy-source-"`` for a copy's source)."""
    if not isinstance(key, bytes | bytearray) or len(key) != 32:
        raise InvalidRequestError("sse_customer_key must be 32 bytes (an AES-256 key)")
    digest = hashlib.md5(key, usedforsecurity=False).digest()
    base = f"x-amz-{prefix}server-side-encryption-customer-"
    return [
        (base + "algorithm", "AES256"),
        (base + "key", base64.b64encode(key).decode()),
        (base + "key-md5", base64.b64encode(digest).decode()),
    ]


@dataclass(frozen=True, slots=True, repr=False)
class WriteOptions:
    """What a new object is, beside its bytes and its metadata."""

    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: datetime | None = None
    storage_class: str | None = None
    tagging: Mapping[str, str] | None = None
    server_side_encryption: str | None = None
    sse_kms_key_id: str | None = None
    sse_customer_key: bytes | None = None

    def __repr__(self) -> str:
        return "WriteOptions(...)"  # the SSE-C key is never shown

    @classmethod
    def of(cls, arguments: WriteArguments) -> WriteOptions:
        """The describing part of a write's keyword arguments."""
        if not arguments:
            return _NO_WRITE_OPTIONS  # most writes name none
        given = {k: v for k, v in arguments.items() if k not in CONDITION_NAMES}
        return cls(**given)  # type: ignore[arg-type]

    def headers(self) -> list[tuple[str, str]]:
        """Headers for PutObject and CreateMultipartUpload."""
        headers: list[tuple[str, str]] = []
        for name, header in (
            ("cache_control", "cache-control"),
            ("content_disposition", "content-disposition"),
            ("content_encoding", "content-encoding"),
            ("content_language", "content-language"),
        ):
            value = getattr(self, name)
            if value is not None:
                headers.append((header, _text(name, value)))
        if self.expires is not None:
            headers.append(("expires", _http_date("expires", self.expires)))
        if self.storage_class is not None:
            storage = self.storage_class
            if not isinstance(storage, str) or not storage or set(storage) - _STORAGE_CLASS_CHARS:
                raise InvalidRequestError(
                    f"storage_class must be an S3 storage class such as STANDARD_IA, "
                    f"got {storage!r}"
                )
            headers.append(("x-amz-storage-class", storage))
        if self.tagging is not None:
            headers.append(("x-amz-tagging", tagging_header(self.tagging)))
        headers += self._encryption_headers()
        return headers

    def _encryption_headers(self) -> list[tuple[str, str]]:
        sse = self.server_side_encryption
        if sse is not None and sse not in SERVER_SIDE_ENCRYPTIONS:
            raise InvalidRequestError(
                f"server_side_encryption must be one of {', '.join(SERVER_SIDE_ENCRYPTIONS)}, "
                f"got {sse!r}"
            )
        if self.sse_kms_key_id is not None and (sse or "").startswith("aws:kms") is False:
            raise InvalidRequestError("sse_kms_key_id needs server_side_encryption='aws:kms'")
        if self.sse_customer_key is not None and sse is not None:
            raise InvalidRequestError(
                "sse_customer_key (SSE-C) and server_side_encryption cannot be combined"
            )
        headers: list[tuple[str, str]] = []
        if sse is not None:
            headers.append(("x-amz-server-side-encryption", sse))
        if self.sse_kms_key_id is not None:
            key_id = _text("sse_kms_key_id", self.sse_kms_key_id)
            headers.append(("x-amz-server-side-encryption-aws-kms-key-id", key_id))
        return headers + self.part_headers()

    def part_headers(self) -> list[tuple[str, str]]:
        """Headers every UploadPart of this object repeats (SSE-C)."""
        if self.sse_customer_key is None:
            return []
        return customer_key_headers(self.sse_customer_key)


@dataclass(frozen=True, slots=True)
class Conditions:
    """``If-*`` conditions of a read or a write."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None

    @classmethod
    def of(cls, arguments: WriteArguments | ReadArguments) -> Conditions:
        """The conditions among keyword arguments."""
        if not arguments:
            return _NO_CONDITIONS
        return cls(**{k: v for k, v in arguments.items() if k in CONDITION_NAMES})  # type: ignore[arg-type]

    def headers(self, *, write: bool = False) -> list[tuple[str, str]]:
        """The ``If-*`` headers; on a write, S3 takes ``if_none_match="*"`` and ``if_match``."""
        headers: list[tuple[str, str]] = []
        if self.if_match is not None:
            headers.append(("if-match", _etag("if_match", self.if_match)))
        if self.if_none_match is not None:
            if write and self.if_none_match != "*":
                raise InvalidRequestError(
                    "if_none_match on a write must be '*' (create only if the key is free)"
                )
            headers.append(("if-none-match", _etag("if_none_match", self.if_none_match)))
        if write and (self.if_modified_since or self.if_unmodified_since):
            raise InvalidRequestError("writes take if_match and if_none_match only")
        if self.if_modified_since is not None:
            headers.append(
                ("if-modified-since", _http_date("if_modified_since", self.if_modified_since))
            )
        if self.if_unmodified_since is not None:
            headers.append(
                ("if-unmodified-since", _http_date("if_unmodified_since", self.if_unmodified_since))
            )
        return headers


_NO_WRITE_OPTIONS = WriteOptions()
_NO_CONDITIONS = Conditions()


def _etag(name: str, value: object) -> str:
    text = _text(name, value)
    if text == "*" or (text.startswith('"') and text.endswith('"')):
        return text
    return f'"{text}"'
