"""S3 XML bodies: build request documents, parse response documents.

Rules of this module:
- Pure and I/O-free (h11-style): bytes in, values out; stdlib only.
- Parsing matches local names, so documents with or without the S3 namespace
  (``http://s3.amazonaws.com/doc/2006-03-01/``) read the same; unknown elements
  are ignored and missing optional elements become ``None``/defaults.
- A DOCTYPE (hence any ENTITY declaration) is refused before it is processed.
- Parsers parse; they never decide error policy.  A body that is not an XML
  document, or is an ``<Error>`` where a result was expected, raises
  ``MalformedResponseError`` (a result root named otherwise is accepted: some
  servers answer ``<ListPartsResponse>``); an ``<Error>`` document
  is read by ``parse_error`` into an ``ErrorInfo`` (S3's "200 OK with an error"
  is recognised by ``is_error_document``), and the pipeline turns it into a
  ``ServiceError``.
- ETags are returned without their surrounding double quotes, everywhere
  (``unquote_etag``); they are sent quoted where S3 expects it (``quote_etag``).
- ``EncodingType=url`` listings are decoded with ``unquote_plus``: S3 form-encodes
  (a space arrives as ``+``, a literal ``+`` as ``%2B``); servers that send a
  space as ``%20`` also encode ``+`` as ``%2B``, so ``unquote_plus`` is right
  for both, while plain ``unquote`` would leave S3's ``+`` where a space was.
- Built documents escape ``& < >`` and carriage return (``&#13;``, which an XML
  parser would otherwise normalise away); characters XML 1.0 cannot carry are
  refused with ``InvalidRequestError`` before anything is sent.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote_plus

from ._exceptions import InvalidRequestError, MalformedResponseError
from ._models import (
    CommonPrefix,
    CompletedPart,
    CopyObjectResult,
    DeleteError,
    DeleteMarker,
    DeleteObjectsResult,
    LifecycleRule,
    MultipartUpload,
    ObjectSummary,
    ObjectVersion,
    PartInfo,
)

__all__ = [
    "S3_NAMESPACE",
    "DoctypeRefused",
    "ErrorInfo",
    "ListObjectsPage",
    "ListPartsPage",
    "ListUploadsPage",
    "ListVersionsPage",
    "build_complete_multipart_upload",
    "build_create_bucket_configuration",
    "build_delete_objects",
    "build_lifecycle_configuration",
    "build_tagging",
    "build_versioning_configuration",
    "is_error_document",
    "local_name",
    "parse_complete_multipart_upload",
    "parse_copy_object_result",
    "parse_copy_part_result",
    "parse_delete_objects_result",
    "parse_error",
    "parse_initiate_multipart_upload",
    "parse_lifecycle_configuration",
    "parse_list_buckets",
    "parse_list_multipart_uploads",
    "parse_list_object_versions",
    "parse_list_objects_v2",
    "parse_list_parts",
    "parse_tagging",
    "parse_untrusted",
    "parse_versioning",
    "quote_etag",
    "unquote_etag",
]

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

MAX_DELETE_KEYS = 1000
MAX_PART_NUMBER = 10000
MAX_LIFECYCLE_RULES = 1000
MAX_RULE_ID_LENGTH = 255


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The fields of an S3 ``<Error>`` document."""

    code: str
    message: str
    request_id: str | None = None
    host_id: str | None = None
    resource: str | None = None
    key: str | None = None
    bucket: str | None = None
    region: str | None = None
    """The region a redirect or a wrongly scoped signature names (``<Region>``)."""


@dataclass(frozen=True, slots=True)
class ListObjectsPage:
    """One page of ListObjectsV2."""

    objects: tuple[ObjectSummary, ...]
    prefixes: tuple[CommonPrefix, ...]
    is_truncated: bool
    next_continuation_token: str | None
    key_count: int | None


@dataclass(frozen=True, slots=True)
class ListVersionsPage:
    """One page of ListObjectVersions: versions and delete markers in key order."""

    entries: tuple[ObjectVersion | DeleteMarker, ...]
    prefixes: tuple[CommonPrefix, ...]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(frozen=True, slots=True)
class ListUploadsPage:
    """One page of ListMultipartUploads."""

    uploads: tuple[MultipartUpload, ...]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


