"""The file-backed Powertools persistence layer behaves like the DynamoDB one for our loads."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)

from etl_core.errors import InputError
from etl_core.idempotency import FilePersistenceLayer, persistence_layer
from etl_core.settings import Settings


def test_second_call_returns_the_first_result_without_running(tmp_path: Path, lambda_context) -> None:
    calls = []
    config = IdempotencyConfig(event_key_jmespath="[run_id, target]")
    config.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=FilePersistenceLayer(tmp_path))
    def load(request: dict) -> dict:
        calls.append(request)
        return {"rows": len(calls)}

    assert load(request={"run_id": "r1", "target": "t"}) == {"rows": 1}
    assert load(request={"run_id": "r1", "target": "t"}) == {"rows": 1}
    assert load(request={"run_id": "r1", "target": "other"}) == {"rows": 2}
    assert len(calls) == 2


def test_a_failed_call_can_be_retried(tmp_path: Path, lambda_context) -> None:
    attempts = []
    config = IdempotencyConfig(event_key_jmespath="run_id")
    config.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=FilePersistenceLayer(tmp_path))
    def flaky(request: dict) -> dict:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionResetError("boom")
        return {"ok": True}

    with pytest.raises(ConnectionResetError):
        flaky(request={"run_id": "r1"})
    assert flaky(request={"run_id": "r1"}) == {"ok": True}


def test_in_progress_record_blocks_a_concurrent_duplicate(tmp_path: Path, lambda_context) -> None:
    config = IdempotencyConfig(event_key_jmespath="run_id")
    config.register_lambda_context(lambda_context)
    store = FilePersistenceLayer(tmp_path)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=store)
    def reentrant(request: dict) -> dict:
        return reentrant(request=request)

    with pytest.raises(IdempotencyAlreadyInProgressError):
        reentrant(request={"run_id": "r9"})


def test_layer_is_chosen_by_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE", raising=False)
    monkeypatch.setenv("IDEMPOTENCY_STORE", str(tmp_path))
    assert isinstance(persistence_layer(Settings.from_env()), FilePersistenceLayer)
    monkeypatch.delenv("IDEMPOTENCY_STORE")
    with pytest.raises(InputError, match="set IDEMPOTENCY_TABLE"):
        persistence_layer(Settings.from_env())


def test_in_progress_record_of_a_dead_process_is_stale(tmp_path: Path, lambda_context) -> None:
    """A local run killed mid-load must not block its redrive until the Lambda timeout passes."""
    import json
    import subprocess
    import sys

    config = IdempotencyConfig(event_key_jmespath="run_id")
    config.register_lambda_context(lambda_context)
    store = FilePersistenceLayer(tmp_path)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=store)
    def load(request: dict) -> dict:
        return {"loaded": True}

    assert load(request={"run_id": "r1"}) == {"loaded": True}
    record = next(tmp_path.glob("*.json"))
    item = json.loads(record.read_text())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    item.update(status="INPROGRESS", owner_pid=int(dead.stdout), in_progress_expiry_timestamp=10**15)
    record.write_text(json.dumps(item))
    assert load(request={"run_id": "r1"}) == {"loaded": True}
    item.update(status="INPROGRESS", owner_pid=os.getpid())
    record.write_text(json.dumps(item))
    with pytest.raises(IdempotencyAlreadyInProgressError):
        load(request={"run_id": "r1"})
