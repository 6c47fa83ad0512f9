"""One conformance suite, run against every content store (``Database`` and ``S3``)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from s3lite import IntegrityError
from s3lite.storage import (
    EmptyFileName,
    FileDeleted,
    FileInfo,
    FileNotFoundInStorage,
    FileStorage,
    StorageCode,
)
from s3lite.storage._metadata import Metadata
from s3lite.storage._s3_store import S3Store

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


class SimulatedCrash(Exception):
    """Stands for the process dying between two steps."""


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-looking bytes."""
    return random.Random(seed).randbytes(size)


async def test_upload_then_read_returns_the_same_bytes_and_records_the_store(
    fs: FileStorage, store_code: StorageCode
) -> None:
    record = uuid.uuid4()
    data = payload(3 * MiB + 17)
    info = await fs.upload("ActivityFile", record, "report.pdf", data)
    assert info.schema == "ActivityFile"
    assert info.record_id == record
    assert info.name == "report.pdf"
    assert info.size == len(data)
    assert info.version == 1
    assert info.storage == store_code
    assert info.state == "active"
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.created_at.tzinfo is not None
    assert await fs.read(info.id) == data
    assert await fs.info(str(info.id)) == info


async def test_open_streams_the_content_in_chunks(fs: FileStorage) -> None:
    data = payload(2 * MiB + 5)
    info = await fs.upload("ActivityFile", uuid.uuid4(), "a.bin", data)
    chunks = []
    async with fs.open(info.id) as reader:
        assert reader.info == info
        async for chunk in reader:
            chunks.append(chunk)
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 2 * MiB
    assert b"".join(chunks) == data
    assert b"".join([chunk async for chunk in fs.open(info.id)]) == data
    reader = await fs.open(info.id)
    assert reader.info == info
    assert await reader.read() == data


async def test_upload_accepts_a_path_a_binary_file_and_an_async_iterable(
    fs: FileStorage, tmp_path: Path
) -> None:
    data = payload(MiB + 3)
    path = tmp_path / "in.bin"
    path.write_bytes(data)

    async def gen() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    record = uuid.uuid4()
    from_path = await fs.upload("ActivityFile", record, "p.bin", path)
    with path.open("rb") as file:
        from_file = await fs.upload("ActivityFile", record, "f.bin", file)
    from_stream = await fs.upload("ActivityFile", record, "s.bin", gen())
    for info in (from_path, from_file, from_stream):
        assert info.size == len(data)
        assert await fs.read(info.id) == data


async def test_empty_file_round_trips(fs: FileStorage) -> None:
    info = await fs.upload("ActivityFile", uuid.uuid4(), "empty.txt", b"")
    assert info.size == 0
    assert info.sha256 == hashlib.sha256(b"").hexdigest()
    assert await fs.read(info.id) == b""


async def test_parts_of_odd_sizes_are_assembled_in_order(fs: FileStorage) -> None:
    sizes = [1, 3 * MiB + 7, 5 * MiB - 1, 2, 4 * MiB + 13, 999]
    parts = [payload(size, seed) for seed, size in enumerate(sizes)]
    async with fs.begin_upload("ActivityFile", uuid.uuid4(), "parts.bin") as upload:
        file_id = upload.id
        for part in parts:
            await upload.write(part)
    whole = b"".join(parts)
    assert upload.info is not None
    assert upload.info.id == file_id
    assert upload.info.sha256 == hashlib.sha256(whole).hexdigest()
    assert upload.info.size == len(whole)
    assert await fs.read(file_id) == whole


async def test_small_parts_upload_under_the_minimum_part_size(fs: FileStorage) -> None:
    upload = fs.begin_upload("ActivityFile", uuid.uuid4(), "tiny.txt")
    await upload.write(b"first ")
    await upload.write(b"next ")
    info = await upload.complete()
    assert await fs.read(info.id) == b"first next "


async def test_a_failed_parts_upload_leaves_no_file(fs: FileStorage) -> None:
    record = uuid.uuid4()
    with pytest.raises(RuntimeError, match="client gave up"):
        async with fs.begin_upload("ActivityFile", record, "broken.bin") as upload:
            await upload.write(payload(6 * MiB))
            raise RuntimeError("client gave up")
    with pytest.raises(FileNotFoundInStorage):
        await fs.info(upload.id)
    assert [f async for f in fs.list(record_id=record, deleted=None)] == []