@dataclass(frozen=True, slots=True)
class ListPartsPage:
    """One page of ListParts."""

    parts: tuple[PartInfo, ...]
    is_truncated: bool
    next_part_number_marker: int | None


# --------------------------------------------------------------------------- ETags


def unquote_etag(value: str) -> str:
    """``"abc"`` -> ``abc``; anything not wrapped in one pair of double quotes is kept."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def quote_etag(value: str) -> str:
    """``abc`` -> ``"abc"`` (an already quoted value is kept as is)."""
    return f'"{unquote_etag(value)}"'


# --------------------------------------------------------------------------- parsing core


class DoctypeRefused(Exception):
    """A document declared a DOCTYPE (and so, possibly, entities): refused unread."""


class _TreeBuilder(ET.TreeBuilder):
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise DoctypeRefused(name)


def parse_untrusted(data: bytes) -> ET.Element:
    """Parse an XML document from outside, refusing any DOCTYPE before it is processed.

    Raises ``DoctypeRefused`` or ``xml.etree.ElementTree.ParseError``; callers say
    what the document was in their own error.
    """
    parser = ET.XMLParser(target=_TreeBuilder())
    parser.feed(data)
    root: ET.Element = parser.close()
    return root


def local_name(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]


def _lstrip(body: bytes) -> bytes:
    # S3 may send keep-alive whitespace before the document of a long request;
    # an XML declaration is only legal at the very start, so drop it (and a BOM).
    return body.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")


def _parse(body: bytes) -> ET.Element:
    data = _lstrip(body)
    if not data:
        raise MalformedResponseError("empty response body where an XML document was expected")
    try:
        root = parse_untrusted(data)
    except DoctypeRefused:
        raise MalformedResponseError(
            "response XML contains a DOCTYPE declaration, which is refused"
        ) from None
    except ET.ParseError as exc:
        raise MalformedResponseError(f"response body is not well-formed XML: {exc}") from None
    return root


_local = local_name


def _children(parent: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in parent if isinstance(child.tag, str) and _local(child.tag) == name)


def _child(parent: ET.Element, name: str) -> ET.Element | None:
    return next(_children(parent, name), None)


def _text(parent: ET.Element, name: str) -> str | None:
    """Text of the first child ``name`` ("" if empty), ``None`` if there is no such child."""
    node = _child(parent, name)
    if node is None:
        return None
    return node.text or ""


def _required(parent: ET.Element, name: str) -> str:
    value = _text(parent, name)
    if value is None:
        raise MalformedResponseError(f"<{_local(parent.tag)}> has no <{name}> element")
    return value


def _nonempty(parent: ET.Element, name: str) -> str | None:
    value = _text(parent, name)
    return value if value else None


def _int(parent: ET.Element, name: str) -> int | None:
    value = _text(parent, name)
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise MalformedResponseError(f"<{name}> is not an integer: {value!r}") from None


def _required_int(parent: ET.Element, name: str) -> int:
    value = _int(parent, name)
    if value is None:
        raise MalformedResponseError(f"<{_local(parent.tag)}> has no <{name}> value")
    return value


def _bool(parent: ET.Element, name: str) -> bool:
    value = (_text(parent, name) or "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise MalformedResponseError(f"<{name}> is not a boolean: {value!r}")


def _timestamp(parent: ET.Element, name: str) -> datetime | None:
    """ISO 8601 (S3's format, fractional seconds optional) or RFC 1123 -> aware UTC."""
    value = (_text(parent, name) or "").strip()
    if not value:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        return None  # an unreadable date is not worth failing a listing for
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _decoder(root: ET.Element) -> Callable[[str], str]:
    """``unquote_plus`` if the listing says ``<EncodingType>url</EncodingType>``."""
    encoding = (_text(root, "EncodingType") or "").strip().lower()
    return unquote_plus if encoding == "url" else _identity


def _identity(value: str) -> str:
    return value


def _result(body: bytes, root_name: str) -> ET.Element:
    """Parse a success document (``root_name`` is what S3 calls its root; any root but
    ``<Error>`` is accepted, as some servers name theirs differently)."""
    root = _parse(body)
    if _local(root.tag) == "Error":
        raise MalformedResponseError(f"expected a <{root_name}> document, got <Error>")
    return root  # another root name is accepted: some servers answer <ListPartsResponse>


# --------------------------------------------------------------------------- errors

# Optional declaration and comments, then a root element named Error (any prefix).
_ERROR_ROOT = re.compile(
    rb"(?:<\?xml[^>]*\?>)?\s*(?:<!--.*?-->\s*)*<(?:[\w.-]+:)?Error[\s/>]", re.S
)


def is_error_document(body: bytes) -> bool:
    """Whether ``body``'s root element is ``<Error>`` (a look at its start, no full parse).

    Meant for the 200 responses of CopyObject, UploadPartCopy and
    CompleteMultipartUpload, which can still carry an error.
    """
    return _ERROR_ROOT.match(_lstrip(body)) is not None


def _error_info(root: ET.Element) -> ErrorInfo | None:
    code = (_text(root, "Code") or "").strip()
    if not code:
        return None
    return ErrorInfo(
        code=code,
        message=_text(root, "Message") or "",
        request_id=_nonempty(root, "RequestId"),
        host_id=_nonempty(root, "HostId"),
        resource=_nonempty(root, "Resource"),
        key=_nonempty(root, "Key"),
        bucket=_nonempty(root, "BucketName"),
        region=_nonempty(root, "Region"),
    )


def parse_error(body: bytes) -> ErrorInfo | None:
    """The ``<Error>`` in ``body``; ``None`` if the body is empty, unreadable, not an
    ``<Error>`` document or one without a ``<Code>`` (the caller then goes by status)."""
    if not body.strip():
        return None
    try:
        root = _parse(body)
    except MalformedResponseError:
        return None
    if _local(root.tag) != "Error":
        return None
    return _error_info(root)


# --------------------------------------------------------------------------- listings


def parse_list_objects_v2(body: bytes) -> ListObjectsPage:
    """A ``<ListBucketResult>`` page; keys and prefixes are URL-decoded if it says so."""
    root = _result(body, "ListBucketResult")
    decode = _decoder(root)
    objects = tuple(
        ObjectSummary(
            key=decode(_required(item, "Key")),
            size=_required_int(item, "Size"),
            etag=unquote_etag((_text(item, "ETag") or "").strip()),
            last_modified=_timestamp(item, "LastModified"),
            storage_class=_nonempty(item, "StorageClass"),
        )
        for item in _children(root, "Contents")
    )
    prefixes = tuple(
        CommonPrefix(decode(node.text or ""))
        for group in _children(root, "CommonPrefixes")
        for node in _children(group, "Prefix")
    )
    return ListObjectsPage(
        objects=objects,
        prefixes=prefixes,
        is_truncated=_bool(root, "IsTruncated"),
        next_continuation_token=_nonempty(root, "NextContinuationToken"),
        key_count=_int(root, "KeyCount"),
    )


def parse_list_object_versions(body: bytes) -> ListVersionsPage:
    """A ``<ListVersionsResult>`` page, entries in document order (key, then newest first)."""
    root = _result(body, "ListVersionsResult")
    decode = _decoder(root)
    entries: list[ObjectVersion | DeleteMarker] = []
    for item in root:
        kind = _local(item.tag)
        if kind == "Version":
            entries.append(
                ObjectVersion(
                    key=decode(_required(item, "Key")),
                    version_id=_text(item, "VersionId") or "null",
                    is_latest=_bool(item, "IsLatest"),
                    size=_required_int(item, "Size"),
                    etag=unquote_etag((_text(item, "ETag") or "").strip()),
                    last_modified=_timestamp(item, "LastModified"),
                    storage_class=_nonempty(item, "StorageClass"),
                )
            )
        elif kind == "DeleteMarker":
            entries.append(
                DeleteMarker(
                    key=decode(_required(item, "Key")),
                    version_id=_text(item, "VersionId") or "null",
                    is_latest=_bool(item, "IsLatest"),
                    last_modified=_timestamp(item, "LastModified"),
                )
            )
    prefixes = tuple(
        CommonPrefix(decode(node.text or ""))
        for group in _children(root, "CommonPrefixes")
        for node in _children(group, "Prefix")
    )
    return ListVersionsPage(
        entries=tuple(entries),
        prefixes=prefixes,
        is_truncated=_bool(root, "IsTruncated"),
        next_key_marker=_nonempty(root, "NextKeyMarker"),
        next_version_id_marker=_nonempty(root, "NextVersionIdMarker"),
    )


def build_versioning_configuration(enabled: bool) -> bytes:
    """The ``<VersioningConfiguration>`` body: versioning Enabled or Suspended."""
    status = "Enabled" if enabled else "Suspended"
    return _document("VersioningConfiguration", f"<Status>{status}</Status>")


def parse_versioning(body: bytes) -> str | None:
    """The bucket's versioning status: ``"Enabled"``, ``"Suspended"`` or None (never set)."""
    return _nonempty(_result(body, "VersioningConfiguration"), "Status")


def build_tagging(tags: Mapping[str, str]) -> bytes:
    """The ``<Tagging>`` body for an object's tags."""
    if not isinstance(tags, Mapping):
        raise InvalidRequestError("tags must be a mapping of str to str")
    items: list[str] = []
    for name, value in tags.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise InvalidRequestError("tag keys and values must be str (keys non-empty)")
        key_xml, value_xml = _escape(name, "a tag key"), _escape(value, "a tag value")
        items.append(f"<Tag><Key>{key_xml}</Key><Value>{value_xml}</Value></Tag>")
    return _document("Tagging", f"<TagSet>{''.join(items)}</TagSet>")


def parse_tagging(body: bytes) -> dict[str, str]:
    """An object's tags from a ``<Tagging>`` answer."""
    root = _result(body, "Tagging")
    tags: dict[str, str] = {}
    for tag_set in _children(root, "TagSet"):
        for tag in _children(tag_set, "Tag"):
            tags[_required(tag, "Key")] = _text(tag, "Value") or ""
    return tags


def parse_list_multipart_uploads(body: bytes) -> ListUploadsPage:
    """A ``<ListMultipartUploadsResult>`` page; keys are URL-decoded if it says so."""
    root = _result(body, "ListMultipartUploadsResult")
    decode = _decoder(root)
    uploads = tuple(
        MultipartUpload(
            key=decode(_required(item, "Key")),
            upload_id=_required(item, "UploadId"),
            initiated=_timestamp(item, "Initiated"),
        )
        for item in _children(root, "Upload")
    )
    next_key = _nonempty(root, "NextKeyMarker")
    return ListUploadsPage(
        uploads=uploads,
        is_truncated=_bool(root, "IsTruncated"),
        next_key_marker=None if next_key is None else decode(next_key),
        next_upload_id_marker=_nonempty(root, "NextUploadIdMarker"),
    )


def parse_list_parts(body: bytes) -> ListPartsPage:
    """A ``<ListPartsResult>`` page (``next_part_number_marker`` as the server sent it)."""
    root = _result(body, "ListPartsResult")
    parts = tuple(
        PartInfo(
            part_number=_required_int(item, "PartNumber"),
            etag=unquote_etag((_text(item, "ETag") or "").strip()),
            size=_required_int(item, "Size"),
            last_modified=_timestamp(item, "LastModified"),
        )
        for item in _children(root, "Part")
    )
    return ListPartsPage(
        parts=parts,
        is_truncated=_bool(root, "IsTruncated"),
        next_part_number_marker=_int(root, "NextPartNumberMarker"),
    )


def parse_list_buckets(body: bytes) -> list[str]:
    """The bucket names of a ``<ListAllMyBucketsResult>``."""
    root = _result(body, "ListAllMyBucketsResult")
    return [
        _required(bucket, "Name")
        for group in _children(root, "Buckets")
        for bucket in _children(group, "Bucket")
    ]


# --------------------------------------------------------------------------- single results


def parse_delete_objects_result(body: bytes) -> DeleteObjectsResult:
    """A ``<DeleteResult>``: keys deleted and per-key errors (quiet mode lists only errors)."""
    root = _result(body, "DeleteResult")
    return DeleteObjectsResult(
        deleted=tuple(_required(item, "Key") for item in _children(root, "Deleted")),
        errors=tuple(
            DeleteError(
                key=_required(item, "Key"),
                code=(_text(item, "Code") or "").strip(),
                message=_text(item, "Message") or "",
            )
            for item in _children(root, "Error")
        ),
    )


def parse_initiate_multipart_upload(body: bytes) -> str:
    """The UploadId of an ``<InitiateMultipartUploadResult>``."""
    root = _result(body, "InitiateMultipartUploadResult")
    upload_id = (_text(root, "UploadId") or "").strip()
    if not upload_id:
        raise MalformedResponseError("<InitiateMultipartUploadResult> has no <UploadId>")
    return upload_id


def _etag_of(root: ET.Element) -> str:
    etag = unquote_etag(_required(root, "ETag").strip())
    if not etag:
        raise MalformedResponseError(f"<{_local(root.tag)}> has an empty <ETag>")
    return etag


def parse_complete_multipart_upload(body: bytes) -> str | None:
    """The (unquoted) ETag of a ``<CompleteMultipartUploadResult>``, ``None`` when it has
    none or an empty one (Ceph RGW; the object exists all the same); raises on an
    ``<Error>``."""
    root = _result(body, "CompleteMultipartUploadResult")
    return unquote_etag((_text(root, "ETag") or "").strip()) or None


def parse_copy_object_result(body: bytes) -> CopyObjectResult:
    """A ``<CopyObjectResult>``; raises on an ``<Error>`` (the version id is a header)."""
    root = _result(body, "CopyObjectResult")
    return CopyObjectResult(etag=_etag_of(root), last_modified=_timestamp(root, "LastModified"))


def parse_copy_part_result(body: bytes) -> str:
    """The (unquoted) ETag of a ``<CopyPartResult>``; raises on an ``<Error>``."""
    return _etag_of(_result(body, "CopyPartResult"))


def parse_lifecycle_configuration(body: bytes) -> list[LifecycleRule]:
    """The expire-after-days rules of a ``<LifecycleConfiguration>``.

    The prefix is read from ``<Filter><Prefix>``, ``<Filter><And><Prefix>`` or the
    legacy ``<Rule><Prefix>``; rules without ``<Expiration><Days>`` are skipped.
    """
    root = _result(body, "LifecycleConfiguration")
    rules: list[LifecycleRule] = []
    for rule in _children(root, "Rule"):
        expiration = _child(rule, "Expiration")
        days = None if expiration is None else _int(expiration, "Days")
        if days is None:
            continue
        rules.append(
            LifecycleRule(
                id=_text(rule, "ID") or "",
                days=days,
                prefix=_rule_prefix(rule),
                enabled=(_text(rule, "Status") or "").strip() == "Enabled",
            )
        )
    return rules


def _rule_prefix(rule: ET.Element) -> str:
    rule_filter = _child(rule, "Filter")
    if rule_filter is not None:
        prefix = _text(rule_filter, "Prefix")
        if prefix is None:
            conjunction = _child(rule_filter, "And")
            if conjunction is not None:
                prefix = _text(conjunction, "Prefix")
        if prefix is not None:
            return prefix
    return _text(rule, "Prefix") or ""


# --------------------------------------------------------------------------- building

# Characters XML 1.0 can carry: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-].
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def _escape(value: str, what: str) -> str:
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise InvalidRequestError(
            f"{what} contains U+{ord(bad.group()):04X} at index {bad.start()}, "
            "which an XML 1.0 request body cannot carry"
        )
    return value.translate(_ESCAPES)


def _document(root: str, inner: str) -> bytes:
    return f'{_DECLARATION}<{root} xmlns="{S3_NAMESPACE}">{inner}</{root}>'.encode()


def build_delete_objects(
    keys: Sequence[str | tuple[str, str]], *, quiet: bool = True
) -> bytes:
    """The ``<Delete>`` body of DeleteObjects for 1 to 1000 keys (a ``(key, version_id)``
    pair deletes that version)."""
    if isinstance(keys, str | bytes):
        raise InvalidRequestError("delete_objects takes a sequence of keys, not a single string")
    if not keys:
        raise InvalidRequestError("delete_objects needs at least one key")
    if len(keys) > MAX_DELETE_KEYS:
        raise InvalidRequestError(
            f"delete_objects takes at most {MAX_DELETE_KEYS} keys per request, got {len(keys)}"
        )
    items: list[str] = ["<Quiet>true</Quiet>" if quiet else "<Quiet>false</Quiet>"]
    for position, entry in enumerate(keys):
        key, version = entry if isinstance(entry, tuple) else (entry, None)
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"key at position {position} is not a non-empty string")
        inner = f"<Key>{_escape(key, f'key at position {position}')}</Key>"
        if version is not None:
            if not isinstance(version, str) or not version:
                raise InvalidRequestError(f"version id at position {position} is not a str")
            escaped = _escape(version, f"version id at position {position}")
            inner += f"<VersionId>{escaped}</VersionId>"
        items.append(f"<Object>{inner}</Object>")
    return _document("Delete", "".join(items))


