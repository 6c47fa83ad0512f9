"""One "application host" for tests/storage/test_hosts.py, run as its own process.

``python -m tests.storage.host_worker '<json>'`` opens a ``FileStorage`` on the
database and the S3 connection string given, waits for the file named by ``go`` to
exist (so that several hosts start at once), runs one scenario and prints a JSON
report on its last line of output.

Scenarios:
- ``mixed``: upload files (switching the active store between uploads), soft-delete
  and restore shared files that other hosts are deleting and restoring too, then
  migrate Database -> S3 while they do the same.
- ``migrate``: migrate Database -> S3 (slowly: one file at a time).
- ``repair``: ``repair()``, then migrate Database -> S3 to the end.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

import anyio

from s3lite.storage import DATABASE, S3, FileBusy, FileStorage, MigrationReport


def _report(report: MigrationReport) -> dict[str, Any]:
    return {
        "migrated": report.migrated,
        "skipped": report.skipped,
        "failed": [f.error for f in report.failed],
        "remaining": report.remaining,
    }


async def _wait_for(path: str) -> None:
    deadline = time.monotonic() + 60
    while not await anyio.Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        await anyio.sleep(0.005)


async def _mixed(fs: FileStorage, job: dict[str, Any]) -> dict[str, Any]:
    own: dict[str, str] = {}
    for i in range(job["uploads"]):
        if i % 5 == 0:  # both hosts flip the setting while the other uploads
            await fs.set_active_storage(S3 if (i // 5) % 2 else DATABASE)
        data = os.urandom(1000 + i * 97)
        info = await fs.upload("ActivityFile", uuid.uuid4(), f"{job['name']}-{i}.bin", data)
        own[str(info.id)] = info.storage
    busy = 0
    for file_id in job["delete"]:
        try:
            await fs.delete(file_id)
        except FileBusy:
            busy += 1
    for file_id in job["restore"]:
        try:
            await fs.restore(file_id)
        except FileBusy:
            busy += 1
    report = await fs.migrate(DATABASE, S3, batch_size=4, concurrency=2)
    return {"own": own, "busy": busy, "migration": _report(report)}


async def _run(job: dict[str, Any]) -> dict[str, Any]:
    async with FileStorage(job["database"], job["connection_string"]) as fs:
        fs._locks.wait_seconds = 30.0
        await _wait_for(job["go"])
        if job["scenario"] == "mixed":
            return await _mixed(fs, job)
        if job["scenario"] == "migrate":
            report = await fs.migrate(DATABASE, S3, batch_size=2, concurrency=1)
            return {"migration": _report(report)}
        if job["scenario"] == "repair":
            repaired = await fs.repair()
            report = await fs.migrate(DATABASE, S3)
            return {"repair": str(repaired), "migration": _report(report)}
        raise ValueError(f"unknown scenario {job['scenario']!r}")


def main() -> None:
    job = json.loads(sys.argv[1])
    result = anyio.run(_run, job, backend=job.get("backend", "asyncio"))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
