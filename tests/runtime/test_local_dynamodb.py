"""The runtime's local DynamoDB, and what the handlers keep in it: load records and run leases.

Emulated AWS: DynamoDB, by moto's backend behind the runtime's own endpoint
(etl_local.dynamodb), reached over real HTTP by boto3 and Powertools exactly as on AWS.
Real: the processes, the files in the home folder, the file lock between processes.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from etl_core.errors import InputError, RunInProgress
from etl_core.idempotency import LOAD_IDEMPOTENCY, SKIPPED, persistence_layer
from etl_core.lease import RunLease, lease_key, run_lease
from etl_core.settings import Settings
from etl_local.dynamodb import DynamoDBEndpoint

ROOT = Path(__file__).resolve().parents[2]
TABLE = {"IdempotencyTable": {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                              "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}}


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBEndpoint]:
    """The endpoint of a home folder, and boto3 in this process pointed at it as a function's would be."""
    local = DynamoDBEndpoint(tmp_path / "dynamodb", TABLE)
    for name, value in {"AWS_ENDPOINT_URL_DYNAMODB": local.endpoint, "AWS_ACCESS_KEY_ID": "local",
                        "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                        "IDEMPOTENCY_TABLE": "IdempotencyTable"}.items():
        monkeypatch.setenv(name, value)
    yield local
    local.close()


def test_tables_outlive_the_endpoint_and_are_shared_by_its_successor(endpoint: DynamoDBEndpoint, tmp_path: Path) -> None:
    endpoint.client().put_item(TableName="IdempotencyTable", Item={"id": {"S": "a"}})
    endpoint.close()
    later = DynamoDBEndpoint(tmp_path / "dynamodb", TABLE)
    try:
        assert later.client().get_item(TableName="IdempotencyTable", Key={"id": {"S": "a"}})["Item"] == {"id": {"S": "a"}}
    finally:
        later.close()


CONTENDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from etl_local.dynamodb import DynamoDBEndpoint
    local = DynamoDBEndpoint(Path(sys.argv[1]))
    api = local.client()
    start = Path(sys.argv[1]).parent / "go"
    while not start.exists():
        time.sleep(0.01)
    won = 0
    for i in range(40):
        try:
            api.put_item(TableName="IdempotencyTable", Item={"id": {"S": f"k{i}"}, "who": {"S": sys.argv[2]}},
                         ConditionExpression="attribute_not_exists(id)")
            won += 1
        except api.exceptions.ConditionalCheckFailedException:
            pass
    print(won)
    local.close()
""")


def test_conditional_writes_are_atomic_across_processes(endpoint: DynamoDBEndpoint, tmp_path: Path) -> None:
    """Two `etl` processes of one home: each key is won by exactly one of them."""
    script = tmp_path / "contender.py"
    script.write_text(CONTENDER)
    folder = str(tmp_path / "dynamodb")
    processes = [subprocess.Popen([sys.executable, str(script), folder, who, str(ROOT)], stdout=subprocess.PIPE, text=True)
                 for who in ("a", "b")]
    (tmp_path / "go").touch()
    won = [int(p.communicate(timeout=120)[0]) for p in processes]
    assert sum(won) == 40
    items = endpoint.client().scan(TableName="IdempotencyTable")["Items"]
    assert sorted(i["id"]["S"] for i in items) == sorted(f"k{i}" for i in range(40))


def test_load_records_replay_marked_skipped_and_new_rows_load(endpoint: DynamoDBEndpoint, lambda_context) -> None:
    calls: list[dict] = []
    LOAD_IDEMPOTENCY.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="request", config=LOAD_IDEMPOTENCY, persistence_store=persistence_layer(Settings.from_env()))
    def load(request: dict) -> dict:
        calls.append(request)
        return {"rows": len(calls), "status": "loaded"}

    request = {"pipeline": "p", "run_id": "r1", "target": "t", "definition": "sha256:d", "fingerprint": "sha256:a"}
    assert load(request=request) == {"rows": 1, "status": "loaded"}
    assert load(request=request) == {"rows": 1, "status": SKIPPED}
    assert load(request={**request, "fingerprint": "sha256:b"}) == {"rows": 2, "status": "loaded"}
    assert len(calls) == 2


def test_an_in_progress_record_blocks_a_concurrent_duplicate(endpoint: DynamoDBEndpoint, lambda_context) -> None:
    config = IdempotencyConfig(event_key_jmespath="run_id")
    config.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=DynamoDBPersistenceLayer("IdempotencyTable"))
    def reentrant(request: dict) -> dict:
        return reentrant(request=request)

    with pytest.raises(IdempotencyAlreadyInProgressError):
        reentrant(request={"run_id": "r9"})


def test_the_load_function_needs_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE", raising=False)
    with pytest.raises(InputError, match="set IDEMPOTENCY_TABLE"):
        persistence_layer(Settings.from_env())


# --- the run lease ---------------------------------------------------------------------------


def lease(owner: str, now: float = 1_000_000.0, seconds: int = 600) -> RunLease:
    return RunLease("IdempotencyTable", "orders", "2026-11-26", owner, seconds, now=lambda: now)


def holder(endpoint: DynamoDBEndpoint) -> dict | None:
    key = {"id": {"S": lease_key("orders", "2026-11-26")}}
    return endpoint.client().get_item(TableName="IdempotencyTable", Key=key, ConsistentRead=True).get("Item")


def test_one_execution_holds_a_run_and_renews_it(endpoint: DynamoDBEndpoint) -> None:
    lease("exec-a").hold()
    lease("exec-a", now=1_000_100).hold()  # a later stage, a retry or a redrive of the same execution
    assert holder(endpoint)["owner"] == {"S": "exec-a"} and holder(endpoint)["expiration"] == {"N": "1000700"}
    with pytest.raises(RunInProgress, match=r"pipeline 'orders' run '2026-11-26' is being processed by execution exec-a \(lease until"):
        lease("exec-b", now=1_000_200).hold()
    assert holder(endpoint)["owner"] == {"S": "exec-a"}


def test_an_expired_lease_passes_to_the_next_execution(endpoint: DynamoDBEndpoint) -> None:
    lease("killed").hold()
    lease("next", now=1_000_601).hold()  # the killed execution stopped renewing it
    assert holder(endpoint)["owner"] == {"S": "next"}
    lease("killed", now=1_000_602).release()  # a late release of the old owner takes nothing away
    assert holder(endpoint)["owner"] == {"S": "next"}
    lease("next").release()
    assert holder(endpoint) is None
    lease("other").hold()


def test_outside_an_execution_there_is_no_lease(endpoint: DynamoDBEndpoint) -> None:
    assert run_lease(Settings.from_env(), "orders", "r1", None) is None
    assert run_lease(Settings.from_env(), "orders", "r1", "exec").owner == "exec"


def test_provision_makes_the_template_tables_before_any_execution(make_runtime) -> None:
    """What an execution would start on first use is up beforehand, as a deployed stack's tables are."""
    runtime = make_runtime()
    tables = runtime.dynamodb.endpoint.tables.state
    assert not tables.exists()  # constructing the runtime starts nothing
    runtime.provision()
    assert tables.exists()
    assert runtime.dynamodb.endpoint.client().list_tables()["TableNames"] == ["IdempotencyTable"]
