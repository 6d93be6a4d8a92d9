"""Task TimeoutSeconds / TimeoutSecondsPath on a Lambda that runs for a minute: bare ARN,
lambda:invoke, and inside a Map. Expected results come from localstack's test_timeouts
recordings (build_corpus.py); the cases run the helper ``wait_60_seconds`` on a virtual clock."""
from __future__ import annotations

from typing import Any

TIMEOUTS = "timeouts/test_timeouts.snapshot.json::TestTimeouts::"
NAME = "lambda_function_1_name"
INVOKE = "arn:aws:states:::lambda:invoke"
PARAMETERS = {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}


def start(**task: Any) -> dict[str, Any]:
    return {"StartAt": "Start", "States": {"Start": {"Type": "Task", "End": True, **task}}}


def case(name: str, test: str, definition: dict[str, Any], execution_input: Any, **extra: Any) -> dict[str, Any]:
    return {"id": f"timeout_{name}", "category": "retry_catch", "source": TIMEOUTS + test, "definition": definition,
            "input": execution_input, "functions": {NAME: "wait_60_seconds"}, **extra}


CASES = [
    case("bare_lambda", "test_fixed_timeout_lambda", start(
        TimeoutSeconds=5, Resource=f"arn:aws:lambda:us-east-1:000000000000:function:{NAME}",
        Parameters={"Payload.$": "$.Payload"}), {"Payload": None}),
    case("invoke", "test_fixed_timeout_service_lambda", start(TimeoutSeconds=5, Resource=INVOKE, Parameters=PARAMETERS),
         {"FunctionName": NAME, "Payload": None, "TimeoutSecondsValue": 5}),
    case("invoke_timeout_path", "test_fixed_timeout_service_lambda_with_path", start(
        TimeoutSecondsPath="$.TimeoutSecondsValue", Resource=INVOKE, Parameters=PARAMETERS),
         {"TimeoutSecondsValue": 5, "FunctionName": NAME, "Payload": None}),
    case("invoke_in_map", "test_service_lambda_map_timeout", {"StartAt": "MapWait", "States": {"MapWait": {
        "Type": "Map", "InputPath": "$.Inputs", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "LambdaInvoke", "States": {"LambdaInvoke": {
                "Type": "Task", "Resource": INVOKE, "TimeoutSeconds": 5, "Parameters": PARAMETERS, "End": True}}}}}},
         {"Inputs": [{"FunctionName": NAME, "Payload": None}] * 4}, no_history=True,
         notes="History not compared: four concurrent iterations interleave their events in an order AWS does not "
               "define (the recording is one such order)."),
]