_CHECKSUM_ELEMENTS = {"crc32": "ChecksumCRC32", "sha256": "ChecksumSHA256"}


def build_complete_multipart_upload(parts: Sequence[CompletedPart]) -> bytes:
    """The ``<CompleteMultipartUpload>`` body; parts strictly ascending, ETags sent quoted."""
    if not parts:
        raise InvalidRequestError("a multipart upload needs at least one part to complete")
    items: list[str] = []
    previous = 0
    for position, part in enumerate(parts):
        number = part.part_number
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidRequestError(f"part at position {position} has a non-integer number")
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidRequestError(
                f"part at position {position} has number {number}, outside 1..{MAX_PART_NUMBER}"
            )
        if number <= previous:
            raise InvalidRequestError(
                f"parts must be in ascending part-number order without repeats: "
                f"part at position {position} has number {number} after {previous}"
            )
        previous = number
        etag = unquote_etag(part.etag)
        if not etag:
            raise InvalidRequestError(f"part {number} has an empty ETag")
        etag = _escape(quote_etag(etag), f"the ETag of part {number}")
        checksum = ""
        if part.checksum is not None and part.checksum_algorithm is not None:
            element = _CHECKSUM_ELEMENTS[part.checksum_algorithm]
            value = _escape(part.checksum, f"the checksum of part {number}")
            checksum = f"<{element}>{value}</{element}>"
        items.append(f"<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag>{checksum}</Part>")
    return _document("CompleteMultipartUpload", "".join(items))


