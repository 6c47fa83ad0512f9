"""Smoke test for the local SeaweedFS launcher used by the integration tests."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.s3server import LocalS3Server, find_weed, run_seaweedfs

boto3 = pytest.importorskip("boto3")
botocore_config = pytest.importorskip("botocore.config")


def _weed_available() -> bool:
    try:
        find_weed()
    except RuntimeError:
        return False
    return True


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not _weed_available(), reason="weed binary not installed"),
]


def test_repr_masks_secret(tmp_path: Path) -> None:
    server = LocalS3Server("http://127.0.0.1:1", "ak", "very-secret", "us-east-1", tmp_path)
    assert "very-secret" not in repr(server)
    assert "SecretKey=very-secret;" in server.connection_string()


def test_seaweedfs_starts_and_serves_s3(tmp_path: Path) -> None:
    with run_seaweedfs(tmp_path) as server:
        assert server.secret_key not in repr(server)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            opener.open(server.endpoint + "/", timeout=10)
        assert excinfo.value.code == 403
        excinfo.value.close()

        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name=server.region,
            config=botocore_config.Config(s3={"addressing_style": "path"}),
        )
        client.create_bucket(Bucket="s3lite-smoke")
        client.put_object(Bucket="s3lite-smoke", Key="dir/hello.txt", Body=b"hello world")
        response = client.get_object(Bucket="s3lite-smoke", Key="dir/hello.txt")
        assert response["Body"].read() == b"hello world"
        listed = client.list_objects_v2(Bucket="s3lite-smoke")
        assert [item["Key"] for item in listed["Contents"]] == ["dir/hello.txt"]
        client.close()
