"""Wait (Seconds/Timestamp, paths, JSONata), Fail with JSONata, invalid JSONPaths, escapes.

Our own definitions of what localstack's test_base_scenarios / test_wait ran on AWS; the
expected results come from the recordings (build_corpus.py). Inputs are given where the
recording masks them (timestamps).
"""
from __future__ import annotations

from typing import Any

SCENARIOS = "scenarios/test_base_scenarios.snapshot.json::TestBaseScenarios::"
WAIT = "base/test_wait.snapshot.json::TestSfnWait::"


def one(name: str, state: dict[str, Any], language: str | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"StartAt": name, "States": {name: {**state, "End": True}}}
    if state.get("Type") == "Fail":
        del definition["States"][name]["End"]
    if language:
        definition = {"QueryLanguage": language, **definition}
    return definition


TIMESTAMPS = {"SECONDS": "2016-03-14T01:59:00Z", "NANOSECONDS": "2016-03-05T21:29:29.243167252Z",
              "NO_T": "2016-12-05 21:29:29Z", "NO_Z": "2016-12-05T21:29:29", "INVALID_DATE": "2016-13-05T21:29:29Z",
              "INVALID_TIME": "2016-12-05T25:29:29Z", "INVALID_ISO": "05-12-2016T21:29:29Z"}

CASES: list[dict[str, Any]] = []
for label in ("SECONDS", "NANOSECONDS"):
    CASES.append({"id": f"wait_timestamp_literal_{label.lower()}", "category": "wait",
                  "source": f"{SCENARIOS}test_wait_timestamp[{label}]",
                  "definition": one("WaitUntil", {"Type": "Wait", "Timestamp": TIMESTAMPS[label]})})
for label, value in TIMESTAMPS.items():
    CASES.append({"id": f"wait_timestamp_path_{label.lower()}", "category": "wait",
                  "source": f"{SCENARIOS}test_wait_timestamp_path[{label}]", "input": {"TimestampValue": value},
                  "placeholders": {"date": "<date>"},
                  "definition": one("WaitUntil", {"Type": "Wait", "TimestampPath": "$.TimestampValue"})})
    CASES.append({"id": f"wait_timestamp_jsonata_{label.lower()}", "category": "wait",
                  "source": f"{SCENARIOS}test_wait_timestamp_jsonata[{label}]", "input": {"TimestampValue": value},
                  "placeholders": {"date": "<date>"},
                  "definition": one("WaitState", {"Type": "Wait", "Timestamp": "{% $states.input.TimestampValue %}"},
                                    "JSONata")})
CASES.append({"id": "wait_seconds_jsonata", "category": "wait", "source": f"{SCENARIOS}test_wait_seconds_jsonata",
              "definition": one("WaitState", {"Type": "Wait", "Seconds": "{% $states.input.waitSeconds %}"}, "JSONata")})
for suffix in ("Z", ".000000Z", ".00Z", "", ".000000"):
    CASES.append({"id": f"wait_timestamp_path_suffix_{suffix.strip('.') or 'none'}", "category": "wait",
                  "source": f"{WAIT}test_wait_timestamppath[{suffix}]", "input": {"start_at": f"2016-03-14T01:59:00{suffix}"},
                  "definition": one("State_1", {"Type": "Wait", "TimestampPath": "$.start_at"})})
for seconds in ("-1", "0", "1", "1.5", "-1.5"):
    CASES.append({"id": f"wait_seconds_path_{seconds}", "category": "wait",
                  "source": f"{WAIT}test_base_wait_seconds_path[{seconds}]",
                  "definition": one("WaitState", {"Type": "Wait", "SecondsPath": "$.input.waitSeconds"})})

CASES += [
    {"id": "fail_error_jsonata", "category": "fail", "source": f"{SCENARIOS}test_fail_error_jsonata",
     "definition": one("FailState", {"Type": "Fail", "Error": "{% $states.input.error %}"}, "JSONata")},
    {"id": "fail_cause_jsonata", "category": "fail", "source": f"{SCENARIOS}test_fail_cause_jsonata",
     "definition": one("FailState", {"Type": "Fail", "Cause": "{% $states.input.cause %}"}, "JSONata")},
]


def pass_then_fail(fail: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "pass", "States": {
        "pass": {"Type": "Pass", "Parameters": {"Error": "error-value"}, "Next": "fail"},
        "fail": {"Type": "Fail", **fail}}}


