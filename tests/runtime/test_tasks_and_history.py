"""Task dispatch, Lambda error shapes, history event shapes and on_event."""
from __future__ import annotations

import json
from typing import Any

import pytest

from etl_local.asl import (
    DefinitionError,
    StateMachine,
    TaskContext,
    TaskFailed,
    TaskRegistry,
    VirtualClock,
)

from .conftest import LAMBDA, machine, task, types

INVOKE = "arn:aws:states:::lambda:invoke"


def test_bare_lambda_history_details(run) -> None:
    result = run(machine(("Add", task("add", ResultPath="$.sum"))), {"val1": 1, "val2": 2})
    assert result.status == "SUCCEEDED" and result.output == {"val1": 1, "val2": 2, "sum": 3}
    events = {event["type"]: event for event in result.history}
    assert [event["id"] for event in result.history] == list(range(1, len(result.history) + 1))
    assert events["LambdaFunctionScheduled"]["lambdaFunctionScheduledEventDetails"]["resource"] == LAMBDA + "add"
    assert json.loads(events["LambdaFunctionScheduled"]["lambdaFunctionScheduledEventDetails"]["input"]) == {
        "val1": 1, "val2": 2}
    assert events["LambdaFunctionSucceeded"]["lambdaFunctionSucceededEventDetails"]["output"] == "3"
    assert events["TaskStateEntered"]["stateEnteredEventDetails"]["name"] == "Add"
    assert events["TaskStateExited"]["previousEventId"] == events["LambdaFunctionSucceeded"]["id"]
    assert json.loads(events["ExecutionSucceeded"]["executionSucceededEventDetails"]["output"])["sum"] == 3
    assert result.execution_arn.startswith("arn:aws:states:us-east-1:000000000000:execution:StateMachine:")


def test_lambda_invoke_wraps_result_and_logs_task_events(run) -> None:
    definition = machine(("Invoke", {"Type": "Task", "Resource": INVOKE,
                                     "Parameters": {"FunctionName": "echo", "Payload.$": "$"}}))
    result = run(definition, {"a": 1})
    assert result.output["Payload"] == {"a": 1} and result.output["StatusCode"] == 200
    assert result.output["ExecutedVersion"] == "$LATEST"
    scheduled = next(e for e in result.history if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and scheduled["resource"] == "invoke"
    assert scheduled["region"] == "us-east-1"
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "echo", "Payload": {"a": 1}}
    assert "TaskSucceeded" in types(result)


def test_registered_integration(run) -> None:
    sent: list[Any] = []

    def send(parameters: Any, ctx: TaskContext) -> Any:
        sent.append(parameters)
        return {"MessageId": "m-1"}

    run.tasks.register("arn:aws:states:::sqs:sendMessage", send)
    definition = machine(("Send", {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                                   "Parameters": {"QueueUrl": "dlq", "MessageBody.$": "$"},
                                   "ResultPath": "$.sent"}))
    result = run(definition, {"run": 7})
    assert sent == [{"QueueUrl": "dlq", "MessageBody": {"run": 7}}]
    assert result.output == {"run": 7, "sent": {"MessageId": "m-1"}}
    started = next(e for e in result.history if e["type"] == "TaskStarted")
    assert started["taskStartedEventDetails"] == {"resourceType": "sqs", "resource": "sendMessage"}


def test_unknown_resource_fails_uncatchably_naming_state_and_resource(run) -> None:
    resource = "arn:aws:states:::sns:publish"
    definition = machine(("Notify", {"Type": "Task", "Resource": resource,
                                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}),
                         ("Caught", {"Type": "Pass"}))
    result = run(definition, {})
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "Notify" in result.cause and resource in result.cause


def test_unknown_function_is_lambdas_catchable_resource_not_found(run) -> None:
    """As the Invoke API answers (AWS-recorded for lambda:invoke; see tests/conformance/lambda_cases.json)."""
    definition = machine(("Notify", {"Type": "Task", "Resource": LAMBDA + "missing",
                                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}),
                         ("Caught", {"Type": "Pass"}))
    result = run(definition, {})
    assert result.status == "SUCCEEDED" and result.output["Error"] == "Lambda.ResourceNotFoundException"
    assert result.output["Cause"].startswith(f"Function not found: {LAMBDA}missing:$LATEST (Service: AWSLambda; ")


