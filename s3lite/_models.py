"""Plain, immutable result types returned by the client.

Rule: nothing here does I/O or knows about HTTP; these are values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "CommonPrefix",
    "CompletedPart",
    "CopyObjectResult",
    "DeleteError",
    "DeleteMarker",
    "DeleteObjectsResult",
    "DownloadResult",
    "LifecycleRule",
    "MultipartUpload",
    "ObjectInfo",
    "ObjectSummary",
    "ObjectVersion",
    "PartInfo",
    "PutObjectResult",
]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What HEAD (or the headers of a GET) says about an object."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None
    content_type: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    version_id: str | None = None
    checksums: Mapping[str, str] = field(default_factory=dict)
    """``x-amz-checksum-*`` values the server returned, keyed by algorithm (``crc32``...)."""
    storage_class: str | None = None
    """``STANDARD_IA``, ``GLACIER`` ... (None: the server did not say, i.e. STANDARD on AWS)."""
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: str | None = None
    """The ``Expires`` header as the server sent it (an HTTP date)."""
    server_side_encryption: str | None = None
    """``AES256``, ``aws:kms`` ... as the server reports it."""
    tag_count: int | None = None


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """One object in a listing."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None
    storage_class: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of an object in ``list_object_versions``."""

    key: str
    version_id: str
    is_latest: bool
    size: int
    etag: str
    last_modified: datetime | None
    storage_class: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteMarker:
    """A delete marker in ``list_object_versions`` (the key reads as deleted when it is
    the latest)."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime | None


@dataclass(frozen=True, slots=True)
class CommonPrefix:
    """A "folder" rolled up by a delimiter in a listing."""

    prefix: str


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """The outcome of ``download_file``: the file now holds the whole object, checked.

    ``verified_by`` names what the bytes were checked against, as for
    ``ObjectStream``: ``"crc32"``, ``"sha256"``, ``"etag-md5"`` or ``"size-only"``.
    """

    path: str
    size: int
    etag: str
    parts: int
    """How many ranged GETs fetched it."""
    verified_by: Literal["crc32", "sha256", "etag-md5", "size-only"]


@dataclass(frozen=True, slots=True)
class PutObjectResult:
    """The outcome of a completed upload (single PUT or multipart).

    ``etag`` is ``None`` only when a server completed a multipart upload without
    saying its ETag anywhere (neither the answer nor a HEAD after it).
    """

    etag: str | None
    size: int
    version_id: str | None = None
    parts: int = 1
    """How many parts were uploaded (1 for a single PUT)."""


@dataclass(frozen=True, slots=True)
class CopyObjectResult:
    """The outcome of a server-side copy (``etag`` as in ``PutObjectResult``)."""

    etag: str | None
    last_modified: datetime | None = None
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """A part of a multipart upload, as CompleteMultipartUpload needs it."""

    part_number: int
    etag: str
    checksum: str | None = None
    """The part's checksum (base64) when the upload was created with a checksum algorithm."""
    checksum_algorithm: Literal["crc32", "sha256"] | None = None


@dataclass(frozen=True, slots=True)
class PartInfo:
    """A part already uploaded, as ListParts reports it."""

    part_number: int
    etag: str
    size: int
    last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    """A multipart upload in progress, as ListMultipartUploads reports it."""

    key: str
    upload_id: str
    initiated: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeleteError:
    """A key that a batch delete could not remove."""

    key: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class DeleteObjectsResult:
    """The outcome of ``delete_objects``: keys removed and keys that failed."""

    deleted: tuple[str, ...]
    errors: tuple[DeleteError, ...]


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    """A bucket lifecycle rule that expires objects under ``prefix`` after ``days``."""

    id: str
    days: int
    prefix: str = ""
    enabled: bool = True
