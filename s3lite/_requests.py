"""S3 operations as values: one pure builder per request, one pure parser per answer.

Rules of this module:
- Pure: arguments in, an ``S3Request`` (or a parsed value) out; nothing is sent
  and nothing is read from a socket here, so every builder and parser is tested
  with plain values.
- Every builder validates what it is given first (bucket, key, range, metadata,
  part number) and raises ``InvalidRequestError`` before anything is built.
  Object requests always carry a validated key: a missing key can never turn
  an object request into a bucket request (DeleteObject into DeleteBucket).
- Bodies of XML documents are built by ``_xml``; streamed bodies are framed by
  ``_payload``; this module only attaches them.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from . import _xml
from ._checksums import ChecksumAlgorithm
from ._exceptions import InvalidRequestError
from ._http import Headers
from ._models import CompletedPart, LifecycleRule, ObjectInfo, PutObjectResult
from ._options import MAX_PARTS
from ._payload import EMPTY, Payload
from ._signing import uri_encode_path
from ._urls import validate_bucket_name, validate_key

__all__ = [
    "OK",
    "Range",
    "S3Request",
    "abort_multipart_upload",
    "bucket_request",
    "check_part_number",
    "complete_multipart_upload",
    "content_range",
    "copy_object",
    "create_bucket",
    "create_multipart_upload",
    "delete_objects",
    "first_part",
    "get_object",
    "head_with_checksum",
    "list_multipart_uploads",
    "list_object_versions_page",
    "list_objects_page",
    "list_parts_page",
    "object_headers",
    "object_info",
    "object_request",
    "object_tagging",
    "parse_http_date",
    "put_bucket_lifecycle",
    "put_bucket_versioning",
    "put_result",
    "range_header",
    "resume_object",
    "same_object",
    "service_request",
    "upload_part",
    "upload_part_copy",
    "version_query",
]

Pairs = tuple[tuple[str, str], ...]
Same = tuple[Pairs, Pairs]
"""What every request about one version of an object repeats: its query (a version)
and its headers (SSE-C); ``same_object`` gives them."""
Range = tuple[int, int | None]
OK = frozenset({200, 204, 206})
_META_PREFIX = "x-amz-meta-"
_CHECKSUM_PREFIX = "x-amz-checksum-"
_SSE_C_PREFIX = "x-amz-server-side-encryption-customer-"
_TOKEN_SEPARATORS = ' \t\r\n:()<>@,;\\"/[]?={}'


@dataclass(frozen=True, slots=True)
class S3Request:
    """One S3 request before it is signed: who it addresses and what it carries.

    ``bucket`` ``None`` addresses the service; ``key`` ``None`` the bucket.
    ``stream`` leaves the answer's body unread for the caller.
    """

    method: str
    bucket: str | None = None
    key: str | None = None
    query: Pairs = ()
    headers: Pairs = ()
    payload: Payload = EMPTY
    stream: bool = False
    ok: frozenset[int] = OK


def service_request(method: str) -> S3Request:
    """A request to the service itself (ListBuckets)."""
    return S3Request(method)


def bucket_request(
    method: str,
    bucket: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
    payload: Payload = EMPTY,
) -> S3Request:
    """A request to a bucket (the bucket name validated)."""
    validate_bucket_name(bucket)
    return S3Request(method, bucket, None, tuple(query), tuple(headers), payload)


def object_request(
    method: str,
    bucket: str,
    key: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
    payload: Payload = EMPTY,
    stream: bool = False,
) -> S3Request:
    """A request to an object (bucket name and key validated)."""
    validate_bucket_name(bucket)
    validate_key(key)
    return S3Request(method, bucket, key, tuple(query), tuple(headers), payload, stream)


# --- validation --------------------------------------------------------------------


def metadata_headers(metadata: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """``x-amz-meta-*`` headers for user metadata (names ASCII tokens, values ASCII)."""
    if metadata is None:
        return []
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError("metadata must be a mapping of str to str")
    headers = []
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidRequestError("metadata names and values must be str")
        if not name or not name.isascii() or any(c in name for c in _TOKEN_SEPARATORS):
            raise InvalidRequestError(f"invalid metadata name {name!r}: use ASCII token chars")
        if not value.isascii() or any(c in value for c in "\r\n"):
            raise InvalidRequestError(
                f"metadata value for {name!r} must be ASCII without line breaks"
            )
        headers.append((_META_PREFIX + name.lower(), value))
    return headers


def object_headers(
    content_type: str | None, metadata: Mapping[str, str] | None
) -> list[tuple[str, str]]:
    """The headers that describe a new object: its metadata and Content-Type."""
    headers = metadata_headers(metadata)
    if content_type is not None:
        if not isinstance(content_type, str) or any(c in content_type for c in "\r\n"):
            raise InvalidRequestError("content_type must be a str without line breaks")
        headers.append(("content-type", content_type))
    return headers


def range_header(range_: Range | None) -> str | None:
    """``bytes=first-last`` for an inclusive ``(first, last)`` range (``last`` None: to the end)."""
    if range_ is None:
        return None
    if not isinstance(range_, tuple) or len(range_) != 2:
        raise InvalidRequestError("range must be a (first, last) tuple; last may be None")
    first, last = range_
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise InvalidRequestError(f"range start must be an int >= 0, got {first!r}")
    if last is None:
        return f"bytes={first}-"
    if isinstance(last, bool) or not isinstance(last, int) or last < first:
        raise InvalidRequestError(
            f"range end must be an int >= start ({first}) or None, got {last!r}"
        )
    return f"bytes={first}-{last}"


def check_part_number(part_number: int) -> None:
    """A part number is an int in 1..10000."""
    if isinstance(part_number, bool) or not isinstance(part_number, int):
        raise InvalidRequestError("part_number must be an int")
    if not 1 <= part_number <= MAX_PARTS:
        raise InvalidRequestError(f"part_number must be 1..{MAX_PARTS}, got {part_number}")


def content_md5(data: bytes) -> str:
    """The base64 MD5 of a small document (``Content-MD5``)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def copy_source(bucket: str, key: str, version_id: str | None = None) -> str:
    """The ``x-amz-copy-source`` value for an object, or one version of it (bucket and key
    validated)."""
    validate_bucket_name(bucket)
    validate_key(key)
    source = f"/{bucket}/{uri_encode_path(key)}"
    for _, version in version_query(version_id):
        source += f"?versionId={urllib.parse.quote(version, safe='')}"
    return source


