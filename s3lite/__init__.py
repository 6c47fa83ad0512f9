"""s3lite: a small, fast, dependable asynchronous S3 client.

>>> async with S3Client("http://127.0.0.1:8333", access_key="...", secret_key="...") as s3:
...     await s3.put_object("bucket", "key", b"data")
...     data = await (await s3.get_object("bucket", "key")).read()

Everything public is re-exported here; the modules behind it are private.
"""

from ._client import S3Client
from ._connstring import (
    CONNECTION_STRING_KEYS,
    ConnectionSettings,
    parse_connection_string,
    read_connection_config,
)
from ._credential_cache import CredentialProvider
from ._credentials import Credentials
from ._download import GetObjectCall, ObjectStream
from ._exceptions import (
    AccessDenied,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    CertificateError,
    ConfigurationError,
    CredentialRetrievalError,
    EntityTooLarge,
    EntityTooSmall,
    IntegrityError,
    InternalError,
    InvalidAccessKeyId,
    InvalidBucketName,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequestError,
    MalformedResponseError,
    NoCredentialsError,
    NoSuchBucket,
    NoSuchKey,
    NoSuchLifecycleConfiguration,
    NoSuchUpload,
    NoSuchVersion,
    NotImplementedByServer,
    NotModified,
    PreconditionFailed,
    RequestTimeout,
    RequestTimeoutError,
    RequestTimeTooSkewed,
    S3Error,
    ServiceError,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    StorageError,
    TransportError,
)
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
from ._options import ClientOptions, TransferOptions
from ._progress import ProgressCallback
from ._retry import RetryPolicy
from ._version import __version__

__all__ = [
    "CONNECTION_STRING_KEYS",
    "AccessDenied",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "CertificateError",
    "ClientOptions",
    "CommonPrefix",
    "CompletedPart",
    "ConfigurationError",
    "ConnectionSettings",
    "CopyObjectResult",
    "CredentialProvider",
    "CredentialRetrievalError",
    "Credentials",
    "DeleteError",
    "DeleteMarker",
    "DeleteObjectsResult",
    "DownloadResult",
    "EntityTooLarge",
    "EntityTooSmall",
    "GetObjectCall",
    "IntegrityError",
    "InternalError",
    "InvalidAccessKeyId",
    "InvalidBucketName",
    "InvalidPart",
    "InvalidPartOrder",
    "InvalidRange",
    "InvalidRequestError",
    "LifecycleRule",
    "MalformedResponseError",
    "MultipartUpload",
    "NoCredentialsError",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchLifecycleConfiguration",
    "NoSuchUpload",
    "NoSuchVersion",
    "NotImplementedByServer",
    "NotModified",
    "ObjectInfo",
    "ObjectStream",
    "ObjectSummary",
    "ObjectVersion",
    "PartInfo",
    "PreconditionFailed",
    "ProgressCallback",
    "PutObjectResult",
    "RequestTimeTooSkewed",
    "RequestTimeout",
    "RequestTimeoutError",
    "RetryPolicy",
    "S3Client",
    "S3Error",
    "ServiceError",
    "ServiceUnavailable",
    "SignatureDoesNotMatch",
    "SlowDown",
    "StorageError",
    "TransferOptions",
    "TransportError",
    "__version__",
    "parse_connection_string",
    "read_connection_config",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "s3lite"
del _name, _obj