INVALID_PATHS = {
    "INVALID_JSONPATH_IN_ERRORPATH": pass_then_fail({"ErrorPath": "$.ErrorX"}),
    "ST.INVALID_JSONPATH_IN_CAUSEPATH": pass_then_fail({"ErrorPath": "$.Error", "CausePath": "$.NoSuchCausePath"}),
    "INVALID_JSONPATH_IN_STRING_EXPR_JSONPATH": one("pass", {"Type": "Pass", "Parameters": {
        "value.$": "$.no_such_jsonpath"}}),
    "INVALID_JSONPATH_IN_STRING_EXPR_CONTEXTPATH": one("pass", {"Type": "Pass", "Parameters": {
        "value.$": "$$.Execution.Input.no_such_jsonpath"}}),
    "ST.INVALID_JSONPATH_IN_INPUTPATH": one("pass", {"Type": "Pass", "InputPath": "$.NoSuchInputPath"}),
    "ST.INVALID_JSONPATH_IN_OUTPUTPATH": one("pass", {"Type": "Pass", "OutputPath": "$.NoSuchOutputPath"}),
    "ST.INVALID_JSONPATH_IN_TIMEOUTSECONDSPATH": one("task", {
        "Type": "Task", "TimeoutSecondsPath": "$.NoSuchTimeoutSecondsPath",
        "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets", "Parameters": {}}),
    "ST.INVALID_JSONPATH_IN_HEARTBEATSECONDSPATH": one("task", {
        "Type": "Task", "HeartbeatSecondsPath": "$.NoSuchTimeoutSecondsPath",
        "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken", "Parameters": {}}),
}
for label, definition in INVALID_PATHS.items():
    CASES.append({"id": f"invalid_path_{label.split('.')[-1].lower()}", "category": "jsonpath_io",
                  "source": f"{SCENARIOS}test_invalid_jsonpath[{label}]", "definition": definition})

ESCAPED = {
    "literal_single_quote": "'", "literal_double_quote": '"',
    "mixed_quotes": "Text with both \"double\" and 'single' quotes.",
    "escaped_double_in_string": 'An escaped quote: \\"hello\\"', "escaped_backslash": "Backslash \\\\ in string",
    "unicode_double_quote": '"unicode-quote"', "whitespace_escapes": "Line1\nLine2\tTabbed", "emoji": "\U0001f197",
}
CASES += [
    {"id": "escapes_jsonpath_bracket", "category": "jsonpath_io",
     "source": f"{SCENARIOS}test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]",
     "definition": one("JsonPathEscapeTest", {"Type": "Pass", "Parameters": {"value.$": "$['Test\\\"\"Name\"']"}})},
    {"id": "escapes_string_literals", "category": "jsonpath_io",
     "source": f"{SCENARIOS}test_escape_sequence_parsing[ESCAPE_SEQUENCES_STRING_LITERALS]",
     "definition": {"StartAt": "TestEscapesParameters", "States": {
         "TestEscapesParameters": {"Type": "Pass", "Parameters": ESCAPED, "Next": "TestEscapesResult"},
         "TestEscapesResult": {"Type": "Pass", "End": True, "Result": {
             **ESCAPED, "not_an_intrinsic_function.$":
             "States.StringToJson('{\"text\":\"An \\\"escaped double quote\\\" here\"}')"}}}}},
    {"id": "escapes_jsonata_assign_compare", "category": "jsonata",
     "source": f"{SCENARIOS}test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONATA_COMPARISON_ASSIGN]",
     "definition": {"QueryLanguage": "JSONata", "StartAt": "Pass", "States": {
         "Pass": {"Type": "Pass", "Assign": {"var": '"'}, "Next": "Check"},
         "Check": {"Type": "Pass", "Output": "{% $var = '\"' %}", "End": True}}}},
    {"id": "escapes_jsonata_output_compare", "category": "jsonata",
     "source": f"{SCENARIOS}test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONATA_COMPARISON_OUTPUT]",
     "definition": {"QueryLanguage": "JSONata", "StartAt": "Pass", "States": {
         "Pass": {"Type": "Pass", "Output": '"', "Next": "Check"},
         "Check": {"Type": "Pass", "Output": "{% $states.input = '\"' %}", "End": True}}}},
]
