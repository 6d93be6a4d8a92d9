"""Fixtures for the targets: AWS APIs emulated by moto in server mode, reached over real HTTP.

boto3 and pyarrow's S3 file system both follow ``AWS_ENDPOINT_URL`` to the local moto
server (dummy credentials), so the loaders run unchanged against it. PostgreSQL is the real
one from tests/conftest.py.
"""
from __future__ import annotations

import boto3
import pytest


@pytest.fixture
def lake_bucket(aws: str) -> str:
    """An S3 lake (``s3://lake``) on the moto server."""
    boto3.client("s3").create_bucket(Bucket="lake")
    return "s3://lake"
