"""The ``S3`` content store: object key = file id, in ``ObjectBucketName``.

Rules of this module:
- Soft delete is a server-side copy into ``RecycleBucketName`` followed by a delete
  from ``ObjectBucketName`` (restore is the mirror).  Copy first: a crash between
  the two steps leaves the content in both buckets, never in neither, and a rerun
  finishes the move (content already moved counts as done).
- Writes that must never overwrite (copies into the recycle bucket and back, and
  migration targets) are conditional (``if_none_match="*"``), and a copy checks its
  target with a HEAD first (some servers ignore a copy's condition; where one
  refuses it, the copy goes without).  An object already at the target is taken
  as done when its ETag is the source's, and is a ``ContentConflict`` (left alone)
  when it is not.
- The buckets are created on first write (``create_bucket(exist_ok=True)``).
- New content goes to ``put_object`` once: a replayable body (bytes, a path, a
  seekable file) as itself, so the client sends ranged parts concurrently; a
  stream as a stream.
- Parts of a parts upload are cut by the shared ``Rechunker`` to ``part_size``
  (at least S3's 5 MiB minimum); an upload that never reaches it is one PUT.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from contextlib import aclosing
from uuid import UUID

import anyio

from s3lite._body import Buffer
from s3lite._client import S3Client
from s3lite._exceptions import (
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
    ServiceError,
)
from s3lite._models import CompletedPart
from s3lite._object_options import WriteArguments
from s3lite._options import MIN_PART_SIZE

from ._errors import ContentConflict, ContentMissing, StorageNotConfigured
from ._models import S3, StorageCode
from ._stores import CHUNK_SIZE, Content, Rechunker

__all__ = ["S3Store"]


class S3Store:
    """Content in S3, through one ``S3Client``."""

    code: StorageCode = S3

    def __init__(
        self,
        client: S3Client,
        object_bucket: str,
        recycle_bucket: str | None,
        *,
        part_size: int = MIN_PART_SIZE,
    ) -> None:
        self.client = client
        self.object_bucket = object_bucket
        self.recycle_bucket = recycle_bucket
        self.part_size = part_size
        self._buckets_ready = False
        self._buckets_lock = anyio.Lock()
        self._conditional_copies = True
        """False once the server refused ``If-None-Match`` on a copy."""

    def __repr__(self) -> str:
        return (
            f"S3Store(endpoint={self.client.endpoint!r}, object_bucket={self.object_bucket!r}, "
            f"recycle_bucket={self.recycle_bucket!r})"
        )

    async def ensure_buckets(self) -> None:
        """Create the object and recycle buckets unless they exist (once per store)."""
        async with self._buckets_lock:
            if not self._buckets_ready:
                await self.client.create_bucket(self.object_bucket, exist_ok=True)
                if self.recycle_bucket is not None:
                    await self.client.create_bucket(self.recycle_bucket, exist_ok=True)
                self._buckets_ready = True

    async def read(self, file_id: UUID) -> AsyncGenerator[bytes, None]:
        try:
            stream = await self.client.get_object(self.object_bucket, str(file_id))
        except (NoSuchKey, NoSuchBucket):
            raise ContentMissing(file_id, f"S3 bucket {self.object_bucket!r}") from None
        async with stream:
            async for chunk in stream:
                yield chunk

    async def write(self, file_id: UUID, content: Content, *, create_only: bool = False) -> None:
        await self.ensure_buckets()
        try:
            await self._write(str(file_id), content, create_only)
        except PreconditionFailed:
            raise ContentConflict(file_id, f"S3 bucket {self.object_bucket!r}") from None

    async def _write(self, key: str, content: Content, create_only: bool) -> None:
        condition: WriteArguments = {"if_none_match": "*"} if create_only else {}
        body = await content.replayable()
        if body is not None:
            await self.client.put_object(self.object_bucket, key, body, **condition)
            await content.check_unchanged()
            return
        async with aclosing(content.chunks(CHUNK_SIZE)) as chunks:
            await self.client.put_object(self.object_bucket, key, chunks, **condition)

    async def begin_write(self, file_id: UUID) -> _PartWriter:
        await self.ensure_buckets()
        return _PartWriter(self.client, self.object_bucket, str(file_id), self.part_size)

    async def copy(self, source_id: UUID, target_id: UUID) -> None:
        await self.ensure_buckets()
        try:
            await self.client.copy_object(
                self.object_bucket, str(source_id), self.object_bucket, str(target_id)
            )
        except (NoSuchKey, NoSuchBucket):
            raise ContentMissing(source_id, f"S3 bucket {self.object_bucket!r}") from None

    async def exists(self, file_id: UUID) -> bool:
        return await self.client.object_exists(self.object_bucket, str(file_id))

    async def delete(self, file_id: UUID) -> None:
        await self._remove(self.object_bucket, str(file_id))

    def check_recycle(self) -> None:
        self._recycle()

    def _recycle(self) -> str:
        if self.recycle_bucket is None:
            raise StorageNotConfigured(
                "RecycleBucketName is missing from the S3 connection string; files stored "
                "in S3 cannot be deleted (recycled) or restored without it"
            )
        return self.recycle_bucket

    async def recycle(self, file_id: UUID) -> None:
        recycle_bucket = self._recycle()
        await self.ensure_buckets()
        await self._move(self.object_bucket, recycle_bucket, file_id)

    async def restore(self, file_id: UUID) -> None:
        recycle_bucket = self._recycle()
        await self.ensure_buckets()
        await self._move(recycle_bucket, self.object_bucket, file_id)

    async def purge(self, file_id: UUID) -> None:
        await self._remove(self._recycle(), str(file_id))

    async def discard(self, file_id: UUID) -> None:
        key = str(file_id)
        try:
            async for upload in self.client.list_multipart_uploads(self.object_bucket, prefix=key):
                if upload.key == key:
                    await self._abort(key, upload.upload_id)
        except NoSuchBucket:
            return
        await self._remove(self.object_bucket, key)

    async def _move(self, source: str, target: str, file_id: UUID) -> None:
        """Copy ``source`` -> ``target`` without overwriting, then delete from ``source``
        (idempotent)."""
        key = str(file_id)
        try:
            copied = await self._copy_new(source, target, key)
        except (NoSuchKey, NoSuchBucket):
            if await self.client.object_exists(target, key):
                return  # an earlier run copied and deleted it already
            raise ContentMissing(file_id, f"S3 buckets {source!r} and {target!r}") from None
        if not copied and not await self._same_object(source, target, key):
            raise ContentConflict(file_id, f"S3 bucket {target!r}")
        await self._remove(source, key)

    async def _copy_new(self, source: str, target: str, key: str) -> bool:
        """Copy unless ``target`` already has the key; whether it copied.  The HEAD
        comes first because some servers (Ceph RGW 16) ignore a copy's condition; the
        condition then closes the window between the HEAD and the copy where it is
        honoured."""
        if await self.client.object_exists(target, key):
            return False
        if self._conditional_copies:
            try:
                await self.client.copy_object(source, key, target, key, if_none_match="*")
                return True
            except PreconditionFailed:
                return False
            except ServiceError as error:
                if error.status not in (400, 501) or error.code in ("NoSuchKey", "NoSuchBucket"):
                    raise
                self._conditional_copies = False  # the server refuses the condition
        await self.client.copy_object(source, key, target, key)
        return True

    async def _same_object(self, source: str, target: str, key: str) -> bool:
        """Whether ``target`` holds what ``source`` holds (same size and ETag)."""
        try:
            here = await self.client.head_object(source, key)
        except NoSuchKey:
            return True  # the source is gone: the earlier run's copy is the content
        there = await self.client.head_object(target, key)
        return (here.size, here.etag) == (there.size, there.etag)

    async def _remove(self, bucket: str, key: str) -> None:
        """Delete one object (missing is fine): the second step of every move."""
        with contextlib.suppress(NoSuchBucket):
            await self.client.delete_object(bucket, key)

    async def _abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(NoSuchUpload):
            await self.client.abort_multipart_upload(self.object_bucket, key, upload_id)


class _PartWriter:
    """A parts upload: cut to the part size, then a multipart upload (or one PUT)."""

    def __init__(self, client: S3Client, bucket: str, key: str, part_size: int) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._parts_of = Rechunker(part_size, self._send_part)
        self._upload_id: str | None = None
        self._parts: list[CompletedPart] = []
        self._done = False

    async def _send_part(self, data: Buffer) -> None:
        if self._upload_id is None:
            self._upload_id = await self._client.create_multipart_upload(self._bucket, self._key)
        number = len(self._parts) + 1
        part = await self._client.upload_part(
            self._bucket, self._key, self._upload_id, number, data
        )
        self._parts.append(part)

    async def write(self, data: Buffer) -> None:
        if self._done:
            raise RuntimeError("this write has already been completed or aborted")
        await self._parts_of.write(data)

    async def complete(self) -> None:
        if self._done:
            raise RuntimeError("this write has already been completed or aborted")
        last = self._parts_of.remainder()
        if self._upload_id is None:
            await self._client.put_object(self._bucket, self._key, last)
        else:
            if last:
                await self._send_part(last)
            await self._client.complete_multipart_upload(
                self._bucket, self._key, self._upload_id, self._parts
            )
        self._done = True

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._parts_of.remainder()
        if self._upload_id is not None:
            with contextlib.suppress(NoSuchUpload):
                await self._client.abort_multipart_upload(self._bucket, self._key, self._upload_id)
