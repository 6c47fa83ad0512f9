"""Which checksum an upload carries, and what a download is verified against.

Rules of this module:
- Pure decisions over values, plus ``ServerFeatures``: what one client has learnt
  about its server (trailers refused, flexible checksums honoured or not), kept for
  the client's life.  A feature once turned off is never turned back on.
- ``checksum="auto"`` (the default) never makes an upload fail on a server that
  predates trailers or flexible checksums, and never gives up integrity where
  the server offers it:

  =============================  =======================  ===============================
  what the server showed         signed body (http)       unsigned body (https)
  =============================  =======================  ===============================
  nothing yet / takes both       CRC32 (header or         CRC32 (header or trailer)
                                 trailer)
  refused a trailer              in memory: CRC32 header; in memory: CRC32 header;
                                 streams: signed chunks   streams: Content-MD5
  does not honour flexible       SHA-256 payload hash or  Content-MD5
  checksums                      signed chunks
  =============================  =======================  ===============================

  A signed body is checked by the server through its signature (the SHA-256 of an
  in-memory body, or every aws-chunked chunk), so it needs no second checksum.  An
  unsigned body sent before the server has confirmed a flexible checksum (the first
  upload of a client) carries ``Content-MD5`` beside its CRC32, so it is checked by
  whichever the server knows.  A confirmation is an upload's answer echoing its
  checksum, or a CreateMultipartUpload answer naming the algorithm it announced
  (then the parts sent at once need no ``Content-MD5``).
- An explicit algorithm (``"crc32"``, ``"sha256"``, ``"md5"``) or ``None`` is used
  as given, on every server.
- Downloads: a full-object CRC32/SHA-256 the server returns is checked; else a
  whole single-part object is checked against an MD5 ETag (32 hex digits, no
  ``-N``, not SSE-KMS or SSE-C); else only its size (``verified_by``).
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Literal, Protocol

from ._checksums import ChecksumAlgorithm, verifiable_checksum

__all__ = [
    "TRAILER_REFUSALS",
    "ChecksumSetting",
    "ServerFeatures",
    "VerifiedBy",
    "download_check",
    "upload_checksum",
    "with_content_md5",
]

ChecksumSetting = Literal["auto", "crc32", "sha256", "md5"] | None
VerifiedBy = Literal["crc32", "sha256", "etag-md5", "size-only"]

TRAILER_REFUSALS = frozenset({"XAmzContentSHA256Mismatch", "NotImplemented", "InvalidRequest"})
"""Error codes with which servers without aws-chunked trailers refuse a trailer request."""

_MD5_ETAG = re.compile(r"[0-9a-fA-F]{32}")
_KMS = frozenset({"aws:kms", "aws:kms:dsse"})

logger = logging.getLogger("s3lite")


class HeaderLookup(Protocol):
    """Response headers, looked up by lower-case name."""

    def get(self, name: str, /) -> str | None: ...


class ServerFeatures:
    """What the server of one client has shown it lacks (learnt once, kept)."""

    __slots__ = ("_host", "flexible_checksums", "trailers")

    def __init__(self, host: str) -> None:
        self._host = host
        self.trailers = True
        """Whether aws-chunked trailers (``STREAMING-*-TRAILER``) are accepted."""
        self.flexible_checksums: bool | None = None
        """Whether ``x-amz-checksum-*`` on uploads is checked (echoed in the answer);
        ``None`` until the first upload's answer tells."""

    def refuse_trailers(self, code: str) -> None:
        """The server refused a trailer request with ``code``: send no more trailers."""
        if self.trailers:
            self.trailers = False
            logger.info(
                "%s refused an aws-chunked checksum trailer (%s); this client now sends "
                "uploads without trailers (checksum='auto')",
                self._host,
                code,
            )

    def note_create_answer(
        self, algorithm: ChecksumAlgorithm | None, headers: HeaderLookup
    ) -> None:
        """After CreateMultipartUpload announced ``algorithm``: a server that answers
        with the same ``x-amz-checksum-algorithm`` (as AWS does) checks the parts'
        checksums, so the parts need no ``Content-MD5`` before any of them is answered.
        No answer proves nothing: the parts' answers decide then."""
        if algorithm not in ("crc32", "sha256") or self.flexible_checksums is not None:
            return
        if (headers.get("x-amz-checksum-algorithm") or "").lower() == algorithm:
            self.flexible_checksums = True

    def note_upload_answer(
        self, algorithm: ChecksumAlgorithm | None, headers: HeaderLookup
    ) -> None:
        """After a successful upload that carried ``algorithm``: a server that checks
        flexible checksums echoes the value; one that does not is remembered."""
        if algorithm not in ("crc32", "sha256") or self.flexible_checksums is False:
            return
        if headers.get(f"x-amz-checksum-{algorithm}") is not None:
            self.flexible_checksums = True
        else:
            self.flexible_checksums = False
            logger.info(
                "%s did not confirm an x-amz-checksum-%s; this client now protects "
                "uploads with Content-MD5 or payload signatures instead (checksum='auto')",
                self._host,
                algorithm,
            )


def upload_checksum(
    setting: ChecksumSetting,
    features: ServerFeatures,
    *,
    in_memory: bool,
    signed: bool,
) -> ChecksumAlgorithm | None:
    """The checksum one upload body carries (the module's table)."""
    if setting != "auto":
        return setting
    if features.flexible_checksums is not False and (in_memory or features.trailers):
        return "crc32"
    return None if signed else "md5"


def with_content_md5(setting: ChecksumSetting, features: ServerFeatures, *, signed: bool) -> bool:
    """Whether an unsigned ``"auto"`` upload also carries ``Content-MD5``: until the server
    has shown that it checks flexible checksums, nothing else would protect it there."""
    return setting == "auto" and not signed and features.flexible_checksums is None


def uses_trailer(algorithm: ChecksumAlgorithm | None, *, in_memory: bool) -> bool:
    """Whether a body with ``algorithm`` sends its checksum in an aws-chunked trailer."""
    return not in_memory and algorithm in ("crc32", "sha256")


def download_check(
    headers: HeaderLookup,
    checksums: dict[str, str],
    etag: str,
    *,
    whole: bool,
    etag_md5: bool,
) -> tuple[VerifiedBy, ChecksumAlgorithm | None, str | None]:
    """How a GET's body is verified: the label, and the algorithm and expected base64
    value (``None`` for size only).  ``whole`` is False for a ranged GET; ``etag_md5``
    allows the ETag check."""
    if not whole:
        return "size-only", None, None
    stored = verifiable_checksum(checksums, headers.get("x-amz-checksum-type"))
    if stored is not None:
        label: VerifiedBy = "crc32" if stored[0] == "crc32" else "sha256"
        return label, stored[0], stored[1]
    if etag_md5 and is_md5_etag(etag, headers):
        return "etag-md5", "md5", base64.b64encode(bytes.fromhex(etag)).decode("ascii")
    return "size-only", None, None


def is_md5_etag(etag: str, headers: HeaderLookup) -> bool:
    """Whether ``etag`` is the MD5 of the object's bytes, as S3 makes it for a single-part
    object stored without SSE-KMS or SSE-C."""
    if not _MD5_ETAG.fullmatch(etag):
        return False
    if (headers.get("x-amz-server-side-encryption") or "").lower() in _KMS:
        return False
    return headers.get("x-amz-server-side-encryption-customer-algorithm") is None