def _xml_payload(body: bytes) -> Payload:
    return Payload.of_bytes(body, signed=True)


# --- objects ---------------------------------------------------------------------


def version_query(version_id: str | None) -> list[tuple[str, str]]:
    """``versionId=...`` for a request about one version (none: the latest)."""
    if version_id is None:
        return []
    if not isinstance(version_id, str) or not version_id:
        raise InvalidRequestError("version_id must be a non-empty str")
    return [("versionId", version_id)]


def get_object(
    bucket: str,
    key: str,
    range_: Range | None,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
) -> S3Request:
    """GetObject, streamed; a whole-object GET asks for the stored checksum.  ``query``:
    a version (``version_query``); ``headers``: conditions and SSE-C."""
    spec = range_header(range_)
    sent = [("range", spec)] if spec else [("x-amz-checksum-mode", "ENABLED")]
    return object_request("GET", bucket, key, query=query, headers=[*sent, *headers], stream=True)


def same_object(request: S3Request) -> Same:
    """What a later ranged GET of the object ``request`` read must repeat: its version
    (query) and its SSE-C key (headers)."""
    headers = tuple(h for h in request.headers if h[0].startswith(_SSE_C_PREFIX))
    query = tuple(q for q in request.query if q[0] == "versionId")
    return query, headers


def resume_object(
    bucket: str,
    key: str,
    offset: int,
    last: int,
    etag: str,
    same: Same = ((), ()),
) -> S3Request:
    """The ranged GET of bytes ``offset..last`` (a resumed body, or one part of a parallel
    download), pinned to the object's ETag (unpinned only when the server gave none);
    ``same``: the version and SSE-C headers of the first GET (``same_object``)."""
    headers = [("range", f"bytes={offset}-{last}"), *same[1]]
    if etag:
        headers.append(("if-match", _xml.quote_etag(etag)))
    return object_request("GET", bucket, key, query=same[0], headers=headers, stream=True)


