"""Distributed Map: ItemReader over folders-as-buckets, ItemBatcher, ResultWriter, tolerated failures, MapRun events."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl_local.asl import LocalBuckets

from .conftest import machine, types

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def distributed(processor_states: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    states = processor_states or {"P": {"Type": "Pass", "End": True}}
    return {"Type": "Map", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": next(iter(states)),
                                             "States": states}, **fields}


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    folder = tmp_path / "lake"
    (folder / "in" / "day=1").mkdir(parents=True)
    (folder / "in" / "day=1" / "a.csv").write_text("id,name\n1,ann\n2,bob\n3,\n")
    (folder / "in" / "b.json").write_text(json.dumps([{"n": 1}, {"n": 2}, {"n": 0}]))
    (folder / "in" / "c.jsonl").write_text('{"n": 10}\n\n{"n": 20}\n')
    (folder / "other.txt").write_text("x")
    return folder


def buckets(tmp_path: Path, lake: Path) -> LocalBuckets:
    return LocalBuckets({"lake": lake, "results": tmp_path / "results"})


def reader(resource: str, **parameters: Any) -> dict[str, Any]:
    config = parameters.pop("ReaderConfig", None)
    spec: dict[str, Any] = {"Resource": f"arn:aws:states:::s3:{resource}", "Parameters": parameters}
    if config is not None:
        spec["ReaderConfig"] = config
    return spec


def test_list_objects_v2_over_a_folder_prefix(run, tmp_path: Path, lake: Path) -> None:
    definition = machine(("M", distributed(ItemReader=reader("listObjectsV2", Bucket="lake", Prefix="in/"))))
    result = run(definition, {}, s3=buckets(tmp_path, lake))
    assert result.status == "SUCCEEDED", result.cause
    assert [item["Key"] for item in result.output] == ["in/b.json", "in/c.jsonl", "in/day=1/a.csv"]
    first = result.output[0]
    assert set(first) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert first["Size"] == (lake / "in" / "b.json").stat().st_size and first["StorageClass"] == "STANDARD"
    assert first["Etag"].startswith('"') and len(first["Etag"]) == 34 and isinstance(first["LastModified"], int)


def test_csv_object_with_first_row_or_given_headers_and_max_items(run, tmp_path: Path, lake: Path) -> None:
    first_row = reader("getObject", Bucket="lake", Key="in/day=1/a.csv",
                       ReaderConfig={"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})
    result = run(machine(("M", distributed(ItemReader=first_row))), {}, s3=buckets(tmp_path, lake))
    assert result.output == [{"id": "1", "name": "ann"}, {"id": "2", "name": "bob"}, {"id": "3", "name": ""}]
    given = reader("getObject", Bucket="lake", Key="in/day=1/a.csv",
                   ReaderConfig={"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"],
                                 "MaxItems": 2})
    result = run(machine(("M", distributed(ItemReader=given))), {}, s3=buckets(tmp_path, lake))
    assert result.output == [{"a": "id", "b": "name"}, {"a": "1", "b": "ann"}]


def test_json_and_jsonl_objects_with_item_selector_and_paths(run, tmp_path: Path, lake: Path) -> None:
    json_reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                   "Parameters": {"Bucket.$": "$.bucket", "Key": "in/b.json"}}
    definition = machine(("M", distributed(ItemReader=json_reader,
                                           ItemSelector={"n.$": "$$.Map.Item.Value.n", "run.$": "$.run",
                                                         "index.$": "$$.Map.Item.Index"})))
    result = run(definition, {"bucket": "lake", "run": "r1"}, s3=buckets(tmp_path, lake))
    assert result.output == [{"n": 1, "run": "r1", "index": 0}, {"n": 2, "run": "r1", "index": 1},
                             {"n": 0, "run": "r1", "index": 2}]
    jsonl = reader("getObject", Bucket="lake", Key="in/c.jsonl", ReaderConfig={"InputType": "JSONL"})
    assert run(machine(("M", distributed(ItemReader=jsonl))), {}, s3=buckets(tmp_path, lake)).output == [
        {"n": 10}, {"n": 20}]


def test_jsonata_item_reader_arguments(run, tmp_path: Path, lake: Path) -> None:
    state = distributed(ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                                    "Arguments": {"Bucket": "{% $states.input.b %}", "Key": "in/c.jsonl"}})
    result = run(machine(("M", state), QueryLanguage="JSONata"), {"b": "lake"}, s3=buckets(tmp_path, lake))
    assert result.output == [{"n": 10}, {"n": 20}]


def test_unknown_bucket_missing_object_and_no_storage_name_state_and_bucket(run, tmp_path: Path, lake: Path) -> None:
    unknown = run(machine(("Read", distributed(ItemReader=reader("listObjectsV2", Bucket="nope")))), {},
                  s3=buckets(tmp_path, lake))
    assert unknown.error == "States.ItemReaderFailed"
    assert "'Read'" in unknown.cause and "'nope'" in unknown.cause and "known buckets: lake, results" in unknown.cause
    missing = run(machine(("Read", distributed(ItemReader=reader("getObject", Bucket="lake", Key="no.json",
                                                                  ReaderConfig={"InputType": "JSON"})))), {},
                  s3=buckets(tmp_path, lake))
    assert missing.error == "States.ItemReaderFailed" and "s3://lake/no.json does not exist" in missing.cause
    no_storage = run(machine(("Read", distributed(ItemReader=reader("listObjectsV2", Bucket="lake")))), {})
    assert no_storage.error == "States.ItemReaderFailed" and "no object storage" in no_storage.cause
    # The Map Run reads the items, so a read failure comes after MapRunStarted (AWS_BEHAVIOURS #39:
    # localstack test_map_item_reader_json_no_json_list_object, recorded on AWS).
    assert types(no_storage) == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                                 "MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_item_batcher_selects_each_item_then_batches_by_count_and_bytes(run) -> None:
    state = distributed(ItemsPath="$.items", ItemSelector={"v.$": "$$.Map.Item.Value"},
                        ItemBatcher={"MaxItemsPerBatch": 3, "MaxInputBytesPerBatch": 70,
                                     "BatchInput": {"run.$": "$.run"}})
    result = run(machine(("M", state)), {"run": "r", "items": ["aaaaaaaaaa", "b", "c", "d", "e"]})
    assert result.output == [
        {"Items": [{"v": "aaaaaaaaaa"}, {"v": "b"}], "BatchInput": {"run": "r"}},
        {"Items": [{"v": "c"}, {"v": "d"}, {"v": "e"}], "BatchInput": {"run": "r"}},
    ]
    too_big = run(machine(("M", distributed(ItemBatcher={"MaxInputBytesPerBatch": 20}))), ["x" * 30])
    assert too_big.error == "States.Runtime" and "over the MaxInputBytesPerBatch of 20" in too_big.cause


def test_result_writer_files_manifest_and_result_shape(run, tmp_path: Path, lake: Path) -> None:
    states = {"Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 0, "Next": "Boom"}],
                        "Default": "Ok"},
              "Boom": {"Type": "Fail", "Error": "Zero", "Cause": "n is 0"},
              "Ok": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.n, $.n)"}, "End": True}}
    state = distributed(states, Label="Doubler", ToleratedFailureCount=1,
                        ItemReader=reader("getObject", Bucket="lake", Key="in/b.json", ReaderConfig={"InputType": "JSON"}),
                        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                      "Parameters": {"Bucket": "results", "Prefix": "runs/"}})
    result = run(machine(("Fan", state)), {}, s3=buckets(tmp_path, lake))
    assert result.status == "SUCCEEDED", result.cause
    map_run_arn = result.output["MapRunArn"]
    assert map_run_arn.startswith("arn:aws:states:us-east-1:000000000000:mapRun:StateMachine/Doubler:")
    run_id = map_run_arn.rsplit(":", 1)[1]
    assert result.output["ResultWriterDetails"] == {"Bucket": "results", "Key": f"runs/{run_id}/manifest.json"}
    folder = tmp_path / "results" / "runs" / run_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["DestinationBucket"] == "results" and manifest["MapRunArn"] == map_run_arn
    assert [entry["Key"] for entry in manifest["ResultFiles"]["SUCCEEDED"]] == [f"runs/{run_id}/SUCCEEDED_0.json"]
    assert manifest["ResultFiles"]["SUCCEEDED"][0]["Size"] == (folder / "SUCCEEDED_0.json").stat().st_size
    assert manifest["ResultFiles"]["PENDING"] == [] and not (folder / "PENDING_0.json").exists()
    succeeded = json.loads((folder / "SUCCEEDED_0.json").read_text())
    assert [json.loads(entry["Output"]) for entry in succeeded] == [{"double": 2}, {"double": 4}]
    entry = succeeded[0]
    assert entry["Status"] == "SUCCEEDED" and entry["Input"] == '{"n":1}' and entry["InputDetails"] == {"Included": True}
    assert entry["ExecutionArn"] == f"arn:aws:states:us-east-1:000000000000:execution:StateMachine/Doubler:{entry['Name']}"
    assert entry["StateMachineArn"] == "arn:aws:states:us-east-1:000000000000:stateMachine:StateMachine/Doubler"
    failed = json.loads((folder / "FAILED_0.json").read_text())
    assert [(f["Status"], f["Error"], f["Cause"], f["Input"]) for f in failed] == [("FAILED", "Zero", "n is 0", '{"n":0}')]
    started = next(e for e in result.history if e["type"] == "MapRunStarted")
    assert started["mapRunStartedEventDetails"] == {"mapRunArn": map_run_arn}


def test_result_writer_unknown_bucket(run, tmp_path: Path, lake: Path) -> None:
    state = distributed(ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "gone"}})
    result = run(machine(("Fan", state)), [1], s3=buckets(tmp_path, lake))
    assert result.error == "States.ResultWriterFailed" and "'Fan'" in result.cause and "'gone'" in result.cause


@pytest.mark.parametrize(("tolerance", "status"), [
    ({"ToleratedFailureCount": 2}, "SUCCEEDED"), ({"ToleratedFailureCount": 1}, "FAILED"),
    ({"ToleratedFailurePercentage": 50}, "SUCCEEDED"), ({"ToleratedFailurePercentage": 49}, "FAILED"),
    ({"ToleratedFailureCountPath": "$.allow"}, "SUCCEEDED"),
])
def test_tolerated_failure_thresholds_and_map_run_events(run, tolerance: dict[str, Any], status: str) -> None:
    states = {"Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": False, "Next": "Boom"}],
                        "Default": "Ok"},
              "Boom": {"Type": "Fail", "Error": "ItemFailed", "Cause": "bad item"}, "Ok": {"Type": "Pass", "End": True}}
    items = [{"ok": True}, {"ok": False}, {"ok": True}, {"ok": False}]
    result = run(machine(("M", distributed(states, ItemsPath="$.items", MaxConcurrency=1, **tolerance))),
                 {"items": items, "allow": 2})
    assert result.status == status
    if status == "SUCCEEDED":
        assert types(result)[-4:] == ["MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
        assert result.output[1] == {"Error": "ItemFailed", "Cause": "bad item"}
    else:
        assert result.error == "States.ExceedToleratedFailureThreshold"
        failed = next(e for e in result.history if e["type"] == "MapRunFailed")
        assert failed["mapRunFailedEventDetails"]["error"] == "States.ExceedToleratedFailureThreshold"
        assert types(result)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    assert "MapIterationStarted" not in types(result)


def test_failed_map_run_still_writes_pending_and_aborted_results(run, tmp_path: Path, lake: Path) -> None:
    states = {"Boom": {"Type": "Fail", "Error": "Always"}}
    state = distributed(states, MaxConcurrency=1, ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                                                 "Parameters": {"Bucket": "results", "Prefix": ""}})
    result = run(machine(("M", state)), [1, 2, 3], s3=buckets(tmp_path, lake))
    assert result.error == "Always"
    manifest_path = next((tmp_path / "results").glob("*/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    pending = json.loads((manifest_path.parent / "PENDING_0.json").read_text())
    assert [p["Input"] for p in pending] == ["2", "3"] and len(manifest["ResultFiles"]["FAILED"]) == 1
