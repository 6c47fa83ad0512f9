"""File metadata, settings, feature toggles and leases in the storage database.

Rules of this module:
- It owns the ``files``, ``settings``, ``features`` and ``leases`` tables.
- Every state change is one conditional ``UPDATE ... WHERE state = ?``: it succeeds
  only from the expected state, so two tasks, processes or hosts cannot both win.
- A lease is taken by one conditional upsert (free, expired or already ours), so
  two hosts racing for it cannot both get it; lease times are the database's clock.
- Migration batches are claimed: the candidate rows are locked (``SKIP LOCKED``
  where several hosts write at once) and leased in one transaction, so hosts
  migrating at the same time split the files between them.
- Each query is a plain ``_fn(conn, ...)`` run by ``Database.run``; ``Metadata``
  only wraps them in async methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ._database import Connection, Database
from ._models import FileInfo, FileState, StorageCode, record_id_from_text

__all__ = ["Metadata", "now"]

_COLUMNS = (
    "id, schema_name, record_id, name, size, version, storage, state, sha256, "
    "created_at, modified_at, deleted_at"
)


def now() -> str:
    """The current time as stored: ISO 8601 UTC with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _info(row: Any) -> FileInfo:
    deleted = row["deleted_at"]
    return FileInfo(
        id=UUID(row["id"]),
        schema=row["schema_name"],
        record_id=record_id_from_text(row["record_id"]),
        name=row["name"],
        size=row["size"],
        version=row["version"],
        storage=row["storage"],
        state=row["state"],
        sha256=row["sha256"],
        created_at=datetime.fromisoformat(row["created_at"]),
        modified_at=datetime.fromisoformat(row["modified_at"]),
        deleted_at=datetime.fromisoformat(deleted) if deleted else None,
    )


def _get(conn: Connection, file_id: str) -> FileInfo | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM files WHERE id = ?", (file_id,)).fetchone()
    return None if row is None else _info(row)


def _insert(
    conn: Connection,
    file_id: str,
    schema: str,
    record_id: str,
    name: str,
    storage: StorageCode,
    at: str,
) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO files (id, schema_name, record_id, name, storage, state, "
            "created_at, modified_at) VALUES (?, ?, ?, ?, ?, 'uploading', ?, ?)",
            (file_id, schema, record_id, name, storage, at, at),
        )


def _finish_upload(
    conn: Connection, file_id: str, size: int, sha256: str, at: str
) -> FileInfo | None:
    with conn.transaction():
        cursor = conn.execute(
            "UPDATE files SET state = 'active', size = ?, sha256 = ?, modified_at = ? "
            "WHERE id = ? AND state = 'uploading'",
            (size, sha256, at, file_id),
        )
        return _get(conn, file_id) if cursor.rowcount == 1 else None


def _move_state(
    conn: Connection,
    file_id: str,
    expected: FileState,
    new: FileState,
    at: str,
    deleted: bool,
) -> FileInfo | None:
    """``expected`` -> ``new``; ``deleted_at`` is set on the first deleted state, kept while
    deleted, cleared otherwise."""
    with conn.transaction():
        cursor = conn.execute(
            "UPDATE files SET state = ?, modified_at = ?, "
            "deleted_at = CASE WHEN ? THEN coalesce(deleted_at, ?) END "
            "WHERE id = ? AND state = ?",
            (new, at, deleted, at, file_id, expected),
        )
        return _get(conn, file_id) if cursor.rowcount == 1 else None


def _delete_row(conn: Connection, file_id: str, state: FileState) -> bool:
    with conn.transaction():
        cursor = conn.execute("DELETE FROM files WHERE id = ? AND state = ?", (file_id, state))
        return cursor.rowcount == 1


