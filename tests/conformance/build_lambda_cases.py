"""Writes lambda_cases.json: Lambda task cases whose expected results are AWS recordings.

Facts (handlers, definitions, inputs, results) come from localstack/localstack@8b9a79f0's
AWS-validated snapshots under tests/aws/services/stepfunctions; each case names its source.

    python tests/conformance/build_lambda_cases.py > tests/conformance/lambda_cases.json
"""
import json

LS = "localstack/localstack@8b9a79f0:tests/aws/services/stepfunctions/"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
BARE = ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted"]
SVC = ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted"]
functions = {
    "id_function": {"Handler": "handler.handler", "Code": "def handler(event, context):\n    return event\n"},
    "return_bytes_str": {"Handler": "handler.handler", "Code": "def handler(event, context):\n    return b'\"HelloWorld!\"'\n"},
    "raise_exception": {"Handler": "handler.handler", "Code": "def handler(event, context):\n    raise Exception(\"Some exception was raised.\")\n"},
    "raise_custom_exception": {"Handler": "handler.handler", "Code": "class CustomException(Exception):\n    message: str\n\n    def __init__(self):\n        self.message = \"Some custom exception was raised.\"\n\n\ndef handler(event, context):\n    raise CustomException()\n"},
    "large_output_string": {"Handler": "handler.handler", "Code": "def handler(event, context):\n    # Returns > 256 KB of data as a UTF-8 encoded string.\n    size_in_bytes = 257 * 1024\n    ascii_string = \"a\" * size_in_bytes\n    utf8_encoded_string = ascii_string.encode(\"utf-8\")\n    return utf8_encoded_string\n"},
}
cases = []
resource_def = lambda fn: {"StartAt": "step1", "States": {"step1": {"Type": "Task", "Resource": ARN + fn, "End": True}}}
invoke_def = {"StartAt": "Start", "States": {
    "Start": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}, "Next": "EndWithFinal"},
    "EndWithFinal": {"Type": "Pass", "ResultPath": "$.final", "End": True}}}

