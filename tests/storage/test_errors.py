"""The storage layer's errors: one tree under ``StorageError``, and they survive pickling."""

from __future__ import annotations

import pickle
import uuid

import s3lite
import s3lite.storage


def test_every_storage_error_is_a_storage_error() -> None:
    for name in s3lite.storage.__all__:
        member = getattr(s3lite.storage, name)
        if isinstance(member, type) and issubclass(member, Exception):
            assert issubclass(member, s3lite.StorageError), name


def test_storage_errors_survive_pickling() -> None:
    file_id = uuid.uuid4()
    errors = [
        s3lite.storage.FileNotFoundInStorage(file_id),
        s3lite.storage.FileDeleted(file_id),
        s3lite.storage.FileBusy(file_id, "host:1:x"),
        s3lite.storage.ContentMissing(file_id, "the Database store"),
        s3lite.storage.UnknownStorageCode("unknown store code 'Tape'"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert getattr(copy, "file_id", None) == getattr(error, "file_id", None)