def first_part(
    bucket: str, key: str, part_size: int, same: Same = ((), ())
) -> S3Request:
    """The ranged GET of the first ``part_size`` bytes that opens a parallel download
    (``same``: a version and SSE-C headers, as ``same_object`` gives them)."""
    headers = [
        ("range", f"bytes=0-{part_size - 1}"),
        ("x-amz-checksum-mode", "ENABLED"),
        *same[1],
    ]
    return object_request("GET", bucket, key, query=same[0], headers=headers, stream=True)


def head_with_checksum(
    bucket: str,
    key: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
) -> S3Request:
    """HeadObject asking for the stored checksum (``query``: a version; ``headers``:
    conditions and SSE-C)."""
    sent = [("x-amz-checksum-mode", "ENABLED"), *headers]
    return object_request("HEAD", bucket, key, query=query, headers=sent)


def copy_object(
    src_bucket: str,
    src_key: str,
    bucket: str,
    key: str,
    *,
    source_etag: str,
    replace: bool,
    headers: Sequence[tuple[str, str]],
    source_version_id: str | None = None,
) -> S3Request:
    """CopyObject, pinned to the source's ETag; metadata copied or replaced; ``headers``
    may carry a tagging directive, the new object's description and SSE headers."""
    sent = [
        ("x-amz-copy-source", copy_source(src_bucket, src_key, source_version_id)),
        ("x-amz-copy-source-if-match", _xml.quote_etag(source_etag)),
        ("x-amz-metadata-directive", "REPLACE" if replace else "COPY"),
        *headers,
    ]
    return object_request("PUT", bucket, key, headers=sent)


def put_bucket_versioning(bucket: str, enabled: bool) -> S3Request:
    """PutBucketVersioning: Enabled or Suspended."""
    body = _xml.build_versioning_configuration(enabled)
    headers = [("content-md5", content_md5(body)), ("content-type", "application/xml")]
    return bucket_request(
        "PUT", bucket, query=[("versioning", "")], headers=headers, payload=_xml_payload(body)
    )


def list_object_versions_page(
    bucket: str,
    *,
    prefix: str,
    delimiter: str | None,
    marker: tuple[str | None, str | None] | None,
    page_size: int,
) -> S3Request:
    """One page of ListObjectVersions (``marker``: the previous page's next key and
    version id)."""
    query = [("versions", ""), ("max-keys", str(page_size))]
    if prefix:
        query.append(("prefix", prefix))
    if delimiter:
        query.append(("delimiter", delimiter))
    key_marker, version_marker = marker or (None, None)
    if key_marker:
        query.append(("key-marker", key_marker))
    if version_marker:
        query.append(("version-id-marker", version_marker))
    return bucket_request("GET", bucket, query=query)


def object_tagging(
    method: str,
    bucket: str,
    key: str,
    version_id: str | None,
    tags: Mapping[str, str] | None = None,
) -> S3Request:
    """Put (with ``tags``), Get or Delete an object's tags."""
    query = [("tagging", ""), *version_query(version_id)]
    if tags is None:
        return object_request(method, bucket, key, query=query)
    body = _xml.build_tagging(tags)
    headers = [("content-md5", content_md5(body)), ("content-type", "application/xml")]
    return object_request(
        method, bucket, key, query=query, headers=headers, payload=_xml_payload(body)
    )


def delete_objects(bucket: str, keys: Sequence[str | tuple[str, str]]) -> S3Request:
    """DeleteObjects for one batch of keys (at most 1000)."""
    body = _xml.build_delete_objects(keys, quiet=False)
    headers = [("content-md5", content_md5(body)), ("content-type", "application/xml")]
    return bucket_request(
        "POST", bucket, query=[("delete", "")], headers=headers, payload=_xml_payload(body)
    )


def list_objects_page(
    bucket: str,
    *,
    prefix: str,
    delimiter: str | None,
    start_after: str | None,
    page_size: int,
    token: str | None,
) -> S3Request:
    """One page of ListObjectsV2 (``token``: the previous page's continuation token)."""
    query = [("list-type", "2"), ("encoding-type", "url"), ("max-keys", str(page_size))]
    if prefix:
        query.append(("prefix", prefix))
    if delimiter:
        query.append(("delimiter", delimiter))
    if token:
        query.append(("continuation-token", token))
    elif start_after:
        query.append(("start-after", start_after))
    return bucket_request("GET", bucket, query=query)


