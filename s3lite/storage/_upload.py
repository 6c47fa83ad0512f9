"""Writing new files: whole content in one call, or in parts (first / next / final).

Rules of this module:
- A new file's row is inserted as ``uploading`` before any content is written and
  becomes ``active`` (with its size and SHA-256) only after the store holds all of
  it: readers never see a partial file.
- Size and SHA-256 are computed from the caller's bytes (as they pass through, or
  in one pass before a replayable body is handed on), never by reading the stored
  content back.
- On any failure or cancellation the partial content and the row are discarded
  (shielded); what a crash leaves behind, ``repair`` discards later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Literal
from uuid import UUID, uuid4

import anyio

from s3lite._body import Body, Buffer

from ._errors import FileNotFoundInStorage, InvalidStorageRequest
from ._metadata import Metadata
from ._models import FileInfo
from ._stores import Content, ContentStore, Digest, PartWriter

__all__ = ["Upload", "UploadState", "discard_upload", "store_new_file"]

logger = logging.getLogger("s3lite.storage")

_CLEANUP_SECONDS = 30.0

UploadState = Literal["new", "writing", "complete", "aborted"]
"""``new`` until the first part (no row yet); ``writing`` once the row and the store's
writer exist; ``complete`` or ``aborted`` for good."""

_TRANSITIONS: Final[dict[UploadState, frozenset[UploadState]]] = {
    "new": frozenset({"writing", "aborted"}),
    "writing": frozenset({"complete", "aborted"}),
    "complete": frozenset(),
    "aborted": frozenset(),
}
"""Where an ``Upload`` may go from each state; anything else is a ``RuntimeError``."""


async def discard_upload(meta: Metadata, store: ContentStore, file_id: UUID) -> None:
    """Remove an unfinished upload's content and row (shielded, best effort)."""
    with anyio.move_on_after(_CLEANUP_SECONDS, shield=True):
        try:
            await store.discard(file_id)
            await meta.delete_row(file_id, "uploading")
        except Exception as error:  # cleanup must not hide the original error
            logger.warning("could not discard the unfinished upload %s: %s", file_id, error)


async def _finish(meta: Metadata, file_id: UUID, digest: Digest) -> FileInfo:
    info = await meta.finish_upload(file_id, digest.size, digest.sha256)
    if info is None:
        raise FileNotFoundInStorage(file_id, f"upload of file {file_id} was discarded meanwhile")
    return info


async def store_new_file(
    meta: Metadata,
    store: ContentStore,
    owner: tuple[str, str],
    name: str,
    body: Body,
    *,
    file_id: UUID | None = None,
    progress: Callable[[int], object] | None = None,
) -> FileInfo:
    """Store a new file from any accepted body, handed to the store once; its
    ``FileInfo`` when done."""
    file_id = uuid4() if file_id is None else file_id
    content = Content(body, Digest(progress))
    await meta.insert(file_id, owner[0], owner[1], name, store.code)
    try:
        await store.write(file_id, content)
        return await _finish(meta, file_id, content.digest)
    except BaseException:
        await discard_upload(meta, store, file_id)
        raise


class Upload:
    """A file uploaded in parts: ``write`` the first and next parts, ``complete`` the final.

    Use ``async with fs.begin_upload(...) as upload:``; leaving the block completes
    the upload, or aborts it if the block raised.  ``id`` is known from the start;
    ``info`` is set once complete.  Any failure aborts the whole upload.
    """

    def __init__(
        self,
        meta: Metadata,
        choose_store: Callable[[], Awaitable[ContentStore]],
        owner: tuple[str, str],
        name: str,
        progress: Callable[[int], object] | None = None,
    ) -> None:
        self.id = uuid4()
        self.info: FileInfo | None = None
        self._meta = meta
        self._choose_store = choose_store
        self._owner = owner
        self._name = name
        self._digest = Digest(progress)
        self._store: ContentStore | None = None
        self._writer: PartWriter | None = None
        self._state: UploadState = "new"
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"<Upload {self.id} {self._name!r} {self._state}, {self._digest.size} bytes>"

    @property
    def state(self) -> UploadState:
        """Where the upload is: ``new``, ``writing``, ``complete`` or ``aborted``."""
        return self._state

    def _enter(self, state: UploadState) -> None:
        if state not in _TRANSITIONS[self._state]:
            raise RuntimeError(f"this upload is {self._state}")
        self._state = state

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._digest.size

    async def _start(self) -> PartWriter:
        if self._state == "writing" and self._writer is not None:
            return self._writer
        self._enter("writing")  # a RuntimeError unless new
        try:
            store = await self._choose_store()
            await self._meta.insert(self.id, self._owner[0], self._owner[1], self._name, store.code)
        except BaseException:
            self._state = "new"  # nothing was written: the upload may be tried again
            raise
        self._store = store
        try:
            self._writer = await store.begin_write(self.id)
        except BaseException:
            await self._fail()
            raise
        return self._writer

    async def _fail(self) -> None:
        self._enter("aborted")
        with anyio.move_on_after(_CLEANUP_SECONDS, shield=True):
            if self._writer is not None:
                try:
                    await self._writer.abort()
                except Exception as error:
                    logger.warning("could not abort the parts of upload %s: %s", self.id, error)
            if self._store is not None:
                await discard_upload(self._meta, self._store, self.id)

    async def write(self, data: Buffer) -> None:
        """Append one part (any size; the buffer is not kept after the call)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidStorageRequest(f"a part must be bytes, not {type(data).__name__}")
        async with self._lock:
            writer = await self._start()
            try:
                await writer.write(data)
            except BaseException:
                await self._fail()
                raise
            self._digest.update(data)

    async def complete(self) -> FileInfo:
        """Finish the upload (the final part); returns the new file's info."""
        async with self._lock:
            if self.info is not None:
                return self.info
            writer = await self._start()
            try:
                await writer.complete()
                self.info = await _finish(self._meta, self.id, self._digest)
            except BaseException:
                await self._fail()
                raise
            self._enter("complete")
            return self.info

    async def abort(self) -> None:
        """Discard the upload; safe to call more than once."""
        with anyio.move_on_after(_CLEANUP_SECONDS, shield=True):
            async with self._lock:
                if "aborted" in _TRANSITIONS[self._state]:
                    await self._fail()

    async def __aenter__(self) -> Upload:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.complete()
        else:
            await self.abort()
