"""Bad input, one table: every case gets a typed error and leaves the server unchanged.

Each row of ``CASES`` names a bad operation (an async callable run against the real
server through ``S3Client`` or ``FileStorage``), the exception class it must raise,
and a substring of the message naming what was wrong.  For every row the test also
checks that nothing changed: the buckets of the server, the objects of every bucket
involved, the multipart uploads in progress (there must be none), and, for storage
rows, the ``FileStorage`` listing (deleted files included) and every row of its
SQLite database.  The table runs on asyncio and on trio.
"""

from __future__ import annotations

import io
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from s3lite import (
    ConfigurationError,
    InvalidRange,
    InvalidRequestError,
    NoSuchBucket,
    S3Client,
    parse_connection_string,
    read_connection_config,
)
from s3lite._options import MIN_PART_SIZE
from s3lite.storage import (
    USE_BASE_ENTITY_FILE_DELETE_LISTENER,
    EmptyFileName,
    FileDeleted,
    FileInfo,
    FileNotFoundInStorage,
    FileStorage,
    InvalidOwner,
    InvalidStorageRequest,
    StorageAlreadyConfigured,
    StorageNotConfigured,
    UnknownFeature,
    UnknownStorageCode,
)
from tests.conftest import TestServer, empty_and_delete_bucket

pytestmark = pytest.mark.anyio

SEED_KEY = "seed/object.txt"
SEED_BODY = b"0123456789"
RECORD = uuid.UUID("0b6c4c5e-39ba-4f5e-9df3-0d4b5b0c1a2e")
MISSING_ID = uuid.UUID(int=0xDEAD)  # 00000000-0000-0000-0000-00000000dead
EURO = "\u20ac"  # three bytes in UTF-8


def bad(value: object) -> Any:
    """A deliberately ill-typed argument (so mypy lets the call through)."""
    return value


@dataclass
class Ctx:
    """What a case runs against: a client, a seeded bucket, and (storage cases) storages."""

    server: TestServer
    s3: S3Client
    tmp: Path
    bucket: str
    missing: str
    database: Path
    object_bucket: str
    recycle_bucket: str
    fs: FileStorage | None = None
    """Connected to S3 (S3 active) with files in both stores, two of them deleted."""
    plain: FileStorage | None = None
    """The same database with no S3 connection."""
    ids: dict[str, uuid.UUID] = field(default_factory=dict)

    @property
    def storage(self) -> FileStorage:
        assert self.fs is not None
        return self.fs

    @property
    def no_s3(self) -> FileStorage:
        assert self.plain is not None
        return self.plain

    def names(self) -> dict[str, str]:
        """What message templates may refer to: ``{bucket}``, ``{missing}``, ``{s3_file}`` ..."""
        fields = {
            "bucket": self.bucket,
            "missing": self.missing,
            "object_bucket": self.object_bucket,
            "tmp": str(self.tmp),
        }
        return fields | {name: str(file_id) for name, file_id in self.ids.items()}

    def connection_string(self, *drop: str, extra: str = "", **values: str) -> str:
        """A valid connection string to the test server, minus ``drop``, with ``values``."""
        s = self.server.settings
        pairs = {
            "ServiceUrl": s.service_url,
            "AccessKey": s.access_key,
            "SecretKey": s.secret_key,
            "ObjectBucketName": self.object_bucket,
            "RecycleBucketName": self.recycle_bucket,
            "Region": s.region,
        }
        pairs.update(values)
        for name in drop:
            del pairs[name]
        return "; ".join(f"{key}={value}" for key, value in pairs.items()) + ";" + extra


Op = Callable[[Ctx], Awaitable[object]]


@dataclass(frozen=True)
class Case:
    id: str
    op: Op
    error: type[BaseException]
    message: str
    """A substring of ``str(error)``; ``{name}`` fields come from ``Ctx.names``."""
    storage: bool = False
    """Whether the case needs the storages (``ctx.fs`` / ``ctx.plain``)."""
    bug: str | None = None
    """Set for a known library bug: the case is an expected (strict) failure."""


def call(fn: Callable[[Ctx], object]) -> Op:
    """A synchronous bad operation as an async one."""

    async def op(ctx: Ctx) -> object:
        return fn(ctx)

    return op


async def listing(ctx: Ctx, bucket: object) -> list[object]:
    return [entry async for entry in ctx.s3.list_objects(bad(bucket))]


async def uploads_of(ctx: Ctx, bucket: str) -> list[object]:
    return [upload async for upload in ctx.s3.list_multipart_uploads(bucket)]


async def str_chunks() -> AsyncIterator[Any]:
    yield "not bytes"


async def bytes_then_str() -> AsyncIterator[Any]:
    """More than one part of bytes (a multipart upload starts), then a str."""
    yield b"x" * MIN_PART_SIZE
    yield b"x"
    yield b"y" * 1024
    yield "not bytes"


async def text_mode_file(ctx: Ctx) -> object:
    path = ctx.tmp / "text.txt"
    await anyio.Path(path).write_text("text", encoding="utf-8")
    file = await anyio.to_thread.run_sync(lambda: open(path, encoding="utf-8"))  # noqa: SIM115
    try:
        return await ctx.s3.put_object(ctx.bucket, "text-file", bad(file))
    finally:
        file.close()


