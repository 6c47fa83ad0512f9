"""``FileStorage``: the file storage service of the CRM's S3 integration.

Rules of this module:
- It composes the other modules and holds no storage rule of its own: metadata in
  ``_metadata``, content in the stores, soft delete in ``_recycling``, migration in
  ``_migration``, retention in ``_retention``, new files in ``_upload``.
- Reads, deletes, restores and copies route by the store recorded for the file;
  only a new file looks at ``ActiveFileContentStorage``.
- Settings and feature toggles are read from the database on every use, so every
  process sharing the database sees the same values.
- One S3 storage: its endpoint and buckets are recorded in the database, and a
  different one is refused while any file uses S3.  Secrets are never recorded.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, aclosing
from datetime import timedelta
from pathlib import Path
from typing import Self
from uuid import UUID, uuid4

import anyio
import anyio.to_thread

from s3lite._body import Body
from s3lite._client import S3Client
from s3lite._connstring import ConnectionSettings, parse_connection_string, read_connection_config
from s3lite._exceptions import IntegrityError
from s3lite._lifecycle import AsyncResource, Lifecycle, State
from s3lite._models import LifecycleRule
from s3lite._options import MAX_SINGLE_PUT, MIN_PART_SIZE, ClientOptions

from ._backends import open_database
from ._database_store import DatabaseStore
from ._errors import (
    FileDeleted,
    FileNotFoundInStorage,
    InvalidStorageRequest,
    StorageAlreadyConfigured,
    StorageNotConfigured,
)
from ._locks import FileLocks
from ._metadata import Metadata
from ._migration import MigrationOptions, migrate
from ._models import (
    ACTIVE_FILE_CONTENT_STORAGE,
    DATABASE,
    FEATURES,
    LIVE_STATES,
    MOVING_STATES,
    RECYCLED_STATES,
    S3,
    FileInfo,
    FileState,
    MigrationReport,
    PurgeReport,
    RepairReport,
    StorageCode,
    check_feature,
    check_file_id,
    check_file_name,
    check_owner,
    check_record_id,
    check_schema,
    check_storage_code,
)
from ._reader import FileReader
from ._recycling import DELETE, RESTORE, advance, repair
from ._retention import (
    DEFAULT_RETENTION_DAYS,
    RECYCLE_RETENTION_DAYS,
    check_days,
    purge,
    put_recycle_rule,
    recycle_rule,
)
from ._s3_store import S3Store
from ._stores import CHUNK_SIZE, ContentStore
from ._upload import Upload, discard_upload, store_new_file

__all__ = ["S3_STORAGE", "FileStorage"]

S3_STORAGE = "S3Storage"
"""The setting recording which S3 storage (endpoint and buckets) the database uses."""

_PAGE = 500
_LISTED_STATES: dict[bool | None, tuple[FileState, ...]] = {
    False: LIVE_STATES,
    True: RECYCLED_STATES,
    None: LIVE_STATES + RECYCLED_STATES,
}
_RECYCLABLE_STATES: tuple[FileState, ...] = LIVE_STATES + MOVING_STATES
"""The files ``delete_record`` recycles: live ones, and deletes or restores under way."""


def _storage_identity(settings: ConnectionSettings) -> str:
    """Which S3 storage the settings name, as recorded in the ``S3Storage`` setting
    (endpoint and buckets; no credentials)."""
    recycle = settings.recycle_bucket or "-"
    return (
        f"{settings.service_url} object bucket {settings.object_bucket}, recycle bucket {recycle}"
    )


def _schemas(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else tuple(value)
    return tuple(check_schema(name) for name in names)


def _after(page: Sequence[FileInfo]) -> tuple[str, str]:
    """The paging cursor after the last file of ``page``: (created_at, id) as stored."""
    last = page[-1]
    return last.created_at.isoformat(timespec="microseconds"), str(last.id)


def _safe_file_name(name: str, fallback: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return fallback if base in ("", ".", "..") else base


class FileStorage(AsyncResource):
    """Files attached to CRM records, stored in the embedded database or in S3.

    ``async with FileStorage("files.db") as fs:`` uses the SQLite database only;
    ``FileStorage("postgresql://user@host/db")`` keeps the metadata and the Database
    store's content in PostgreSQL instead (the ``s3lite[postgres]`` extra), for
    applications that share one file catalogue across hosts.  Pass
    ``connection_string`` (``ServiceUrl=...; AccessKey=...; SecretKey=...;
    ObjectBucketName=...; RecycleBucketName=...;``) or ``config_file`` (a
    ``ConnectionStrings.config`` with ``<add name="s3Connection" .../>``) to connect
    S3.  ``ActiveFileContentStorage`` (``set_active_storage``) chooses where new
    files go; every file remembers the store that holds it.  ``s3_options`` (a
    ``ClientOptions``: timeouts, retries, payload signing, checksum, part
    sizes) tunes the S3 client; ``part_size`` is the part size of ``begin_upload``.
    """

    def __init__(
        self,
        database: str | os.PathLike[str] = "files.db",
        connection_string: str | ConnectionSettings | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        connection_name: str = "s3Connection",
        chunk_size: int = CHUNK_SIZE,
        part_size: int = MIN_PART_SIZE,
        s3_options: ClientOptions | None = None,
    ) -> None:
        if connection_string is not None and config_file is not None:
            raise InvalidStorageRequest(
                "give connection_string or config_file, not both: only one S3 storage "
                "can be connected"
            )
        if isinstance(connection_string, str):
            connection_string = parse_connection_string(connection_string)
        elif connection_string is not None and not isinstance(
            connection_string, ConnectionSettings
        ):
            raise InvalidStorageRequest(
                "connection_string must be a str or ConnectionSettings, not "
                f"{type(connection_string).__name__}"
            )
        if not 64 * 1024 <= chunk_size <= 64 * 1024 * 1024:
            raise InvalidStorageRequest("chunk_size must be between 64 KiB and 64 MiB")
        if not MIN_PART_SIZE <= part_size <= MAX_SINGLE_PUT:
            raise InvalidStorageRequest("part_size must be between 5 MiB and 5 GiB")
        if s3_options is not None and not isinstance(s3_options, ClientOptions):
            raise InvalidStorageRequest(
                f"s3_options must be a ClientOptions, not {type(s3_options).__name__}"
            )
        self._s3_options = s3_options
        self._settings = connection_string
        self._config_file = config_file
        self._connection_name = connection_name
        self._part_size = part_size
        self._db = open_database(database)
        self._meta = Metadata(self._db)
        self._database_store = DatabaseStore(self._db, chunk_size)
        self._s3: S3Store | None = None
        self._locks = FileLocks(self._meta)
        self._lifecycle = Lifecycle("FileStorage")
        self._resources = AsyncExitStack()
        """What ``aclose`` releases, last opened first: the S3 client, the database."""

    def __repr__(self) -> str:
        s3 = "not connected" if self._s3 is None else repr(self._s3)
        return f"FileStorage(database={self._db.name!r}, s3={s3})"

    # --- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._lifecycle.open()
        try:
            self._resources.push_async_callback(self._db.aclose)
            await self._db.open()
            settings = self._settings
            if self._config_file is not None:
                settings = await anyio.to_thread.run_sync(
                    read_connection_config, self._config_file, self._connection_name
                )
            if settings is not None:
                await self._connect(settings)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Close the S3 connection and the database; safe to call more than once."""
        if self._lifecycle.close():
            self._s3 = None
            await self._resources.aclose()

    async def connect_s3(self, connection_string: str | ConnectionSettings) -> None:
        """Connect the S3 storage after opening; a second, different one is refused."""
        self._check_open()
        settings = (
            parse_connection_string(connection_string)
            if isinstance(connection_string, str)
            else connection_string
        )
        if self._s3 is not None:
            current = self._s3
            same = (
                current.client.endpoint == settings.service_url
                and current.object_bucket == settings.object_bucket
                and current.recycle_bucket == settings.recycle_bucket
            )
            if same:
                return
            raise StorageAlreadyConfigured(
                f"an S3 storage is already connected ({current.client.endpoint}, bucket "
                f"{current.object_bucket}); only one S3 storage can be connected"
            )
        await self._connect(settings)

    async def _connect(self, settings: ConnectionSettings) -> None:
        identity = _storage_identity(settings)
        blocking = await self._meta.claim_setting(S3_STORAGE, identity, S3)
        if blocking is not None:
            raise StorageAlreadyConfigured(
                f"this database already uses the S3 storage at {blocking}, and files are "
                f"stored there; refusing to connect a second one ({identity}). Migrate the "
                "files to Database first, or use another database"
            )
        client = await self._resources.enter_async_context(
            S3Client.from_settings(settings, options=self._s3_options)
        )
        self._s3 = S3Store(
            client, settings.object_bucket, settings.recycle_bucket, part_size=self._part_size
        )

    def _check_open(self) -> None:
        if self._lifecycle.state is not State.OPENED:
            state = "closed" if self._lifecycle.closed else "not open"
            raise RuntimeError(f"the FileStorage is {state}: use 'async with FileStorage(...)'")

    # --- stores and settings --------------------------------------------------------

    def _store(self, code: StorageCode) -> ContentStore:
        if code == DATABASE:
            return self._database_store
        if self._s3 is None:
            raise StorageNotConfigured(
                "the S3 store is not configured: pass a connection string or a "
                "ConnectionStrings.config to use it"
            )
        return self._s3

    async def active_storage(self) -> StorageCode:
        """``ActiveFileContentStorage``: the store that receives new files."""
        self._check_open()
        value = await self._meta.get_setting(ACTIVE_FILE_CONTENT_STORAGE)
        return DATABASE if value is None else check_storage_code(value)

    async def set_active_storage(self, code: str) -> StorageCode:
        """Persist ``ActiveFileContentStorage`` (``Database`` or ``S3``)."""
        self._check_open()
        canonical = check_storage_code(code)
        if canonical == S3 and self._s3 is None:
            raise StorageNotConfigured(
                "cannot make S3 the active storage: no S3 connection is configured"
            )
        await self._meta.set_setting(ACTIVE_FILE_CONTENT_STORAGE, canonical)
        return canonical

    async def _new_file_store(self) -> ContentStore:
        code = await self.active_storage()
        if code == S3 and self._s3 is None:
            raise StorageNotConfigured(
                f"{ACTIVE_FILE_CONTENT_STORAGE} is S3, but no S3 connection is configured "
                "here: pass a connection string or a ConnectionStrings.config"
            )
        return self._store(code)

    async def feature(self, name: str) -> bool:
        """Whether a feature toggle is on."""
        self._check_open()
        canonical = check_feature(name)
        value = await self._meta.get_feature(canonical)
        return FEATURES[canonical] if value is None else value

    async def set_feature(self, name: str, enabled: bool) -> None:
        """Persist a feature toggle (e.g. ``UseBaseEntityFileDeleteListener``)."""
        self._check_open()
        canonical = check_feature(name)
        if not isinstance(enabled, bool):
            raise InvalidStorageRequest(f"enabled must be a bool, not {type(enabled).__name__}")
        await self._meta.set_feature(canonical, enabled)

    async def features(self) -> dict[str, bool]:
        """Every known feature toggle and its value."""
        return {name: await self.feature(name) for name in FEATURES}

    # --- files ----------------------------------------------------------------------

    async def _file(self, file_id: UUID | str) -> FileInfo:
        self._check_open()
        key = check_file_id(file_id)
        info = await self._meta.get(key)
        if info is None or info.state == "uploading":
            raise FileNotFoundInStorage(key)
        return info

    async def _readable(self, file_id: UUID | str) -> tuple[FileInfo, ContentStore]:
        info = await self._file(file_id)
        if info.deleted:
            raise FileDeleted(info.id)
        return info, self._store(info.storage)

    async def upload(
        self,
        schema: str,
        record_id: UUID | str,
        name: str,
        content: Body,
        *,
        progress: Callable[[int], object] | None = None,
    ) -> FileInfo:
        """Store a new file for the record ``(schema, record_id)`` in the active store.

        ``content``: bytes, a path (``os.PathLike``), a binary file or an async
        iterable of bytes; it is handed to the store once and never held whole (bytes,
        paths and seekable files stay replayable, so S3 gets concurrent parts).
        ``progress`` is called with the number of bytes read so far.
        """
        self._check_open()
        owner = check_owner(schema, record_id)
        name = check_file_name(name)
        store = await self._new_file_store()
        return await store_new_file(self._meta, store, owner, name, content, progress=progress)

    def begin_upload(
        self,
        schema: str,
        record_id: UUID | str,
        name: str,
        *,
        progress: Callable[[int], object] | None = None,
    ) -> Upload:
        """Upload a file in parts: ``async with fs.begin_upload(...) as up: await
        up.write(part)``; leaving the block completes it (``up.info``)."""
        self._check_open()
        owner = check_owner(schema, record_id)
        name = check_file_name(name)
        return Upload(self._meta, self._new_file_store, owner, name, progress)

    def open(
        self, file_id: UUID | str, *, progress: Callable[[int], object] | None = None
    ) -> FileReader:
        """Stream a file's content: ``async with fs.open(file_id) as f: async for chunk in f``."""
        return FileReader(lambda: self._readable(file_id), progress)

    async def read(self, file_id: UUID | str) -> bytes:
        """A file's whole content (checked against its size and SHA-256)."""
        return await self.open(file_id).read()

    async def download(
        self,
        file_id: UUID | str,
        destination: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        progress: Callable[[int], object] | None = None,
    ) -> Path:
        """Save a file's content to ``destination`` (a folder: under the file's name).

        The content goes to a temporary file that replaces the destination only
        once it is complete and verified.  Returns the path written.
        """
        info = await self._file(file_id)
        target = Path(destination)
        if await anyio.Path(target).is_dir():
            target = target / _safe_file_name(info.name, str(info.id))
        if not overwrite and await anyio.Path(target).exists():
            raise InvalidStorageRequest(f"{str(target)!r} exists; pass overwrite=True")
        partial = target.with_name(f".{target.name}.{uuid4().hex[:8]}.part")
        try:
            async with (
                self.open(info.id, progress=progress) as reader,
                await anyio.open_file(partial, "wb") as out,
            ):
                async for chunk in reader:
                    await out.write(chunk)
            await anyio.Path(partial).replace(target)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.Path(partial).unlink(missing_ok=True)
        return target

    async def info(self, file_id: UUID | str) -> FileInfo:
        """A file's metadata (deleted files too: see ``FileInfo.state``)."""
        return await self._file(file_id)

    async def copy(
        self,
        file_id: UUID | str,
        *,
        schema: str | None = None,
        record_id: UUID | str | None = None,
        name: str | None = None,
    ) -> FileInfo:
        """Copy a file to a new file (same owner and name unless given) in the active store.

        Within one store the copy is made there (server-side on S3); across stores
        the content is streamed and checked.
        """
        source_info, source = await self._readable(file_id)
        owner = check_owner(
            schema if schema is not None else source_info.schema,
            record_id if record_id is not None else source_info.record_id,
        )
        name = check_file_name(name if name is not None else source_info.name)
        target = await self._new_file_store()
        if target is not source:
            async with aclosing(source.read(source_info.id)) as chunks:
                copied = await store_new_file(self._meta, target, owner, name, chunks)
            if copied.sha256 != source_info.sha256:
                await target.delete(copied.id)
                await self._meta.delete_row(copied.id, "active")
                raise IntegrityError(f"the copy of file {source_info.id} differs from it")
            return copied
        new_id = uuid4()
        await self._meta.insert(new_id, owner[0], owner[1], name, target.code)
        try:
            await target.copy(source_info.id, new_id)
            assert source_info.sha256 is not None
            info = await self._meta.finish_upload(new_id, source_info.size, source_info.sha256)
            if info is None:
                raise FileNotFoundInStorage(new_id, f"copy {new_id} was discarded meanwhile")
        except BaseException:
            await discard_upload(self._meta, target, new_id)
            raise
        return info

    async def delete(self, file_id: UUID | str) -> FileInfo:
        """Soft-delete a file: its content moves to the recycle bin of its store.

        Deleting a deleted file does nothing; a delete interrupted by a crash or an
        error is finished by calling ``delete`` again (or ``repair``).
        """
        info = await self._file(file_id)
        async with self._locks.hold(info.id):
            return await advance(self._meta, self._store, info.id, DELETE)

    async def restore(self, file_id: UUID | str) -> FileInfo:
        """Bring a deleted file back from the recycle bin (into the store it was in)."""
        info = await self._file(file_id)
        async with self._locks.hold(info.id):
            return await advance(self._meta, self._store, info.id, RESTORE)

    async def delete_record(self, schema: str, record_id: UUID | str) -> builtins.list[FileInfo]:
        """The owning record was deleted: with ``UseBaseEntityFileDeleteListener`` on,
        recycle every file attached to it and return them; when off, leave the files
        alone and return ``[]``."""
        self._check_open()
        owner = check_owner(schema, record_id)
        if not await self.feature("UseBaseEntityFileDeleteListener"):
            return []
        recycled: builtins.list[FileInfo] = []
        after: tuple[str, str] | None = None
        while True:
            page = await self._meta.page(owner[0], owner[1], _RECYCLABLE_STATES, after, _PAGE)
            for info in page:
                async with self._locks.hold(info.id):
                    recycled.append(await advance(self._meta, self._store, info.id, DELETE))
            if len(page) < _PAGE:
                return recycled
            after = _after(page)

    # --- maintenance ----------------------------------------------------------------

    async def migrate(
        self,
        source: str,
        target: str,
        schemas: Iterable[str] | None = None,
        exclude_schemas: Iterable[str] | None = None,
        limit: int | None = None,
        *,
        batch_size: int = 100,
        concurrency: int = 4,
        progress: Callable[[MigrationReport], object] | None = None,
    ) -> MigrationReport:
        """Move active files from ``source`` to ``target`` (``Database`` / ``S3``).

        ``schemas`` / ``exclude_schemas`` filter by entity schema name; ``limit`` caps
        the number of files tried.  Each file's source copy is removed only after the
        target copy is verified (size and SHA-256); a file that fails stays where it
        was and is listed in the report.  Rerunning is safe and finishes the job.
        Recycled files do not migrate.
        """
        self._check_open()
        options = MigrationOptions(
            schemas=_schemas(schemas),
            exclude_schemas=_schemas(exclude_schemas),
            limit=limit,
            batch_size=batch_size,
            concurrency=concurrency,
            progress=progress,
        )
        return await migrate(
            self._meta,
            self._store,
            self._locks,
            check_storage_code(source),
            check_storage_code(target),
            options,
        )

    async def repair(self, *, abandoned_after: timedelta = timedelta(days=1)) -> RepairReport:
        """Finish interrupted deletes and restores, remove leftovers of interrupted
        migrations, discard uploads unfinished for longer than ``abandoned_after``, and
        release the leases of processes that died (on this host) or expired."""
        self._check_open()
        return await repair(self._meta, self._store, self._locks, abandoned_after=abandoned_after)

    async def retention_days(self) -> int:
        """Days recycled files are kept (setting ``RecycleRetentionDays``, default 90)."""
        self._check_open()
        value = await self._meta.get_setting(RECYCLE_RETENTION_DAYS)
        return DEFAULT_RETENTION_DAYS if value is None else int(value)

    async def purge(self, older_than_days: int | None = None) -> PurgeReport:
        """Remove recycled files deleted more than ``older_than_days`` ago (default: the
        retention period) for good, from every store."""
        days = await self.retention_days() if older_than_days is None else older_than_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidStorageRequest(f"older_than_days must be an int >= 0, got {days!r}")
        return await purge(self._meta, self._store, self._locks, timedelta(days=days))

    def _s3_store(self) -> S3Store:
        self._store(S3)
        assert self._s3 is not None
        return self._s3

    async def put_recycle_lifecycle(self, days: int = DEFAULT_RETENTION_DAYS) -> LifecycleRule:
        """Put the lifecycle rule expiring the recycle bucket's objects after ``days``
        (and record ``days`` as the retention period)."""
        self._check_open()
        days = check_days(days)
        rule = await put_recycle_rule(self._s3_store(), days)
        await self._meta.set_setting(RECYCLE_RETENTION_DAYS, str(days))
        return rule

    async def recycle_lifecycle(self) -> LifecycleRule | None:
        """The recycle bucket's expiry rule, or ``None`` when it has none."""
        self._check_open()
        return await recycle_rule(self._s3_store())

    async def verify(self, file_id: UUID | str) -> FileInfo:
        """Read a file through and check its size and SHA-256 (``IntegrityError`` if not)."""
        reader = self.open(file_id)
        async for _ in reader:
            pass
        assert reader.info is not None
        return reader.info

    # ``list`` comes last: inside the class body it shadows the builtin.
    async def list(
        self,
        schema: str | None = None,
        record_id: UUID | str | None = None,
        deleted: bool | None = False,
    ) -> AsyncIterator[FileInfo]:
        """Files in creation order, optionally of one schema and/or record.

        ``deleted=False``: live files; ``True``: recycled ones; ``None``: both.
        """
        self._check_open()
        if schema is not None:
            check_schema(schema)
        record = None if record_id is None else check_record_id(record_id)
        if deleted not in _LISTED_STATES:
            raise InvalidStorageRequest(f"deleted must be True, False or None, not {deleted!r}")
        states = _LISTED_STATES[deleted]
        after: tuple[str, str] | None = None
        while True:
            page = await self._meta.page(schema, record, states, after, _PAGE)
            for info in page:
                yield info
            if len(page) < _PAGE:
                return
            after = _after(page)
