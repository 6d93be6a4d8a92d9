"""`etl rightsize`: the architecture's rules, on REPORT lines written here and on AWS answers.

The AWS half uses botocore's Stubber on real boto3 clients (CloudFormation DescribeStacks and
ListStackResources, Lambda GetFunctionConfiguration, CloudWatch Logs StartQuery and
GetQueryResults, Glue GetJobRuns): those services cannot run here, and Stubber also checks
every request against the services' own API models. The answers are shaped as AWS documents
them: GetFunctionConfiguration's ``LoggingConfig`` (``LogFormat`` Text or JSON, ``LogGroup``),
GetQueryResults' rows of ``{field, value}`` strings. The invocation reports written here are
Lambda's two formats: the Text ``REPORT`` line and the JSON ``platform.report`` record (the
Telemetry API event shape Lambda writes to CloudWatch Logs with ``LogFormat: JSON``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from etl_local.rightsize import (
    JSON_REPORT_QUERY,
    TEXT_REPORT_QUERY,
    InsightsQueryFailed,
    aws_suggestions,
    local_suggestions,
    render,
    suggest_memory,
    suggest_workers,
)


@pytest.mark.parametrize(
    ("current", "peak", "suggested"),
    [
        (1024, 900, 1536),     # 88% > 80%: x1.5
        (8192, 8000, 10240),   # x1.5 would pass Lambda's maximum
        (1000, 801, 1500),     # 80.1% > 80%
        (512, 100, 410),       # 20% < 30%: x0.8
        (150, 20, 128),        # x0.8 would go under 128 MB
        (1000, 300, 1000),     # exactly 30%: not below 30
        (1000, 800, 1000),     # exactly 80%: not above 80
    ],
)
def test_memory_rule(current: int, peak: int, suggested: int) -> None:
    assert suggest_memory("F", current, peak, 3, 10.0).suggested == suggested


@pytest.mark.parametrize(
    ("current", "seconds", "suggested"),
    [(2, [400], 3), (8, [30, 301], 10), (10, [900], 10), (12, [900], 12), (3, [30, 59], 2), (2, [5], 2), (5, [60, 300], 5)],
)
def test_glue_workers_rule(current: int, seconds: list[float], suggested: int) -> None:
    assert suggest_workers("GlueJob", current, seconds, cap=10).suggested == suggested


def test_nothing_measured_keeps_the_current_value() -> None:
    assert suggest_memory("F", 512, None, 0, None).suggested == 512
    assert suggest_workers("GlueJob", 4, [], cap=10).suggested == 4


def report(used: int, size: int = 1024, duration: float = 12.34, init: bool = False) -> str:
    tail = "Init Duration: 345.67 ms\t" if init else ""
    return (f"REPORT RequestId: 3f1c5d8e-0000-4000-8000-000000000000\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms\t"
            f"Memory Size: {size} MB\tMax Memory Used: {used} MB\t{tail}")


def platform_report(used: int, size: int = 1024, duration: float = 12.34, init: bool = False) -> str:
    metrics = {"durationMs": duration, "billedDurationMs": int(duration) + 1, "memorySizeMB": size, "maxMemoryUsedMB": used}
    if init:
        metrics["initDurationMs"] = 345.67
    return json.dumps({"time": "2026-11-26T02:00:01.234Z", "type": "platform.report",
                       "record": {"requestId": "3f1c5d8e-0000-4000-8000-000000000000", "metrics": metrics, "status": "success"}})


def test_json_format_platform_report_records_are_read_like_report_lines(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "JsonFunction.log").write_text("\n".join([
        json.dumps({"time": "2026-11-26T02:00:00.000Z", "type": "platform.start", "record": {"requestId": "x", "version": "$LATEST"}}),
        '{"level":"INFO","message":"a message that says platform.report"}',
        platform_report(700, init=True), platform_report(950, duration=2000.5),
        json.dumps({"time": "2026-11-26T02:00:02.000Z", "type": "platform.report", "record": {"requestId": "y"}}),  # no metrics
    ]) + "\n")
    (logs / "MixedFunction.log").write_text(report(100) + "\n" + platform_report(200) + "\n")
    by = {s.resource: s for s in local_suggestions({"JsonFunction": 1024, "MixedFunction": 1024}, 2, logs, [], cap=10)}
    assert by["JsonFunction"].observed == "peak 950 MB (93%) of 2 invocation(s), p95 2000 ms" and by["JsonFunction"].suggested == 1536
    assert by["MixedFunction"].observed.startswith("peak 200 MB (20%) of 2 invocation(s)")


def test_local_reports_give_a_row_per_function_and_the_sam_overrides(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "BigFunction.log").write_text("\n".join([
        '{"level":"INFO","message":"REPORT RequestId: looks like one but is a log message"}',
        "START RequestId: x Version: $LATEST", report(700, init=True), report(950), "END RequestId: x", report(600),
    ]) + "\n")
    (logs / "SmallFunction.log").write_text(report(90, size=512) + "\n")
    glue_run = {"events": [
        {"id": 5, "type": "TaskStarted", "timestamp": "2026-11-26T02:00:00+00:00", "taskStartedEventDetails": {"resourceType": "glue", "resource": "startJobRun.sync"}},
        {"id": 6, "type": "TaskSucceeded", "timestamp": "2026-11-26T02:07:00+00:00", "taskSucceededEventDetails": {"resourceType": "glue", "resource": "startJobRun.sync"}},
    ]}
    found = local_suggestions({"BigFunction": 1024, "SmallFunction": 512, "IdleFunction": 256}, 2, logs, [glue_run], cap=10)
    by = {s.resource: s for s in found}
    assert by["BigFunction"].suggested == 1536 and "peak 950 MB (93%) of 3 invocation(s)" in by["BigFunction"].observed
    assert by["SmallFunction"].suggested == 410 and by["IdleFunction"].suggested == 256
    assert by["GlueJob"].suggested == 3 and by["GlueJob"].observed == "longest 420 s of 1 run(s)"
    table = render(found)
    assert table.splitlines()[0].split() == ["resource", "current", "observed", "suggested", "why"]
    assert table.splitlines()[-1] == "sam deploy --parameter-overrides BigFunctionMemorySize=1536 SmallFunctionMemorySize=410 GlueNumberOfWorkers=3"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Stubber], Any]:
    """Stubbers on real boto3 clients, and a session that hands out exactly those clients."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    real = boto3.Session(region_name="us-east-1")
    clients = {name: real.client(name) for name in ("cloudformation", "lambda", "logs", "glue")}

    class StubbedSession:
        def client(self, name: str):
            return clients[name]

    return {name: Stubber(client) for name, client in clients.items()}, StubbedSession()


