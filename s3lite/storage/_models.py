"""Values of the storage layer: store codes, settings, file info, reports, argument checks.

Rule: nothing here does I/O; these are values and pure checks.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, get_args
from uuid import UUID

from ._errors import (
    EmptyFileName,
    FileNotFoundInStorage,
    InvalidOwner,
    InvalidStorageRequest,
    UnknownFeature,
    UnknownStorageCode,
)

__all__ = [
    "ACTIVE_FILE_CONTENT_STORAGE",
    "DATABASE",
    "FEATURES",
    "FILE_STATES",
    "LIVE_STATES",
    "MOVING_STATES",
    "RECYCLED_STATES",
    "S3",
    "STORAGE_CODES",
    "USE_BASE_ENTITY_FILE_DELETE_LISTENER",
    "FileInfo",
    "FileState",
    "MigrationFailure",
    "MigrationReport",
    "PurgeReport",
    "RepairReport",
    "StorageCode",
    "check_feature",
    "check_file_id",
    "check_file_name",
    "check_owner",
    "check_record_id",
    "check_schema",
    "check_storage_code",
    "record_id_from_text",
]

StorageCode = Literal["Database", "S3"]
"""Where a file's content lives."""

DATABASE: Final = "Database"
S3: Final = "S3"
STORAGE_CODES: Final[tuple[StorageCode, ...]] = (DATABASE, S3)

FileState = Literal["uploading", "active", "deleting", "deleted", "restoring"]
"""``uploading`` until the content is stored; ``deleting`` / ``restoring`` while content
moves to / from the recycle bin (a crash leaves them there until ``repair`` or a rerun)."""

FILE_STATES: Final[tuple[FileState, ...]] = get_args(FileState)
"""Every file state, in the order above (the SQL ``CHECK`` is generated from it)."""
LIVE_STATES: Final[tuple[FileState, ...]] = ("active",)
"""A listed, readable file."""
MOVING_STATES: Final[tuple[FileState, ...]] = ("deleting", "restoring")
"""Content on its way to or from the recycle bin (finished by a rerun or ``repair``)."""
RECYCLED_STATES: Final[tuple[FileState, ...]] = ("deleting", "deleted", "restoring")
"""A file (being) deleted or not yet restored: ``FileInfo.deleted``."""

ACTIVE_FILE_CONTENT_STORAGE: Final = "ActiveFileContentStorage"
"""The setting naming the store that receives new files (default ``Database``)."""

USE_BASE_ENTITY_FILE_DELETE_LISTENER: Final = "UseBaseEntityFileDeleteListener"
"""Feature toggle: deleting an owning record also recycles the files attached to it."""

