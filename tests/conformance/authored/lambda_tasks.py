"""Lambda tasks as a local run serves them: bare function ARNs and ``lambda:invoke`` (its
Payload/StatusCode/SdkHttpMetadata wrapper), in both query languages, with Arguments, Output,
Assign and ResultSelector.

The recordings ran localstack's identity function; the cases run the corpus helper ``echo``
under the recorded function name (``functions``). Expected results come from the recordings
(build_corpus.py). Placeholders stand for request ids, dates and trace ids.
"""
from __future__ import annotations

from typing import Any

OUTPUT = "outputdecl/test_output.snapshot.json::TestArgumentsBase::"
ARGUMENTS = "arguments/test_arguments.snapshot.json::TestArgumentsBase::"
MIXED = "query_language/test_mixed_query_language.snapshot.json::TestMixedQueryLanguageFlow::"
CONTEXT = "context_object/test_context_object.snapshot.json::TestSnfBase::"
NAME = "lambda_function_name"
ARN = f"arn:aws:lambda:us-east-1:000000000000:function:{NAME}"
INVOKE = "arn:aws:states:::lambda:invoke"
#: localstack's names for values of a lambda:invoke response that differ per call
RESPONSE = {"date": "<date>", "x-amzn-RequestId": "<request-id>", "X-Amzn-Trace-Id": "<trace-id>",
            "RequestId": "<request-id>", NAME: NAME}
INIT = {"Type": "Pass", "Assign": {"var_input_value.$": "$.input_value", "var_constant_1": 1}, "Next": "State0"}
EXPRESSIONS = {"ja_states_input": "{% $states.input %}", "ja_var_access": "{% $var_input_value %}",
               "ja_expr": "{% $sum($states.input.input_values) + $var_constant_1 %}"}


#: lambda:invoke's Content-Length counts the response as the Python runtime serialises it
#: (json.dumps with ", " and ": "): {"foo": "foo-1"} is 16 bytes (AWS_BEHAVIOURS #35).
CONTENT_LENGTH = {"notes": "Content-Length of the lambda:invoke response (AWS_BEHAVIOURS #35)"}


