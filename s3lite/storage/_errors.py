"""The errors of the file storage layer; every one is an ``s3lite.StorageError``.

    StorageError (s3lite)
    ├── FileNotFoundInStorage        no file with this id (also a LookupError)
    │   └── FileDeleted              the file is in the recycle bin: restore it first
    ├── InvalidStorageRequest        a bad argument (also a ValueError)
    │   ├── EmptyFileName
    │   ├── InvalidOwner             bad entity schema name or record id
    │   ├── UnknownStorageCode       not "Database" or "S3"
    │   └── UnknownFeature           not a known feature toggle
    ├── StorageNotConfigured         the store a file or an operation needs has no connection
    ├── StorageAlreadyConfigured     a second S3 storage was configured
    ├── FileBusy                     another process is changing the file (try again)
    ├── StorageDatabaseError         the storage database failed (SQLite or PostgreSQL:
    │                            locked, corrupt, unreachable, refused)
    └── ContentMissing               the store named by a file's metadata lacks its content

A bad connection string raises ``s3lite.ConfigurationError``; corrupt content
(size or SHA-256 differs from the metadata) raises ``s3lite.IntegrityError``.
Messages name files by id and stores by code; they never contain a secret.
"""

from __future__ import annotations

from uuid import UUID

from s3lite._exceptions import StorageError

__all__ = [
    "ContentMissing",
    "EmptyFileName",
    "FileBusy",
    "FileDeleted",
    "FileNotFoundInStorage",
    "InvalidOwner",
    "InvalidStorageRequest",
    "StorageAlreadyConfigured",
    "StorageDatabaseError",
    "StorageNotConfigured",
    "UnknownFeature",
    "UnknownStorageCode",
]


class _Rebuilt(StorageError):
    """Pickles by its constructor arguments (which differ from its message)."""

    _init_args: tuple[object, ...] = ()

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), self._init_args)


class FileNotFoundInStorage(_Rebuilt, LookupError):
    """No file has this id (or its upload has not finished)."""

    def __init__(self, file_id: UUID | str, message: str | None = None) -> None:
        self.file_id = file_id
        self._init_args = (file_id, message)
        super().__init__(message or f"file {file_id} not found")


class FileDeleted(FileNotFoundInStorage):
    """The file was deleted (it is in the recycle bin); ``restore`` brings it back."""

    def __init__(self, file_id: UUID | str) -> None:
        super().__init__(
            file_id, f"file {file_id} is deleted (in the recycle bin); restore it first"
        )
        self._init_args = (file_id,)


class InvalidStorageRequest(StorageError, ValueError):
    """An argument was rejected before anything was stored."""


class EmptyFileName(InvalidStorageRequest):
    """A file name is empty or only whitespace."""


class InvalidOwner(InvalidStorageRequest):
    """An entity schema name or record id is empty or malformed."""


class UnknownStorageCode(InvalidStorageRequest):
    """A store code other than ``Database`` or ``S3``."""


class UnknownFeature(InvalidStorageRequest):
    """A feature toggle name the storage layer does not know."""


class StorageNotConfigured(StorageError):
    """The store that a file or an operation needs has no connection (e.g. S3, or its
    recycle bucket, is missing)."""


class StorageAlreadyConfigured(StorageError):
    """A second S3 storage was configured; only one can be connected."""


class FileBusy(_Rebuilt):
    """Another process holds the file's lease (it is deleting, restoring or migrating it)."""

    def __init__(self, file_id: UUID | str, holder: str) -> None:
        self.file_id = file_id
        self.holder = holder
        self._init_args = (file_id, holder)
        super().__init__(
            f"file {file_id} is busy: another process ({holder}) is changing it; try again"
        )


class StorageDatabaseError(StorageError):
    """The storage database failed: it cannot be opened or reached, refused the login,
    was locked too long, or is corrupt.  The message names the SQLite path or the
    PostgreSQL user, host and database, never a password."""


class ContentMissing(_Rebuilt):
    """The store named by a file's metadata does not hold the file's content."""

    def __init__(self, file_id: UUID | str, where: str) -> None:
        self.file_id = file_id
        self._init_args = (file_id, where)
        super().__init__(f"content of file {file_id} is missing from {where}")


class ContentConflict(_Rebuilt):
    """A store already holds other content under the key a move or a migration writes:
    it is left as it is (never overwritten), and the operation stops."""

    def __init__(self, file_id: UUID | str, where: str) -> None:
        self.file_id = file_id
        self._init_args = (file_id, where)
        super().__init__(
            f"{where} already holds different content for file {file_id}; it was not "
            "overwritten (run repair, or remove it if it is a stale copy)"
        )
