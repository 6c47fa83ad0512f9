"""``s3lite._exceptions``: one tree under ``S3Error``, the code table, readable picklable errors."""

from __future__ import annotations

import inspect
import pickle

import pytest

import s3lite
from s3lite import _exceptions
from s3lite._exceptions import (
    ConfigurationError,
    IntegrityError,
    InvalidRequestError,
    MalformedResponseError,
    NotImplementedByServer,
    RequestTimeoutError,
    S3Error,
    ServiceError,
    StorageError,
    TransportError,
    code_for_status,
    error_class_for_code,
)

EXCEPTION_CLASSES = sorted(
    (
        obj
        for obj in vars(_exceptions).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    ),
    key=lambda cls: cls.__name__,
)
SERVICE_CLASSES = [cls for cls in EXCEPTION_CLASSES if issubclass(cls, ServiceError)]
PLAIN_CLASSES = [cls for cls in EXCEPTION_CLASSES if not issubclass(cls, ServiceError)]
CODE_TABLE = sorted(_exceptions._CODE_TABLE.items())


def make_service_error(cls: type[ServiceError], **overrides: object) -> ServiceError:
    fields: dict[str, object] = {
        "status": 404,
        "request_id": "REQ123",
        "host_id": "HOST456",
        "bucket": "my-bucket",
        "key": "dir/file.txt",
    }
    fields.update(overrides)
    return cls("SomeCode", "Something went wrong", **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the tree


@pytest.mark.parametrize("cls", EXCEPTION_CLASSES, ids=lambda cls: cls.__name__)
def test_every_exception_is_an_s3error(cls: type[BaseException]) -> None:
    assert issubclass(cls, S3Error)
    assert issubclass(cls, Exception)


@pytest.mark.parametrize("cls", EXCEPTION_CLASSES, ids=lambda cls: cls.__name__)
def test_every_exception_is_exported_from_the_package(cls: type[BaseException]) -> None:
    assert getattr(s3lite, cls.__name__) is cls
    assert cls.__name__ in _exceptions.__all__


@pytest.mark.parametrize("cls", [ConfigurationError, InvalidRequestError])
def test_input_errors_are_also_value_errors(cls: type[S3Error]) -> None:
    assert issubclass(cls, ValueError)
    with pytest.raises(ValueError):
        raise cls("bad input")


def test_request_timeout_error_is_a_transport_error() -> None:
    assert issubclass(RequestTimeoutError, TransportError)


@pytest.mark.parametrize(
    "cls", [TransportError, IntegrityError, MalformedResponseError, StorageError, ServiceError]
)
def test_runtime_errors_are_not_value_errors(cls: type[S3Error]) -> None:
    assert not issubclass(cls, ValueError)


# --------------------------------------------------------------------------- the code table


@pytest.mark.parametrize(("code", "cls"), CODE_TABLE, ids=[code for code, _ in CODE_TABLE])
def test_error_class_for_code_maps_every_table_entry(code: str, cls: type[ServiceError]) -> None:
    assert error_class_for_code(code) is cls
    assert issubclass(cls, ServiceError)
    assert cls is not ServiceError


def test_class_names_match_their_codes() -> None:
    for code, cls in CODE_TABLE:
        expected = "NotImplementedByServer" if code == "NotImplemented" else code
        assert cls.__name__ == expected


def test_every_service_error_subclass_has_a_code() -> None:
    mapped = set(_exceptions._CODE_TABLE.values())
    assert mapped == {cls for cls in SERVICE_CLASSES if cls is not ServiceError}


@pytest.mark.parametrize("code", ["SomethingNew", "", "nosuchkey", "NoSuchKey ", "HTTP418"])
def test_error_class_for_unknown_code_is_service_error(code: str) -> None:
    assert error_class_for_code(code) is ServiceError


def test_not_implemented_code_does_not_shadow_the_builtin() -> None:
    assert error_class_for_code("NotImplemented") is NotImplementedByServer
    assert "NotImplemented" not in s3lite.__all__


@pytest.mark.parametrize("status", sorted(_exceptions._STATUS_TABLE))
def test_code_for_status_names_bodiless_errors(status: int) -> None:
    code = code_for_status(status)
    assert code == _exceptions._STATUS_TABLE[status]
    assert code and " " not in code


@pytest.mark.parametrize("status", [402, 418, 502, 504])
def test_code_for_unknown_status_embeds_the_status(status: int) -> None:
    assert code_for_status(status) == f"HTTP{status}"
    assert error_class_for_code(code_for_status(status)) is ServiceError


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize("cls", SERVICE_CLASSES, ids=lambda cls: cls.__name__)
def test_service_error_str_names_code_status_request_bucket_and_key(
    cls: type[ServiceError],
) -> None:
    error = make_service_error(cls)
    text = str(error)
    for part in ("SomeCode", "Something went wrong", "404", "REQ123", "my-bucket", "dir/file.txt"):
        assert part in text
    assert (error.code, error.message, error.status) == ("SomeCode", "Something went wrong", 404)
    assert (error.request_id, error.host_id, error.bucket, error.key) == (
        "REQ123",
        "HOST456",
        "my-bucket",
        "dir/file.txt",
    )


def test_service_error_str_leaves_out_what_is_unknown() -> None:
    error = ServiceError("InternalError", "boom", status=500)
    text = str(error)
    assert "InternalError" in text and "500" in text and "boom" in text
    assert "bucket" not in text
    assert "request id" not in text
    assert "None" not in text


def test_service_error_str_with_bucket_but_no_key() -> None:
    text = str(ServiceError("NoSuchBucket", "gone", status=404, bucket="bkt"))
    assert "bkt" in text
    assert "key" not in text


# --------------------------------------------------------------------------- pickling


@pytest.mark.parametrize("cls", SERVICE_CLASSES, ids=lambda cls: cls.__name__)
def test_service_errors_survive_pickling(cls: type[ServiceError]) -> None:
    error = make_service_error(cls, status=503)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    attributes = ("code", "message", "status", "request_id", "host_id", "bucket", "key")
    assert [getattr(copy, name) for name in attributes] == [
        getattr(error, name) for name in attributes
    ]
    assert str(copy) == str(error)
    assert copy.args == error.args


def test_service_error_with_minimal_fields_survives_pickling() -> None:
    error = ServiceError("X", "y", status=400)
    copy = pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
    assert (copy.code, copy.status, copy.request_id, copy.bucket, copy.key) == (
        "X",
        400,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("cls", PLAIN_CLASSES, ids=lambda cls: cls.__name__)
def test_other_errors_survive_pickling(cls: type[S3Error]) -> None:
    error = cls("what went wrong")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.args == error.args
    assert str(copy) == "what went wrong"