def case(name: str, source: str, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    if name.startswith("invoke_"):
        extra = {**CONTENT_LENGTH, **extra}
    return {"id": f"lambda_{name}", "category": "lambda", "source": source, "definition": definition,
            "functions": {NAME: "echo"}, "placeholders": RESPONSE, **extra}


def jsonata_task(arguments: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "Type": "Task", "Resource": ARN, "Arguments": arguments, **fields}


CASES = [
    case("bare_jsonata_arguments_output", OUTPUT + "test_base_lambda[BASE_LAMBDA]", {"StartAt": "Init", "States": {
        "Init": INIT, "State0": jsonata_task(EXPRESSIONS, End=True, Output={
            "ja_var_access": "{% $var_input_value %}",
            "ja_expr": "{% $sum($states.input.input_values) + $var_constant_1 %}",
            "ja_states_input": "{% $states.input %}", "ja_states_result": "{% $states.result %}",
            "ja_states_result_access": "{% $states.result.ja_expr %}"})}}),
    case("invoke_jsonata_output", OUTPUT + "test_base_task_lambda[BASE_TASK_LAMBDA]", {"StartAt": "State0", "States": {
        "State0": {"QueryLanguage": "JSONata", "Type": "Task", "Resource": INVOKE, "End": True,
                   "Arguments": {"FunctionName": "{% $states.input.FunctionName %}",
                                 "Payload": "{% $states.input.Payload %}"},
                   "Output": {"ja_states_input": "{% $states.input %}", "ja_states_result": "{% $states.result %}"}}}}),
    case("bare_jsonata_empty_arguments", ARGUMENTS + "test_base_cases[BASE_LAMBDA_EMPTY]",
         {"StartAt": "State0", "States": {"State0": jsonata_task({}, End=True)}}),
    case("bare_jsonata_empty_arguments_global", ARGUMENTS + "test_base_cases[BASE_LAMBDA_EMPTY_GLOBAL_QL_JSONATA]",
         {"QueryLanguage": "JSONata", "StartAt": "State0", "States": {"State0": {
             "Type": "Task", "Resource": ARN, "Arguments": {}, "End": True}}}),
    case("bare_jsonata_arguments_assign", ARGUMENTS + "test_base_cases[BASE_LAMBDA_EXPRESSION]", {
        "StartAt": "Init", "States": {"Init": INIT, "State0": jsonata_task(EXPRESSIONS, End=True, Assign={
            "ja_var_access": "{% $var_input_value %}",
            "ja_expr": "{% $sum($states.input.input_values) + $var_constant_1 %}"})}}),
    case("bare_jsonata_to_jsonpath", MIXED + "test_lambda_task_resource_data_flow[TASK_LAMBDA_LEGACY_RESOURCE_JSONATA_TO_JSONPATH]",
         {"StartAt": "JsonataState", "States": {
             "JsonataState": jsonata_task({"Payload": {"foo": "foo-1"}}, Next="JsonPathState",
                                          Assign={"resultsVar": "{% $states.result %}"},
                                          Output={"results": "{% $states.result %}"}),
             "JsonPathState": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": True}}}),
    case("bare_jsonpath_to_jsonata", MIXED + "test_lambda_task_resource_data_flow[TASK_LAMBDA_LEGACY_RESOURCE_JSONPATH_TO_JSONATA]",
         {"StartAt": "JsonPathState", "States": {
             "JsonPathState": {"QueryLanguage": "JSONPath", "Type": "Task", "Resource": ARN,
                               "Parameters": {"Payload": {"foo": "foo-1"}}, "Assign": {"resultsVar.$": "$"},
                               "OutputPath": "$", "Next": "JsonataState"},
             "JsonataState": {"QueryLanguage": "JSONata", "Type": "Pass", "End": True}}}),
    case("invoke_jsonata_to_jsonpath", MIXED + "test_lambda_task_resource_data_flow[TASK_LAMBDA_SDK_RESOURCE_JSONATA_TO_JSONPATH]",
         {"StartAt": "JsonataState", "States": {
             "JsonataState": {"QueryLanguage": "JSONata", "Type": "Task", "Resource": INVOKE, "Next": "JsonPathState",
                              "Arguments": {"Payload": {"foo": "foo-1"}, "FunctionName": ARN},
                              "Assign": {"resultsVar": "{% $states.result %}"},
                              "Output": {"results": "{% $states.result %}"}},
             "JsonPathState": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": True}}}),
    case("invoke_jsonpath_to_jsonata", MIXED + "test_lambda_task_resource_data_flow[TASK_LAMBDA_SDK_RESOURCE_JSONPATH_TO_JSONATA]",
         {"StartAt": "JsonPathState", "States": {
             "JsonPathState": {"QueryLanguage": "JSONPath", "Type": "Task", "Resource": INVOKE,
                               "Parameters": {"Payload": {"foo": "foo-1"}, "FunctionName": ARN},
                               "Assign": {"resultsVar.$": "$"}, "OutputPath": "$", "Next": "JsonataState"},
             "JsonataState": {"QueryLanguage": "JSONata", "Type": "Pass", "End": True}}}),
    case("invoke_jsonpath_to_jsonata_dataflow", MIXED + "test_task_dataflow_to_state", {
        "StartAt": "StateJsonPath", "States": {
            "StateJsonPath": {"QueryLanguage": "JSONPath", "Type": "Pass",
                              "Result": {"riddle": "What is the answer to life, the universe, and everything?"},
                              "Assign": {"answer": 42, "inputData.$": "$"}, "OutputPath": "$",
                              "ResultPath": "$.enigma.mystery", "Next": "StateJsonata"},
            "StateJsonata": {"QueryLanguage": "JSONata", "Type": "Task", "Resource": INVOKE, "End": True,
                             "Arguments": {"FunctionName": "{% $states.input.functionName %}", "Payload": {
                                 "theQuestion": "{% $states.input.enigma.mystery.riddle %}",
                                 "theAnswer": "{% $answer %}"}},
                             "Assign": {"answer": "<omitted>", "message": "{% $states.result %}"},
                             "Output": {"result": "{% $states.result.Payload %}"}}}},
         input={"functionName": ARN}),
    case("invoke_result_selector_context", CONTEXT + "test_result_selector", {"StartAt": "TestState", "States": {
        "TestState": {"Type": "Task", "Resource": INVOKE, "End": True,
                      "Parameters": {"FunctionName.$": "$.FunctionName", "Payload": {"Input.$": "$"}},
                      "ResultSelector": {"LambdaOutput.$": "$", "ContextObjectValue.$": "$$.Execution.Input"}}}},
         input={"FunctionName": NAME, "Payload": {"input-value": 0}}),
]