# --- buckets ---------------------------------------------------------------------


def create_bucket(bucket: str, region: str) -> S3Request:
    """CreateBucket in ``region`` (us-east-1 takes no location document)."""
    body = _xml.build_create_bucket_configuration(region)
    return bucket_request("PUT", bucket, payload=_xml_payload(body) if body else EMPTY)


def put_bucket_lifecycle(bucket: str, rules: Sequence[LifecycleRule]) -> S3Request:
    """PutBucketLifecycleConfiguration replacing every rule with ``rules``."""
    body = _xml.build_lifecycle_configuration(rules)
    headers = [("content-md5", content_md5(body)), ("content-type", "application/xml")]
    return bucket_request(
        "PUT", bucket, query=[("lifecycle", "")], headers=headers, payload=_xml_payload(body)
    )


# --- multipart -------------------------------------------------------------------


def create_multipart_upload(
    bucket: str,
    key: str,
    headers: Sequence[tuple[str, str]],
    checksum: ChecksumAlgorithm | None,
    *,
    full_object: bool = False,
) -> S3Request:
    """CreateMultipartUpload, announcing the parts' checksum algorithm (and, with
    ``full_object``, that the whole object's CRC32 will be stated at the end)."""
    sent = list(headers)
    if checksum in ("crc32", "sha256"):
        sent.append(("x-amz-checksum-algorithm", checksum.upper()))
    if full_object:
        sent.append(("x-amz-checksum-type", "FULL_OBJECT"))
    return object_request("POST", bucket, key, query=[("uploads", "")], headers=sent)


def upload_part(
    bucket: str,
    key: str,
    upload_id: str,
    part_number: int,
    payload: Payload,
    headers: Sequence[tuple[str, str]] = (),
) -> S3Request:
    """UploadPart with a framed payload (``headers``: SSE-C, repeated on every part)."""
    check_part_number(part_number)
    query = [("partNumber", str(part_number)), ("uploadId", upload_id)]
    return object_request("PUT", bucket, key, query=query, headers=headers, payload=payload)


def upload_part_copy(
    src_bucket: str,
    src_key: str,
    bucket: str,
    key: str,
    upload_id: str,
    part_number: int,
    *,
    range_: Range | None,
    source_etag: str | None,
    source_version_id: str | None = None,
) -> S3Request:
    """UploadPartCopy of (a byte range of) an existing object (or of one version)."""
    check_part_number(part_number)
    headers = [("x-amz-copy-source", copy_source(src_bucket, src_key, source_version_id))]
    if range_ is not None:
        spec = range_header(range_)
        if range_[1] is None:
            raise InvalidRequestError("a copy range needs an explicit last byte")
        headers.append(("x-amz-copy-source-range", str(spec)))
    if source_etag:
        headers.append(("x-amz-copy-source-if-match", _xml.quote_etag(source_etag)))
    query = [("partNumber", str(part_number)), ("uploadId", upload_id)]
    return object_request("PUT", bucket, key, query=query, headers=headers)


def complete_multipart_upload(
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[CompletedPart],
    *,
    full_object_crc32: str | None,
    extra: Sequence[tuple[str, str]] = (),
) -> S3Request:
    """CompleteMultipartUpload; ``full_object_crc32`` states the whole object's CRC32;
    ``extra``: conditions (``If-None-Match`` ...) and SSE-C."""
    body = _xml.build_complete_multipart_upload(parts)
    headers = [("content-type", "application/xml"), *extra]
    if full_object_crc32 is not None:
        headers += [
            ("x-amz-checksum-crc32", full_object_crc32),
            ("x-amz-checksum-type", "FULL_OBJECT"),
        ]
    return object_request(
        "POST",
        bucket,
        key,
        query=[("uploadId", upload_id)],
        headers=headers,
        payload=_xml_payload(body),
    )


def abort_multipart_upload(bucket: str, key: str, upload_id: str) -> S3Request:
    """AbortMultipartUpload."""
    return object_request("DELETE", bucket, key, query=[("uploadId", upload_id)])


