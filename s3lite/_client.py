"""``S3Client``: the public facade over the request pipeline.

Rules of this module:
- Each public method reads validate -> build (``_requests``) -> send
  (``_pipeline``) -> parse (``_xml`` / ``_requests``); transfers are delegated to
  ``_multipart`` and ``_download``.  No request is built or sent any other way.
- Options are one frozen ``ClientOptions``; credentials and region are resolved
  once, by ``_credentials``.
- The client is a small state machine (``_lifecycle``): UNOPENED -> OPENED ->
  CLOSED; ``aclose()`` is idempotent and ``async with`` is the usual lifecycle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Self, Unpack, overload

import httpx

from . import _download_file, _multipart, _requests, _xml
from ._aws_config import SharedConfig, load_shared_config, profile_name
from ._body import Body, make_source
from ._checksums import ChecksumAlgorithm
from ._connstring import ConnectionSettings, parse_connection_string
from ._credential_cache import CredentialCache, CredentialProvider
from ._credential_sources import DefaultCredentialChain
from ._credentials import Credentials, resolve_credentials, resolve_region
from ._download import GetObjectCall, open_object
from ._engine import EngineTransport
from ._exceptions import (
    ConfigurationError,
    InvalidRequestError,
    NoSuchKey,
    NoSuchLifecycleConfiguration,
    ServiceError,
)
from ._http import Transport
from ._lifecycle import AsyncResource, Lifecycle
from ._models import (
    CommonPrefix,
    CompletedPart,
    CopyObjectResult,
    DeleteError,
    DeleteMarker,
    DeleteObjectsResult,
    DownloadResult,
    LifecycleRule,
    MultipartUpload,
    ObjectInfo,
    ObjectSummary,
    ObjectVersion,
    PartInfo,
    PutObjectResult,
)
from ._object_options import (
    CONDITION_NAMES,
    Conditions,
    ReadArguments,
    WriteArguments,
    WriteOptions,
    customer_key_headers,
)
from ._options import MAX_DELETE_KEYS, ClientOptions, OptionArguments, TransferOptions
from ._parallel_get import ParallelGetCall
from ._pipeline import Pipeline
from ._progress import Progress, ProgressCallback, check_callback
from ._ranged import check_transfer_arguments
from ._requests import Range
from ._transport import HttpxTransport
from ._urls import AddressingStyle, Endpoint, validate_bucket_name, validate_key

__all__ = ["S3Client"]

_WRITE_ARGUMENT_NAMES = frozenset(WriteArguments.__annotations__)


def _transport_for(options: ClientOptions, http_client: httpx.AsyncClient | None) -> Transport:
    """s3lite's own engine, or httpx when the caller brings an ``httpx.AsyncClient``."""
    if http_client is not None:
        return HttpxTransport(
            timeout=options.timeout,
            connect_timeout=options.connect_timeout,
            max_connections=options.max_connections,
            verify=options.verify,
            http_client=http_client,
        )
    return EngineTransport(
        timeout=options.timeout,
        connect_timeout=options.connect_timeout,
        max_connections=options.max_connections,
        verify=options.verify,
    )


def _credential_cache(
    access_key: str | None,
    secret_key: str | None,
    session_token: str | None,
    credentials: Credentials | CredentialProvider | None,
    profile: str | None,
    region: str,
    shared: SharedConfig | None,
) -> CredentialCache:
    """Keys given, a ``Credentials`` value, a provider, or the default chain (whose plain
    keys, if any, are found at once in the ``shared`` files already read)."""
    if access_key is not None or secret_key is not None or session_token is not None:
        if credentials is not None:
            raise ConfigurationError("pass credentials= or access_key/secret_key, not both")
        return CredentialCache.static(
            resolve_credentials(access_key, secret_key, session_token, {}).credentials
        )
    if isinstance(credentials, Credentials):
        return CredentialCache.static(credentials)
    if credentials is not None:
        if not isinstance(credentials, CredentialProvider):
            raise ConfigurationError(
                "credentials must be s3lite.Credentials or an object with "
                f"'async def get_credentials()', got {type(credentials).__name__}"
            )
        return CredentialCache(credentials)
    chain = DefaultCredentialChain(os.environ, profile=profile, region=region)
    return CredentialCache(chain, initial=chain.static_now(shared))


