"""`etl rightsize`: the architecture's rules, on REPORT lines written here and on AWS answers.

The AWS half uses botocore's Stubber on real boto3 clients (CloudFormation DescribeStacks and
ListStackResources, Lambda GetFunctionConfiguration, CloudWatch Logs StartQuery and
GetQueryResults, Glue GetJobRuns): those services cannot run here, and Stubber also checks
every request against the services' own API models.
"""
from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from etl_local.rightsize import REPORT_QUERY, aws_suggestions, local_suggestions, render, suggest_memory, suggest_workers


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


def test_on_aws_logs_insights_and_glue_job_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    session = boto3.Session(region_name="us-east-1")
    clients = {name: session.client(name) for name in ("cloudformation", "lambda", "logs", "glue")}
    stubs = {name: Stubber(client) for name, client in clients.items()}
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
    for function, group, peak in (("etl-prod-LoadFunction-1", "/aws/lambda/etl-prod-LoadFunction-1", "1800"),
                                  ("etl-prod-PlanFunction-1", "/custom/plan", "100")):
        logging = {"LogFormat": "JSON", "LogGroup": group} if group.startswith("/custom") else {}
        stubs["lambda"].add_response("get_function_configuration", {"FunctionName": function, "LoggingConfig": logging}, {"FunctionName": function})
        stubs["logs"].add_response("start_query", {"queryId": f"q-{function}"},
                                   {"logGroupName": group, "startTime": ANY, "endTime": ANY, "queryString": REPORT_QUERY})
        stubs["logs"].add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": f"q-{function}"})
        stubs["logs"].add_response("get_query_results", {"status": "Complete", "results": [[
            {"field": "peakUsedMB", "value": peak}, {"field": "p95DurationMs", "value": "812.5"}, {"field": "invocations", "value": "31"}]]},
            {"queryId": f"q-{function}"})

    class StubbedSession:
        def client(self, name: str):
            return clients[name]

    for stub in stubs.values():
        stub.activate()
    found = {s.resource: s for s in aws_suggestions(StubbedSession(), stack, cap=10, sleep=lambda _: None)}
    for stub in stubs.values():
        stub.assert_no_pending_responses()
    assert found["LoadFunction"].suggested == 3072 and "peak 1800 MB (88%) of 31 invocation(s), p95 812 ms" in found["LoadFunction"].observed
    assert found["PlanFunction"].suggested == 410
    assert found["GlueJob"].suggested == 3 and found["GlueJob"].observed == "longest 50 s of 2 run(s)"
    assert set(found) == {"LoadFunction", "PlanFunction", "GlueJob"}