async def write_config(ctx: Ctx, text: str) -> Path:
    path = ctx.tmp / f"ConnectionStrings-{uuid.uuid4().hex[:8]}.config"
    await anyio.Path(path).write_text(text, encoding="utf-8")
    return path


def config_case(id: str, text: str, message: str) -> Case:
    async def op(ctx: Ctx) -> object:
        path = await write_config(ctx, text)
        return await anyio.to_thread.run_sync(read_connection_config, path)

    return Case(id, op, ConfigurationError, message)


async def open_storage_with_config(ctx: Ctx) -> object:
    async with FileStorage(ctx.tmp / "other.db", config_file=ctx.tmp / "absent.config"):
        return None


async def open_second_s3_storage(ctx: Ctx) -> object:
    other = ctx.connection_string(ObjectBucketName=f"{ctx.bucket}-x")
    async with FileStorage(ctx.database, other):
        return None


async def bad_part_after_a_full_part(ctx: Ctx) -> object:
    async with ctx.storage.begin_upload("ActivityFile", RECORD, "big.bin") as upload:
        await upload.write(b"x" * MIN_PART_SIZE)
        await upload.write(bad("a str part"))
    return upload


async def delete_objects_with_a_bad_key_after_a_full_batch(ctx: Ctx) -> object:
    keys = [SEED_KEY, *(f"absent-{i}" for i in range(999)), ""]
    return await ctx.s3.delete_objects(ctx.bucket, keys)


def conn_case(id: str, build: Callable[[Ctx], str], message: str) -> Case:
    """A connection string parsed with an empty environment (no fallback credentials)."""
    return Case(
        id,
        call(lambda c: parse_connection_string(build(c), environ={})),
        ConfigurationError,
        message,
    )


VALID_CONFIG = (
    '<?xml version="1.0" encoding="utf-8"?>\n<connectionStrings>\n'
    '  <add name="other" connectionString="ServiceUrl=http://127.0.0.1:1; AccessKey=a; '
    'SecretKey=b; ObjectBucketName=objects;"/>\n</connectionStrings>\n'
)

NONE_IS_ABSENT = (
    "S3Client treats a None bucket or key as absent (a service or bucket request): the "
    "methods without their own validate_bucket_name/validate_key send it"
)

