"""Fixtures shared by the integration tests.

A local Spark costs several seconds to start, so the whole test run shares one session,
built by the Glue script itself so the tests run Spark with the job's own settings.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest
from pyspark.sql import SparkSession

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
