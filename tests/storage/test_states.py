"""States as data: the file-state groups, the SQL CHECK made from them, the ``Upload``
machine and the ``FileStorage`` lifecycle."""

from __future__ import annotations

import types
import uuid
from pathlib import Path
from typing import cast, get_args

import pytest

from s3lite.storage import FileStorage, InvalidStorageRequest, StorageNotConfigured
from s3lite.storage._models import (
    FILE_STATES,
    LIVE_STATES,
    MOVING_STATES,
    RECYCLED_STATES,
    FileState,
)
from s3lite.storage._upload import _TRANSITIONS, UploadState
from tests.storage.dbhelpers import DatabaseSpec, IntegrityErrors, execute

pytestmark = pytest.mark.anyio


def test_the_state_groups_cover_every_state_once() -> None:
    assert get_args(FileState) == FILE_STATES
    assert set(MOVING_STATES) < set(RECYCLED_STATES)
    assert set(LIVE_STATES).isdisjoint(RECYCLED_STATES)
    assert set(LIVE_STATES) | set(RECYCLED_STATES) | {"uploading"} == set(FILE_STATES)


async def test_the_database_refuses_a_state_not_in_file_state(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"x")
    for state in FILE_STATES:
        execute(database, "UPDATE files SET state = ? WHERE id = ?", (state, str(info.id)))
    with pytest.raises(IntegrityErrors, match=r"(?i)check"):
        execute(database, "UPDATE files SET state = 'archived' WHERE id = ?", (str(info.id),))
    with pytest.raises(IntegrityErrors, match=r"(?i)check"):
        execute(database, "UPDATE files SET storage = 'Tape' WHERE id = ?", (str(info.id),))


def test_the_upload_transitions_are_one_table() -> None:
    assert set(_TRANSITIONS) == set(get_args(UploadState))
    assert all(not _TRANSITIONS[end] for end in ("complete", "aborted"))


async def test_an_upload_walks_its_states(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        upload = fs.begin_upload("ActivityFile", uuid.uuid4(), "a.txt")
        seen = [upload.state]
        await upload.write(b"first ")
        seen.append(upload.state)
        info = await upload.complete()
        seen.append(upload.state)
        assert seen == ["new", "writing", "complete"]
        assert await upload.complete() is info
        with pytest.raises(RuntimeError, match="this upload is complete"):
            await upload.write(b"more")
        await upload.abort()  # nothing to abort: stays complete
        assert upload.state == "complete"

        aborted = fs.begin_upload("ActivityFile", uuid.uuid4(), "b.txt")
        await aborted.abort()
        assert aborted.state == "aborted"
        with pytest.raises(RuntimeError, match="this upload is aborted"):
            await aborted.write(b"x")
        assert [f.name async for f in fs.list()] == ["a.txt"]

        await fs.set_active_storage("Database")
        failing = fs.begin_upload("ActivityFile", uuid.uuid4(), "c.txt")
        await fs._meta.set_setting("ActiveFileContentStorage", "S3")  # not connected here
        with pytest.raises(StorageNotConfigured):
            await failing.write(b"x")
        assert failing.state == "new"  # nothing was written: it can be tried again


async def test_file_storage_lifecycle_errors(database: DatabaseSpec) -> None:
    fs = FileStorage(database)
    with pytest.raises(RuntimeError, match="not open"):
        await fs.active_storage()
    async with fs:
        with pytest.raises(RuntimeError, match="more than once"):
            await fs.__aenter__()
        assert await fs.active_storage() == "Database"
    with pytest.raises(RuntimeError, match="closed"):
        await fs.active_storage()
    with pytest.raises(RuntimeError, match="reopen"):
        await fs.__aenter__()
    await fs.aclose()  # idempotent


async def test_a_failed_open_closes_what_it_opened(database: DatabaseSpec, tmp_path: Path) -> None:
    fs = FileStorage(database, config_file=tmp_path / "missing.config")
    with pytest.raises(Exception):  # noqa: B017 - whatever reading the config raises
        await fs.__aenter__()
    with pytest.raises(RuntimeError, match="not open"):
        await fs._db.run(lambda conn: None)
    with pytest.raises(RuntimeError, match="closed"):
        await fs.active_storage()


def test_connection_string_and_config_file_together_is_a_usage_error(
    database: DatabaseSpec,
) -> None:
    with pytest.raises(InvalidStorageRequest, match="not both") as caught:
        FileStorage(database, "ServiceUrl=http://x", config_file="ConnectionStrings.config")
    assert isinstance(caught.value, ValueError)


async def test_leaving_a_reader_block_closes_its_stream(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a.bin", b"x" * (3 * 1024 * 1024))
        async with fs.open(info.id) as reader:
            assert reader.info == info
            async for _ in reader:
                break
        generator = cast("types.AsyncGeneratorType[bytes, None]", reader._iterator)
        assert generator is not None and generator.ag_frame is None
        await reader.aclose()  # again: nothing happens