cases.append({"id": "lambda_bare_returns_bytes_holding_json", "area": "lambda",
    "about": "A Python handler returning bytes: Lambda sends them as they are, so b'\"HelloWorld!\"' is the JSON string \"HelloWorld!\"",
    "source": LS + "v2/services/test_lambda_task.snapshot.json::TestTaskLambda::test_invoke_bytes_payload",
    "definition": resource_def("return_bytes_str"), "input": {},
    "expected": {"status": "SUCCEEDED", "output": "HelloWorld!",
                 "history_types": BARE + ["LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]}})
cases.append({"id": "lambda_invoke_returns_bytes_holding_json", "area": "lambda",
    "about": "lambda:invoke of a handler returning bytes: Payload is the parsed JSON, Content-Length the bytes' length",
    "source": LS + "v2/services/test_lambda_task_service.snapshot.json::TestTaskServiceLambda::test_invoke_bytes_payload",
    "definition": invoke_def, "input": {"FunctionName": "return_bytes_str", "Payload": "\"'{'Hello':'World'}'\""},
    "expected": {"status": "SUCCEEDED", "output_checks": [
        {"path": "$.Payload", "equals": "HelloWorld!"}, {"path": "$.StatusCode", "equals": 200},
        {"path": "$.ExecutedVersion", "equals": "$LATEST"},
        {"path": "$.SdkHttpMetadata.HttpHeaders.Content-Length", "equals": "13"},
        {"path": "$.SdkHttpMetadata.HttpStatusCode", "equals": 200},
        {"path": "$.final.Payload", "equals": "HelloWorld!"}],
        "history_types": SVC + ["TaskSucceeded", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]}})
values = [("null", None, "None", "4"), ("hello_world", "HelloWorld", "HelloWorld", "12"), ("float_zero", 0.0, "0.0", "3"),
          ("zero", 0, "0_0", "1"), ("true", True, "True", "4"), ("empty_object", {}, "json_value5", "2"), ("empty_array", [], "json_value6", "2")]
for slug, value, param, length in values:
    cases.append({"id": f"lambda_bare_json_value_{slug}", "area": "lambda",
        "about": f"A bare Lambda ARN task passes the input {json.dumps(value)} to the function and takes its JSON response as the result",
        "source": LS + f"v2/services/test_lambda_task.snapshot.json::TestTaskLambda::test_invoke_json_values[{param}]",
        "definition": resource_def("id_function"), "input": value,
        "expected": {"status": "SUCCEEDED", "output": value,
                     "history_types": BARE + ["LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]}})
    cases.append({"id": f"lambda_invoke_payload_string_holding_{slug}", "area": "lambda",
        "about": f"lambda:invoke with Payload the string {json.dumps(json.dumps(value))}: the string is sent raw, so the function receives and returns {json.dumps(value)}",
        "source": LS + f"v2/services/test_lambda_task_service.snapshot.json::TestTaskServiceLambda::test_invoke_json_values[{param}]",
        "definition": invoke_def, "input": {"FunctionName": "id_function", "Payload": json.dumps(value)},
        "expected": {"status": "SUCCEEDED", "output_checks": [
            {"path": "$.Payload", "equals": value}, {"path": "$.StatusCode", "equals": 200},
            {"path": "$.ExecutedVersion", "equals": "$LATEST"},
            {"path": "$.SdkHttpMetadata.HttpHeaders.Content-Length", "equals": length}],
            "history_types": SVC + ["TaskSucceeded", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]}})
cases.append({"id": "lambda_invoke_null_payload_sends_empty_object", "area": "lambda",
    "about": "lambda:invoke with Payload null invokes the function with {} (an id function returns {})",
    "source": LS + "v2/services/test_lambda_task_service.snapshot.json::TestTaskServiceLambda::test_invoke",
    "definition": invoke_def, "input": {"FunctionName": "id_function", "Payload": None},
    "expected": {"status": "SUCCEEDED", "output_checks": [
        {"path": "$.Payload", "equals": {}}, {"path": "$.StatusCode", "equals": 200},
        {"path": "$.SdkHttpMetadata.HttpHeaders.Content-Length", "equals": "2"},
        {"path": "$.SdkHttpMetadata.HttpStatusCode", "equals": 200}]}})
# errors
catch_def = lambda resource: {"StartAt": "Start", "States": {
    "Start": {"Type": "Task", "Resource": resource,
              **({"Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}} if resource.endswith("invoke") else {}),
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "EndWithStateTaskFailedHandler", "ResultPath": "$.task_failed_error"}],
              "Next": "EndWithFinal"},
    "EndWithStateTaskFailedHandler": {"Type": "Pass", "End": True},
    "EndWithFinal": {"Type": "Pass", "ResultPath": "$.final", "End": True}}}
plain_def = lambda resource: {"StartAt": "Start", "States": {
    "Start": {"Type": "Task", "Resource": resource,
              **({"Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}} if resource.endswith("invoke") else {}),
              "End": True}}}
tail = '", line 2, in handler\\n    raise Exception(\\"Some exception was raised.\\")\\n"]}'
cases.append({"id": "lambda_bare_unhandled_exception", "area": "lambda",
    "about": "An unhandled exception: Error = its type, Cause = Lambda's error body with ', ' separators (bare ARN)",
    "source": LS + "v2/error_handling/test_task_lambda.snapshot.json::TestTaskLambda::test_raise_exception",
    "definition": plain_def(ARN + "raise_exception"), "input": {"FunctionName": "raise_exception", "Payload": None},
    "expected": {"status": "FAILED", "error": "Exception",
                 "cause_contains": ['{"errorMessage": "Some exception was raised.", "errorType": "Exception", "requestId": "',
                                    '", "stackTrace": ["  File \\"', tail],
                 "history_types": BARE + ["LambdaFunctionFailed", "ExecutionFailed"]}})
cases.append({"id": "lambda_invoke_unhandled_exception", "area": "lambda",
    "about": "An unhandled exception through lambda:invoke: the same body, serialised compactly",
    "source": LS + "v2/error_handling/test_task_service_lambda.snapshot.json::TestTaskServiceLambda::test_raise_exception",
    "definition": plain_def("arn:aws:states:::lambda:invoke"), "input": {"FunctionName": "raise_exception", "Payload": None},
    "expected": {"status": "FAILED", "error": "Exception",
                 "cause_contains": ['{"errorMessage":"Some exception was raised.","errorType":"Exception","requestId":"',
                                    '","stackTrace":["  File \\"', tail],
                 "history_types": SVC + ["TaskFailed", "ExecutionFailed"]}})
cases.append({"id": "lambda_bare_custom_exception_caught", "area": "lambda",
    "about": "A custom exception without a message: errorMessage is empty; States.TaskFailed catches it",
    "source": LS + "v2/error_handling/test_task_lambda.snapshot.json::TestTaskLambda::test_raise_custom_exception",
    "definition": catch_def(ARN + "raise_custom_exception"), "input": {"FunctionName": "raise_custom_exception", "Payload": None},
    "expected": {"status": "SUCCEEDED", "output_checks": [
        {"path": "$.task_failed_error.Error", "equals": "CustomException"},
        {"path": "$.task_failed_error.Cause", "regex": '^\\{"errorMessage": "", "errorType": "CustomException", "requestId": "[0-9a-f-]{36}", "stackTrace": \\["  File \\\\".*", line 9, in handler\\\\n    raise CustomException\\(\\)\\\\n"\\]\\}$'}],
        "history_types": BARE + ["LambdaFunctionFailed", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]}})
cases.append({"id": "lambda_invoke_exception_caught", "area": "lambda",
    "about": "lambda:invoke's error is caught by States.TaskFailed with the compact cause",
    "source": LS + "v2/error_handling/test_task_service_lambda.snapshot.json::TestTaskServiceLambda::test_raise_exception_catch",
    "definition": catch_def("arn:aws:states:::lambda:invoke"), "input": {"FunctionName": "raise_exception", "Payload": None},
    "expected": {"status": "SUCCEEDED", "output_checks": [
        {"path": "$.task_failed_error.Error", "equals": "Exception"},
        {"path": "$.task_failed_error.Cause", "regex": '^\\{"errorMessage":"Some exception was raised.","errorType":"Exception","requestId":"[0-9a-f-]{36}","stackTrace":\\["  File '}],
        "history_types": SVC + ["TaskFailed", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]}})
nf = "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no_such_function:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: "
cases.append({"id": "lambda_invoke_no_such_function", "area": "lambda",
    "about": "lambda:invoke of an unknown function fails with Lambda.ResourceNotFoundException",
    "source": LS + "v2/error_handling/test_task_service_lambda.snapshot.json::TestTaskServiceLambda::test_no_such_function",
    "definition": plain_def("arn:aws:states:::lambda:invoke"), "input": {"FunctionName": "no_such_function", "Payload": None},
    "expected": {"status": "FAILED", "error": "Lambda.ResourceNotFoundException", "cause_contains": [nf, "; Proxy: null)"],
                 "history_types": SVC + ["TaskFailed", "ExecutionFailed"]}})
cases.append({"id": "lambda_invoke_no_such_function_caught", "area": "lambda",
    "about": "Lambda.ResourceNotFoundException is an ordinary task failure: States.TaskFailed catches it",
    "source": LS + "v2/error_handling/test_task_service_lambda.snapshot.json::TestTaskServiceLambda::test_no_such_function_catch",
    "definition": catch_def("arn:aws:states:::lambda:invoke"), "input": {"FunctionName": "no_such_function", "Payload": None},
    "expected": {"status": "SUCCEEDED", "output_checks": [
        {"path": "$.task_failed_error.Error", "equals": "Lambda.ResourceNotFoundException"},
        {"path": "$.task_failed_error.Cause", "regex": "^Function not found: arn:aws:lambda:us-east-1:000000000000:function:no_such_function:\\$LATEST \\(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: [0-9a-f-]{36}; Proxy: null\\)$"}],
        "history_types": SVC + ["TaskFailed", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]}})
limit_def = lambda resource, catch_all: {"StartAt": "InvokeLambda", "States": {
    "InvokeLambda": {"Type": "Task", "Resource": resource,
                     "Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"}, "Next": "ProcessResult",
                     "Catch": ([] if catch_all else [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "HandleDataLimitExceeded"}])
                              + [{"ErrorEquals": ["States.ALL"], "Next": "HandleGeneralError"}]},
    "ProcessResult": {"Type": "Pass", "End": True},
    **({} if catch_all else {"HandleDataLimitExceeded": {"Type": "Pass", "End": True}}),
    "HandleGeneralError": {"Type": "Pass", "End": True}}}
for style, resource, what, test in [("bare", ARN + "large_output_string", ARN + "large_output_string", "test_task_lambda"),
                                    ("invoke", "arn:aws:states:::lambda:invoke", "lambda", "test_service_task_lambada")]:
    for catch_all in (False, True):
        suffix = "catch_state_all_" if catch_all else ""
        first = BARE if style == "bare" else SVC
        failed = "LambdaFunctionFailed" if style == "bare" else "TaskFailed"
        cases.append({"id": f"lambda_{style}_257kb_bytes_data_limit_{'caught_by_all' if catch_all else 'caught'}", "area": "lambda",
            "about": "A function returning 257 KiB of bytes (not JSON) exceeds the 256 KiB state payload limit: States.DataLimitExceeded, catchable"
                     + (" by States.ALL" if catch_all else ""),
            "source": LS + f"v2/error_handling/test_states_errors.snapshot.json::TestStatesErrors::{test}_{suffix}data_limit_exceeded_on_large_utf8_response",
            "definition": limit_def(resource, catch_all), "input": {"FunctionName": "large_output_string", "Payload": None},
            "expected": {"status": "SUCCEEDED", "output": {"Error": "States.DataLimitExceeded",
                "Cause": f"The state/task '{what}' returned a result with a size exceeding the maximum number of bytes service limit."},
                "history_types": first + [failed, "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]}})
corpus = {
    "title": "Lambda task results and errors as AWS records them, run through the local Lambda host (worker processes)",
    "format_version": 1,
    "about": "The asl_cases.json format plus 'handlers': each is a real Python handler (Handler, Code) that `etl conformance` runs in a Lambda execution environment of the local host, so marshalling (bytes, JSON, errors) happens as in Lambda's Python runtime. Handlers are the ones the recordings used (localstack/localstack@8b9a79f0 tests/aws/services/stepfunctions/templates/*/lambdafunctions); definitions and inputs are those of the recorded tests; request ids and file paths in stack traces differ and are matched by pattern.",
    "conventions": {"region": "us-east-1", "account": "000000000000"},
    "handlers": functions,
    "cases": cases,
}
print(json.dumps(corpus, indent=1))