async def test_a_failed_upload_stream_leaves_no_file(fs: FileStorage) -> None:
    record = uuid.uuid4()

    async def broken() -> AsyncIterator[bytes]:
        yield payload(MiB)
        raise OSError("disk vanished")

    with pytest.raises(OSError, match="disk vanished"):
        await fs.upload("ActivityFile", record, "broken.bin", broken())
    assert [f async for f in fs.list(record_id=record, deleted=None)] == []


async def test_soft_delete_hides_the_file_and_restore_brings_it_back(fs: FileStorage) -> None:
    data = payload(MiB + 1)
    info = await fs.upload("ActivityFile", uuid.uuid4(), "doc.txt", data)
    deleted = await fs.delete(info.id)
    assert deleted.state == "deleted"
    assert deleted.deleted_at is not None
    with pytest.raises(FileDeleted):
        await fs.read(info.id)
    assert [f.id async for f in fs.list()] == []
    assert [f.id async for f in fs.list(deleted=True)] == [info.id]
    restored = await fs.restore(info.id)
    assert restored.state == "active"
    assert restored.deleted_at is None
    assert restored.storage == info.storage
    assert await fs.read(info.id) == data


async def test_delete_and_restore_are_idempotent(fs: FileStorage) -> None:
    info = await fs.upload("ActivityFile", uuid.uuid4(), "doc.txt", b"content")
    await fs.delete(info.id)
    assert (await fs.delete(info.id)).state == "deleted"
    await fs.restore(info.id)
    assert (await fs.restore(info.id)).state == "active"
    assert await fs.read(info.id) == b"content"


async def test_a_crash_after_recycling_before_the_state_change_is_repaired(
    fs: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = await fs.upload("ActivityFile", uuid.uuid4(), "doc.txt", b"keep me")
    real = Metadata.move_state

    async def crash(self: Metadata, file_id: uuid.UUID, expected: str, new: str, **kw: bool):  # type: ignore[no-untyped-def]
        if new == "deleted":
            raise SimulatedCrash("the process dies before recording 'deleted'")
        return await real(self, file_id, expected, new, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Metadata, "move_state", crash)
    with pytest.raises(SimulatedCrash):
        await fs.delete(info.id)
    monkeypatch.undo()
    assert (await fs.info(info.id)).state == "deleting"
    with pytest.raises(FileDeleted):
        await fs.read(info.id)
    report = await fs.repair()
    assert report.deletes_finished == 1
    assert (await fs.info(info.id)).state == "deleted"
    await fs.restore(info.id)
    assert await fs.read(info.id) == b"keep me"


async def test_record_deletion_recycles_attached_files_only_with_the_toggle_on(
    fs: FileStorage,
) -> None:
    record, other = uuid.uuid4(), uuid.uuid4()
    mine = [await fs.upload("ActivityFile", record, f"{i}.txt", b"x") for i in range(3)]
    theirs = await fs.upload("ActivityFile", other, "other.txt", b"y")
    same_id_other_schema = await fs.upload("ContactFile", record, "c.txt", b"z")

    assert await fs.feature("UseBaseEntityFileDeleteListener") is False
    assert await fs.delete_record("ActivityFile", record) == []
    assert {f.state for f in [await fs.info(m.id) for m in mine]} == {"active"}

    await fs.set_feature("UseBaseEntityFileDeleteListener", True)
    recycled = await fs.delete_record("ActivityFile", record)
    assert sorted(f.id for f in recycled) == sorted(m.id for m in mine)
    assert all(f.state == "deleted" for f in recycled)
    assert (await fs.info(theirs.id)).state == "active"
    assert (await fs.info(same_id_other_schema.id)).state == "active"
    for m in mine:
        await fs.restore(m.id)
        assert await fs.read(m.id) == b"x"


async def test_list_filters_by_schema_and_record(fs: FileStorage) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    f1 = await fs.upload("ActivityFile", a, "1", b"1")
    f2 = await fs.upload("ActivityFile", b, "2", b"2")
    f3 = await fs.upload("ContactFile", a, "3", b"3")
    await fs.delete(f2.id)
    assert [f.id async for f in fs.list()] == [f1.id, f3.id]
    assert [f.id async for f in fs.list(schema="ActivityFile")] == [f1.id]
    assert [f.id async for f in fs.list(record_id=str(a))] == [f1.id, f3.id]
    assert [f.id async for f in fs.list(deleted=True)] == [f2.id]
    assert [f.id async for f in fs.list(deleted=None)] == [f1.id, f2.id, f3.id]


async def test_copy_makes_an_independent_file(fs: FileStorage) -> None:
    data = payload(MiB + 9)
    original = await fs.upload("ActivityFile", uuid.uuid4(), "a.bin", data)
    record = uuid.uuid4()
    copied = await fs.copy(original.id, record_id=record, name="b.bin")
    assert copied.id != original.id
    assert (copied.record_id, copied.name, copied.sha256) == (record, "b.bin", original.sha256)
    await fs.delete(original.id)
    assert await fs.read(copied.id) == data


async def test_purge_removes_recycled_files_for_good(fs: FileStorage) -> None:
    kept = await fs.upload("ActivityFile", uuid.uuid4(), "kept", b"k")
    gone = await fs.upload("ActivityFile", uuid.uuid4(), "gone", b"g")
    await fs.delete(gone.id)
    assert (await fs.purge()).purged == 0  # deleted just now: within the 90 days
    report = await fs.purge(older_than_days=0)
    assert report.purged == 1
    assert not report.failed
    with pytest.raises(FileNotFoundInStorage):
        await fs.info(gone.id)
    assert await fs.read(kept.id) == b"k"


async def test_concurrent_writers_and_deleters_keep_every_file_consistent(
    fs: FileStorage,
) -> None:
    record = uuid.uuid4()
    infos: dict[int, FileInfo] = {}

    async def write(i: int) -> None:
        infos[i] = await fs.upload("ActivityFile", record, f"{i}.txt", payload(1000 + i, i))
        if i % 2:
            await fs.delete(infos[i].id)

    async with anyio.create_task_group() as group:
        for i in range(50):
            group.start_soon(write, i)
    # And delete the same files from many tasks at once.
    async with anyio.create_task_group() as group:
        for i in range(0, 50, 4):
            for _ in range(3):
                group.start_soon(fs.delete, infos[i].id)

    live = {f.id async for f in fs.list(record_id=record)}
    expected_live = {infos[i].id for i in range(50) if i % 2 == 0 and i % 4 != 0}
    assert live == expected_live
    assert len({f.id async for f in fs.list(record_id=record, deleted=True)}) == 50 - len(live)
    for i in range(50):
        if infos[i].id in live:
            assert await fs.read(infos[i].id) == payload(1000 + i, i)
        else:
            restored = await fs.restore(infos[i].id)
            assert restored.size == 1000 + i


async def test_corrupt_content_is_reported_not_returned(
    fs: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"original content")

    async def tampered(self: object, file_id: uuid.UUID) -> AsyncIterator[bytes]:
        yield b"tampered content"

    store = type(fs._store(info.storage))
    monkeypatch.setattr(store, "read", tampered)
    with pytest.raises(IntegrityError):
        await fs.read(info.id)


async def test_download_writes_the_file_under_its_name(fs: FileStorage, tmp_path: Path) -> None:
    info = await fs.upload("ActivityFile", uuid.uuid4(), "../evil/report.pdf", b"pdf")
    written = await fs.download(info.id, tmp_path)
    assert written == tmp_path / "report.pdf"
    assert written.read_bytes() == b"pdf"
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]


