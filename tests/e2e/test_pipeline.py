"""End to end through the local runtime: the real template, state machine, handlers and stand-ins.

Real parts: PostgreSQL (pgserver), Parquet files for the lake, the handlers in-process.
Emulated: nothing AWS-side is called; SQS/SNS are the runtime's local outboxes. Time runs on
the virtual clock so Wait states and retry back-off cost nothing.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from etl_local.integrations import read_messages

REPO = Path(__file__).resolve().parents[2]


def load_event(name: str) -> dict:
    return json.loads((REPO / "events" / name).read_text())


def lease_extended_by(result, hold: str) -> float:
    """Seconds the run lease was extended by at state ``hold`` (after the conditional update on
    the owner succeeded): its new expiry minus the moment the state was entered."""
    start = next(i for i, e in enumerate(result.history)
                 if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == hold)
    scheduled, _, succeeded = (e for e in result.history[start + 1:start + 4])
    assert succeeded["type"] == "TaskSucceeded", succeeded
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    entered_at = result.history[start]["timestamp"]
    entered_at = entered_at if isinstance(entered_at, dt.datetime) else dt.datetime.fromisoformat(entered_at.replace("Z", "+00:00"))
    return int(parameters["ExpressionAttributeValues"][":until"]["N"]) - entered_at.timestamp()


def entered(result) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]


def warehouse_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM analytics.orders").fetchone()[0]


def test_happy_path_loads_every_target_and_balances(make_runtime, warehouse_dsn: str) -> None:
    runtime = make_runtime()
    result = runtime.run(load_event("execution-happy-path.json"), name="happy")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    counts = result.output["counts"]
    assert counts["extracted"] == counts["valid"] + counts["quarantined"]
    assert counts["valid"] > 2900 and counts["quarantined"] > 0
    aggregated = pq.read_table(runtime.home / "lake" / "aggregated" / "orders_daily_revenue")
    assert counts["loaded"] == {"processed": counts["valid"], "daily_revenue": aggregated.num_rows, "warehouse": counts["valid"]}
    assert result.output["loads"] == {"processed": "loaded", "daily_revenue": "loaded", "warehouse": "loaded"}
    assert result.output["engine"] == "lambda"

    lake = runtime.home / "lake"
    assert pq.read_table(lake / "processed" / "orders").num_rows == counts["valid"]
    aggregated = pq.read_table(lake / "aggregated" / "orders_daily_revenue")
    assert sum(aggregated.column("orders").to_pylist()) == counts["valid"]
    assert warehouse_rows(warehouse_dsn) == counts["valid"]
    quarantine = lake / "quarantine" / "orders" / "2026-11-26"
    rejected = pq.read_table(quarantine / "extract-orders.parquet").num_rows + pq.read_table(quarantine / "validate.parquet").num_rows
    assert rejected == counts["quarantined"]

    stored = runtime.store.load("happy")
    assert stored["execution"]["status"] == "SUCCEEDED"
    assert [e["type"] for e in stored["events"]][0] == "ExecutionStarted"
    assert [e["type"] for e in stored["events"]][-1] == "ExecutionSucceeded"
    notifications = read_messages(runtime.messaging.topic_file("arn:aws:sns:us-east-1:123456789012:NotificationTopic"))
    assert len(notifications) == 1 and "succeeded" in notifications[0]["Subject"]


def test_data_quality_failure_stops_before_load_with_rows_quarantined(make_runtime, warehouse_dsn: str) -> None:
    runtime = make_runtime()
    result = runtime.run(load_event("execution-data-quality-failure.json"))

    assert result.status == "FAILED"
    assert result.error == "DataQualityError"
    assert "rows quarantined" in result.cause and "limit 0.05" in result.cause
    states = entered(result)
    assert "LoadTargets" not in states and "LoadTarget" not in states
    assert states.count("HandleError") == 1
    quarantined = pq.read_table(runtime.home / "lake" / "quarantine" / "orders" / "2026-11-25" / "validate.parquet")
    assert quarantined.num_rows > 100
    assert all(reason for reason in quarantined.column("_reasons").to_pylist())
    dead = read_messages(runtime.messaging.queue_file("https://sqs.us-east-1.amazonaws.com/123456789012/DeadLetterQueue"))
    assert len(dead) == 1
    body = json.loads(dead[0]["Body"])
    assert body["failed_state"] == "Validate" and body["recovery"]["classification"] == "data_quality"
    assert body["input"] == load_event("execution-data-quality-failure.json")


def test_transient_task_failure_is_retried_and_succeeds(make_runtime) -> None:
    runtime = make_runtime(faults={"TransformFunction": ["TransientError"]})
    result = runtime.run(load_event("execution-happy-path.json"))

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert runtime.host.invocations["TransformFunction"] == 2
    types = [e["type"] for e in result.history]
    assert "LambdaFunctionFailed" in types
    assert "HandleError" not in entered(result)  # the Task's own Retry absorbed it


def test_permanent_failure_reaches_dlq_notifies_and_terminates(make_runtime) -> None:
    runtime = make_runtime()
    result = runtime.run(load_event("execution-failing-source.json"))

    assert result.status == "FAILED"
    assert result.error == "SourceNotFound"
    assert "no object or prefix" in result.cause and "2026-11-01" in result.cause
    states = entered(result)
    assert states.count("HandleError") == 1 and states.count("ExtractSources") == 1
    assert states[-5:] == ["SendToDeadLetterQueue", "NotifyFailure", "ReleaseRunIfPlanned", "ReleaseRunLease", "PipelineFailed"]
    dead = read_messages(runtime.messaging.queue_file("https://sqs.us-east-1.amazonaws.com/123456789012/DeadLetterQueue"))
    assert len(dead) == 1
    body = json.loads(dead[0]["Body"])
    assert body["failed_state"] == "Extract" and body["error"]["Error"] == "SourceNotFound"
    assert body["execution_id"] == result.execution_arn
    notes = read_messages(runtime.messaging.topic_file("arn:aws:sns:us-east-1:123456789012:NotificationTopic"))
    assert len(notes) == 1 and "SourceNotFound" in notes[0]["Subject"]


def test_persistent_transient_failure_is_bounded(make_runtime) -> None:
    """Retryable errors that never clear: Task retries, then at most MAX_RECOVERY_ATTEMPTS re-attempts, then DLQ."""
    runtime = make_runtime(faults={"ValidateFunction": ["TransientError"] * 100})
    result = runtime.run(load_event("execution-happy-path.json"))

    assert result.status == "FAILED" and result.error == "TransientError"
    states = entered(result)
    assert states.count("HandleError") == 3  # first failure + 2 re-attempts (MaxRecoveryAttempts default)
    assert states.count("WaitBeforeReattempt") == 2
    assert runtime.host.invocations["ValidateFunction"] == 3 * 4  # 3 entries x (1 try + 3 Task retries)
    assert states[-1] == "PipelineFailed"


def test_rerunning_the_same_run_does_not_duplicate(make_runtime, warehouse_dsn: str) -> None:
    runtime = make_runtime()
    outputs = [runtime.run(load_event("execution-happy-path.json")).output for _ in range(3)]

    assert outputs[0]["counts"] == outputs[1]["counts"] == outputs[2]["counts"]
    valid = outputs[0]["counts"]["valid"]
    assert warehouse_rows(warehouse_dsn) == valid
    assert pq.read_table(runtime.home / "lake" / "processed" / "orders").num_rows == valid


@pytest.mark.spark
def test_large_input_runs_the_glue_script_with_the_same_result(make_runtime) -> None:
    runtime = make_runtime(parameter_overrides={"GlueThresholdBytes": "1"})
    result = runtime.run(load_event("execution-happy-path.json"))

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["engine"] == "glue"
    assert "TransformOnGlue" in entered(result)
    assert lease_extended_by(result, "HoldRunThroughGlueJob") > 4 * 7200  # every attempt of the job fits in the lease
    baseline = make_runtime().run(load_event("execution-happy-path.json")).output
    assert result.output["counts"] == baseline["counts"]


@pytest.mark.spark
def test_largest_input_runs_the_spark_script_on_emr_serverless(make_runtime) -> None:
    runtime = make_runtime(parameter_overrides={"EmrThresholdBytes": "1"})
    result = runtime.run(load_event("execution-happy-path.json"))

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["engine"] == "emr-serverless"
    states = entered(result)
    assert states.index("LocateSparkScript") < states.index("TransformOnEmr") and "TransformOnGlue" not in states
    assert lease_extended_by(result, "HoldRunThroughEmrJob") > 4 * 14400
    assert result.output["counts"]["valid"] == make_runtime().run(load_event("execution-happy-path.json")).output["counts"]["valid"]