CASES: list[Case] = [
    # --- invalid bucket names (refused before anything is sent) ------------------------
    Case(
        "bucket-too-short",
        lambda c: c.s3.put_object("ab", "k", b"x"),
        InvalidRequestError,
        "invalid bucket name 'ab'",
    ),
    Case(
        "bucket-uppercase",
        lambda c: c.s3.create_bucket("UPPER"),
        InvalidRequestError,
        "invalid bucket name 'UPPER'",
    ),
    Case(
        "bucket-underscore",
        lambda c: c.s3.create_bucket("under_score"),
        InvalidRequestError,
        "invalid bucket name 'under_score'",
    ),
    Case(
        "bucket-leading-hyphen",
        lambda c: listing(c, "-lead"),
        InvalidRequestError,
        "invalid bucket name '-lead'",
    ),
    Case(
        "bucket-adjacent-dots",
        lambda c: c.s3.get_object("a..b", SEED_KEY),
        InvalidRequestError,
        "invalid bucket name 'a..b': it must not contain two adjacent dots",
    ),
    Case(
        "bucket-ip-address",
        lambda c: c.s3.create_bucket("192.168.1.1"),
        InvalidRequestError,
        "'192.168.1.1': it must not be formatted as an IP address",
    ),
    Case(
        "bucket-64-chars",
        lambda c: c.s3.head_object("b" * 64, SEED_KEY),
        InvalidRequestError,
        f"invalid bucket name '{'b' * 64}'",
    ),
    Case(
        "bucket-not-str",
        lambda c: c.s3.put_object(bad(123), "k", b"x"),
        InvalidRequestError,
        "bucket name must be a str, got int",
    ),
    Case(
        "bucket-none-delete",
        lambda c: c.s3.delete_bucket(bad(None)),
        InvalidRequestError,
        "bucket name must be a str, got NoneType",
    ),
    Case(
        "bucket-none-exists",
        lambda c: c.s3.bucket_exists(bad(None)),
        InvalidRequestError,
        "bucket name must be a str, got NoneType",
    ),
    Case(
        "bucket-bad-copy-destination",
        lambda c: c.s3.copy_object(c.bucket, SEED_KEY, "Bad_Bucket", "copy"),
        InvalidRequestError,
        "invalid bucket name 'Bad_Bucket'",
    ),
    Case(
        "bucket-bad-presign",
        call(lambda c: c.s3.presign_get("x", SEED_KEY)),
        InvalidRequestError,
        "invalid bucket name 'x'",
    ),
    # --- invalid keys ------------------------------------------------------------------
    Case(
        "key-empty-put",
        lambda c: c.s3.put_object(c.bucket, "", b"x"),
        InvalidRequestError,
        "object key must not be empty",
    ),
    Case(
        "key-empty-delete",
        lambda c: c.s3.delete_object(c.bucket, ""),
        InvalidRequestError,
        "object key must not be empty",
    ),
    Case(
        "key-1025-bytes",
        lambda c: c.s3.put_object(c.bucket, "k" * 1025, b"x"),
        InvalidRequestError,
        "object key is 1025 bytes long",
    ),
    Case(
        "key-1026-bytes-of-3-byte-chars",
        lambda c: c.s3.put_object(c.bucket, EURO * 342, b"x"),
        InvalidRequestError,
        "object key is 1026 bytes long",
    ),
    Case(
        "key-lone-surrogate",
        lambda c: c.s3.put_object(c.bucket, "a\ud800b", b"x"),
        InvalidRequestError,
        "lone surrogate",
    ),
    Case(
        "key-not-str",
        lambda c: c.s3.get_object(c.bucket, bad(b"bytes-key")),
        InvalidRequestError,
        "object key must be a str, got bytes",
    ),
    Case(
        "key-none-head",
        lambda c: c.s3.head_object(c.bucket, bad(None)),
        InvalidRequestError,
        "object key must be a str, got NoneType",
    ),
    Case(
        "key-none-delete-object",
        lambda c: c.s3.delete_object(c.bucket, bad(None)),
        InvalidRequestError,
        "object key must be a str, got NoneType",
    ),
    Case(
        "key-none-abort-multipart",
        lambda c: c.s3.abort_multipart_upload(c.bucket, bad(None), "no-upload"),
        InvalidRequestError,
        "object key must be a str, got NoneType",
    ),
    Case(
        "key-none-copy-destination",
        lambda c: c.s3.copy_object(c.bucket, SEED_KEY, c.missing, bad(None)),
        InvalidRequestError,
        "object key must be a str, got NoneType",
    ),
    Case(
        "key-too-long-copy-destination",
        lambda c: c.s3.copy_object(c.bucket, SEED_KEY, c.bucket, "k" * 1025),
        InvalidRequestError,
        "object key is 1025 bytes long",
    ),
    Case(
        "key-empty-multipart",
        lambda c: c.s3.create_multipart_upload(c.bucket, ""),
        InvalidRequestError,
        "object key must not be empty",
    ),
    Case(
        "key-empty-presign",
        call(lambda c: c.s3.presign_put(c.bucket, "")),
        InvalidRequestError,
        "object key must not be empty",
    ),
    Case(
        "key-empty-in-delete-objects",
        lambda c: c.s3.delete_objects(c.bucket, [SEED_KEY, ""]),
        InvalidRequestError,
        "object key must not be empty",
    ),
    Case(
        "key-bad-after-a-full-delete-batch",
        delete_objects_with_a_bad_key_after_a_full_batch,
        InvalidRequestError,
        "object key must not be empty",
    ),
    # --- bodies of the wrong type ------------------------------------------------------
    Case(
        "body-str",
        lambda c: c.s3.put_object(c.bucket, "k", bad("text")),
        InvalidRequestError,
        "a str body is ambiguous",
    ),
    Case(
        "body-int",
        lambda c: c.s3.put_object(c.bucket, "k", bad(42)),
        InvalidRequestError,
        "got int",
    ),
    Case(
        "body-dict",
        lambda c: c.s3.put_object(c.bucket, "k", bad({"a": 1})),
        InvalidRequestError,
        "got dict",
    ),
    Case(
        "body-list-of-bytes",
        lambda c: c.s3.put_object(c.bucket, "k", bad([b"a", b"b"])),
        InvalidRequestError,
        "got list",
    ),
    Case(
        "body-text-stringio",
        lambda c: c.s3.put_object(c.bucket, "k", bad(io.StringIO("text"))),
        InvalidRequestError,
        "binary mode",
    ),
    Case("body-text-mode-file", text_mode_file, InvalidRequestError, "binary mode"),
    Case(
        "body-async-iterable-of-str",
        lambda c: c.s3.put_object(c.bucket, "k", str_chunks()),
        InvalidRequestError,
        "must yield bytes, got str",
    ),
    Case(
        "body-str-after-a-multipart-part",
        lambda c: c.s3.put_object(c.bucket, "big", bytes_then_str()),
        InvalidRequestError,
        "must yield bytes, got str",
    ),
    Case(
        "body-missing-path",
        lambda c: c.s3.put_object(c.bucket, "k", c.tmp / "no-such-file.bin"),
        InvalidRequestError,
        "no-such-file.bin",
    ),
    Case(
        "body-length-mismatch",
        lambda c: c.s3.put_object(c.bucket, "k", b"abc", content_length=5),
        InvalidRequestError,
        "content_length=5 but the body holds 3 bytes",
    ),
    Case(
        "body-negative-length",
        lambda c: c.s3.put_object(c.bucket, "k", b"abc", content_length=-1),
        InvalidRequestError,
        "content_length must be an int >= 0, got -1",
    ),
    Case(
        "body-part-str",
        lambda c: c.s3.upload_part(c.bucket, "k", "no-upload", 1, bad("text")),
        InvalidRequestError,
        "a str body is ambiguous",
    ),
    Case(
        "part-number-zero",
        lambda c: c.s3.upload_part(c.bucket, "k", "no-upload", 0, b"x"),
        InvalidRequestError,
        "part_number must be 1..10000, got 0",
    ),
    # --- negative or inverted ranges ---------------------------------------------------
    Case(
        "range-negative-start",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=(-1, 5)),
        InvalidRequestError,
        "range start must be an int >= 0, got -1",
    ),
    Case(
        "range-inverted",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=(5, 2)),
        InvalidRequestError,
        "range end must be an int >= start (5) or None, got 2",
    ),
    Case(
        "range-str-start",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=bad(("0", 1))),
        InvalidRequestError,
        "range start must be an int >= 0, got '0'",
    ),
    Case(
        "range-one-element",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=bad((0,))),
        InvalidRequestError,
        "range must be a (first, last) tuple",
    ),
    Case(
        "range-float-start",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=bad((1.5, 2))),
        InvalidRequestError,
        "range start must be an int >= 0, got 1.5",
    ),
    Case(
        "range-float-end",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=bad((0, 2.5))),
        InvalidRequestError,
        "got 2.5",
    ),
    Case(
        "range-bool-start",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=bad((True, 3))),
        InvalidRequestError,
        "got True",
    ),
    Case(
        "range-list",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=bad([0, 5])),
        InvalidRequestError,
        "range must be a (first, last) tuple",
    ),
    Case(
        "range-beyond-the-object",
        lambda c: c.s3.get_object(c.bucket, SEED_KEY, range=(100, 200)),
        InvalidRange,
        "InvalidRange",
    ),
    # --- malformed connection strings --------------------------------------------------
    conn_case(
        "conn-missing-service-url",
        lambda c: c.connection_string("ServiceUrl"),
        "ServiceUrl is missing",
    ),
    conn_case(
        "conn-missing-object-bucket",
        lambda c: c.connection_string("ObjectBucketName"),
        "ObjectBucketName is missing",
    ),
    conn_case(
        "conn-unknown-key",
        lambda c: c.connection_string(extra=" Colour=blue;"),
        "unknown key 'Colour'",
    ),
    conn_case(
        "conn-misspelt-key",
        lambda c: c.connection_string("AccessKey", extra=" AccesKey=abc;"),
        "did you mean AccessKey?",
    ),
    conn_case(
        "conn-duplicate-key",
        lambda c: c.connection_string(extra=" accesskey=other;"),
        "AccessKey is given more than once",
    ),
    conn_case(
        "conn-bad-url-scheme",
        lambda c: c.connection_string(ServiceUrl="ftp://127.0.0.1:21"),
        "ServiceUrl must start with http:// or https:// (not 'ftp')",
    ),
    conn_case(
        "conn-url-without-scheme",
        lambda c: c.connection_string(ServiceUrl="127.0.0.1:8333"),
        "ServiceUrl must start with http:// or https://",
    ),
    conn_case(
        "conn-bad-bucket-name",
        lambda c: c.connection_string(ObjectBucketName="Bad_Bucket"),
        "ObjectBucketName 'Bad_Bucket' is not a valid bucket name",
    ),
    conn_case(
        "conn-same-buckets",
        lambda c: c.connection_string(RecycleBucketName=c.object_bucket),
        "RecycleBucketName must differ from ObjectBucketName",
    ),
    conn_case("conn-empty", lambda c: "  ;  ", "connection string is empty"),
    conn_case(
        "conn-empty-value",
        lambda c: c.connection_string(Region=""),
        "Region has an empty value",
    ),
    Case(
        "conn-not-str",
        call(lambda c: parse_connection_string(bad(b"ServiceUrl=http://x"))),
        ConfigurationError,
        "connection string must be a str, not bytes",
    ),
    Case(
        "conn-client-from-bad-string",
        call(lambda c: S3Client.from_connection_string(c.connection_string("ServiceUrl"))),
        ConfigurationError,
        "ServiceUrl is missing",
    ),
    Case(
        "conn-storage-from-bad-string",
        call(lambda c: FileStorage(c.tmp / "x.db", c.connection_string(ServiceUrl="ftp://h"))),
        ConfigurationError,
        "ServiceUrl must start with http:// or https://",
    ),
    Case(
        "client-bad-endpoint",
        call(lambda c: S3Client("ftp://127.0.0.1", access_key="a", secret_key="b")),
        ConfigurationError,
        "endpoint URL must start with http:// or https://",
    ),
    Case(
        "client-bad-part-size",
        call(lambda c: c.server.client(part_size=1024)),
        ConfigurationError,
        "part_size must be between 5 MiB and 5 GiB",
    ),
    # --- malformed config files --------------------------------------------------------
    Case(
        "config-missing-file",
        call(lambda c: read_connection_config(c.tmp / "absent.config")),
        ConfigurationError,
        "absent.config' does not exist",
    ),
    config_case(
        "config-malformed-xml",
        "<connectionStrings><add name='s3Connection'",
        "is not well-formed XML",
    ),
    config_case(
        "config-missing-entry",
        VALID_CONFIG,
        "has no entry named 's3Connection' (entries: 'other')",
    ),
    config_case(
        "config-doctype",
        '<?xml version="1.0"?>\n<!DOCTYPE connectionStrings [<!ENTITY x "y">]>\n'
        '<connectionStrings><add name="s3Connection" connectionString="&x;"/>'
        "</connectionStrings>",
        "declares a DOCTYPE or ENTITY",
    ),
    config_case(
        "config-entry-without-connection-string",
        '<connectionStrings><add name="s3Connection"/></connectionStrings>',
        "has no connectionString attribute on entry 's3Connection'",
    ),
    config_case(
        "config-wrong-root",
        "<appSettings/>",
        "has root element <appSettings>",
    ),
    config_case(
        "config-bad-connection-string",
        '<connectionStrings><add name="s3Connection" '
        'connectionString="AccessKey=a; SecretKey=b; ObjectBucketName=objects;"/>'
        "</connectionStrings>",
        "connection string 's3Connection': ServiceUrl is missing",
    ),
    Case(
        "config-storage-missing-file",
        open_storage_with_config,
        ConfigurationError,
        "absent.config' does not exist",
    ),
    # --- a missing bucket: the server answers NoSuchBucket -----------------------------
    Case(
        "missing-bucket-put",
        lambda c: c.s3.put_object(c.missing, "k", b"x"),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    Case(
        "missing-bucket-put-multipart",
        lambda c: c.s3.put_object(c.missing, "big", b"x" * (MIN_PART_SIZE + 1)),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    Case(
        "missing-bucket-get",
        lambda c: c.s3.get_object(c.missing, "k"),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    Case(
        "missing-bucket-list",
        lambda c: listing(c, c.missing),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    Case(
        "missing-bucket-delete-object",
        lambda c: c.s3.delete_object(c.missing, "k"),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    Case(
        "missing-bucket-delete-bucket",
        lambda c: c.s3.delete_bucket(c.missing),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    Case(
        "missing-bucket-list-uploads",
        lambda c: uploads_of(c, c.missing),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    Case(
        "missing-bucket-start-multipart",
        lambda c: c.s3.create_multipart_upload(c.missing, "k"),
        NoSuchBucket,
        "bucket='{missing}'",
    ),
    # --- presigned URL expiry ----------------------------------------------------------
    Case(
        "presign-expiry-0",
        call(lambda c: c.s3.presign_get(c.bucket, SEED_KEY, expires_in=0)),
        InvalidRequestError,
        "expires must be between 1 second and 7 days (604800 s), got 0",
    ),
    Case(
        "presign-expiry-8-days",
        call(lambda c: c.s3.presign_put(c.bucket, SEED_KEY, expires_in=8 * 24 * 3600)),
        InvalidRequestError,
        "got 691200",
    ),
    Case(
        "presign-expiry-str",
        call(lambda c: c.s3.presign_get(c.bucket, SEED_KEY, expires_in=bad("60"))),
        InvalidRequestError,
        "expires must be a whole number of seconds, got '60'",
    ),
    # --- invalid metadata --------------------------------------------------------------
    Case(
        "metadata-name-with-space",
        lambda c: c.s3.put_object(c.bucket, "k", b"x", metadata={"bad name": "v"}),
        InvalidRequestError,
        "invalid metadata name 'bad name'",
    ),
    Case(
        "metadata-empty-name",
        lambda c: c.s3.put_object(c.bucket, "k", b"x", metadata={"": "v"}),
        InvalidRequestError,
        "invalid metadata name ''",
    ),
    Case(
        "metadata-non-ascii-name",
        lambda c: c.s3.put_object(c.bucket, "k", b"x", metadata={"na\u00efve": "v"}),
        InvalidRequestError,
        "invalid metadata name 'na\u00efve'",
    ),
    Case(
        "metadata-name-with-colon",
        lambda c: c.s3.create_multipart_upload(c.bucket, "k", metadata={"a:b": "v"}),
        InvalidRequestError,
        "invalid metadata name 'a:b'",
    ),
    Case(
        "metadata-value-with-newline",
        lambda c: c.s3.put_object(c.bucket, "k", b"x", metadata={"note": "a\r\nX-Evil: 1"}),
        InvalidRequestError,
        "metadata value for 'note' must be ASCII without line breaks",
    ),
    Case(
        "metadata-value-not-str",
        lambda c: c.s3.put_object(c.bucket, "k", b"x", metadata=bad({"n": 1})),
        InvalidRequestError,
        "metadata names and values must be str",
    ),
    Case(
        "metadata-not-a-mapping",
        lambda c: c.s3.put_object(c.bucket, "k", b"x", metadata=bad([("a", "b")])),
        InvalidRequestError,
        "metadata must be a mapping",
    ),
    Case(
        "metadata-on-copy",
        lambda c: c.s3.copy_object(c.bucket, SEED_KEY, c.bucket, "copy", metadata={"a b": "v"}),
        InvalidRequestError,
        "invalid metadata name 'a b'",
    ),
    Case(
        "content-type-with-newline",
        lambda c: c.s3.put_object(c.bucket, "k", b"x", content_type="text/plain\r\nX-Evil: 1"),
        InvalidRequestError,
        "content_type must be a str without line breaks",
    ),
    # --- storage: unknown store codes --------------------------------------------------
    Case(
        "store-unknown-active",
        lambda c: c.storage.set_active_storage("Dropbox"),
        UnknownStorageCode,
        "unknown store code 'Dropbox'",
        storage=True,
    ),
    Case(
        "store-empty-active",
        lambda c: c.storage.set_active_storage(""),
        UnknownStorageCode,
        "unknown store code ''",
        storage=True,
    ),
    Case(
        "store-none-active",
        lambda c: c.storage.set_active_storage(bad(None)),
        UnknownStorageCode,
        "unknown store code None",
        storage=True,
    ),
    Case(
        "store-unknown-migrate-target",
        lambda c: c.storage.migrate("Database", "Azure"),
        UnknownStorageCode,
        "unknown store code 'Azure'",
        storage=True,
    ),
    Case(
        "store-unknown-migrate-source",
        lambda c: c.storage.migrate("Tape", "S3"),
        UnknownStorageCode,
        "unknown store code 'Tape'",
        storage=True,
    ),
    Case(
        "store-migrate-to-itself",
        lambda c: c.storage.migrate("S3", "s3"),
        InvalidStorageRequest,
        "source and target are both S3",
        storage=True,
    ),
    Case(
        "store-migrate-negative-limit",
        lambda c: c.storage.migrate("Database", "S3", limit=-1),
        InvalidStorageRequest,
        "limit must be an int >= 0 or None, got -1",
        storage=True,
    ),
    # --- storage: a file id that does not exist ----------------------------------------
    Case(
        "file-unknown-info",
        lambda c: c.storage.info(MISSING_ID),
        FileNotFoundInStorage,
        f"file {MISSING_ID} not found",
        storage=True,
    ),
    Case(
        "file-unknown-read",
        lambda c: c.storage.read(MISSING_ID),
        FileNotFoundInStorage,
        f"file {MISSING_ID} not found",
        storage=True,
    ),
    Case(
        "file-unknown-delete",
        lambda c: c.storage.delete(str(MISSING_ID)),
        FileNotFoundInStorage,
        f"file {MISSING_ID} not found",
        storage=True,
    ),
    Case(
        "file-unknown-restore",
        lambda c: c.storage.restore(MISSING_ID),
        FileNotFoundInStorage,
        f"file {MISSING_ID} not found",
        storage=True,
    ),
    Case(
        "file-unknown-copy",
        lambda c: c.storage.copy(MISSING_ID),
        FileNotFoundInStorage,
        f"file {MISSING_ID} not found",
        storage=True,
    ),
    Case(
        "file-id-not-a-uuid",
        lambda c: c.storage.info("report.pdf"),
        FileNotFoundInStorage,
        "'report.pdf' not found: not a file id",
        storage=True,
    ),
    Case(
        "file-id-not-str",
        lambda c: c.storage.read(bad(42)),
        InvalidStorageRequest,
        "file id must be a UUID or str, not int",
        storage=True,
    ),
    Case(
        "file-deleted-read",
        lambda c: c.storage.read(c.ids["deleted_s3"]),
        FileDeleted,
        "file {deleted_s3} is deleted (in the recycle bin)",
        storage=True,
    ),
    Case(
        "file-deleted-copy",
        lambda c: c.storage.copy(c.ids["deleted_db"]),
        FileDeleted,
        "file {deleted_db} is deleted",
        storage=True,
    ),
    # --- storage: bad names, owners, toggles and arguments -----------------------------
    Case(
        "file-name-empty",
        lambda c: c.storage.upload("ActivityFile", RECORD, "", b"data"),
        EmptyFileName,
        "file name is empty",
        storage=True,
    ),
    Case(
        "file-name-blank",
        lambda c: c.storage.upload("ActivityFile", RECORD, "   ", b"data"),
        EmptyFileName,
        "file name is empty",
        storage=True,
    ),
    Case(
        "file-name-empty-parts-upload",
        call(lambda c: c.storage.begin_upload("ActivityFile", RECORD, "")),
        EmptyFileName,
        "file name is empty",
        storage=True,
    ),
    Case(
        "file-name-empty-copy",
        lambda c: c.storage.copy(c.ids["s3_file"], name=""),
        EmptyFileName,
        "file name is empty",
        storage=True,
    ),
    Case(
        "owner-bad-schema",
        lambda c: c.storage.upload("Activity File", RECORD, "a.txt", b"data"),
        InvalidOwner,
        "entity schema name 'Activity File' is invalid",
        storage=True,
    ),
    Case(
        "owner-empty-record",
        lambda c: c.storage.upload("ActivityFile", "", "a.txt", b"data"),
        InvalidOwner,
        "record id must be a non-empty string",
        storage=True,
    ),
    Case(
        "owner-bad-delete-record",
        lambda c: c.storage.delete_record("", RECORD),
        InvalidOwner,
        "entity schema name '' is invalid",
        storage=True,
    ),
    Case(
        "upload-str-content",
        lambda c: c.storage.upload("ActivityFile", RECORD, "a.txt", bad("text")),
        InvalidRequestError,
        "a str body is ambiguous",
        storage=True,
    ),
    Case(
        "upload-missing-path",
        lambda c: c.storage.upload("ActivityFile", RECORD, "a.txt", c.tmp / "absent.bin"),
        InvalidRequestError,
        "absent.bin",
        storage=True,
    ),
    Case(
        "upload-str-part-after-a-full-part",
        bad_part_after_a_full_part,
        InvalidStorageRequest,
        "a part must be bytes, not str",
        storage=True,
    ),
    Case(
        "feature-unknown",
        lambda c: c.storage.set_feature("UseBaseEntityFileDeleteListenr", True),
        UnknownFeature,
        "did you mean UseBaseEntityFileDeleteListener?",
        storage=True,
    ),
    Case(
        "feature-not-bool",
        lambda c: c.storage.set_feature(USE_BASE_ENTITY_FILE_DELETE_LISTENER, bad("yes")),
        InvalidStorageRequest,
        "enabled must be a bool, not str",
        storage=True,
    ),
    Case(
        "list-bad-deleted-flag",
        lambda c: anext(aiter(c.storage.list(deleted=bad("yes")))),
        InvalidStorageRequest,
        "deleted must be True, False or None, not 'yes'",
        storage=True,
    ),
    Case(
        "purge-negative-days",
        lambda c: c.storage.purge(-1),
        InvalidStorageRequest,
        "older_than_days must be an int >= 0, got -1",
        storage=True,
    ),
    Case(
        "storage-connection-string-not-str",
        call(lambda c: FileStorage(c.database, bad(42))),
        InvalidStorageRequest,
        "connection_string must be a str or ConnectionSettings, not int",
        storage=True,
    ),
    Case(
        "storage-connection-string-and-config",
        call(lambda c: FileStorage(c.database, c.connection_string(), config_file="x.config")),
        InvalidStorageRequest,
        "give connection_string or config_file, not both",
        storage=True,
    ),
    Case(
        "storage-second-s3-on-open",
        open_second_s3_storage,
        StorageAlreadyConfigured,
        "this database already uses the S3 storage at",
        storage=True,
    ),
    Case(
        "storage-second-s3-connect",
        lambda c: c.storage.connect_s3(c.connection_string(ObjectBucketName=f"{c.bucket}-y")),
        StorageAlreadyConfigured,
        "bucket {object_bucket}); only one S3 storage can be connected",
        storage=True,
    ),
    # --- storage: S3 selected, but no S3 configured ------------------------------------
    Case(
        "no-s3-set-active",
        lambda c: c.no_s3.set_active_storage("S3"),
        StorageNotConfigured,
        "cannot make S3 the active storage: no S3 connection is configured",
        storage=True,
    ),
    Case(
        "no-s3-upload-while-s3-active",
        lambda c: c.no_s3.upload("ActivityFile", RECORD, "a.txt", b"data"),
        StorageNotConfigured,
        "ActiveFileContentStorage is S3, but no S3 connection is configured",
        storage=True,
    ),
    Case(
        "no-s3-read-s3-file",
        lambda c: c.no_s3.read(c.ids["s3_file"]),
        StorageNotConfigured,
        "the S3 store is not configured",
        storage=True,
    ),
    Case(
        "no-s3-delete-s3-file",
        lambda c: c.no_s3.delete(c.ids["s3_file"]),
        StorageNotConfigured,
        "the S3 store is not configured",
        storage=True,
    ),
    Case(
        "no-s3-restore-s3-file",
        lambda c: c.no_s3.restore(c.ids["deleted_s3"]),
        StorageNotConfigured,
        "the S3 store is not configured",
        storage=True,
    ),
    Case(
        "no-s3-migrate",
        lambda c: c.no_s3.migrate("Database", "S3"),
        StorageNotConfigured,
        "the S3 store is not configured",
        storage=True,
    ),
    Case(
        "no-s3-lifecycle",
        lambda c: c.no_s3.put_recycle_lifecycle(30),
        StorageNotConfigured,
        "the S3 store is not configured",
        storage=True,
    ),
]


# --- the state of the server, before and after -----------------------------------------


@dataclass(frozen=True)
class Snapshot:
    buckets: tuple[str, ...]
    objects: dict[str, tuple[tuple[str, int, str], ...]]
    uploads: dict[str, tuple[tuple[str, str], ...]]
    files: tuple[FileInfo, ...] = ()
    rows: dict[str, tuple[tuple[object, ...], ...]] = field(default_factory=dict)
    settings: tuple[object, ...] = ()


_TABLES = ("files", "file_content", "file_chunks", "settings", "features", "leases")


def database_rows(path: Path) -> dict[str, tuple[tuple[object, ...], ...]]:
    """Every row of every table of the storage database (read-only connection)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            table: tuple(
                tuple(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
            )
            for table in _TABLES
        }
    finally:
        conn.close()


async def snapshot(ctx: Ctx) -> Snapshot:
    buckets = [ctx.bucket]
    if ctx.fs is not None:
        buckets += [ctx.object_bucket, ctx.recycle_bucket]
    objects = {}
    uploads = {}
    for name in buckets:
        listed = [(e.key, e.size, e.etag) async for e in ctx.s3.list_objects(name)]
        objects[name] = tuple(sorted(listed))
        pending = [(u.key, u.upload_id) async for u in ctx.s3.list_multipart_uploads(name)]
        uploads[name] = tuple(sorted(pending))
    server_buckets = tuple(sorted(await ctx.s3.list_buckets()))
    if ctx.server.kind != "seaweedfs":  # a shared server: only this module's buckets
        server_buckets = tuple(name for name in server_buckets if name.startswith("s3lite-bad-"))
    if ctx.fs is None:
        return Snapshot(server_buckets, objects, uploads)
    fs = ctx.fs
    files = tuple([info async for info in fs.list(deleted=None)])
    rows = await anyio.to_thread.run_sync(database_rows, ctx.database)
    settings = (await fs.active_storage(), await fs.features(), await fs.retention_days())
    return Snapshot(server_buckets, objects, uploads, files, rows, settings)


@dataclass(frozen=True)
class SharedBuckets:
    """Buckets created once for the module (a new SeaweedFS bucket costs ~0.2 s on its
    first write); each test leaves them as it found them, and ``reset`` makes sure."""

    token: str

    @property
    def bucket(self) -> str:
        return f"s3lite-bad-{self.token}"

    @property
    def object_bucket(self) -> str:
        return f"s3lite-bad-{self.token}-obj"

    @property
    def recycle_bucket(self) -> str:
        return f"s3lite-bad-{self.token}-rec"

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.bucket, self.object_bucket, self.recycle_bucket)


async def reset(s3: S3Client, shared: SharedBuckets) -> None:
    """Back to the start: the three buckets exist, only the seed object, no uploads."""
    for name in shared.names:
        await s3.create_bucket(name, exist_ok=True)
        async for upload in s3.list_multipart_uploads(name):
            await s3.abort_multipart_upload(name, upload.key, upload.upload_id)
        keep = SEED_KEY if name == shared.bucket else None
        found = [entry async for entry in s3.list_objects(name)]
        extra = [entry.key for entry in found if entry.key != keep]
        if extra:
            await s3.delete_objects(name, extra)
        if keep is not None and [e.size for e in found if e.key == keep] != [len(SEED_BODY)]:
            await s3.put_object(name, SEED_KEY, SEED_BODY)


@pytest.fixture(scope="module")
def shared(s3_server: TestServer) -> Iterator[SharedBuckets]:
    buckets = SharedBuckets(uuid.uuid4().hex[:12])

    async def setup() -> None:
        async with s3_server.client() as s3:
            await reset(s3, buckets)

    async def teardown() -> None:
        async with s3_server.client() as s3:
            for name in buckets.names:
                await empty_and_delete_bucket(s3, name)

    anyio.run(setup)
    try:
        yield buckets
    finally:
        anyio.run(teardown)


@asynccontextmanager
async def context(
    server: TestServer, shared: SharedBuckets, tmp: Path, *, storage: bool
) -> AsyncIterator[Ctx]:
    """The seeded bucket and, for storage cases, storages with files in both stores."""
    async with AsyncExitStack() as stack:
        # Small multipart threshold: a 5 MiB + 1 body is already a multipart upload.
        s3 = await stack.enter_async_context(
            server.client(multipart_threshold=MIN_PART_SIZE, part_size=MIN_PART_SIZE)
        )
        ctx = Ctx(
            server=server,
            s3=s3,
            tmp=tmp,
            bucket=shared.bucket,
            missing=f"s3lite-bad-{uuid.uuid4().hex[:12]}-missing",
            database=tmp / "files.db",
            object_bucket=shared.object_bucket,
            recycle_bucket=shared.recycle_bucket,
        )
        stack.push_async_callback(reset, s3, shared)
        stack.push_async_callback(empty_and_delete_bucket, s3, ctx.missing)
        if storage:
            fs = FileStorage(ctx.database, ctx.connection_string())
            ctx.fs = await stack.enter_async_context(fs)
            ctx.ids["db_file"] = (await fs.upload("ActivityFile", RECORD, "db.txt", b"db")).id
            ctx.ids["deleted_db"] = (await fs.upload("ContactFile", RECORD, "d.txt", b"dd")).id
            await fs.delete(ctx.ids["deleted_db"])
            await fs.set_active_storage("S3")
            ctx.ids["s3_file"] = (await fs.upload("ActivityFile", RECORD, "s3.txt", b"s3")).id
            ctx.ids["deleted_s3"] = (await fs.upload("ContactFile", RECORD, "e.txt", b"ee")).id
            await fs.delete(ctx.ids["deleted_s3"])
            ctx.plain = await stack.enter_async_context(FileStorage(ctx.database))
        yield ctx


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {case.bug}")] if case.bug else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def test_the_table_has_unique_ids_and_covers_every_category() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    categories = (
        "bucket-",
        "key-",
        "body-",
        "range-",
        "conn-",
        "config-",
        "missing-bucket-",
        "store-",
        "file-unknown-",
        "file-name-",
        "no-s3-",
        "presign-",
        "metadata-",
    )
    for category in categories:
        assert sum(case_id.startswith(category) for case_id in ids) >= 3, category


@pytest.mark.parametrize("case", _params())
async def test_bad_input_raises_a_typed_error_and_leaves_the_server_unchanged(
    case: Case, s3_server: TestServer, shared: SharedBuckets, tmp_path: Path
) -> None:
    async with context(s3_server, shared, tmp_path, storage=case.storage) as ctx:
        before = await snapshot(ctx)
        assert [key for key, _, _ in before.objects[ctx.bucket]] == [SEED_KEY]
        if case.storage:
            assert len(before.files) == 4  # the seeded files are there to be disturbed

        with pytest.raises(case.error) as caught:
            await case.op(ctx)

        message = str(caught.value)
        assert case.message.format_map(ctx.names()) in message
        assert s3_server.settings.secret_key not in message
        after = await snapshot(ctx)
        assert after == before
        assert all(not uploads for uploads in after.uploads.values()), after.uploads
        assert ctx.missing not in after.buckets