def test_python_exception_becomes_lambda_error(run) -> None:
    def broken(event: Any, ctx: TaskContext) -> Any:
        raise ValueError("bad row")

    run.functions["broken"] = broken
    bare = run(machine(("T", task("broken"))), {})
    assert bare.error == "ValueError"
    body = json.loads(bare.cause)
    assert body["errorMessage"] == "bad row" and body["errorType"] == "ValueError"
    assert '", "errorType": ' in bare.cause  # ", " separators for a bare ARN
    assert any("raise ValueError" in frame for frame in body["stackTrace"])
    invoked = run(machine(("T", {"Type": "Task", "Resource": INVOKE,
                                 "Parameters": {"FunctionName": "broken", "Payload": {}}})), {})
    assert invoked.error == "ValueError" and '","errorType":' in invoked.cause  # compact for lambda:invoke
    assert "TaskFailed" in types(invoked)


def test_non_json_result_is_marshal_error(run) -> None:
    run.functions["odd"] = lambda event, ctx: {"when": object()}
    result = run(machine(("T", task("odd"))), {})
    assert result.error == "Runtime.MarshalError" and "Unable to marshal response" in result.cause


def test_handler_gets_a_copy_of_its_input(run) -> None:
    def mutate(event: Any, ctx: TaskContext) -> Any:
        event["secret"] = "changed"
        return "done"

    run.functions["mutate"] = mutate
    result = run(machine(("T", task("mutate", ResultPath="$.r"))), {"secret": "kept"})
    assert result.output == {"secret": "kept", "r": "done"}


def test_task_context(run) -> None:
    seen: list[TaskContext] = []

    def look(event: Any, ctx: TaskContext) -> Any:
        seen.append(ctx)
        if ctx.retry_count == 0:
            raise TaskFailed("Flaky", "first try")
        return event

    run.functions["look"] = look
    definition = machine(("Look", task("look", TimeoutSeconds=30,
                                       Retry=[{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2}])))
    result = run(definition, {"x": 1}, name="run-1")
    assert result.status == "SUCCEEDED"
    first, second = seen
    assert (first.retry_count, second.retry_count) == (0, 1)
    assert second.state_name == "Look" and second.execution_name == "run-1"
    assert second.context_object["State"]["RetryCount"] == 1
    assert second.context_object["Execution"]["Name"] == "run-1"
    assert second.context_object["Execution"]["Input"] == {"x": 1}
    assert second.remaining_time_seconds == 30
    assert run.clock.sleeps == [2]


def test_on_event_sees_every_event_in_order(run) -> None:
    events: list[dict[str, Any]] = []
    result = run(machine(("A", {"Type": "Pass"}), ("B", task("echo"))), {"k": 1}, on_event=events.append)
    assert events == result.history


def test_definition_errors_and_string_definitions() -> None:
    with pytest.raises(DefinitionError) as raised:
        StateMachine({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}})
    assert raised.value.problems
    with pytest.raises(DefinitionError):
        StateMachine("{not json")
    sm = StateMachine(json.dumps(machine(("A", {"Type": "Pass", "Result": 1}))), name="fromtext")
    assert sm.execute({}, tasks=TaskRegistry(), clock=VirtualClock()).output == 1
    assert sm.arn == "arn:aws:states:us-east-1:000000000000:stateMachine:fromtext"


def test_pass_result_is_copied_so_definitions_stay_intact(run) -> None:
    def mutate(event: Any, ctx: TaskContext) -> Any:
        return event

    run.functions["mutate"] = mutate
    definition = machine(("P", {"Type": "Pass", "Result": {"list": [1]}}), ("T", task("echo")))
    first = run(definition, {})
    first.output["list"].append(2)
    assert run(definition, {}).output == {"list": [1]}