def _check_listing(bucket: str, prefix: object, delimiter: object, page_size: object) -> None:
    """The arguments every listing takes, checked before the first page is asked for."""
    validate_bucket_name(bucket)
    if not isinstance(prefix, str) or (delimiter is not None and not isinstance(delimiter, str)):
        raise InvalidRequestError("prefix and delimiter must be str")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        raise InvalidRequestError("page_size must be between 1 and 1000")


class S3Client(AsyncResource):
    """An asynchronous S3 client that signs its own requests (SigV4).

    Use it as ``async with S3Client(endpoint, access_key=..., secret_key=...) as s3:``.
    Options come one by one as keywords (``timeout=``, ``part_size=`` ...) or
    together as ``options=ClientOptions(...)`` (keywords override it).  Without
    keys (or ``credentials=``, a ``Credentials`` value or any object with
    ``async def get_credentials()``), credentials come from the default chain, in
    botocore's order: the environment, the shared files' profile (``profile=`` or
    ``AWS_PROFILE``), web identity, the container endpoint, the instance metadata;
    temporary ones are refreshed before they expire.  Without an endpoint, it comes
    from ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, else AWS's for the region.
    Works with AWS S3, MinIO, Ceph RGW, SeaweedFS and other S3-compatible servers,
    path-style or virtual-hosted.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        credentials: Credentials | CredentialProvider | None = None,
        profile: str | None = None,
        region: str | None = None,
        addressing_style: AddressingStyle = "auto",
        options: ClientOptions | None = None,
        http_client: httpx.AsyncClient | None = None,
        **option_arguments: Unpack[OptionArguments],
    ) -> None:
        chosen = (options or ClientOptions()).with_changes(**option_arguments)
        environ = os.environ
        # Read once here, for the profile's region and the chain's plain keys.  A broken
        # shared file costs only those; the chain reports it when it is asked.
        keys_given = credentials is not None or any(
            value is not None for value in (access_key, secret_key, session_token)
        )
        shared = None
        if region is None or not keys_given:
            with contextlib.suppress(ConfigurationError):
                shared = load_shared_config(environ)
        name, _ = profile_name(profile, environ)
        profile_region = ((shared.profile(name) if shared else None) or {}).get("region")
        region, _ = resolve_region(region, environ, profile_region)
        if endpoint is None:
            endpoint = (
                environ.get("AWS_ENDPOINT_URL_S3")
                or environ.get("AWS_ENDPOINT_URL")
                or f"https://s3.{region}.amazonaws.com"
            )
        self._lifecycle = Lifecycle("S3Client")
        self._pipeline = Pipeline(
            endpoint=Endpoint.parse(endpoint, addressing_style),
            credentials=_credential_cache(
                access_key, secret_key, session_token, credentials, profile, region, shared
            ),
            region=region,
            options=chosen,
            transport=_transport_for(chosen, http_client),
        )

    # --- construction and lifecycle ------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        settings: ConnectionSettings,
        *,
        options: ClientOptions | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> S3Client:
        """Build a client from parsed connection settings, whose credentials are used
        as they are (the environment is not consulted again).  A ``Checksum`` in the
        settings overrides ``options.checksum``."""
        if settings.checksum is not None:
            options = (options or ClientOptions()).with_changes(checksum=settings.checksum_option)
        return cls(
            settings.service_url,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            session_token=settings.session_token,
            region=settings.region,
            addressing_style=settings.addressing_style,
            options=options,
            http_client=http_client,
        )

    @classmethod
    def from_connection_string(
        cls,
        text: str,
        *,
        options: ClientOptions | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> S3Client:
        """Build a client from ``ServiceUrl=...; AccessKey=...; SecretKey=...; ...``."""
        return cls.from_settings(
            parse_connection_string(text), options=options, http_client=http_client
        )

    @property
    def endpoint(self) -> str:
        """The service URL."""
        return str(self._pipeline.endpoint)

    @property
    def region(self) -> str:
        """The region requests are signed for."""
        return self._pipeline.region

    @property
    def options(self) -> ClientOptions:
        """The client's options (frozen)."""
        return self._pipeline.options

    @property
    def credentials(self) -> Credentials:
        """Not exposed: a client never hands its secret out."""
        raise AttributeError("an S3Client does not expose its credentials")

    def __repr__(self) -> str:
        return (
            f"S3Client(endpoint={self.endpoint!r}, region={self.region!r}, "
            f"access_key={self._pipeline.access_key!r})"
        )

    async def __aenter__(self) -> Self:
        self._lifecycle.open()
        return self

    async def aclose(self) -> None:
        """Close the connection pool; safe to call more than once."""
        if self._lifecycle.close():
            await self._pipeline.aclose()

    # --- objects -------------------------------------------------------------------

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_length: int | None = None,
        progress: ProgressCallback | None = None,
        **write: Unpack[WriteArguments],
    ) -> PutObjectResult:
        """Upload an object from bytes, a file path, a binary file or an async iterable.

        The body is streamed, never held whole in memory.  Above
        ``multipart_threshold`` (or when the length is unknown and the body is
        longer than that) the upload becomes a multipart upload with parts sent
        concurrently; it is aborted if anything fails or the task is cancelled.
        ``progress(bytes_done, total_bytes)`` (sync or async) is told as parts are
        stored, a few times a second at most, and once at the end.

        ``if_none_match="*"`` writes only if the key is free, ``if_match=etag`` only over
        that version (else ``PreconditionFailed``; a multipart upload checks it when it
        completes).  ``cache_control``, ``content_disposition``, ``content_encoding``,
        ``content_language``, ``expires``, ``storage_class``, ``tagging`` (a mapping),
        ``server_side_encryption`` (``"AES256"``, ``"aws:kms"`` with ``sse_kms_key_id``)
        and ``sse_customer_key`` (SSE-C, 32 bytes, https only) describe the object.
        """
        return await self._put(
            bucket, key, body, content_type, metadata, content_length, progress, None, write
        )

    async def upload_file(
        self,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        part_size: int | None = None,
        max_concurrency: int | None = None,
        progress: ProgressCallback | None = None,
        **write: Unpack[WriteArguments],
    ) -> PutObjectResult:
        """Upload a local file: one PUT up to ``multipart_threshold``, else parts of
        ``part_size`` (default: the client's) read from the file in parallel,
        ``max_concurrency`` at a time; ``progress`` and the other keywords as for
        ``put_object``."""
        if not isinstance(path, str | os.PathLike):
            raise InvalidRequestError(f"path must be a str or os.PathLike, got {path!r}")
        transfer = self.options.transfer
        changes = {
            name: value
            for name, value in (("part_size", part_size), ("max_concurrency", max_concurrency))
            if value is not None
        }
        if changes:
            try:
                transfer = dataclasses.replace(transfer, **changes)
            except ConfigurationError as error:
                raise InvalidRequestError(str(error)) from None
        return await self._put(
            bucket, key, Path(path), content_type, metadata, None, progress, transfer, write
        )

    async def _put(
        self,
        bucket: str,
        key: str,
        body: Body,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        content_length: int | None,
        progress: ProgressCallback | None,
        transfer: TransferOptions | None,
        write: WriteArguments,
    ) -> PutObjectResult:
        validate_bucket_name(bucket)
        validate_key(key)
        callback = check_callback(progress)
        described = self._write_options(write)
        headers = [*_requests.object_headers(content_type, metadata), *described.headers()]
        conditions = Conditions.of(write).headers(write=True)
        source = await make_source(body, content_length=content_length)
        try:
            return await _multipart.put_source(
                self._pipeline,
                bucket,
                key,
                source,
                headers,
                transfer=transfer,
                progress=Progress(callback, source.length),
                part_headers=described.part_headers(),
                conditions=conditions,
            )
        finally:
            await source.aclose()

    def get_object(
        self,
        bucket: str,
        key: str,
        *,
        range: Range | None = None,
        max_concurrency: int = 1,
        part_size: int | None = None,
        progress: ProgressCallback | None = None,
        **read: Unpack[ReadArguments],
    ) -> GetObjectCall:
        """Open an object for streaming: ``await`` it or use ``async with``.

        ``range=(first, last)`` selects inclusive byte positions (``last=None``:
        to the end).  Raises ``NoSuchKey`` / ``NoSuchBucket`` / ``InvalidRange``.
        With ``max_concurrency=N`` (N > 1) the object is fetched as ranged GETs of
        ``part_size`` bytes (default: the client's), N at a time, and read in order
        as one stream (at most N parts buffered); use it with ``async with`` only.
        ``progress(bytes_done, total_bytes)`` is told as the body is read.
        ``version_id`` reads one version; ``if_match``, ``if_none_match``,
        ``if_modified_since``, ``if_unmodified_since`` make the read conditional
        (``PreconditionFailed``, or ``NotModified`` for a 304); ``sse_customer_key``
        reads an SSE-C object.
        """
        callback = check_callback(progress)
        size = self.options.transfer.part_size if part_size is None else part_size
        check_transfer_arguments(size, max_concurrency)
        headers, query = self._read_headers(read)
        # Validated before any await.
        request = _requests.get_object(bucket, key, range, query=query, headers=headers)
        if max_concurrency == 1:
            return GetObjectCall(
                lambda: open_object(self._pipeline, request, progress=callback)
            )
        if range is not None:
            raise InvalidRequestError("a range cannot be fetched with max_concurrency > 1")
        if any(name in read for name in CONDITION_NAMES):
            raise InvalidRequestError("conditions cannot be used with max_concurrency > 1")
        return ParallelGetCall(
            self._pipeline,
            bucket,
            key,
            part_size=size,
            max_concurrency=max_concurrency,
            progress=callback,
            same=_requests.same_object(request),
        )

    async def download_file(
        self,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        *,
        part_size: int | None = None,
        max_concurrency: int | None = None,
        progress: ProgressCallback | None = None,
        version_id: str | None = None,
        sse_customer_key: bytes | None = None,
    ) -> DownloadResult:
        """Download an object (or one version of it) to a local file with ranged GETs of
        ``part_size`` bytes, ``max_concurrency`` at a time (defaults: the client's
        transfer options).

        Every part is pinned to the ETag of the first (a change mid-way raises
        ``IntegrityError``) and resumed on its own when a connection drops; the whole
        file is verified (its size, and the stored CRC32, SHA-256 or MD5 ETag where
        the server has one) and written under a temporary name, then renamed over
        ``path``: on any failure or cancellation ``path`` is left as it was.
        """
        transfer = self.options.transfer
        size = transfer.part_size if part_size is None else part_size
        concurrency = transfer.max_concurrency if max_concurrency is None else max_concurrency
        check_transfer_arguments(size, concurrency)
        read: ReadArguments = {}
        if version_id is not None:
            read["version_id"] = version_id
        if sse_customer_key is not None:
            read["sse_customer_key"] = sse_customer_key
        headers, query = self._read_headers(read)
        return await _download_file.download_file(
            self._pipeline,
            bucket,
            key,
            path,
            part_size=size,
            max_concurrency=concurrency,
            progress=check_callback(progress),
            same=(tuple(query), tuple(headers)),
        )

    async def head_object(
        self, bucket: str, key: str, **read: Unpack[ReadArguments]
    ) -> ObjectInfo:
        """Metadata of an object; raises ``NoSuchKey`` when it does not exist.  The
        keywords as for ``get_object`` (a version, conditions, SSE-C)."""
        headers, query = self._read_headers(read)
        request = _requests.head_with_checksum(bucket, key, query=query, headers=headers)
        response = await self._pipeline.send(request)
        return _requests.object_info(key, response.headers)

    def _read_headers(
        self, read: ReadArguments
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The headers (conditions, SSE-C) and query (a version) of a read."""
        unknown = set(read) - set(ReadArguments.__annotations__)
        if unknown:
            raise InvalidRequestError(f"unknown argument(s): {', '.join(sorted(unknown))}")
        headers = Conditions.of(read).headers()
        key = read.get("sse_customer_key")
        if key is not None:
            self._check_customer_key_scheme()
            headers += customer_key_headers(key)
        return headers, _requests.version_query(read.get("version_id"))

    def _write_options(self, write: WriteArguments) -> WriteOptions:
        unknown = write.keys() - _WRITE_ARGUMENT_NAMES
        if unknown:
            raise InvalidRequestError(f"unknown argument(s): {', '.join(sorted(unknown))}")
        if write.get("sse_customer_key") is not None:
            self._check_customer_key_scheme()
        return WriteOptions.of(write)

    def _check_customer_key_scheme(self) -> None:
        if self._pipeline.endpoint.scheme != "https":
            raise InvalidRequestError(
                "sse_customer_key (SSE-C) is refused over plain http: the key would travel "
                "in clear text"
            )

    async def object_exists(self, bucket: str, key: str) -> bool:
        """Whether the object exists."""
        try:
            await self.head_object(bucket, key)
        except NoSuchKey:
            return False
        return True

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
        src_version_id: str | None = None,
        metadata_directive: Literal["COPY", "REPLACE"] | None = None,
        tagging_directive: Literal["COPY", "REPLACE"] | None = None,
        **write: Unpack[WriteArguments],
    ) -> CopyObjectResult:
        """Server-side copy (of ``src_version_id``, else the latest version).  Metadata is
        copied unless ``metadata``/``content_type`` is given or ``metadata_directive`` is
        ``"REPLACE"`` (then it is replaced); tags likewise with ``tagging`` /
        ``tagging_directive``.  ``if_none_match="*"`` copies only if the destination key
        is free; the other keywords describe the copy as for ``put_object``.  Sources
        over ``copy_threshold`` (5 GiB) are copied in parts with UploadPartCopy."""
        _requests.copy_source(src_bucket, src_key, src_version_id)
        _requests.copy_source(dst_bucket, dst_key)
        for name, directive in (
            ("metadata_directive", metadata_directive),
            ("tagging_directive", tagging_directive),
        ):
            if directive not in (None, "COPY", "REPLACE"):
                raise InvalidRequestError(f"{name} must be 'COPY' or 'REPLACE', got {directive!r}")
        replace = metadata is not None or content_type is not None
        replace = replace if metadata_directive is None else metadata_directive == "REPLACE"
        described = self._write_options(write).headers()
        conditions = Conditions.of(write).headers(write=True)
        read: ReadArguments = {"version_id": src_version_id} if src_version_id else {}
        source = await self.head_object(src_bucket, src_key, **read)
        if source.size > self.options.transfer.copy_threshold:
            # CreateMultipartUpload takes no directives: the metadata to keep is stated.
            kept = (source.content_type, source.metadata) if not replace else None
            headers = [
                *_requests.object_headers(*(kept or (content_type, metadata))),
                *described,
            ]
            return await _multipart.copy_in_parts(
                self._pipeline,
                src_bucket,
                src_key,
                dst_bucket,
                dst_key,
                source,
                headers,
                conditions=conditions,
            )
        headers = [*_requests.object_headers(content_type, metadata), *described]
        if tagging_directive is not None or "tagging" in write:
            headers.append(("x-amz-tagging-directive", tagging_directive or "REPLACE"))
        request = _requests.copy_object(
            src_bucket,
            src_key,
            dst_bucket,
            dst_key,
            source_etag=source.etag,
            replace=replace,
            headers=[*headers, *conditions],
            source_version_id=src_version_id,
        )
        response = await self._pipeline.send(request)
        result = _xml.parse_copy_object_result(response.content)
        return CopyObjectResult(
            etag=result.etag,
            last_modified=result.last_modified,
            version_id=response.headers.get("x-amz-version-id"),
        )

    async def delete_object(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> str | None:
        """Delete an object (deleting a missing key succeeds, as in S3), or one version
        of it.  In a versioned bucket, deleting the key leaves a delete marker: its
        version id is returned (None elsewhere)."""
        query = _requests.version_query(version_id)
        response = await self._pipeline.send(
            _requests.object_request("DELETE", bucket, key, query=query)
        )
        return response.headers.get("x-amz-version-id")

    async def delete_objects(
        self, bucket: str, keys: Iterable[str | tuple[str, str]]
    ) -> DeleteObjectsResult:
        """Delete many keys, in batches of up to 1000 (a ``(key, version_id)`` pair deletes
        that version); returns what was deleted and what failed."""
        validate_bucket_name(bucket)
        if isinstance(keys, str | bytes):
            raise InvalidRequestError("keys must be an iterable of keys, not a single str")
        # Every key is checked before the first batch is sent: a bad key at the end
        # must not leave the first thousand already deleted.
        all_keys: list[str | tuple[str, str]] = []
        for entry in keys:
            if isinstance(entry, tuple):
                if len(entry) != 2:
                    raise InvalidRequestError("a versioned key is a (key, version_id) pair")
                validate_key(entry[0])
                _requests.version_query(entry[1])
                all_keys.append((entry[0], entry[1]))
            else:
                all_keys.append(validate_key(entry))
        deleted: list[str] = []
        errors: list[DeleteError] = []
        for start in range(0, len(all_keys), MAX_DELETE_KEYS):
            batch = all_keys[start : start + MAX_DELETE_KEYS]
            response = await self._pipeline.send(_requests.delete_objects(bucket, batch))
            result = _xml.parse_delete_objects_result(response.content)
            deleted.extend(result.deleted)
            errors.extend(result.errors)
        return DeleteObjectsResult(deleted=tuple(deleted), errors=tuple(errors))

    @overload
    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: None = None,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[ObjectSummary]: ...

    @overload
    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]: ...

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]:
        """Iterate over every object under ``prefix`` (ListObjectsV2, all pages, key order).

        With a ``delimiter``, keys rolled up under a common prefix are yielded as
        ``CommonPrefix`` items instead.
        """
        _check_listing(bucket, prefix, delimiter, page_size)
        return self._list_objects(bucket, prefix, delimiter, start_after, page_size)

    async def _list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        page_size: int,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]:
        token: str | None = None
        while True:
            request = _requests.list_objects_page(
                bucket,
                prefix=prefix,
                delimiter=delimiter,
                start_after=start_after,
                page_size=page_size,
                token=token,
            )
            page = _xml.parse_list_objects_v2((await self._pipeline.send(request)).content)
            entries: Iterable[ObjectSummary | CommonPrefix] = heapq.merge(
                page.objects,
                page.prefixes,
                key=lambda e: e.key if isinstance(e, ObjectSummary) else e.prefix,
            )
            for entry in entries:
                yield entry
            if not page.is_truncated or not page.next_continuation_token:
                return
            token = page.next_continuation_token

    def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[ObjectVersion | DeleteMarker | CommonPrefix]:
        """Iterate over every version and delete marker under ``prefix`` (all pages), in
        key order, newest first within a key; with a ``delimiter``, rolled-up prefixes
        come as ``CommonPrefix`` items."""
        _check_listing(bucket, prefix, delimiter, page_size)
        return self._list_object_versions(bucket, prefix, delimiter, page_size)

    async def _list_object_versions(
        self, bucket: str, prefix: str, delimiter: str | None, page_size: int
    ) -> AsyncIterator[ObjectVersion | DeleteMarker | CommonPrefix]:
        marker: tuple[str | None, str | None] | None = None
        while True:
            request = _requests.list_object_versions_page(
                bucket, prefix=prefix, delimiter=delimiter, marker=marker, page_size=page_size
            )
            page = _xml.parse_list_object_versions((await self._pipeline.send(request)).content)
            for entry in page.entries:
                yield entry
            for common in page.prefixes:
                yield common
            if not page.is_truncated or not (page.next_key_marker or page.next_version_id_marker):
                return
            marker = (page.next_key_marker, page.next_version_id_marker)

    async def put_object_tagging(
        self,
        bucket: str,
        key: str,
        tags: Mapping[str, str],
        *,
        version_id: str | None = None,
    ) -> None:
        """Replace an object's tags."""
        await self._pipeline.send(_requests.object_tagging("PUT", bucket, key, version_id, tags))

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        """An object's tags."""
        response = await self._pipeline.send(
            _requests.object_tagging("GET", bucket, key, version_id)
        )
        return _xml.parse_tagging(response.content)

    async def delete_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> None:
        """Remove every tag of an object."""
        await self._pipeline.send(_requests.object_tagging("DELETE", bucket, key, version_id))

    # --- buckets -------------------------------------------------------------------

    async def put_bucket_versioning(self, bucket: str, enabled: bool) -> None:
        """Turn versioning on (``True``) or suspend it (``False``)."""
        if not isinstance(enabled, bool):
            raise InvalidRequestError("enabled must be True or False")
        await self._pipeline.send(_requests.put_bucket_versioning(bucket, enabled))

    async def get_bucket_versioning(self, bucket: str) -> str | None:
        """``"Enabled"``, ``"Suspended"``, or None for a bucket that never had versioning."""
        request = _requests.bucket_request("GET", bucket, query=[("versioning", "")])
        return _xml.parse_versioning((await self._pipeline.send(request)).content)

    async def create_bucket(self, bucket: str, *, exist_ok: bool = False) -> None:
        """Create a bucket in the client's region; with ``exist_ok`` an existing bucket is fine."""
        try:
            await self._pipeline.send(_requests.create_bucket(bucket, self.region))
        except ServiceError as error:
            if not exist_ok or error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            if error.code == "BucketAlreadyExists" and not await self.bucket_exists(bucket):
                raise

    async def delete_bucket(self, bucket: str) -> None:
        """Delete an empty bucket."""
        await self._pipeline.send(_requests.bucket_request("DELETE", bucket))

    async def bucket_exists(self, bucket: str) -> bool:
        """Whether the bucket exists (``AccessDenied`` is raised, not hidden)."""
        try:
            await self._pipeline.send(_requests.bucket_request("HEAD", bucket))
        except ServiceError as error:
            if error.status == 404:
                return False
            raise
        return True

    async def list_buckets(self) -> list[str]:
        """Names of the buckets these credentials own."""
        response = await self._pipeline.send(_requests.service_request("GET"))
        return _xml.parse_list_buckets(response.content)

    async def put_bucket_lifecycle(self, bucket: str, rules: Sequence[LifecycleRule]) -> None:
        """Replace the bucket's lifecycle configuration with ``rules``."""
        await self._pipeline.send(_requests.put_bucket_lifecycle(bucket, rules))

    async def get_bucket_lifecycle(self, bucket: str) -> list[LifecycleRule]:
        """The bucket's expiration rules ([] when it has no lifecycle configuration)."""
        request = _requests.bucket_request("GET", bucket, query=[("lifecycle", "")])
        try:
            response = await self._pipeline.send(request)
        except NoSuchLifecycleConfiguration:
            return []
        return _xml.parse_lifecycle_configuration(response.content)

    # --- multipart, low level ------------------------------------------------------

    async def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        checksum: ChecksumAlgorithm | None = None,
    ) -> str:
        """Start a multipart upload; returns its upload id.

        With ``checksum`` ("crc32" or "sha256") every part must be uploaded with the
        same ``checksum``; "md5" sends a Content-MD5 with each part instead.
        """
        headers = _requests.object_headers(content_type, metadata)
        return await _multipart.create(self._pipeline, bucket, key, headers, checksum)

    async def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: Body,
        *,
        checksum: ChecksumAlgorithm | None = None,
    ) -> CompletedPart:
        """Upload one part (1..10000) of a multipart upload (``checksum`` as at creation)."""
        _requests.check_part_number(part_number)
        source = await make_source(body)
        try:
            return await _multipart.upload_one_part(
                self._pipeline, bucket, key, upload_id, part_number, source, checksum
            )
        finally:
            await source.aclose()

    async def upload_part_copy(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        range: Range | None = None,
        source_etag: str | None = None,
    ) -> CompletedPart:
        """Copy (a byte range of) an existing object into a part of a multipart upload."""
        return await _multipart.copy_part(
            self._pipeline,
            src_bucket,
            src_key,
            bucket,
            key,
            upload_id,
            part_number,
            range_=range,
            source_etag=source_etag,
        )

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        *,
        full_object_crc32: str | None = None,
    ) -> PutObjectResult:
        """Assemble the uploaded parts into the object.

        ``full_object_crc32`` (base64) states the whole object's CRC32 for an upload
        created with ``x-amz-checksum-type: FULL_OBJECT``; the server checks it.
        """
        return await _multipart.complete(
            self._pipeline, bucket, key, upload_id, parts, full_object_crc32=full_object_crc32
        )

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Abort a multipart upload and discard its parts."""
        await _multipart.abort(self._pipeline, bucket, key, upload_id)

    async def list_multipart_uploads(
        self, bucket: str, *, prefix: str = ""
    ) -> AsyncIterator[MultipartUpload]:
        """Iterate over the multipart uploads in progress under ``prefix``."""
        marker: tuple[str | None, str | None] | None = None
        while True:
            request = _requests.list_multipart_uploads(bucket, prefix, marker)
            response = await self._pipeline.send(request)
            page = _xml.parse_list_multipart_uploads(response.content)
            for upload in page.uploads:
                yield upload
            if not page.is_truncated:
                return
            marker = (page.next_key_marker, page.next_upload_id_marker)

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> list[PartInfo]:
        """The parts uploaded so far to a multipart upload."""
        parts: list[PartInfo] = []
        marker: int | None = None
        while True:
            request = _requests.list_parts_page(bucket, key, upload_id, marker)
            page = _xml.parse_list_parts((await self._pipeline.send(request)).content)
            parts.extend(page.parts)
            if not page.is_truncated or page.next_part_number_marker is None:
                return parts
            marker = page.next_part_number_marker

    # --- presigned URLs ------------------------------------------------------------

    def presign_get(self, bucket: str, key: str, *, expires_in: int = 3600) -> str:
        """A URL that lets anyone GET the object for ``expires_in`` seconds (1 s to 7 days)."""
        validate_bucket_name(bucket)
        validate_key(key)
        return self._pipeline.presign("GET", bucket, key, expires_in)

    def presign_put(
        self,
        bucket: str,
        key: str,
        *,
        expires_in: int = 3600,
        content_type: str | None = None,
    ) -> str:
        """A URL that lets anyone PUT the object for ``expires_in`` seconds.

        With ``content_type``, the uploader must send exactly that Content-Type.
        """
        validate_bucket_name(bucket)
        validate_key(key)
        headers = [("content-type", content_type)] if content_type else []
        return self._pipeline.presign("PUT", bucket, key, expires_in, headers)
