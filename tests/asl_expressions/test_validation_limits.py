"""Definition validation of Retry numbers, task limits, Assign names and Distributed Map fields."""
from __future__ import annotations

from typing import Any

import pytest

from etl_local.asl.validation import validate_definition

PROCESSOR = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
DISTRIBUTED = {**PROCESSOR, "ProcessorConfig": {"Mode": "DISTRIBUTED"}}


def problems(state: dict[str, Any], **top: Any) -> list[str]:
    return validate_definition({"StartAt": "S", "States": {"S": {**state, "End": True}}, **top})


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", **fields}


def retry(**fields: Any) -> dict[str, Any]:
    return task(Retry=[{"ErrorEquals": ["E"], **fields}])


@pytest.mark.parametrize(("state", "message"), [
    (retry(IntervalSeconds=0), "The field 'IntervalSeconds' must be an integer >= 1, got 0 at /States/S/Retry[0]/IntervalSeconds"),
    (retry(IntervalSeconds=1.5), "'IntervalSeconds' must be an integer >= 1, got 1.5"),
    (retry(MaxAttempts=-1), "The field 'MaxAttempts' must be an integer >= 0, got -1 at /States/S/Retry[0]/MaxAttempts"),
    (retry(BackoffRate=0.5), "The field 'BackoffRate' must be a number >= 1.0, got 0.5 at /States/S/Retry[0]/BackoffRate"),
    (retry(MaxDelaySeconds=0), "The field 'MaxDelaySeconds' must be an integer >= 1, got 0 at /States/S/Retry[0]/MaxDelaySeconds"),
    (retry(JitterStrategy="HALF"), "The field 'JitterStrategy' must be 'FULL' or 'NONE', got 'HALF' at /States/S/Retry[0]/JitterStrategy"),
    (task(TimeoutSeconds=0), "The field 'TimeoutSeconds' must be a positive integer, got 0 at /States/S/TimeoutSeconds"),
    (task(HeartbeatSeconds="5"), "The field 'HeartbeatSeconds' must be a positive integer, got '5' at /States/S/HeartbeatSeconds"),
    (task(TimeoutSeconds=10, HeartbeatSeconds=10), "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds' at /States/S/HeartbeatSeconds"),
    (task(TimeoutSeconds=10, TimeoutSecondsPath="$.t"), "'TimeoutSeconds' and 'TimeoutSecondsPath' are mutually exclusive"),
    ({"Type": "Pass", "Assign": {"$x": 1}}, "The variable name '$x' is not valid"),
    ({"Type": "Pass", "Assign": {"states": 1}}, "The variable name 'states' is reserved at /States/S/Assign/states"),
    ({"Type": "Pass", "Assign": {"1st.$": "$.a"}}, "The variable name '1st' is not valid"),
    ({"Type": "Pass", "Assign": {"x" * 81: 1}}, "at most 80 characters"),
    (task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S", "Assign": {"states": 1}}]), "reserved at /States/S/Catch[0]/Assign/states"),
    ({"Type": "Map", "ItemProcessor": PROCESSOR, "ItemBatcher": {"MaxItemsPerBatch": 2}},
     "The field 'ItemBatcher' is only supported for a Map state whose ItemProcessor.ProcessorConfig.Mode is DISTRIBUTED at /States/S/ItemBatcher"),
    ({"Type": "Map", "ItemProcessor": DISTRIBUTED, "ItemReader": {"Parameters": {"Bucket": "b"}}},
     "The field 'Resource' is required in 'ItemReader' at /States/S/ItemReader/Resource"),
    ({"Type": "Map", "ItemProcessor": DISTRIBUTED, "ResultWriter": {"Parameters": {"Bucket": "b"}}},
     "The field 'Resource' is required in 'ResultWriter' at /States/S/ResultWriter/Resource"),
    ({"Type": "Map", "ItemProcessor": DISTRIBUTED, "ItemReader": {"Resource": "arn:aws:states:::s3:putObject"}},
     "The ItemReader resource must be one of"),
    ({"Type": "Map", "ItemProcessor": DISTRIBUTED, "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                                                  "Parameters": {"Bucket": "b", "Key": "k"}}},
     "The field 'InputType' must be one of CSV, JSON, JSONL to read an object with s3:getObject at /States/S/ItemReader/ReaderConfig/InputType"),
    ({"Type": "Map", "ItemProcessor": DISTRIBUTED, "ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}},
     "'CSVHeaderLocation' GIVEN needs 'CSVHeaders'"),
])
def test_each_problem_names_state_and_field(state: dict[str, Any], message: str) -> None:
    found = problems(state)
    assert any(message in problem for problem in found), found


def test_machine_timeout_and_valid_limits() -> None:
    assert any("'TimeoutSeconds' must be a positive integer, got -1 at /TimeoutSeconds" in p
               for p in problems({"Type": "Pass"}, TimeoutSeconds=-1))
    assert problems(retry(IntervalSeconds=2, MaxAttempts=0, BackoffRate=1, MaxDelaySeconds=5, JitterStrategy="FULL")) == []
    assert problems(task(TimeoutSeconds=10, HeartbeatSeconds=5, Assign={"ok_1": 1, "_v.$": "$.a"})) == []
    assert problems({"Type": "Map", "ItemProcessor": DISTRIBUTED, "ItemBatcher": {"MaxItemsPerBatch": 2},
                     "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
                     "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}}}) == []
    jsonata = {"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {**task(TimeoutSeconds="{% 5 %}"), "End": True}}}
    assert validate_definition(jsonata) == []
