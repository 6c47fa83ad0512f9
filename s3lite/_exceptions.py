"""The one exception tree of s3lite.

Rule: every error s3lite raises is an ``S3Error``.  Errors of the HTTP engine are
translated in one place (``_transport``); S3's error answers (an error status, or
a 200 carrying an ``<Error>`` document) are translated in one place
(``_pipeline.service_error``, through ``error_class_for_code`` and
``code_for_status`` below).

    S3Error
    ├── ConfigurationError           bad connection string, config file, option
    │   ├── NoCredentialsError       no credential source applied (each is named)
    │   └── CredentialRetrievalError a source applied but failed (STS, process ...)
    ├── InvalidRequestError          bad input caught before anything is sent
    │                                (bucket name, key, range, body, expiry ...)
    ├── TransportError               the network failed (connect, reset, read)
    │   ├── RequestTimeoutError      a connect/read/write/pool timeout fired
    │   └── CertificateError         the server's TLS certificate was not accepted
    ├── IntegrityError               size or checksum of transferred data is wrong
    ├── MalformedResponseError       a response body is not the S3 document expected
    ├── ServiceError                 the server answered with an S3 error
    │   ├── NoSuchBucket, NoSuchKey, NoSuchUpload, AccessDenied,
    │   │   InvalidAccessKeyId, SignatureDoesNotMatch, BucketAlreadyExists,
    │   │   BucketAlreadyOwnedByYou, BucketNotEmpty, PreconditionFailed, NotModified,
    │   │   NoSuchVersion,
    │   │   InvalidRange, InvalidPart, InvalidPartOrder, EntityTooSmall,
    │   │   EntityTooLarge, InvalidBucketName, NoSuchLifecycleConfiguration,
    │   │   RequestTimeTooSkewed, RequestTimeout, SlowDown, InternalError,
    │   │   ServiceUnavailable, NotImplemented
    └── StorageError                 the file storage layer (s3lite.storage)

Every message names what was wrong and never contains a secret.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "AccessDenied",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "CertificateError",
    "ConfigurationError",
    "CredentialRetrievalError",
    "EntityTooLarge",
    "EntityTooSmall",
    "IntegrityError",
    "InternalError",
    "InvalidAccessKeyId",
    "InvalidBucketName",
    "InvalidPart",
    "InvalidPartOrder",
    "InvalidRange",
    "InvalidRequestError",
    "MalformedResponseError",
    "NoCredentialsError",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchLifecycleConfiguration",
    "NoSuchUpload",
    "NoSuchVersion",
    "NotImplementedByServer",
    "NotModified",
    "PreconditionFailed",
    "RequestTimeTooSkewed",
    "RequestTimeout",
    "RequestTimeoutError",
    "S3Error",
    "ServiceError",
    "ServiceUnavailable",
    "SignatureDoesNotMatch",
    "SlowDown",
    "StorageError",
    "TransportError",
    "code_for_status",
    "error_class_for_code",
]


class S3Error(Exception):
    """Root of every error raised by s3lite."""


class ConfigurationError(S3Error, ValueError):
    """A connection string, config file or client option is missing or invalid."""


class NoCredentialsError(ConfigurationError):
    """No source of the credential chain had credentials; the message names every
    source tried and why it did not apply."""


class CredentialRetrievalError(ConfigurationError):
    """A credential source applied (a profile, a role, a process, an endpoint) but
    could not give credentials; the message says which and why, never a secret."""


class InvalidRequestError(S3Error, ValueError):
    """Input was rejected before any request was sent (bad bucket, key, range, body ...)."""


class TransportError(S3Error):
    """The connection to the server failed (refused, reset, closed early)."""


class RequestTimeoutError(TransportError):
    """A connect, read, write or pool timeout expired."""


class CertificateError(TransportError):
    """The server's TLS certificate could not be verified (never retried)."""


class IntegrityError(S3Error):
    """Transferred data does not match its expected size or checksum."""


class MalformedResponseError(S3Error):
    """A response body was not the well-formed S3 document that was expected."""


class StorageError(S3Error):
    """Base of the errors raised by the file storage layer (``s3lite.storage``)."""