def test_on_aws_logs_insights_and_glue_job_runs(aws: tuple[dict[str, Stubber], Any]) -> None:
    stubs, session = aws
    stack = "etl-prod"
    stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [{
        "StackName": stack, "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": "UPDATE_COMPLETE",
        "Parameters": [{"ParameterKey": "PlanFunctionMemorySize", "ParameterValue": "512"},
                       {"ParameterKey": "LoadFunctionMemorySize", "ParameterValue": "2048"},
                       {"ParameterKey": "GlueNumberOfWorkers", "ParameterValue": "4"}]}]}, {"StackName": stack})
    resource = {"LastUpdatedTimestamp": "2026-11-01T00:00:00Z", "ResourceStatus": "UPDATE_COMPLETE"}
    stubs["cloudformation"].add_response("list_stack_resources", {"StackResourceSummaries": [
        {**resource, "LogicalResourceId": "PlanFunction", "PhysicalResourceId": "etl-prod-PlanFunction-1", "ResourceType": "AWS::Lambda::Function"},
        {**resource, "LogicalResourceId": "LoadFunction", "PhysicalResourceId": "etl-prod-LoadFunction-1", "ResourceType": "AWS::Lambda::Function"},
        {**resource, "LogicalResourceId": "GlueJob", "PhysicalResourceId": "GlueJob-abc", "ResourceType": "AWS::Glue::Job"},
        {**resource, "LogicalResourceId": "RawBucket", "PhysicalResourceId": "raw", "ResourceType": "AWS::S3::Bucket"},
    ]}, {"StackName": stack})
    stubs["glue"].add_response("get_job_runs", {"JobRuns": [
        {"Id": "jr_1", "JobRunState": "SUCCEEDED", "ExecutionTime": 50},
        {"Id": "jr_2", "JobRunState": "FAILED", "ExecutionTime": 900},  # a failed run says nothing about capacity
        {"Id": "jr_3", "JobRunState": "SUCCEEDED", "ExecutionTime": 41}]}, {"JobName": "GlueJob-abc"})
    # Load logs in Text (no LoggingConfig answered, as for a function created before it existed),
    # Plan in JSON into a log group of its own: each gets the query for its format.
    for function, group, logging, query, peak in (
            ("etl-prod-LoadFunction-1", "/aws/lambda/etl-prod-LoadFunction-1", None, TEXT_REPORT_QUERY, "1800"),
            ("etl-prod-PlanFunction-1", "/custom/plan",
             {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/custom/plan"}, JSON_REPORT_QUERY, "100")):
        configuration = {"FunctionName": function, "MemorySize": 128, **({"LoggingConfig": logging} if logging else {})}
        stubs["lambda"].add_response("get_function_configuration", configuration, {"FunctionName": function})
        stubs["logs"].add_response("start_query", {"queryId": f"q-{function}"},
                                   {"logGroupName": group, "startTime": ANY, "endTime": ANY, "queryString": query})
        stubs["logs"].add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": f"q-{function}"})
        stubs["logs"].add_response("get_query_results", {"status": "Complete", "results": [[
            {"field": "peakUsedMB", "value": peak}, {"field": "p95DurationMs", "value": "812.5"}, {"field": "invocations", "value": "31"}]]},
            {"queryId": f"q-{function}"})

    for stub in stubs.values():
        stub.activate()
    found = {s.resource: s for s in aws_suggestions(session, stack, cap=10, sleep=lambda _: None)}
    for stub in stubs.values():
        stub.assert_no_pending_responses()
    assert found["LoadFunction"].suggested == 3072 and "peak 1800 MB (88%) of 31 invocation(s), p95 812 ms" in found["LoadFunction"].observed
    assert found["PlanFunction"].suggested == 410
    assert found["GlueJob"].suggested == 3 and found["GlueJob"].observed == "longest 50 s of 2 run(s)"
    assert set(found) == {"LoadFunction", "PlanFunction", "GlueJob"}


def test_the_queries_read_each_formats_own_fields() -> None:
    """Text: the discovered @type/@duration and the MB printed on the line; JSON: the record's keys, dot-flattened."""
    assert TEXT_REPORT_QUERY.startswith('filter @type = "REPORT"') and '"Max Memory Used: * MB"' in TEXT_REPORT_QUERY
    assert JSON_REPORT_QUERY.startswith('filter type = "platform.report"')
    for field in ("record.metrics.maxMemoryUsedMB", "record.metrics.durationMs"):
        assert field in JSON_REPORT_QUERY
    for query in (TEXT_REPORT_QUERY, JSON_REPORT_QUERY):
        assert all(f"as {name}" in query for name in ("peakUsedMB", "p95DurationMs", "invocations"))


def test_a_query_that_does_not_complete_is_an_error_not_an_idle_function(aws: tuple[dict[str, Stubber], Any]) -> None:
    stubs, session = aws
    stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [{
        "StackName": "s", "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
        "Parameters": [{"ParameterKey": "PlanFunctionMemorySize", "ParameterValue": "512"}]}]}, {"StackName": "s"})
    stubs["cloudformation"].add_response("list_stack_resources", {"StackResourceSummaries": [{
        "LastUpdatedTimestamp": "2026-11-01T00:00:00Z", "ResourceStatus": "CREATE_COMPLETE",
        "LogicalResourceId": "PlanFunction", "PhysicalResourceId": "s-Plan", "ResourceType": "AWS::Lambda::Function"}]}, {"StackName": "s"})
    stubs["lambda"].add_response("get_function_configuration", {"FunctionName": "s-Plan", "LoggingConfig": {"LogFormat": "JSON"}},
                                 {"FunctionName": "s-Plan"})
    stubs["logs"].add_response("start_query", {"queryId": "q"}, {"logGroupName": "/aws/lambda/s-Plan", "startTime": ANY, "endTime": ANY,
                                                                 "queryString": JSON_REPORT_QUERY})
    stubs["logs"].add_response("get_query_results", {"status": "Timeout", "results": []}, {"queryId": "q"})

    for stub in stubs.values():
        stub.activate()
    with pytest.raises(InsightsQueryFailed, match="/aws/lambda/s-Plan ended Timeout"):
        aws_suggestions(session, "s", cap=10, sleep=lambda _: None)