def _filters(
    schema: str | None,
    record_id: str | None,
    states: Sequence[FileState],
    schemas: Sequence[str] | None = None,
    exclude_schemas: Sequence[str] | None = None,
    storage: StorageCode | None = None,
) -> tuple[list[str], list[object]]:
    where: list[str] = [f"state IN ({', '.join('?' * len(states))})"]
    params: list[object] = list(states)
    if schema is not None:
        where.append("schema_name = ?")
        params.append(schema)
    if record_id is not None:
        where.append("record_id = ?")
        params.append(record_id)
    if schemas is not None:
        where.append(f"schema_name IN ({', '.join('?' * len(schemas))})")
        params.extend(schemas)
    if exclude_schemas:
        where.append(f"schema_name NOT IN ({', '.join('?' * len(exclude_schemas))})")
        params.extend(exclude_schemas)
    if storage is not None:
        where.append("storage = ?")
        params.append(storage)
    return where, params


def _page(
    conn: Connection,
    schema: str | None,
    record_id: str | None,
    states: tuple[FileState, ...],
    after: tuple[str, str] | None,
    limit: int,
) -> list[FileInfo]:
    where, params = _filters(schema, record_id, states)
    if after is not None:
        where.append("(created_at, id) > (?, ?)")
        params.extend(after)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM files WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [_info(row) for row in rows]


def _count_candidates(
    conn: Connection,
    storage: StorageCode,
    schemas: tuple[str, ...] | None,
    exclude_schemas: tuple[str, ...] | None,
) -> int:
    where, params = _filters(None, None, ("active",), schemas, exclude_schemas, storage)
    sql = f"SELECT count(*) FROM files WHERE {' AND '.join(where)}"
    return int(conn.execute(sql, params).fetchone()[0])


def _in_state(conn: Connection, state: FileState, before: str | None) -> list[FileInfo]:
    sql = f"SELECT {_COLUMNS} FROM files WHERE state = ?"
    params: list[object] = [state]
    if before is not None:
        column = "deleted_at" if state == "deleted" else "modified_at"
        sql += f" AND {column} < ?"
        params.append(before)
    return [_info(row) for row in conn.execute(sql + " ORDER BY id", params).fetchall()]


def _switch_storage(
    conn: Connection, file_id: str, source: StorageCode, target: StorageCode, sha: str
) -> bool:
    with conn.transaction():
        cursor = conn.execute(
            "UPDATE files SET storage = ?, stale_storage = ? "
            "WHERE id = ? AND storage = ? AND state = 'active' AND sha256 = ?",
            (target, source, file_id, source, sha),
        )
        return cursor.rowcount == 1


def _stale(conn: Connection) -> list[tuple[str, StorageCode]]:
    rows = conn.execute(
        "SELECT id, stale_storage FROM files WHERE stale_storage IS NOT NULL ORDER BY id"
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def _stale_of(conn: Connection, file_id: str) -> tuple[StorageCode, StorageCode] | None:
    row = conn.execute(
        "SELECT storage, stale_storage FROM files WHERE id = ? AND stale_storage IS NOT NULL",
        (file_id,),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def _clear_stale(conn: Connection, file_id: str, storage: StorageCode) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE files SET stale_storage = NULL WHERE id = ? AND stale_storage = ?",
            (file_id, storage),
        )


def _count_using(conn: Connection, storage: StorageCode) -> int:
    row = conn.execute(
        "SELECT count(*) FROM files WHERE storage = ? OR stale_storage = ?", (storage, storage)
    ).fetchone()
    return int(row[0])


def _lease_times(conn: Connection, seconds: float) -> tuple[str, str]:
    start = conn.now()
    until = start + timedelta(seconds=seconds)
    return start.isoformat(timespec="microseconds"), until.isoformat(timespec="microseconds")


def _take_lease(
    conn: Connection, file_id: str, owner: str, at: str, until: str, is_gone: Callable[[str], bool]
) -> str | None:
    """Take the lease unless another live owner holds it (then returns that owner)."""
    cursor = conn.execute(
        "INSERT INTO leases (file_id, owner, expires_at) VALUES (?, ?, ?) "
        "ON CONFLICT (file_id) DO UPDATE SET owner = excluded.owner, "
        "expires_at = excluded.expires_at "
        "WHERE leases.owner = excluded.owner OR leases.expires_at <= ?",
        (file_id, owner, until, at),
    )
    if cursor.rowcount == 1:
        return None
    row = conn.execute("SELECT owner FROM leases WHERE file_id = ?", (file_id,)).fetchone()
    if row is None:  # released meanwhile (only where the transaction saw it before)
        return "unknown"
    holder = str(row[0])
    if not is_gone(holder):
        return holder
    cursor = conn.execute(
        "UPDATE leases SET owner = ?, expires_at = ? WHERE file_id = ? AND owner = ?",
        (owner, until, file_id, holder),
    )
    return None if cursor.rowcount == 1 else holder


def _acquire_lease(
    conn: Connection,
    file_id: str,
    owner: str,
    seconds: float,
    is_gone: Callable[[str], bool],
) -> str | None:
    """Take the lease of a file unless another live owner holds it; returns that owner."""
    with conn.transaction():
        at, until = _lease_times(conn, seconds)
        return _take_lease(conn, file_id, owner, at, until, is_gone)


def _claim_candidates(
    conn: Connection,
    storage: StorageCode,
    schemas: tuple[str, ...] | None,
    exclude_schemas: tuple[str, ...] | None,
    after_id: str,
    limit: int,
    owner: str,
    seconds: float,
    is_gone: Callable[[str], bool],
) -> tuple[list[FileInfo], str | None]:
    """Lease up to ``limit`` active files of ``storage`` after ``after_id`` (id order)
    that no other live owner holds; returns them and the last id looked at."""
    where, params = _filters(None, None, ("active",), schemas, exclude_schemas, storage)
    where.append("id > ?")
    with conn.transaction():
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM files WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
            + conn.skip_locked,
            (*params, after_id, limit),
        ).fetchall()
        at, until = _lease_times(conn, seconds)
        claimed = [
            _info(row)
            for row in rows
            if _take_lease(conn, row["id"], owner, at, until, is_gone) is None
        ]
    return claimed, (str(rows[-1]["id"]) if rows else None)


