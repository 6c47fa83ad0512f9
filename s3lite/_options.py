"""Client and transfer options: frozen values, validated once, on construction.

Rules of this module:
- Every option of the client lives in ``ClientOptions`` or ``TransferOptions``;
  a bad value raises ``ConfigurationError`` naming the option, in ``__post_init__``,
  so nothing downstream checks an option again.
- The limits S3 itself sets (part sizes, part counts, keys per delete) are
  defined here, once.
- Pure values: no I/O, no HTTP library.
"""

from __future__ import annotations

import dataclasses
import math
import ssl
from dataclasses import dataclass, field
from typing import Literal, TypedDict, get_args

from ._checksum_policy import ChecksumSetting
from ._checksums import ALGORITHMS
from ._exceptions import ConfigurationError
from ._retry import RetryPolicy

__all__ = [
    "MAX_DELETE_KEYS",
    "MAX_PARTS",
    "MAX_SINGLE_PUT",
    "MIN_PART_SIZE",
    "ClientOptions",
    "GiB",
    "MiB",
    "OptionArguments",
    "PayloadSigning",
    "TransferOptions",
]

MiB = 1024 * 1024
GiB = 1024 * MiB
MAX_SINGLE_PUT = 5 * GiB
"""The largest object (and the largest part) one PUT may carry."""
MIN_PART_SIZE = 5 * MiB
"""The smallest part S3 accepts, except for the last part of an upload."""
MAX_PARTS = 10_000
"""The most parts one multipart upload may have."""
MAX_DELETE_KEYS = 1000
"""The most keys one DeleteObjects request may name."""

PayloadSigning = Literal["auto", "signed", "unsigned"]


