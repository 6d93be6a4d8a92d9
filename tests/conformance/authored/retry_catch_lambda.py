"""Retry and Catch around Lambda tasks that raise: retrier fields (backoff, MaxDelaySeconds,
jitter, MaxAttempts 0, empty lists), ``$$.State.RetryCount`` in ResultSelector, a Catch that
does not take States.Runtime, and the Lambda error cause AWS logs.

The recordings ran localstack's raise_exception and identity functions; the cases run the
corpus helpers ``raise_exception`` and ``echo``. The Lambda's stack trace (its code's path on
AWS) is a placeholder. Expected results come from the recordings (build_corpus.py).
"""
from __future__ import annotations

from typing import Any

SCENARIOS = "scenarios/test_base_scenarios.snapshot.json::TestBaseScenarios::"
RAISE = "arn:aws:lambda:us-east-1:000000000000:function:raise_exception"
ECHO = "arn:aws:lambda:us-east-1:000000000000:function:echo"
INVOKE = "arn:aws:states:::lambda:invoke"
#: Recorded in October 2023, before AWS added $$.Execution.RedriveCount (AWS_BEHAVIOURS #36).
BEFORE_REDRIVE = "History not compared: recorded 2023-10, before $$.Execution.RedriveCount existed"
TIMES = {"start-time": "<start-time>", "entered-time": "<entered-time>", "date": "<date>"}


def task(name: str, resource: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": resource, "End": True, **fields}}}


def with_handler(state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "InvokeLambdaWithRetry", "States": {
        "InvokeLambdaWithRetry": {**state, "End": True,
                                  "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "HandleError"}]},
        "HandleError": {"Type": "Pass", "End": True}}}


def case(name: str, test: str, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": f"retry_catch_{name}", "category": "retry_catch", "source": SCENARIOS + test,
            "definition": definition, "placeholders": TIMES, **extra}


CASES = [
    case("retry_all_features_full_jitter", "test_retry_interval_features", task("LambdaTask", RAISE, Retry=[{
        "ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 2,
        "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}])),
    case("retry_all_features_no_jitter", "test_retry_interval_features_jitter_none", task("LambdaTask", RAISE, Retry=[{
        "ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1,
        "MaxDelaySeconds": 3, "JitterStrategy": "NONE"}]), expected={"retry_delays_seconds": [1, 1]}),
    case("retry_max_attempts_zero_invoke", "test_retry_interval_features_max_attempts_zero", task(
        "LambdaTask", INVOKE, Parameters={"FunctionName.$": "$.FunctionName",
                                          "Payload": {"RetryAttempt.$": "$$.State.RetryCount"}},
        Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "MaxAttempts": 0, "BackoffRate": 2,
                "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}]),
         input={"FunctionName": "lambda_function_name"}, functions={"lambda_function_name": "raise_exception"}),
    case("empty_retry_list", "test_lambda_empty_retry", task("LambdaTask", RAISE, Retry=[])),
    case("empty_catch_list", "test_catch_empty", {"StartAt": "StartTask", "States": {
        "StartTask": {"Type": "Task", "Resource": ECHO, "Catch": [], "Next": "Final"},
        "Final": {"Type": "Pass", "End": True}}}),
    case("catch_does_not_take_states_runtime", "test_catch_states_runtime", {"StartAt": "RaiseRuntime", "States": {
        "RaiseRuntime": {"Type": "Task", "Resource": ECHO, "OutputPath": "$.no.such.result.path", "Next": "Final",
                         "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "CaughtRuntime"}]},
        "CaughtRuntime": {"Type": "Pass", "End": True}, "Final": {"Type": "Pass", "End": True}}}),
    case("retry_then_catch_result_selector_retry_count", "test_lambda_invoke_with_retry_base", with_handler({
        "Type": "Task", "Resource": RAISE, "ResultSelector": {"Retries.$": "$$.State.RetryCount"}})),
    case("retry_then_catch_context_in_parameters", "test_lambda_invoke_with_retry_extended_input", with_handler({
        "Type": "Task", "Resource": RAISE, "Parameters": {"ThisContextObject.$": "$$", "ThisState.$": "$"},
        "ResultPath": "$.state_output", "ResultSelector": {"FinalRetryCount.$": "$$.State.RetryCount"}}),
        no_history=True, notes=BEFORE_REDRIVE),
    case("retry_then_catch_context_in_invoke_payload", "test_lambda_service_invoke_with_retry_extended_input",
         with_handler({"Type": "Task", "Resource": INVOKE, "ResultPath": "$.state_output",
                       "Parameters": {"FunctionName.$": "$.FunctionName",
                                      "Payload": {"ThisContextObject.$": "$$", "ThisState.$": "$"}},
                       "ResultSelector": {"FinalRetryCount.$": "$$.State.RetryCount"}}),
         functions={"lambda_function_name": "raise_exception"}, no_history=True, notes=BEFORE_REDRIVE,
         input={"FunctionName": "lambda_function_name", "Value1": "HelloWorld!", "Value2": None}),
]
