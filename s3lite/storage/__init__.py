"""``s3lite.storage``: files attached to CRM records, in the database or in S3.

The database is SQLite (a path: one host) or PostgreSQL (a ``postgresql://`` URL and
the ``s3lite[postgres]`` extra: a catalogue shared by several hosts).

>>> async with FileStorage("files.db", connection_string=None) as fs:
...     info = await fs.upload("ActivityFile", record_id, "report.pdf", b"...")
...     data = await fs.read(info.id)
...     await fs.delete(info.id)          # soft delete: into the recycle bin
...     await fs.restore(info.id)

Everything public is re-exported here; the modules behind it are private.
"""

from ._errors import (
    ContentConflict,
    ContentMissing,
    EmptyFileName,
    FileBusy,
    FileDeleted,
    FileNotFoundInStorage,
    InvalidOwner,
    InvalidStorageRequest,
    StorageAlreadyConfigured,
    StorageDatabaseError,
    StorageNotConfigured,
    UnknownFeature,
    UnknownStorageCode,
)
from ._models import (
    ACTIVE_FILE_CONTENT_STORAGE,
    DATABASE,
    FEATURES,
    S3,
    STORAGE_CODES,
    USE_BASE_ENTITY_FILE_DELETE_LISTENER,
    FileInfo,
    FileState,
    MigrationFailure,
    MigrationReport,
    PurgeReport,
    RepairReport,
    StorageCode,
)
from ._reader import FileReader
from ._service import FileStorage
from ._upload import Upload

__all__ = [
    "ACTIVE_FILE_CONTENT_STORAGE",
    "DATABASE",
    "FEATURES",
    "S3",
    "STORAGE_CODES",
    "USE_BASE_ENTITY_FILE_DELETE_LISTENER",
    "ContentConflict",
    "ContentMissing",
    "EmptyFileName",
    "FileBusy",
    "FileDeleted",
    "FileInfo",
    "FileNotFoundInStorage",
    "FileReader",
    "FileState",
    "FileStorage",
    "InvalidOwner",
    "InvalidStorageRequest",
    "MigrationFailure",
    "MigrationReport",
    "PurgeReport",
    "RepairReport",
    "StorageAlreadyConfigured",
    "StorageCode",
    "StorageDatabaseError",
    "StorageNotConfigured",
    "UnknownFeature",
    "UnknownStorageCode",
    "Upload",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "s3lite.storage"
del _name, _obj
