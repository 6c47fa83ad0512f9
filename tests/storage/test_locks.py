"""Per-file locks across processes: leases in the database."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid

import anyio
import pytest

from s3lite.storage import FileBusy, FileStorage
from tests.storage.dbhelpers import DatabaseSpec, execute, rows

pytestmark = pytest.mark.anyio


def leases(database: DatabaseSpec) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in rows(database, "SELECT file_id, owner FROM leases")]


def put_lease(database: DatabaseSpec, file_id: uuid.UUID, owner: str, expires_at: str) -> None:
    execute(database, "INSERT INTO leases VALUES (?, ?, ?)", (str(file_id), owner, expires_at))


async def test_a_file_changed_by_another_process_is_busy_until_released(
    database: DatabaseSpec,
) -> None:
    async with FileStorage(database) as first, FileStorage(database) as second:
        info = await first.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
        second._locks.wait_seconds = 0.3
        async with first._locks.hold(info.id):
            with pytest.raises(FileBusy, match="is busy"):
                await second.delete(info.id)
            assert (await second.info(info.id)).state == "active"
            assert await second.read(info.id) == b"a"  # reads need no lock
        assert (await second.delete(info.id)).state == "deleted"
        assert leases(database) == []


async def test_waiting_for_a_lease_succeeds_once_it_is_released(database: DatabaseSpec) -> None:
    async with FileStorage(database) as first, FileStorage(database) as second:
        info = await first.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
        async with anyio.create_task_group() as group, first._locks.hold(info.id):
            group.start_soon(second.delete, info.id)
            await anyio.sleep(0.2)
            assert (await first.info(info.id)).state == "active"
        assert (await first.info(info.id)).state == "deleted"


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The id of a process that has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


async def test_a_lease_left_by_a_dead_process_is_taken_over(
    database: DatabaseSpec, dead_pid: int
) -> None:
    pid = dead_pid
    async with FileStorage(database) as fs:
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
        put_lease(database, info.id, f"{socket.gethostname()}:{pid}:crashed", "9999-01-01")
        fs._locks.wait_seconds = 0.3
        assert (await fs.delete(info.id)).state == "deleted"


async def test_an_expired_lease_is_taken_over(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
        put_lease(database, info.id, "elsewhere:1:x", "2000-01-01T00:00:00+00:00")
        fs._locks.wait_seconds = 0.3
        assert (await fs.delete(info.id)).state == "deleted"


async def test_a_live_lease_elsewhere_makes_repair_report_the_file(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
        await fs.delete(info.id)
        await fs._meta.move_state(info.id, "deleted", "restoring", deleted=True)
        put_lease(database, info.id, "other-host:1:x", "9999-01-01")
        fs._locks.wait_seconds = 0.2
        report = await fs.repair()
        assert report.restores_finished == 0
        assert [file_id for file_id, _ in report.failed] == [info.id]


async def test_repair_releases_the_leases_of_dead_processes_and_expired_ones_only(
    database: DatabaseSpec, dead_pid: int
) -> None:
    async with FileStorage(database) as fs:
        dead, expired, live = (uuid.uuid4() for _ in range(3))
        put_lease(database, dead, f"{socket.gethostname()}:{dead_pid}:crashed", "9999-01-01")
        put_lease(database, expired, "elsewhere:1:x", "2000-01-01T00:00:00+00:00")
        put_lease(database, live, "other-host:1:x", "9999-01-01")
        report = await fs.repair()
        assert report.leases_released == 2
        assert leases(database) == [(str(live), "other-host:1:x")]
        assert (await fs.repair()).leases_released == 0


async def test_two_storages_racing_for_one_lease_never_both_get_it(
    database: DatabaseSpec,
) -> None:
    file_id = uuid.uuid4()
    async with FileStorage(database) as first, FileStorage(database) as second:
        winners: list[str] = []

        async def take(fs: FileStorage) -> None:
            if await fs._meta.acquire_lease(file_id, fs._locks.owner, 60, lambda _: False) is None:
                winners.append(fs._locks.owner)

        for _ in range(20):
            winners.clear()
            async with anyio.create_task_group() as group:
                group.start_soon(take, first)
                group.start_soon(take, second)
            assert len(winners) == 1
            assert leases(database) == [(str(file_id), winners[0])]
            await first._meta.release_lease(file_id, winners[0])
            await second._meta.release_lease(file_id, winners[0])