def list_multipart_uploads(
    bucket: str, prefix: str, marker: tuple[str | None, str | None] | None
) -> S3Request:
    """One page of ListMultipartUploads (``marker``: the previous page's key and upload id)."""
    query = [("uploads", "")]
    if prefix:
        query.append(("prefix", prefix))
    key_marker, upload_marker = marker or (None, None)
    if key_marker:
        query.append(("key-marker", key_marker))
    if upload_marker:
        query.append(("upload-id-marker", upload_marker))
    return bucket_request("GET", bucket, query=query)


def list_parts_page(bucket: str, key: str, upload_id: str, marker: int | None) -> S3Request:
    """One page of ListParts (``marker``: the previous page's last part number)."""
    query = [("uploadId", upload_id)]
    if marker:
        query.append(("part-number-marker", str(marker)))
    return object_request("GET", bucket, key, query=query)


# --- answers ---------------------------------------------------------------------


_MONTHS = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
    "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}  # fmt: skip


def _imf_fixdate(value: str) -> datetime | None:
    # ``Sun, 06 Nov 1994 08:49:37 GMT``, the form every S3 server sends: read by hand
    # (a third of the time of ``parsedate_to_datetime``, once per GET and HEAD).
    parts = value.split(" ")
    if len(parts) != 6 or parts[5] != "GMT" or len(parts[4]) != 8:
        return None
    month = _MONTHS.get(parts[2])
    clock = parts[4]
    numbers = (parts[3], parts[1], clock[0:2], clock[3:5], clock[6:8])
    if month is None or clock[2] != ":" or clock[5] != ":" or not all(
        n.isascii() and n.isdigit() for n in numbers
    ):
        return None
    year, day, hour, minute, second = map(int, numbers)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Date``, ``Last-Modified``) as an aware datetime; None if unreadable."""
    if not value:
        return None
    fast = _imf_fixdate(value)
    if fast is not None:
        return fast
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def object_info(key: str, headers: Headers) -> ObjectInfo:
    """An object's metadata from the headers of a HEAD or GET answer."""
    metadata: dict[str, str] = {}
    checksums: dict[str, str] = {}
    for name, value in headers.items():
        if name.startswith(_META_PREFIX):
            metadata[name[len(_META_PREFIX) :]] = value
        elif name.startswith(_CHECKSUM_PREFIX) and name != "x-amz-checksum-type":
            checksums[name[len(_CHECKSUM_PREFIX) :]] = value
    return ObjectInfo(
        key=key,
        size=int(headers.get("content-length") or "0"),
        etag=_xml.unquote_etag(headers.get("etag") or ""),
        last_modified=parse_http_date(headers.get("last-modified")),
        content_type=headers.get("content-type"),
        metadata=metadata,
        version_id=headers.get("x-amz-version-id"),
        checksums=checksums,
        storage_class=headers.get("x-amz-storage-class"),
        cache_control=headers.get("cache-control"),
        content_disposition=headers.get("content-disposition"),
        content_encoding=headers.get("content-encoding"),
        content_language=headers.get("content-language"),
        expires=headers.get("expires"),
        server_side_encryption=headers.get("x-amz-server-side-encryption"),
        tag_count=_int_or_none(headers.get("x-amz-tagging-count")),
    )


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def content_range(headers: Headers, body_size: int) -> tuple[int, tuple[int, int] | None]:
    """The whole object's size and the ``(first, last)`` bytes of this body, from
    ``Content-Range: bytes FIRST-LAST/TOTAL`` (no header: the body is the object)."""
    value = headers.get("content-range") or ""
    if value.startswith("bytes ") and "/" in value:
        span, _, total = value[6:].partition("/")
        first, _, last = span.partition("-")
        try:
            bounds: tuple[int, int] | None = (int(first), int(last))
        except ValueError:
            bounds = None
        return (int(total) if total.isdigit() else body_size), bounds
    return body_size, None


def put_result(headers: Headers, size: int, parts: int = 1) -> PutObjectResult:
    """The result of a PUT from its answer's headers."""
    return PutObjectResult(
        etag=_xml.unquote_etag(headers.get("etag") or ""),
        size=size,
        version_id=headers.get("x-amz-version-id"),
        parts=parts,
    )