def _int_option(name: str, value: object, low: int, high: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bound = f"between {low} and {int(high)}" if high != math.inf else f"at least {low}"
        raise ConfigurationError(f"{name} must be an int {bound}, got {value!r}")


def _size_option(name: str, value: object, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {unit}, got {value!r}")


def _seconds_option(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < math.inf
    ):
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferOptions:
    """How objects are cut into parts and how many parts are in flight.

    Bodies above ``multipart_threshold`` go as multipart uploads of ``part_size``
    parts (grown to stay within 10,000 parts), ``max_concurrency`` at a time; a
    one-shot stream buffers at most ``max_buffer_size`` bytes.  Copies above
    ``copy_threshold`` use UploadPartCopy with ``copy_part_size`` parts.
    """

    multipart_threshold: int = 8 * MiB
    part_size: int = 8 * MiB
    max_concurrency: int = 8
    max_buffer_size: int = 32 * MiB
    copy_threshold: int = MAX_SINGLE_PUT
    copy_part_size: int = 256 * MiB

    def __post_init__(self) -> None:
        _size_option("part_size", self.part_size, MIN_PART_SIZE, MAX_SINGLE_PUT, "5 MiB and 5 GiB")
        _size_option(
            "copy_part_size", self.copy_part_size, MIN_PART_SIZE, MAX_SINGLE_PUT, "5 MiB and 5 GiB"
        )
        _size_option(
            "multipart_threshold", self.multipart_threshold, 1, MAX_SINGLE_PUT, "1 byte and 5 GiB"
        )
        _size_option("copy_threshold", self.copy_threshold, 1, MAX_SINGLE_PUT, "1 byte and 5 GiB")
        _int_option("max_buffer_size", self.max_buffer_size, 1)
        _int_option("max_concurrency", self.max_concurrency, 1)

    def part_size_for(self, length: int) -> int:
        """The part size for an object of ``length`` bytes: ``part_size``, grown in
        whole MiB when the object would otherwise need more than 10,000 parts."""
        size = max(self.part_size, -(-length // MAX_PARTS))
        return -(-size // MiB) * MiB

    def copy_part_size_for(self, length: int) -> int:
        """The UploadPartCopy part size for a source of ``length`` bytes."""
        return max(self.copy_part_size, -(-length // MAX_PARTS))

    @property
    def buffered_parts_in_flight(self) -> int:
        """How many buffered parts of a one-shot stream may be in flight at once: the
        buffer holds those plus the part being filled."""
        buffers = self.max_buffer_size // self.part_size
        return min(self.max_concurrency, max(1, buffers - 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """Everything that tunes an ``S3Client`` besides where it connects and as whom.

    ``timeout`` bounds each read and write, ``connect_timeout`` each connect;
    ``expect_continue`` (bytes, off by default) sends ``Expect: 100-continue`` with
    bodies at least that long, so a refused upload does not send its body;
    ``payload_signing`` is ``"auto"`` (signed over http, ``UNSIGNED-PAYLOAD`` over
    https), ``"signed"`` or ``"unsigned"``; ``checksum`` protects every upload:
    ``"auto"`` (CRC32 where the server takes it, else Content-MD5 or the payload
    signature; see ``_checksum_policy``), ``"crc32"``, ``"sha256"``, ``"md5"`` or
    ``None`` (then downloads are not checked against MD5 ETags either);
    ``verify`` is ``True``, a CA bundle path or an ``ssl.SSLContext``.
    """

    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_connections: int = 64
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    payload_signing: PayloadSigning = "auto"
    checksum: ChecksumSetting = "auto"
    verify: bool | str | ssl.SSLContext = True
    expect_continue: int | None = None
    transfer: TransferOptions = field(default_factory=TransferOptions)

    def __post_init__(self) -> None:
        _seconds_option("timeout", self.timeout)
        if self.expect_continue is not None:
            _int_option("expect_continue", self.expect_continue, 0)
        _seconds_option("connect_timeout", self.connect_timeout)
        _int_option("max_connections", self.max_connections, 1)
        if not isinstance(self.retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy, got {self.retry!r}")
        if self.payload_signing not in get_args(PayloadSigning):
            raise ConfigurationError(
                "payload_signing must be 'auto', 'signed' or 'unsigned', "
                f"got {self.payload_signing!r}"
            )
        if self.checksum is not None and self.checksum not in ("auto", *ALGORITHMS):
            raise ConfigurationError(
                "checksum must be 'auto', 'crc32', 'sha256', 'md5' or None, "
                f"got {self.checksum!r}"
            )
        if not isinstance(self.verify, bool | str | ssl.SSLContext):
            raise ConfigurationError(
                "verify must be True, False, a CA bundle path or an ssl.SSLContext"
            )
        if not isinstance(self.transfer, TransferOptions):
            raise ConfigurationError("transfer must be a TransferOptions")

    def with_changes(self, **changes: object) -> ClientOptions:
        """A copy with some options changed, by their keyword names (transfer options
        included: ``part_size=...``); an unknown name raises ``ConfigurationError``."""
        unknown = sorted(set(changes) - _CLIENT_FIELDS - _TRANSFER_FIELDS)
        if unknown:
            raise ConfigurationError(
                f"unknown client option(s): {', '.join(unknown)}; accepted: "
                f"{', '.join(sorted(_CLIENT_FIELDS | _TRANSFER_FIELDS - {'transfer'}))}"
            )
        transfer = {k: v for k, v in changes.items() if k in _TRANSFER_FIELDS}
        client = {k: v for k, v in changes.items() if k in _CLIENT_FIELDS}
        if transfer:
            base = client.pop("transfer", self.transfer)
            if not isinstance(base, TransferOptions):
                raise ConfigurationError("transfer must be a TransferOptions")
            client["transfer"] = dataclasses.replace(base, **transfer)  # type: ignore[arg-type]
        return dataclasses.replace(self, **client)  # type: ignore[arg-type]


class OptionArguments(TypedDict, total=False):
    """The option keywords ``S3Client`` accepts one by one (the fields of
    ``ClientOptions`` and ``TransferOptions``)."""

    timeout: float
    connect_timeout: float
    max_connections: int
    retry: RetryPolicy
    payload_signing: PayloadSigning
    checksum: ChecksumSetting
    verify: bool | str | ssl.SSLContext
    expect_continue: int | None
    multipart_threshold: int
    part_size: int
    max_concurrency: int
    max_buffer_size: int
    copy_threshold: int
    copy_part_size: int


_CLIENT_FIELDS = frozenset(f.name for f in dataclasses.fields(ClientOptions))
_TRANSFER_FIELDS = frozenset(f.name for f in dataclasses.fields(TransferOptions))