def build_lifecycle_configuration(rules: Sequence[LifecycleRule]) -> bytes:
    """The ``<LifecycleConfiguration>`` body for expire-after-days rules."""
    if not rules:
        raise InvalidRequestError(
            "a lifecycle configuration needs at least one rule (delete it to remove all)"
        )
    if len(rules) > MAX_LIFECYCLE_RULES:
        raise InvalidRequestError(
            f"a lifecycle configuration holds at most {MAX_LIFECYCLE_RULES} rules"
        )
    seen: set[str] = set()
    items: list[str] = []
    for position, rule in enumerate(rules):
        if not isinstance(rule.id, str) or not rule.id:
            raise InvalidRequestError(f"lifecycle rule at position {position} has an empty id")
        if len(rule.id) > MAX_RULE_ID_LENGTH:
            raise InvalidRequestError(
                f"lifecycle rule id at position {position} is longer than "
                f"{MAX_RULE_ID_LENGTH} characters"
            )
        if rule.id in seen:
            raise InvalidRequestError(f"lifecycle rule id {rule.id!r} is used more than once")
        seen.add(rule.id)
        if isinstance(rule.days, bool) or not isinstance(rule.days, int) or rule.days < 1:
            raise InvalidRequestError(
                f"lifecycle rule {rule.id!r} must expire after a whole number of days >= 1, "
                f"got {rule.days!r}"
            )
        rule_id = _escape(rule.id, f"lifecycle rule id at position {position}")
        prefix = _escape(rule.prefix, f"the prefix of lifecycle rule {rule.id!r}")
        status = "Enabled" if rule.enabled else "Disabled"
        items.append(
            f"<Rule><ID>{rule_id}</ID><Filter><Prefix>{prefix}</Prefix></Filter>"
            f"<Status>{status}</Status><Expiration><Days>{rule.days}</Days></Expiration></Rule>"
        )
    return _document("LifecycleConfiguration", "".join(items))


def build_create_bucket_configuration(region: str) -> bytes | None:
    """The CreateBucket body naming ``region``; ``None`` for us-east-1 (and no region)."""
    if not region or region == "us-east-1":
        return None
    constraint = _escape(region, "the region")
    return _document(
        "CreateBucketConfiguration", f"<LocationConstraint>{constraint}</LocationConstraint>"
    )
