"""Fixtures shared by the integration tests.

A local Spark costs several seconds to start, so the whole test run shares one session,
built by the Glue script itself so the tests run Spark with the job's own settings.
"""
from __future__ import annotations

import importlib.util
import logging
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest
from aws_lambda_powertools.utilities import parameters
from moto.server import ThreadedMotoServer
from pyspark.sql import SparkSession

from etl_core import storage

GLUE_SCRIPT = Path(__file__).resolve().parents[2] / "glue" / "etl_transform.py"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: starts a local Spark (JVM); deselect with -m 'not spark'")


@pytest.fixture(scope="session")
def glue_script() -> ModuleType:
    """The Glue job script as a module: it is a standalone file in glue/, not part of a package."""
    spec = importlib.util.spec_from_file_location("etl_transform", GLUE_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def spark(glue_script: ModuleType) -> Iterator[SparkSession]:
    """One local Spark session for the whole test run, configured exactly as the job configures it."""
    session = glue_script.local_session("pytest")
    yield session
    session.stop()


# --- AWS APIs, emulated by moto in server mode (one server per test run) ----------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """boto3, Powertools and the lake's S3 file system pointed at a freshly reset moto server
    (over real HTTP, with dummy credentials), so connectors and loaders run unchanged."""
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
    parameters.clear_caches()
    storage._s3.cache_clear()  # the S3 file system is built once per endpoint
    yield moto_endpoint
    parameters.clear_caches()
    storage._s3.cache_clear()