async def test_bad_arguments_raise_typed_errors(fs: FileStorage) -> None:
    with pytest.raises(EmptyFileName):
        await fs.upload("ActivityFile", uuid.uuid4(), "  ", b"x")
    with pytest.raises(FileNotFoundInStorage):
        await fs.read(uuid.uuid4())
    with pytest.raises(FileNotFoundInStorage):
        await fs.info("not-a-uuid")
    with pytest.raises(FileNotFoundInStorage):
        await fs.delete(uuid.uuid4())


async def test_reading_a_binary_file_object_is_not_closed_by_upload(fs: FileStorage) -> None:
    buffer = io.BytesIO(b"abc")
    await fs.upload("ActivityFile", uuid.uuid4(), "a", buffer)
    assert not buffer.closed


async def test_repair_discards_an_abandoned_parts_upload(fs: FileStorage) -> None:
    upload = fs.begin_upload("ActivityFile", uuid.uuid4(), "abandoned.bin")
    await upload.write(payload(6 * MiB))  # on S3 a part is already sent
    # The process dies here: neither complete() nor abort() runs.
    with pytest.raises(FileNotFoundInStorage):
        await fs.info(upload.id)
    assert (await fs.repair()).uploads_discarded == 0  # too recent to be abandoned
    report = await fs.repair(abandoned_after=timedelta(0))
    assert report.uploads_discarded == 1
    store = fs._store(await fs.active_storage())
    assert not await store.exists(upload.id)
    if isinstance(store, S3Store):
        pending = [u async for u in store.client.list_multipart_uploads(store.object_bucket)]
        assert pending == []
