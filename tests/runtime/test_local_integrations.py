"""Integrations served locally: DynamoDB item APIs (moto's DynamoDB backend behind the runtime's local
endpoint: emulated AWS), EMR Serverless on pyspark, and the LocalRuntime's buckets, user-registered
handlers and task-token callbacks."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from etl_local.asl import StateMachine, TaskContext, TaskRegistry, VirtualClock
from etl_local.asl.storage import LocalBuckets
from etl_local.dynamodb import DynamoDBEndpoint, DynamoDBTasks
from etl_local.integrations import LocalEmrServerless
from etl_local.runtime import LocalRuntime

from .conftest import machine

ROOT = Path(__file__).resolve().parents[2]


def dynamodb_machine(*steps: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """Chained DynamoDB tasks, each result stored under ``$.<name>``."""
    return machine(*[(name, {"Type": "Task", "Resource": f"arn:aws:states:::dynamodb:{action}",
                             "Parameters": {"TableName": "Runs", **parameters}, "ResultPath": f"$.{name}"})
                     for name, action, parameters in steps])


RUNS = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]}


@pytest.fixture
def dynamodb(tmp_path: Path) -> DynamoDBTasks:
    endpoint = DynamoDBEndpoint(tmp_path / "dynamodb", {"Runs": RUNS})
    yield DynamoDBTasks(endpoint)
    endpoint.close()


def execute(definition: dict[str, Any], tables: DynamoDBTasks, value: Any = None) -> Any:
    registry = TaskRegistry()
    for action in DynamoDBTasks.ACTIONS:
        registry.register(f"arn:aws:states:::dynamodb:{action}", tables.handler(action))
    return StateMachine(definition).execute(value or {}, tasks=registry, clock=VirtualClock())


KEY = {"pk": {"S": "orders"}, "sk": {"N": "1"}}


def test_put_get_update_delete_round_trip(dynamodb: DynamoDBTasks, tmp_path: Path) -> None:
    item = {**KEY, "status": {"S": "new"}, "count": {"N": "1"}}
    result = execute(dynamodb_machine(
        ("put", "putItem", {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}),
        ("get", "getItem", {"Key": KEY}),
        ("update", "updateItem", {"Key": KEY, "UpdateExpression": "SET #s = :s, #c = #c + :one, added = if_not_exists(added, :s)",
                                  "ExpressionAttributeNames": {"#s": "status", "#c": "count"},
                                  "ExpressionAttributeValues": {":s": {"S": "done"}, ":one": {"N": "1"}, ":new": {"S": "new"}},
                                  "ConditionExpression": "#s = :new", "ReturnValues": "UPDATED_NEW"}),
        ("delete", "deleteItem", {"Key": KEY, "ReturnValues": "ALL_OLD"}),
        ("gone", "getItem", {"Key": KEY}),
    ), dynamodb)
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert out["put"] == {} and out["get"] == {"Item": item}
    assert out["update"] == {"Attributes": {"status": {"S": "done"}, "count": {"N": "2"}, "added": {"S": "done"}}}
    assert out["delete"]["Attributes"]["count"] == {"N": "2"} and out["gone"] == {}
    assert dynamodb.items("Runs") == []


def test_update_creates_and_remove(dynamodb: DynamoDBTasks) -> None:
    result = execute(dynamodb_machine(
        ("up", "updateItem", {"Key": KEY, "UpdateExpression": "SET a = :a, b = :a",
                              "ExpressionAttributeValues": {":a": {"S": "x"}}, "ReturnValues": "ALL_NEW"}),
        ("rm", "updateItem", {"Key": KEY, "UpdateExpression": "REMOVE b", "ReturnValues": "ALL_NEW"})), dynamodb)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["up"] == {"Attributes": {**KEY, "a": {"S": "x"}, "b": {"S": "x"}}}
    assert result.output["rm"] == {"Attributes": {**KEY, "a": {"S": "x"}}}


def test_one_path_set_and_removed_in_one_update_is_refused(dynamodb: DynamoDBTasks) -> None:
    result = execute(dynamodb_machine(
        ("up", "updateItem", {"Key": KEY, "UpdateExpression": "SET a = :a, b = :a REMOVE b",
                              "ExpressionAttributeValues": {":a": {"S": "x"}}})), dynamodb)
    assert result.error == "DynamoDB.ValidationException" and "overlap" in result.cause


@pytest.mark.parametrize(("step", "error", "fragment"), [
    (("again", "putItem", {"Item": {**KEY, "v": {"S": "2"}}, "ConditionExpression": "attribute_not_exists(pk)"}),
     "DynamoDB.ConditionalCheckFailedException", "The conditional request failed (Service: AmazonDynamoDBv2"),
    (("cond", "updateItem", {"Key": KEY, "UpdateExpression": "SET v = :v", "ConditionExpression": "v = :old",
                             "ExpressionAttributeValues": {":v": {"S": "3"}, ":old": {"S": "nope"}}}),
     "DynamoDB.ConditionalCheckFailedException", "Error Code: ConditionalCheckFailedException"),
    (("del", "deleteItem", {"Key": KEY, "ConditionExpression": "attribute_not_exists(v)"}),
     "DynamoDB.ConditionalCheckFailedException", "The conditional request failed"),
    (("bad", "getItem", {"Key": {"pk": {"S": "orders"}}}), "DynamoDB.ValidationException", "Error Code: ValidationException"),
    (("key", "updateItem", {"Key": KEY, "UpdateExpression": "SET pk = :v", "ExpressionAttributeValues": {":v": {"S": "z"}}}),
     "DynamoDB.ValidationException", "This attribute is part of the key"),
])
def test_dynamodb_errors(dynamodb: DynamoDBTasks, step: tuple[str, str, dict[str, Any]], error: str, fragment: str) -> None:
    result = execute(dynamodb_machine(("put", "putItem", {"Item": {**KEY, "v": {"S": "1"}}}), step), dynamodb)
    assert result.error == error and fragment in result.cause


def test_unknown_table(dynamodb: DynamoDBTasks) -> None:
    result = execute(machine(("Get", {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                                      "Parameters": {"TableName": "Nope", "Key": KEY}})), dynamodb)
    assert result.error == "DynamoDB.ResourceNotFoundException" and "Requested resource not found" in result.cause


def test_runtime_maps_template_buckets_tables_and_serves_registered_handlers(tmp_path: Path) -> None:
    runtime = LocalRuntime(ROOT, home=tmp_path / "home", virtual_clock=True)
    assert runtime.buckets.folders["LakeBucket"] == tmp_path / "home" / "lake"
    assert runtime.buckets.folders["RawBucket"] == ROOT / "sample" / "raw"
    assert runtime.dynamodb.endpoint.definitions == {"IdempotencyTable": {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}}

    def approve(parameters: Any, ctx: TaskContext) -> Any:
        runtime.send_task_success(ctx.task_token, {"approved": parameters["who"]})
        return {"ok": True}

    runtime.register("arn:aws:states:::events:putEvents", approve)
    registry = runtime.task_registry()  # what run() hands the engine
    definition = machine(("Ask", {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                                  "Parameters": {"who": "ann"}}),
                         ("Put", {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "ResultPath": None,
                                  "Parameters": {"TableName": "IdempotencyTable", "Item": {"id": {"S.$": "$.approved"}}}}),
                         ("List", {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"},
                                                                    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                                   "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                                                  "Parameters": {"Bucket": "RawBucket", "Prefix": "orders"}},
                                   "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"}}))
    result = StateMachine(definition).execute({}, tasks=registry, clock=VirtualClock(), s3=runtime.buckets)
    assert result.status == "SUCCEEDED", result.cause
    assert runtime.dynamodb.items("IdempotencyTable") == [{"id": {"S": "ann"}}]
    assert result.output and all(entry["key"].startswith("orders") for entry in result.output)


def test_runtime_send_task_failure(tmp_path: Path) -> None:
    runtime = LocalRuntime(ROOT, home=tmp_path / "home", virtual_clock=True)
    runtime.register("arn:aws:states:::sqs:sendMessage",
                     lambda parameters, ctx: runtime.send_task_failure(ctx.task_token, "Denied", "no"))
    definition = machine(("Ask", {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                  "Parameters": {"QueueUrl": "q", "MessageBody": "m"}}))
    result = StateMachine(definition).execute({}, tasks=runtime.task_registry(), clock=VirtualClock())
    assert (result.error, result.cause) == ("Denied", "no")


@pytest.mark.spark
def test_emr_serverless_job_run_runs_the_entry_point_with_pyspark(tmp_path: Path) -> None:
    scripts = tmp_path / "code"
    scripts.mkdir()
    (scripts / "count.py").write_text(textwrap.dedent("""
        import sys
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.master("local[1]").appName("count").getOrCreate()
        rows = spark.range(int(sys.argv[1])).count()
        open(sys.argv[2], "w").write(str(rows))
        spark.stop()
    """))
    (scripts / "fail.py").write_text("raise SystemExit('bad input')\n")
    emr = LocalEmrServerless(tmp_path, LocalBuckets({"code": scripts}), tmp_path / "logs", {})
    registry = TaskRegistry()
    registry.register("arn:aws:states:::emr-serverless:startJobRun.sync", emr.start_job_run_sync)

    def job(entry_point: str) -> dict[str, Any]:
        return machine(("Job", {"Type": "Task", "Resource": "arn:aws:states:::emr-serverless:startJobRun.sync",
                                "Parameters": {"ApplicationId": "app1", "ExecutionRoleArn": "arn:aws:iam::1:role/r",
                                               "Name": "count", "JobDriver": {"SparkSubmit": {
                                                   "EntryPoint": entry_point,
                                                   "EntryPointArguments": ["5", str(tmp_path / "out.txt")],
                                                   "SparkSubmitParameters": "--conf spark.ui.enabled=false"}}}}))

    result = StateMachine(job("s3://code/count.py")).execute({}, tasks=registry, clock=VirtualClock())
    assert result.status == "SUCCEEDED", result.cause
    run = result.output["JobRun"]
    assert run["State"] == "SUCCESS" and run["ApplicationId"] == "app1" and run["Name"] == "count"
    assert run["Arn"] == f"arn:aws:emr-serverless:us-east-1:000000000000:/applications/app1/jobruns/{run['JobRunId']}"
    assert (tmp_path / "out.txt").read_text() == "5"
    failed = StateMachine(job("code/fail.py")).execute({}, tasks=registry, clock=VirtualClock())
    assert failed.error == "States.TaskFailed"
    assert json.loads(failed.cause)["JobRun"]["State"] == "FAILED" and "bad input" in failed.cause
