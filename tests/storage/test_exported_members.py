"""The public surface of ``s3lite.storage`` is exactly its ``__all__``."""

from __future__ import annotations

import pickle
import uuid

import s3lite
import s3lite.storage


def test_all_names_every_public_member_in_sorted_order() -> None:
    public = {name for name in dir(s3lite.storage) if not name.startswith("_")}
    assert set(s3lite.storage.__all__) == public
    assert s3lite.storage.__all__ == sorted(
        s3lite.storage.__all__, key=lambda n: (n.upper() != n, n)
    )


def test_exported_classes_belong_to_the_package() -> None:
    for name in s3lite.storage.__all__:
        member = getattr(s3lite.storage, name)
        if isinstance(member, type):
            assert member.__module__ == "s3lite.storage", name


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
