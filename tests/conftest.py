"""Fixtures every test layer shares: one real PostgreSQL per run, the repo, a sample lake.

PostgreSQL is real (pgserver starts PostgreSQL 16 from pip); each test that needs a
warehouse gets its own fresh database on that one server, so tests stay independent
without paying a server start each.
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from etl_local.lambda_host import LambdaContext
from etl_local.runtime import LocalRuntime
from etl_local.warehouse import start_postgres, stop_postgres

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RAW = REPO / "sample" / "raw"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Outside pytest's tmp tree: PostgreSQL runs as another user (pgserver, when root) and
    pytest keeps its tmp folders private (0700), which would lock the server out of its data."""
    folder = Path(tempfile.mkdtemp(prefix="etl-test-pg-"))
    folder.chmod(0o755)
    try:
        yield start_postgres(folder / "data", temporary=True)
    finally:
        stop_postgres(folder / "data")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def warehouse_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the shared server; dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield psycopg.conninfo.make_conninfo(postgres_server, dbname=name)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(function_name="test-function", memory_limit_in_mb=512, timeout_seconds=60)


@pytest.fixture
def lake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Domain code configured as the Lambdas are: a lake folder and the bundled raw sample."""
    lake = tmp_path / "lake"
    monkeypatch.setenv("LAKE_URI", str(lake))
    monkeypatch.setenv("RAW_URI", str(SAMPLE_RAW))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    return lake


@pytest.fixture
def make_runtime(tmp_path: Path, warehouse_dsn: str):
    """A local runtime over the real template, with its own state folder and warehouse database."""

    made: list[LocalRuntime] = []

    def make(**kwargs) -> LocalRuntime:
        kwargs.setdefault("virtual_clock", True)
        made.append(LocalRuntime(REPO, home=tmp_path / "etl-home", warehouse_dsn=warehouse_dsn, **kwargs))
        return made[-1]

    yield make
    for runtime in made:  # stop its Lambda environments
        runtime.close()