FEATURES: Final[dict[str, bool]] = {USE_BASE_ENTITY_FILE_DELETE_LISTENER: False}
"""The known feature toggles and their defaults."""

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MAX_NAME = 1024
_MAX_RECORD_ID = 250


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the metadata database knows about one file."""

    id: UUID
    schema: str
    """Entity schema name of the owner, e.g. ``ActivityFile``."""
    record_id: UUID | str
    """Id of the owning record (a UUID; other record ids are kept as given)."""
    name: str
    size: int
    version: int
    storage: StorageCode
    """The store holding the content: ``Database`` or ``S3``."""
    state: FileState
    sha256: str | None
    """Hex SHA-256 of the content (``None`` only while uploading)."""
    created_at: datetime
    modified_at: datetime
    deleted_at: datetime | None = None

    @property
    def deleted(self) -> bool:
        """Whether the file is (being) deleted or not yet restored."""
        return self.state in RECYCLED_STATES


@dataclass(frozen=True, slots=True)
class MigrationFailure:
    """A file that could not be migrated; it stayed in its original store."""

    file_id: UUID
    name: str
    error: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """The outcome of ``FileStorage.migrate``."""

    source: StorageCode
    target: StorageCode
    migrated: int = 0
    """Files now in the target store, verified, their source content removed."""
    skipped: int = 0
    """Files that changed (deleted, moved) while the migration ran; left as they are."""
    failed: tuple[MigrationFailure, ...] = ()
    """Files that failed; each stayed in the source store."""
    cleaned: int = 0
    """Leftover source copies of earlier, interrupted migrations that were removed."""
    remaining: int = 0
    """Active files still in the source store that match the filters."""
    bytes: int = 0
    """Content bytes copied."""

    @property
    def ok(self) -> bool:
        """Whether no file failed."""
        return not self.failed


@dataclass(frozen=True, slots=True)
class RepairReport:
    """The outcome of ``FileStorage.repair``: interrupted operations finished or undone."""

    deletes_finished: int = 0
    restores_finished: int = 0
    leftovers_removed: int = 0
    uploads_discarded: int = 0
    failed: tuple[tuple[UUID, str], ...] = field(default=())
    leases_released: int = 0
    """Leases left by processes that died (on this host) or expired (anywhere)."""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """The outcome of ``FileStorage.purge``: recycled files removed for good."""

    purged: int = 0
    failed: tuple[tuple[UUID, str], ...] = field(default=())


# --- argument checks ---------------------------------------------------------------


def check_storage_code(code: object) -> StorageCode:
    """The canonical store code for ``code`` (case-insensitive)."""
    if isinstance(code, str):
        for known in STORAGE_CODES:
            if code.strip().lower() == known.lower():
                return known
    shown = repr(code)[:40]
    raise UnknownStorageCode(f"unknown store code {shown}; use one of: {', '.join(STORAGE_CODES)}")


def check_feature(name: object) -> str:
    """The canonical name of a known feature toggle."""
    if isinstance(name, str):
        for known in FEATURES:
            if name.strip().lower() == known.lower():
                return known
        close = difflib.get_close_matches(name, list(FEATURES), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        shown = repr(name[:60])
    else:
        hint, shown = "", f"of type {type(name).__name__}"
    raise UnknownFeature(f"unknown feature {shown}{hint}; known: {', '.join(FEATURES)}")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


def check_file_name(name: object) -> str:
    """A file name: non-empty, not only whitespace, no control characters."""
    if not isinstance(name, str):
        raise InvalidStorageRequest(f"file name must be a str, not {type(name).__name__}")
    if not name.strip():
        raise EmptyFileName("file name is empty")
    if _has_control(name):
        raise InvalidStorageRequest("file name must not contain control characters")
    if len(name) > _MAX_NAME:
        raise InvalidStorageRequest(f"file name is longer than {_MAX_NAME} characters")
    return name


def check_schema(schema: object) -> str:
    """An entity schema name such as ``ActivityFile``."""
    if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
        shown = repr(schema)[:60]
        raise InvalidOwner(
            f"entity schema name {shown} is invalid: use letters, digits and '_' "
            "(e.g. 'ActivityFile')"
        )
    return schema


def check_owner(schema: object, record_id: object) -> tuple[str, str]:
    """The owner as stored: schema name and record id text (UUIDs in canonical form)."""
    return check_schema(schema), check_record_id(record_id)


def check_record_id(record_id: object) -> str:
    """A record id as stored: a UUID in canonical form, or a non-empty string."""
    if isinstance(record_id, UUID):
        return str(record_id)
    if not isinstance(record_id, str):
        raise InvalidOwner(f"record id must be a UUID or str, not {type(record_id).__name__}")
    text = record_id.strip()
    if not text or _has_control(text) or len(text) > _MAX_RECORD_ID:
        raise InvalidOwner("record id must be a non-empty string without control characters")
    try:
        return str(UUID(text))
    except ValueError:
        return text


def record_id_from_text(text: str) -> UUID | str:
    """A stored record id as ``FileInfo`` shows it."""
    try:
        parsed = UUID(text)
    except ValueError:
        return text
    return parsed if str(parsed) == text else text


def check_file_id(file_id: object) -> UUID:
    """A file id from a ``UUID`` or its text (an unparsable id names no file)."""
    if isinstance(file_id, UUID):
        return file_id
    if isinstance(file_id, str):
        try:
            return UUID(file_id.strip())
        except ValueError:
            raise FileNotFoundInStorage(
                file_id[:60], f"file {file_id[:60]!r} not found: not a file id (a UUID)"
            ) from None
    raise InvalidStorageRequest(f"file id must be a UUID or str, not {type(file_id).__name__}")
