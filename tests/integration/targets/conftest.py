"""Fixtures for the targets: AWS APIs emulated by moto in server mode, reached over real HTTP.

boto3 and pyarrow's S3 file system both follow ``AWS_ENDPOINT_URL`` to the local moto
server (dummy credentials), so the loaders run unchanged against it. PostgreSQL is the real
one from tests/conftest.py.
"""
from __future__ import annotations

import urllib.request
from typing import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from etl_core import storage


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """boto3 and the lake's S3 file system pointed at a freshly reset moto server."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    storage._s3.cache_clear()  # the S3 file system is built once per endpoint
    yield moto_endpoint
    storage._s3.cache_clear()


@pytest.fixture
def lake_bucket(aws: str) -> str:
    """An S3 lake (``s3://lake``) on the moto server."""
    boto3.client("s3").create_bucket(Bucket="lake")
    return "s3://lake"
