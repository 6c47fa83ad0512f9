"""``s3lite._options``: frozen options, validated once, and the keywords that map onto them."""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

import httpx
import pytest

from s3lite import ClientOptions, ConfigurationError, RetryPolicy, S3Client, TransferOptions
from s3lite._options import MAX_PARTS, MiB, OptionArguments


def test_the_keyword_arguments_are_exactly_the_option_fields() -> None:
    client = {f.name for f in dataclasses.fields(ClientOptions)} - {"transfer"}
    transfer = {f.name for f in dataclasses.fields(TransferOptions)}
    assert set(get_type_hints(OptionArguments)) == client | transfer


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"payload_signing": "sometimes"}, "payload_signing"),
        ({"checksum": "crc64"}, "checksum"),
        ({"part_size": 4 * MiB}, "part_size"),
        ({"copy_part_size": 6 * 1024 * MiB}, "copy_part_size"),
        ({"multipart_threshold": 0}, "multipart_threshold"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"expect_continue": -1}, "expect_continue"),
        ({"retry": 3}, "retry"),
        ({"verify": 1.5}, "verify"),
    ],
)
def test_a_bad_option_is_refused_naming_it(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        ClientOptions().with_changes(**changes)


def test_unknown_options_are_refused_not_ignored() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown client option.*part_sise"):
        ClientOptions().with_changes(part_sise=8 * MiB)


def test_with_changes_routes_transfer_options_and_keeps_the_rest() -> None:
    base = ClientOptions(timeout=5.0, retry=RetryPolicy.disabled())
    changed = base.with_changes(part_size=16 * MiB, checksum=None)
    assert changed.transfer.part_size == 16 * MiB
    assert (changed.timeout, changed.checksum, changed.retry) == (5.0, None, base.retry)
    assert base.transfer.part_size == 8 * MiB  # frozen: the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.timeout = 1.0  # type: ignore[misc]


def test_part_sizes_grow_in_whole_mib_to_stay_within_10000_parts() -> None:
    transfer = TransferOptions()
    assert transfer.part_size_for(80 * MiB) == 8 * MiB
    big = 200 * 1024 * MiB
    size = transfer.part_size_for(big)
    assert size % MiB == 0 and -(-big // size) <= MAX_PARTS


def test_buffered_parts_in_flight_leave_room_for_the_part_being_filled() -> None:
    assert TransferOptions().buffered_parts_in_flight == 3  # 32 MiB of 8 MiB parts
    assert TransferOptions(max_buffer_size=1).buffered_parts_in_flight == 1
    assert TransferOptions(max_buffer_size=1024 * MiB).buffered_parts_in_flight == 8


def test_keywords_override_an_options_object() -> None:
    client = S3Client(
        "http://127.0.0.1:9",
        access_key="AK",
        secret_key="secret-value",
        options=ClientOptions(timeout=7.0, checksum="sha256"),
        checksum=None,
    )
    assert (client.options.timeout, client.options.checksum) == (7.0, None)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("threshold", "size", "sent"),
    [(None, 10, False), (100, 99, False), (100, 100, True), (0, 1, True)],
)
async def test_expect_continue_is_sent_with_bodies_over_the_threshold(
    threshold: int | None, size: int, sent: bool
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"etag": '"e"'})

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        S3Client(
            "http://127.0.0.1:9",
            access_key="AK",
            secret_key="secret-value",
            expect_continue=threshold,
            http_client=http,
        ) as s3,
    ):
        await s3.put_object("bucket", "k", b"x" * size)
    assert (seen[0].headers.get("expect") == "100-continue") is sent
    assert "expect" not in seen[0].headers.get("authorization", "")  # not a signed header