def _release_lease(conn: Connection, file_id: str, owner: str) -> None:
    with conn.transaction():
        conn.execute("DELETE FROM leases WHERE file_id = ? AND owner = ?", (file_id, owner))


def _release_abandoned_leases(conn: Connection, is_gone: Callable[[str], bool]) -> int:
    """Delete leases that expired or whose owner process is gone; how many."""
    with conn.transaction():
        at = conn.now().isoformat(timespec="microseconds")
        released = 0
        for file_id, owner, expires_at in conn.execute(
            "SELECT file_id, owner, expires_at FROM leases"
        ).fetchall():
            if expires_at <= at or is_gone(owner):
                cursor = conn.execute(
                    "DELETE FROM leases WHERE file_id = ? AND owner = ? AND expires_at = ?",
                    (file_id, owner, expires_at),
                )
                released += cursor.rowcount
        return released


def _release_leases(conn: Connection, file_ids: list[str], owner: str) -> None:
    with conn.transaction():
        for file_id in file_ids:
            conn.execute("DELETE FROM leases WHERE file_id = ? AND owner = ?", (file_id, owner))


def _get_setting(conn: Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


_UPSERT_SETTING = (
    "INSERT INTO settings (name, value) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)


def _set_setting(conn: Connection, name: str, value: str) -> None:
    with conn.transaction():
        conn.execute(_UPSERT_SETTING, (name, value))


def _claim_setting(
    conn: Connection, name: str, value: str, storage: StorageCode
) -> str | None:
    """Set ``name`` to ``value`` unless it holds another value still used by files of
    ``storage``; returns the value that blocked it, or ``None``."""
    with conn.transaction():
        row = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        if row is not None and row[0] != value and _count_using(conn, storage):
            return str(row[0])
        conn.execute(_UPSERT_SETTING, (name, value))
        return None


def _get_feature(conn: Connection, name: str) -> bool | None:
    row = conn.execute("SELECT enabled FROM features WHERE name = ?", (name,)).fetchone()
    return None if row is None else bool(row[0])


def _set_feature(conn: Connection, name: str, enabled: bool) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO features (name, enabled) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled",
            (name, int(enabled)),
        )


class Metadata:
    """Async access to file rows, settings and features."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, file_id: UUID) -> FileInfo | None:
        return await self._db.run(_get, str(file_id))

    async def insert(
        self, file_id: UUID, schema: str, record_id: str, name: str, storage: StorageCode
    ) -> None:
        await self._db.run(_insert, str(file_id), schema, record_id, name, storage, now())

    async def finish_upload(self, file_id: UUID, size: int, sha256: str) -> FileInfo | None:
        return await self._db.run(_finish_upload, str(file_id), size, sha256, now())

    async def move_state(
        self, file_id: UUID, expected: FileState, new: FileState, *, deleted: bool
    ) -> FileInfo | None:
        return await self._db.run(_move_state, str(file_id), expected, new, now(), deleted)

    async def delete_row(self, file_id: UUID, state: FileState) -> bool:
        return await self._db.run(_delete_row, str(file_id), state)

    async def page(
        self,
        schema: str | None,
        record_id: str | None,
        states: tuple[FileState, ...],
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[FileInfo]:
        return await self._db.run(_page, schema, record_id, states, after, limit)

    async def count_candidates(
        self,
        storage: StorageCode,
        schemas: tuple[str, ...] | None,
        exclude_schemas: tuple[str, ...] | None,
    ) -> int:
        return await self._db.run(_count_candidates, storage, schemas, exclude_schemas)

    async def in_state(self, state: FileState, before: str | None = None) -> list[FileInfo]:
        return await self._db.run(_in_state, state, before)

    async def switch_storage(
        self, file_id: UUID, source: StorageCode, target: StorageCode, sha256: str
    ) -> bool:
        return await self._db.run(_switch_storage, str(file_id), source, target, sha256)

    async def stale(self) -> list[tuple[UUID, StorageCode]]:
        return [(UUID(i), code) for i, code in await self._db.run(_stale)]

    async def stale_of(self, file_id: UUID) -> tuple[StorageCode, StorageCode] | None:
        """``(storage, stale_storage)`` of a file with a leftover copy, else ``None``."""
        return await self._db.run(_stale_of, str(file_id))

    async def clear_stale(self, file_id: UUID, storage: StorageCode) -> None:
        await self._db.run(_clear_stale, str(file_id), storage)

    async def acquire_lease(
        self, file_id: UUID, owner: str, seconds: float, is_gone: Callable[[str], bool]
    ) -> str | None:
        """Take the file's lease for ``seconds``; the live owner holding it, if any."""
        return await self._db.run(_acquire_lease, str(file_id), owner, seconds, is_gone)

    async def release_lease(self, file_id: UUID, owner: str) -> None:
        await self._db.run(_release_lease, str(file_id), owner)

    async def release_abandoned_leases(self, is_gone: Callable[[str], bool]) -> int:
        """Delete leases that expired or whose owner ``is_gone``; how many."""
        return await self._db.run(_release_abandoned_leases, is_gone)

    async def release_leases(self, file_ids: Sequence[UUID], owner: str) -> None:
        """Release ``owner``'s leases of ``file_ids`` (those it still holds)."""
        await self._db.run(_release_leases, [str(i) for i in file_ids], owner)

    async def claim_candidates(
        self,
        storage: StorageCode,
        schemas: tuple[str, ...] | None,
        exclude_schemas: tuple[str, ...] | None,
        after_id: str,
        limit: int,
        owner: str,
        seconds: float,
        is_gone: Callable[[str], bool],
    ) -> tuple[list[FileInfo], str | None]:
        """Lease the next migration batch (see ``_claim_candidates``)."""
        return await self._db.run(
            _claim_candidates,
            storage,
            schemas,
            exclude_schemas,
            after_id,
            limit,
            owner,
            seconds,
            is_gone,
        )

    async def get_setting(self, name: str) -> str | None:
        return await self._db.run(_get_setting, name)

    async def set_setting(self, name: str, value: str) -> None:
        await self._db.run(_set_setting, name, value)

    async def claim_setting(self, name: str, value: str, storage: StorageCode) -> str | None:
        return await self._db.run(_claim_setting, name, value, storage)

    async def get_feature(self, name: str) -> bool | None:
        return await self._db.run(_get_feature, name)

    async def set_feature(self, name: str, enabled: bool) -> None:
        await self._db.run(_set_feature, name, enabled)
