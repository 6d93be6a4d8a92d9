"""MockConfigFile test cases (Step Functions Local's format) for the project's state machine and
for a machine with Parallel, aws-sdk, dynamodb:putItem and events:putEvents tasks, through boto3
against `etl serve` and through `etl run --mock-config --test-case`."""
from __future__ import annotations

import json

import pytest

from etl_core.lease import RunLease, lease_key
from etl_local.cli import main as etl_main
from etl_local.integrations import read_messages
from etl_local.mock_config import MockConfig, MockConfigError

from .conftest import ETL_ARN, MOCK_CONFIG, create, wait_done

INPUT = json.dumps({"pipeline": "orders", "run_date": "2026-11-26"})


def history(sfn, execution_arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def entered(events: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def test_happy_path_of_the_projects_machine(sfn):
    started = sfn.start_execution(stateMachineArn=f"{ETL_ARN}#HappyPath", name="happy", input=INPUT)
    assert started["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:EtlStateMachine:happy"
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED"
    output = json.loads(done["output"])
    assert output["counts"]["loaded"] == {"processed": 2964, "warehouse": 2964}
    assert output["engine"] == "lambda"
    events = history(sfn, started["executionArn"])
    assert "TransformOnGlue" not in entered(events) and "HandleError" not in entered(events)
    # A mocked bare-ARN Lambda logs Lambda events; a mocked integration logs Task events with its resource.
    plan = [e for e in events if e["type"].startswith("LambdaFunction")][:3]
    assert [e["type"] for e in plan] == ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded"]
    assert plan[0]["lambdaFunctionScheduledEventDetails"]["resource"].startswith("arn:aws:lambda:us-east-1:123456789012:function:PlanFunction")
    sns = [e for e in events if e["type"].startswith("Task") and not e["type"].startswith("TaskState")]
    assert [e["type"] for e in sns] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    assert sns[0]["taskScheduledEventDetails"]["resourceType"] == "sns"
    assert sns[0]["taskScheduledEventDetails"]["resource"] == "publish"
    assert json.loads(sns[2]["taskSucceededEventDetails"]["output"])["MessageId"].startswith("4b1c8e1e")


def test_a_glue_failure_goes_to_the_error_handler_and_fails(sfn, server):
    started = sfn.start_execution(stateMachineArn=f"{ETL_ARN}#GlueFailure", name="glue", input=INPUT)
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "States.TaskFailed"
    assert "AnalysisException" in done["cause"]
    events = history(sfn, started["executionArn"])
    names = entered(events)
    after = names.index("ChooseEngine") + 1
    assert names[after:after + 2] == ["HoldRunThroughGlueJob", "TransformOnGlue"]  # the lease outlasts the job
    assert names[-6:] == ["ReattemptOrGiveUp", "SendToDeadLetterQueue", "NotifyFailure", "ReleaseRunIfPlanned", "ReleaseRunLease",
                          "PipelineFailed"]
    glue = [e for e in events if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert (glue["resourceType"], glue["resource"], glue["error"]) == ("glue", "startJobRun.sync", "States.TaskFailed")
    # Mocked: nothing reached the local dead-letter queue.
    assert not (server.runtime.home / "outbox" / "sqs").exists()


def test_a_spark_transform_whose_run_lease_was_taken_over_fails_with_run_in_progress(sfn, server):
    """Another execution holds the run's lease (it expired and was taken over): the unmocked
    HoldRunThroughGlueJob's conditional update on the real local DynamoDB fails, the Glue job
    never starts, the real error handler reports RunInProgress, and the other's lease stays."""
    api = server.runtime.dynamodb.endpoint.client()
    other = "arn:aws:states:us-east-1:123456789012:execution:EtlStateMachine:other"
    RunLease("IdempotencyTable", "orders", "2026-11-26", other, api=api).hold()
    started = sfn.start_execution(stateMachineArn=f"{ETL_ARN}#LeaseTakenOver", name="taken-over", input=INPUT)
    done = wait_done(sfn, started["executionArn"])
    assert (done["status"], done["error"]) == ("FAILED", "RunInProgress")
    assert "no longer holds the run lease" in done["cause"]
    names = entered(history(sfn, started["executionArn"]))
    after = names.index("ChooseEngine") + 1
    assert names[after:after + 2] == ["HoldRunThroughGlueJob", "HandleError"] and "TransformOnGlue" not in names
    held = api.get_item(TableName="IdempotencyTable", Key={"id": {"S": lease_key("orders", "2026-11-26")}})["Item"]
    assert held["owner"]["S"] == other


def test_the_dead_letter_path_reaches_the_real_local_queue(sfn, server):
    started = sfn.start_execution(stateMachineArn=f"{ETL_ARN}#DeadLetterPath", name="dlq", input=INPUT)
    done = wait_done(sfn, started["executionArn"])
    assert (done["status"], done["error"]) == ("FAILED", "SourceUnavailable")
    names = entered(history(sfn, started["executionArn"]))
    assert names.count("WaitBeforeReattempt") == 1 and names.count("HandleError") == 2
    # SQS and SNS are not mocked in this test case: the runtime's own integrations served them.
    [message] = read_messages(server.runtime.home / "outbox" / "sqs" / "DeadLetterQueue.jsonl")
    body = json.loads(message["Body"])
    assert body["failed_state"] == "Extract" and body["error"]["Error"] == "SourceUnavailable"
    assert body["input"] == json.loads(INPUT)


def test_a_test_case_that_does_not_exist(sfn):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=f"{ETL_ARN}#NoSuchCase", input=INPUT)
    error = excinfo.value.response["Error"]
    assert error["Code"] == "InvalidArn" and "NoSuchCase" in error["Message"] and "HappyPath" in error["Message"]


SERVICES = {
    "StartAt": "FanOut",
    "States": {
        "FanOut": {"Type": "Parallel", "Next": "Announce", "Branches": [
            {"StartAt": "SaveOrder", "States": {"SaveOrder": {
                "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}}}, "End": True}}},
            {"StartAt": "LookUpBucket", "States": {"LookUpBucket": {
                "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:headBucket",
                "Parameters": {"Bucket": "orders-archive"},
                "Retry": [{"ErrorEquals": ["S3.S3Exception"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.lookup_error", "Next": "NoBucket"}],
                "End": True}, "NoBucket": {"Type": "Pass", "End": True}}},
        ]},
        "Announce": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
                     "Parameters": {"Entries": [{"Source": "orders", "DetailType": "saved", "Detail": {}}]}, "End": True},
    },
}
SERVICE_MOCKS = {
    "StateMachines": {"services": {"TestCases": {
        "AllGood": {"SaveOrder": "PutOk", "LookUpBucket": "HeadOk", "Announce": "EventsOk"},
        "BucketFlaky": {"SaveOrder": "PutOk", "LookUpBucket": "HeadFailsThrice", "Announce": "EventsOk"},
        "NoEventsMock": {"SaveOrder": "PutOk", "LookUpBucket": "HeadOk"},
    }}},
    "MockedResponses": {
        "PutOk": {"0": {"Return": {"SdkHttpMetadata": {"HttpStatusCode": 200}}}},
        "HeadOk": {"0": {"Return": {"BucketRegion": "us-east-1"}}},
        "HeadFailsThrice": {"0-2": {"Throw": {"Error": "S3.S3Exception", "Cause": "Forbidden (Status Code: 403)"}}},
        "EventsOk": {"0": {"Return": {"Entries": [{"EventId": "11710aed-b79e-4468-a20b-bb3c0c3b4860"}], "FailedEntryCount": 0}}},
    },
}


@pytest.fixture
def services_sfn(make_server):
    import boto3

    from .conftest import CLIENT_ARGS

    server = make_server(mock_config=SERVICE_MOCKS)
    client = boto3.client("stepfunctions", endpoint_url=server.url, **CLIENT_ARGS)
    return client, create(client, "services", SERVICES)


def test_parallel_aws_sdk_dynamodb_and_eventbridge_mocks(services_sfn):
    sfn, arn = services_sfn
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=f"{arn}#AllGood", input='{"id": "o-1"}')["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["FailedEntryCount"] == 0
    events = history(sfn, done["executionArn"])
    scheduled = sorted((e["taskScheduledEventDetails"]["resourceType"], e["taskScheduledEventDetails"]["resource"])
                       for e in events if e["type"] == "TaskScheduled")
    assert scheduled == [("aws-sdk:s3", "headBucket"), ("dynamodb", "putItem"), ("events", "putEvents")]
    put = next(e for e in events if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == "putItem")
    assert json.loads(put["taskScheduledEventDetails"]["parameters"]) == {"TableName": "orders", "Item": {"id": {"S": "o-1"}}}


def test_mocked_errors_are_retried_then_caught(services_sfn):
    sfn, arn = services_sfn
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=f"{arn}#BucketFlaky", input='{"id": "o-2"}')["executionArn"])
    assert done["status"] == "SUCCEEDED"
    events = history(sfn, done["executionArn"])
    failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [(f["error"], f["cause"]) for f in failures] == [("S3.S3Exception", "Forbidden (Status Code: 403)")] * 3
    assert "NoBucket" in entered(events)


def test_an_unmocked_resource_nothing_serves_locally_fails_the_execution(services_sfn):
    sfn, arn = services_sfn
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=f"{arn}#NoEventsMock", input='{"id": "o-3"}')["executionArn"])
    assert (done["status"], done["error"]) == ("FAILED", "States.Runtime")
    assert "arn:aws:states:::events:putEvents" in done["cause"] and "'Announce'" in done["cause"]


def test_mock_config_errors_name_the_file_and_field(tmp_path):
    cases = [
        ({"StateMachines": {"m": {"TestCases": {"t": {"S": "Missing"}}}}, "MockedResponses": {}},
         "StateMachines.m.TestCases.t.S names the mocked response 'Missing'"),
        ({"MockedResponses": {"R": {"1": {"Return": 1}}}}, "MockedResponses.R: invocations must be consecutive from 0; 0 is missing"),
        ({"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}, "MockedResponses.R.0 must hold exactly one of"),
        ({"MockedResponses": {"R": {"zero": {"Return": 1}}}}, "MockedResponses.R: 'zero' is not an invocation number"),
        ({"MockedResponses": {"R": {"0": {"Throw": {"Cause": "no error"}}}}}, "MockedResponses.R.0.Throw must be an object with"),
    ]
    for data, expected in cases:
        path = tmp_path / "MockConfigFile.json"
        path.write_text(json.dumps(data))
        with pytest.raises(MockConfigError) as excinfo:
            MockConfig.load(path)
        assert str(excinfo.value).startswith(str(path)) and expected in str(excinfo.value)
    path.write_text("{nope")
    with pytest.raises(MockConfigError, match=r"MockConfigFile.json: not valid JSON: line 1 column 2"):
        MockConfig.load(path)


def test_ranges_and_the_last_response_repeating():
    config = MockConfig({"StateMachines": {"m": {"TestCases": {"t": {"S": "R"}}}},
                         "MockedResponses": {"R": {"0": {"Return": "a"}, "1-2": {"Return": "b"}, "3": {"Return": "c"}}}})
    case = config.test_case("m", "t")
    assert [case.next_response("S").returns for _ in range(6)] == ["a", "b", "b", "c", "c", "c"]


def test_etl_run_with_a_test_case(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    args = ["--home", str(home), "--virtual-clock", "run", "--input", "events/execution-happy-path.json", "--quiet",
            "--mock-config", str(MOCK_CONFIG), "--name", "mocked-run"]
    monkeypatch.chdir(MOCK_CONFIG.parents[1])
    assert etl_main([*args, "--test-case", "HappyPath", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"])["counts"]["valid"] == 2964
    assert etl_main([*args[:-1], "glue-run", "--test-case", "GlueFailure"]) == 1
    assert "States.TaskFailed" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="TestCases has no 'Nope'"):
        etl_main([*args[:-1], "x", "--test-case", "Nope"])
