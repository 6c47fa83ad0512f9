"""Several application hosts on one storage database and one S3: real processes.

Each host is ``tests/storage/host_worker.py`` in its own Python process, on the same
database (a PostgreSQL database, or the same SQLite file) and the same buckets.
Afterwards every file must be in exactly one place (the Database store's rows, the
object bucket or the recycle bucket, read directly), with the content its metadata
records, no file migrated twice, and no lease or unfinished state left behind.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from s3lite import S3Client
from s3lite.storage import DATABASE, S3, FileStorage
from tests.storage.conftest import Buckets
from tests.storage.dbhelpers import DatabaseSpec, rows

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


async def places(
    database: DatabaseSpec, buckets: Buckets, s3: S3Client
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    """Where content physically is: (store, area) per file id, from the stores."""
    found: dict[uuid.UUID, list[tuple[str, str]]] = {}
    content = rows(database, "SELECT file_id, area, complete FROM file_content")
    for file_id, area, complete in content:
        found.setdefault(uuid.UUID(file_id), []).append(
            (DATABASE, area if complete else "incomplete")
        )
    for bucket, area in ((buckets.object_bucket, "objects"), (buckets.recycle_bucket, "recycle")):
        if await s3.bucket_exists(bucket):
            async for entry in s3.list_objects(bucket):
                found.setdefault(uuid.UUID(entry.key), []).append((S3, area))
            assert [u async for u in s3.list_multipart_uploads(bucket)] == []
    return found


async def assert_each_file_in_one_place(
    fs: FileStorage, database: DatabaseSpec, buckets: Buckets, s3: S3Client
) -> dict[uuid.UUID, tuple[str, str]]:
    """Every file in exactly one place, matching its metadata; (state, storage) per id."""
    assert rows(database, "SELECT file_id, owner FROM leases") == []
    odd = rows(
        database,
        "SELECT id, state FROM files WHERE state NOT IN ('active', 'deleted') "
        "OR stale_storage IS NOT NULL",
    )
    assert odd == []
    infos = [info async for info in fs.list()] + [info async for info in fs.list(deleted=True)]
    found = await places(database, buckets, s3)
    assert set(found) == {info.id for info in infos}, "content without a file, or a file lost"
    states: dict[uuid.UUID, tuple[str, str]] = {}
    for info in infos:
        area = "objects" if info.state == "active" else "recycle"
        assert found[info.id] == [(info.storage, area)], f"{info.id} not in exactly one place"
        if info.state == "active":
            assert hashlib.sha256(await fs.read(info.id)).hexdigest() == info.sha256
        states[info.id] = (info.state, info.storage)
    return states


def start_host(job: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.storage.host_worker", json.dumps(job)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def finish(host: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = await anyio.to_thread.run_sync(lambda: host.communicate(timeout=240))
    assert host.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def test_two_hosts_working_at_once_never_lose_or_duplicate_a_file(
    fs_both: FileStorage,
    database: DatabaseSpec,
    bucket_names: Buckets,
    s3: S3Client,
    tmp_path: Path,
    anyio_backend: str,
) -> None:
    shared: dict[uuid.UUID, str] = {}
    for i in range(24):
        if i == 16:
            await fs_both.set_active_storage(S3)
        info = await fs_both.upload("ContactFile", uuid.uuid4(), f"shared-{i}", bytes([i]) * 3000)
        shared[info.id] = info.storage
    ids = [str(i) for i in shared]
    go = tmp_path / "go"
    job = {
        "scenario": "mixed",
        "database": str(database),
        "connection_string": bucket_names.connection_string,
        "go": str(go),
        "backend": anyio_backend,
        "uploads": 15,
        "delete": ids[::3],
        "restore": ids[::6],
    }
    hosts = [start_host({**job, "name": name}) for name in ("a", "b")]
    go.touch()
    results = [await finish(host) for host in hosts]

    states = await assert_each_file_in_one_place(fs_both, database, bucket_names, s3)
    origin = {**{str(i): code for i, code in shared.items()}}
    for result in results:
        assert result["migration"]["failed"] == []
        assert result["busy"] == 0
        origin.update(result["own"])
    assert {str(i) for i in states} == set(origin)
    for file_id in ids:  # each host restored after its delete: restores come last
        expected = "deleted" if file_id in ids[::3] and file_id not in ids[::6] else "active"
        assert states[uuid.UUID(file_id)][0] == expected
    moved = [i for i, (_, code) in states.items() if origin[str(i)] == DATABASE and code == S3]
    assert sum(r["migration"]["migrated"] for r in results) == len(moved), "migrated twice"

    final = await fs_both.migrate(DATABASE, S3)  # what a restore brought back meanwhile
    assert final.ok and final.remaining == 0
    states = await assert_each_file_in_one_place(fs_both, database, bucket_names, s3)
    assert all(storage == S3 for state, storage in states.values() if state == "active")


async def test_a_host_killed_mid_migration_is_finished_by_another_host(
    fs_both: FileStorage,
    database: DatabaseSpec,
    bucket_names: Buckets,
    s3: S3Client,
    tmp_path: Path,
    anyio_backend: str,
) -> None:
    count = 30
    digests = {}
    for i in range(count):
        data = bytes([i]) * (1024 * 1024 + i)
        info = await fs_both.upload("ActivityFile", uuid.uuid4(), f"{i}.bin", data)
        digests[info.id] = hashlib.sha256(data).hexdigest()
    go = tmp_path / "go"
    go.touch()
    job = {
        "database": str(database),
        "connection_string": bucket_names.connection_string,
        "go": str(go),
        "backend": anyio_backend,
    }
    doomed = start_host({**job, "scenario": "migrate"})
    moved_query = "SELECT count(*) FROM files WHERE storage = 'S3'"
    deadline = time.monotonic() + 120
    while rows(database, moved_query)[0][0] < 3:
        assert doomed.poll() is None, doomed.communicate()[1]
        assert time.monotonic() < deadline, "the migration did not start"
        await anyio.sleep(0.005)
    doomed.kill()  # SIGKILL: no cleanup of any kind
    await anyio.to_thread.run_sync(doomed.communicate)
    moved_at_kill = rows(database, moved_query)[0][0]
    assert 3 <= moved_at_kill < count, "the kill came too late to test anything"

    result = await finish(start_host({**job, "scenario": "repair"}))
    assert result["migration"]["failed"] == []
    assert result["migration"]["remaining"] == 0
    states = await assert_each_file_in_one_place(fs_both, database, bucket_names, s3)
    assert states == {file_id: ("active", S3) for file_id in digests}
    for file_id, digest in digests.items():
        assert (await fs_both.info(file_id)).sha256 == digest