class ServiceError(S3Error):
    """The server answered with an S3 error.

    Attributes: ``code`` (S3's error code, e.g. ``NoSuchKey``), ``message``,
    ``status`` (HTTP status), ``request_id``, ``host_id``, ``bucket``, ``key``,
    ``server_date`` (the answer's ``Date``, which corrects a skewed clock) and
    ``bucket_region`` (the region the server says the bucket is in, when it says so).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        host_id: str | None = None,
        bucket: str | None = None,
        key: str | None = None,
        server_date: datetime | None = None,
        bucket_region: str | None = None,
    ) -> None:
        self.code = code
        self.bucket_region = bucket_region
        self.message = message
        self.status = status
        self.request_id = request_id
        self.host_id = host_id
        self.bucket = bucket
        self.key = key
        self.server_date = server_date
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = ""
        if self.bucket is not None:
            where = f" (bucket={self.bucket!r}" + (
                f", key={self.key!r})" if self.key is not None else ")"
            )
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{self.code}: {self.message} (HTTP {self.status}){where}{rid}"

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_service_error,
            (
                type(self),
                self.code,
                self.message,
                self.status,
                self.request_id,
                self.host_id,
                self.bucket,
                self.key,
                self.server_date,
                self.bucket_region,
            ),
        )


def _rebuild_service_error(
    cls: type[ServiceError],
    code: str,
    message: str,
    status: int,
    request_id: str | None,
    host_id: str | None,
    bucket: str | None,
    key: str | None,
    server_date: datetime | None = None,
    bucket_region: str | None = None,
) -> ServiceError:
    return cls(
        code,
        message,
        status=status,
        request_id=request_id,
        host_id=host_id,
        bucket=bucket,
        key=key,
        server_date=server_date,
        bucket_region=bucket_region,
    )


class NoSuchBucket(ServiceError):
    """The bucket does not exist."""


class NoSuchKey(ServiceError):
    """The object does not exist."""


class NoSuchUpload(ServiceError):
    """The multipart upload does not exist (completed, aborted or never started)."""


class AccessDenied(ServiceError):
    """The credentials are not allowed to do this."""


class InvalidAccessKeyId(ServiceError):
    """The server does not know the access key."""


class SignatureDoesNotMatch(ServiceError):
    """The request signature was rejected (usually a wrong secret key)."""


class BucketAlreadyExists(ServiceError):
    """The bucket name is taken by another account."""


class BucketAlreadyOwnedByYou(ServiceError):
    """The bucket already exists and is yours."""


class BucketNotEmpty(ServiceError):
    """A bucket must be empty before it is deleted."""


class PreconditionFailed(ServiceError):
    """A conditional request (If-Match, If-None-Match ...) did not hold."""


class NotModified(ServiceError):
    """A conditional read (``if_none_match``, ``if_modified_since``) found the object
    unchanged: HTTP 304, no body."""


class NoSuchVersion(ServiceError):
    """The version id names no version of the object."""


class InvalidRange(ServiceError):
    """The requested byte range is not satisfiable."""


class InvalidPart(ServiceError):
    """A part named in CompleteMultipartUpload is missing or its ETag differs."""


class InvalidPartOrder(ServiceError):
    """Parts in CompleteMultipartUpload are not in ascending order."""


class EntityTooSmall(ServiceError):
    """A multipart part other than the last is below the minimum size."""


class EntityTooLarge(ServiceError):
    """The upload exceeds the maximum allowed size."""


class InvalidBucketName(ServiceError):
    """The server rejected the bucket name."""


class NoSuchLifecycleConfiguration(ServiceError):
    """The bucket has no lifecycle configuration."""


class RequestTimeTooSkewed(ServiceError):
    """The client clock differs too much from the server's."""


class RequestTimeout(ServiceError):
    """The server timed out waiting for the request body."""


class SlowDown(ServiceError):
    """The server asks the client to reduce its request rate."""


class InternalError(ServiceError):
    """The server failed internally."""


class ServiceUnavailable(ServiceError):
    """The server is temporarily unavailable."""


class NotImplementedByServer(ServiceError):
    """The server does not implement this operation (S3 code ``NotImplemented``)."""


_CODE_TABLE: dict[str, type[ServiceError]] = {
    "NoSuchBucket": NoSuchBucket,
    "NoSuchKey": NoSuchKey,
    "NoSuchUpload": NoSuchUpload,
    "AccessDenied": AccessDenied,
    "InvalidAccessKeyId": InvalidAccessKeyId,
    "SignatureDoesNotMatch": SignatureDoesNotMatch,
    "BucketAlreadyExists": BucketAlreadyExists,
    "BucketAlreadyOwnedByYou": BucketAlreadyOwnedByYou,
    "BucketNotEmpty": BucketNotEmpty,
    "PreconditionFailed": PreconditionFailed,
    "NotModified": NotModified,
    "NoSuchVersion": NoSuchVersion,
    "InvalidRange": InvalidRange,
    "InvalidPart": InvalidPart,
    "InvalidPartOrder": InvalidPartOrder,
    "EntityTooSmall": EntityTooSmall,
    "EntityTooLarge": EntityTooLarge,
    "InvalidBucketName": InvalidBucketName,
    "NoSuchLifecycleConfiguration": NoSuchLifecycleConfiguration,
    "RequestTimeTooSkewed": RequestTimeTooSkewed,
    "RequestTimeout": RequestTimeout,
    "SlowDown": SlowDown,
    "InternalError": InternalError,
    "ServiceUnavailable": ServiceUnavailable,
    "NotImplemented": NotImplementedByServer,
}

# What a bodiless error response (HEAD, or a proxy's bare status) means.
_STATUS_TABLE: dict[int, str] = {
    301: "PermanentRedirect",
    304: "NotModified",
    400: "BadRequest",
    403: "AccessDenied",
    404: "NotFound",
    409: "Conflict",
    412: "PreconditionFailed",
    416: "InvalidRange",
    500: "InternalError",
    501: "NotImplemented",
    503: "ServiceUnavailable",
}


def error_class_for_code(code: str) -> type[ServiceError]:
    """The ``ServiceError`` subclass for an S3 error code (``ServiceError`` if unknown)."""
    return _CODE_TABLE.get(code, ServiceError)


def code_for_status(status: int) -> str:
    """A stand-in error code for an error response that carried no XML body."""
    return _STATUS_TABLE.get(status, f"HTTP{status}")
