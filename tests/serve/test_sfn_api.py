"""boto3's Step Functions client against `etl serve`: every operation, and AWS's errors for each."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from etl_local.cli import main as etl_main

from .conftest import CLIENT_ARGS, ETL_ARN, ROLE, WAIT_FOR_TOKEN, create, task_token, wait_done, wait_for_event

PASS = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"},
                                                 "End": True}}}
FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}}}


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture
def real_sfn(make_server):
    """A server on the real clock: executions that wait (Wait states, task tokens) really wait."""
    server = make_server(virtual_clock=False)
    return boto3.client("stepfunctions", endpoint_url=server.url, config=Config(inject_host_prefix=False), **CLIENT_ARGS)


def test_the_templates_state_machine_is_registered_under_its_logical_id(sfn):
    listed = sfn.list_state_machines()["stateMachines"]
    assert [(m["name"], m["stateMachineArn"], m["type"]) for m in listed] == [("EtlStateMachine", ETL_ARN, "STANDARD")]
    described = sfn.describe_state_machine(stateMachineArn=ETL_ARN)
    definition = json.loads(described["definition"])
    assert definition["States"]["Plan"]["Resource"].startswith("arn:aws:lambda:us-east-1:123456789012:function:PlanFunction")
    assert described["status"] == "ACTIVE"


def test_create_describe_update_list_delete(sfn):
    arn = create(sfn, "hello", PASS)
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:hello"
    assert create(sfn, "hello", PASS) == arn  # the same request again is idempotent
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["roleArn"], described["type"]) == ("hello", ROLE, "STANDARD")
    assert json.loads(described["definition"]) == PASS
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(FAIL))
    assert updated["revisionId"] != described["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == FAIL
    create(sfn, "another", PASS)
    first = sfn.list_state_machines(maxResults=2)
    assert [m["name"] for m in first["stateMachines"]] == ["EtlStateMachine", "another"]
    rest = sfn.list_state_machines(maxResults=2, nextToken=first["nextToken"])
    assert [m["name"] for m in rest["stateMachines"]] == ["hello"] and "nextToken" not in rest
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert error_of(excinfo) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def test_state_machine_errors(sfn):
    with pytest.raises(ClientError) as excinfo:
        create(sfn, "bad", {"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": True}}})
    code, message = error_of(excinfo)
    assert code == "InvalidDefinition" and message.startswith("Invalid State Machine Definition: '")
    assert "Nowhere" in message
    with pytest.raises(ClientError) as excinfo:
        create(sfn, "has space", PASS)
    assert error_of(excinfo) == ("InvalidName", "Invalid Name: 'has space'")
    create(sfn, "taken", PASS)
    with pytest.raises(ClientError) as excinfo:
        create(sfn, "taken", FAIL)
    assert error_of(excinfo)[0] == "StateMachineAlreadyExists"
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    assert error_of(excinfo) == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: not-an-arn'")
    with pytest.raises(ClientError) as excinfo:
        sfn.update_state_machine(stateMachineArn=ETL_ARN)
    assert error_of(excinfo)[0] == "MissingRequiredParameter"
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_execution(executionArn=ETL_ARN)
    assert error_of(excinfo) == ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: stateMachine'")


def test_validate_state_machine_definition(sfn):
    assert sfn.validate_state_machine_definition(definition=json.dumps(PASS))["result"] == "OK"
    answer = sfn.validate_state_machine_definition(
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
    assert answer["result"] == "FAIL"
    [diagnostic] = answer["diagnostics"]
    assert diagnostic["severity"] == "ERROR" and diagnostic["code"] == "MISSING_TRANSITION_TARGET"
    assert diagnostic["location"] == "/States/A/Next"


def test_start_describe_and_history(sfn):
    arn = create(sfn, "hello", PASS)
    started = sfn.start_execution(stateMachineArn=arn, name="first", input='{"who": "ada"}')
    assert started["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:hello:first"
    described = wait_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert described["output"] == '{"greeting":"hi ada"}'
    assert described["input"] == '{"who":"ada"}' and described["stopDate"] >= described["startDate"]
    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert for_execution["stateMachineArn"] == arn and json.loads(for_execution["definition"]) == PASS
    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert [e["type"] for e in history] == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in history] == [1, 2, 3, 4]
    page = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=3, reverseOrder=True)
    assert [e["id"] for e in page["events"]] == [4, 3, 2]
    tail = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=3, reverseOrder=True,
                                     nextToken=page["nextToken"])
    assert [e["id"] for e in tail["events"]] == [1] and "nextToken" not in tail
    bare = sfn.get_execution_history(executionArn=started["executionArn"], includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"] and "output" not in bare[2]["stateExitedEventDetails"]
    assert bare[1]["stateEnteredEventDetails"]["name"] == "Hello"
    with pytest.raises(ClientError) as excinfo:
        sfn.get_execution_history(executionArn=started["executionArn"], nextToken="garbage")
    assert error_of(excinfo)[0] == "InvalidToken"
    missing = started["executionArn"] + "-nope"
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_execution(executionArn=missing)
    assert error_of(excinfo) == ("ExecutionDoesNotExist", f"Execution Does Not Exist: '{missing}'")
    with pytest.raises(ClientError) as excinfo:
        sfn.get_execution_history(executionArn=missing)
    assert error_of(excinfo)[0] == "ExecutionDoesNotExist"


def test_start_execution_errors(sfn):
    arn = create(sfn, "hello", PASS)
    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=arn, input="{not json")
    assert error_of(excinfo)[0] == "InvalidExecutionInput"
    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=arn + "-missing")
    assert error_of(excinfo)[0] == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=arn, name="no/slash")
    assert error_of(excinfo)[0] == "InvalidName"
    done = sfn.start_execution(stateMachineArn=arn, name="once", input='{"who": "x"}')
    wait_done(sfn, done["executionArn"])
    with pytest.raises(ClientError) as excinfo:  # AWS: a closed execution's name cannot be reused
        sfn.start_execution(stateMachineArn=arn, name="once", input='{"who": "x"}')
    assert error_of(excinfo) == ("ExecutionAlreadyExists", f"Execution Already Exists: '{done['executionArn']}'")


def test_failed_execution_and_list_filters(sfn):
    ok = create(sfn, "mixed", PASS)
    for index in range(3):
        wait_done(sfn, sfn.start_execution(stateMachineArn=ok, name=f"ok-{index}", input='{"who": "x"}')["executionArn"])
    sfn.update_state_machine(stateMachineArn=ok, definition=json.dumps(FAIL))
    failed = wait_done(sfn, sfn.start_execution(stateMachineArn=ok, name="bad")["executionArn"])
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Custom.Error", "it broke")
    assert failed["redriveStatus"] == "REDRIVABLE"
    everything = sfn.list_executions(stateMachineArn=ok)["executions"]
    assert sorted(e["name"] for e in everything) == ["bad", "ok-0", "ok-1", "ok-2"]
    only_failed = sfn.list_executions(stateMachineArn=ok, statusFilter="FAILED")["executions"]
    assert [(e["name"], e["status"]) for e in only_failed] == [("bad", "FAILED")]
    first = sfn.list_executions(stateMachineArn=ok, statusFilter="SUCCEEDED", maxResults=2)
    second = sfn.list_executions(stateMachineArn=ok, statusFilter="SUCCEEDED", maxResults=2, nextToken=first["nextToken"])
    names = [e["name"] for e in first["executions"] + second["executions"]]
    assert sorted(names) == ["ok-0", "ok-1", "ok-2"] and "nextToken" not in second
    paginated = [e["name"] for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=ok, PaginationConfig={"PageSize": 1}) for e in page["executions"]]
    assert sorted(paginated) == ["bad", "ok-0", "ok-1", "ok-2"]
    with pytest.raises(ClientError) as excinfo:
        sfn.list_executions(stateMachineArn=ok + "x")
    assert error_of(excinfo)[0] == "StateMachineDoesNotExist"


def test_task_token_callbacks_idempotent_start_and_stop(real_sfn):
    sfn = real_sfn
    arn = create(sfn, "asks", WAIT_FOR_TOKEN)
    first = sfn.start_execution(stateMachineArn=arn, name="q1", input='{"question": "ship it?"}')
    again = sfn.start_execution(stateMachineArn=arn, name="q1", input='{"question": "ship it?"}')
    assert again["executionArn"] == first["executionArn"] and again["startDate"] == first["startDate"]
    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=arn, name="q1", input='{"question": "other"}')
    assert error_of(excinfo)[0] == "ExecutionAlreadyExists"
    token = task_token(sfn, first["executionArn"])
    sfn.send_task_heartbeat(taskToken=token)
    with pytest.raises(ClientError) as excinfo:
        sfn.send_task_success(taskToken=token, output="{oops")
    assert error_of(excinfo)[0] == "InvalidOutput"
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    done = wait_done(sfn, first["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"approved": True}
    for call in (lambda: sfn.send_task_success(taskToken=token, output="{}"),
                 lambda: sfn.send_task_failure(taskToken=token, error="E"),
                 lambda: sfn.send_task_heartbeat(taskToken=token)):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "TaskDoesNotExist"

    second = sfn.start_execution(stateMachineArn=arn, name="q2", input='{"question": "and this?"}')
    sfn.send_task_failure(taskToken=task_token(sfn, second["executionArn"]), error="Rejected", cause="no budget")
    failed = wait_done(sfn, second["executionArn"])
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Rejected", "no budget")

    third = sfn.start_execution(stateMachineArn=arn, name="q3", input='{"question": "stop?"}')
    task_token(sfn, third["executionArn"])
    stopped = sfn.stop_execution(executionArn=third["executionArn"], error="Operator.Stop", cause="not needed")
    described = sfn.describe_execution(executionArn=third["executionArn"])
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Operator.Stop", "not needed")
    assert described["stopDate"] == stopped["stopDate"]
    last = sfn.get_execution_history(executionArn=third["executionArn"], reverseOrder=True, maxResults=1)["events"][0]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {"error": "Operator.Stop", "cause": "not needed"}
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"]] == ["q3"]


def test_stop_ends_a_wait_state(real_sfn):
    sfn = real_sfn
    arn = create(sfn, "sleepy", {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    started = sfn.start_execution(stateMachineArn=arn, name="nap")
    wait_for_event(sfn, started["executionArn"], "WaitStateEntered")
    sfn.stop_execution(executionArn=started["executionArn"])
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert described["status"] == "ABORTED" and "error" not in described


def test_redrive_continues_at_the_failed_state(make_server):
    mocks = {"StateMachines": {"flaky": {"TestCases": {"FailOnce": {"Work": "FailThenWork"}}}},
             "MockedResponses": {"FailThenWork": {"0": {"Throw": {"Error": "Service.Down", "Cause": "503"}},
                                                  "1": {"Return": {"done": True}}}}}
    server = make_server(mock_config=mocks)
    sfn = boto3.client("stepfunctions", endpoint_url=server.url, **CLIENT_ARGS)
    arn = create(sfn, "flaky", {"StartAt": "Before", "States": {
        "Before": {"Type": "Pass", "Result": {"step": 1}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "WorkFunction", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": True}}})
    started = sfn.start_execution(stateMachineArn=arn + "#FailOnce", name="run")
    failed = wait_done(sfn, started["executionArn"])
    assert (failed["status"], failed["error"]) == ("FAILED", "Service.Down")
    sfn.redrive_execution(executionArn=started["executionArn"])
    redriven = wait_done(sfn, started["executionArn"])
    assert redriven["status"] == "SUCCEEDED" and json.loads(redriven["output"]) == {"done": True}
    assert redriven["redriveCount"] == 1 and "redriveDate" in redriven
    types = [e["type"] for e in sfn.get_execution_history(executionArn=started["executionArn"])["events"]]
    assert types.count("PassStateEntered") == 1 and "ExecutionRedriven" in types
    with pytest.raises(ClientError) as excinfo:
        sfn.redrive_execution(executionArn=started["executionArn"])
    assert error_of(excinfo)[0] == "ExecutionNotRedrivable"


def test_start_sync_execution_runs_express_machines_only(sfn):
    express = create(sfn, "quick", PASS, type="EXPRESS")
    answer = sfn.start_sync_execution(stateMachineArn=express, input='{"who": "sync"}')
    assert answer["status"] == "SUCCEEDED" and answer["output"] == '{"greeting":"hi sync"}'
    failing = create(sfn, "quick-fail", FAIL, type="EXPRESS")
    answer = sfn.start_sync_execution(stateMachineArn=failing)
    assert (answer["status"], answer["error"], answer["cause"]) == ("FAILED", "Custom.Error", "it broke")
    with pytest.raises(ClientError) as excinfo:
        sfn.start_sync_execution(stateMachineArn=ETL_ARN, input="{}")
    assert error_of(excinfo)[0] == "StateMachineTypeNotSupported"


def test_test_state(sfn):
    passed = sfn.test_state(definition=json.dumps({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Next": "Later"}),
                            input='{"a": 7}', roleArn=ROLE)
    assert (passed["status"], passed["output"], passed["nextState"]) == ("SUCCEEDED", '{"x":7}', "Later")
    choice = sfn.test_state(definition=json.dumps({"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Big"}], "Default": "Small"}), input='{"n": 9}')
    assert choice["nextState"] == "Big"
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "F"},
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}], "End": True}
    caught = sfn.test_state(definition=json.dumps(task), input="{}",
                            mock={"errorOutput": {"error": "Custom.Failure", "cause": "mocked"}})
    assert (caught["status"], caught["error"], caught["cause"], caught["nextState"]) == (
        "CAUGHT_ERROR", "Custom.Failure", "mocked", "Recover")
    retriable = sfn.test_state(definition=json.dumps(task), input="{}",
                               mock={"errorOutput": {"error": "Lambda.TooManyRequestsException", "cause": "slow down"}})
    assert retriable["status"] == "RETRIABLE"
    mocked = sfn.test_state(definition=json.dumps(task), input="{}", mock={"result": '{"ok": 1}'}, inspectionLevel="DEBUG")
    assert mocked["status"] == "SUCCEEDED" and json.loads(mocked["output"])["Payload"] == {"ok": 1}
    assert json.loads(mocked["inspectionData"]["afterParameters"]) == {"FunctionName": "F"}
    failed = sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "C"}))
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "C")
    with pytest.raises(ClientError) as excinfo:
        sfn.test_state(definition=json.dumps({"Type": "Pass", "Next": 3}))
    assert error_of(excinfo)[0] == "InvalidDefinition"


def test_a_lambda_the_project_lacks_fails_as_on_aws(sfn):
    arn = create(sfn, "ghost", {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction", "End": True}}})
    failed = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert failed["error"] == "Lambda.ResourceNotFoundException"
    assert failed["cause"].startswith("Function not found: arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction "
                                      "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException;")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=failed["executionArn"])["events"]]
    assert types[-3:] == ["LambdaFunctionStarted", "LambdaFunctionFailed", "ExecutionFailed"]


def test_served_executions_are_what_etl_executions_and_history_show(server, sfn, capsys):
    arn = create(sfn, "hello", PASS)
    execution = wait_done(sfn, sfn.start_execution(stateMachineArn=arn, name="seen", input='{"who": "cli"}')["executionArn"])
    home = str(server.runtime.home)
    assert etl_main(["--home", home, "executions", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["name"], e["status"], e["executionArn"]) for e in listed] == [("seen", "SUCCEEDED", execution["executionArn"])]
    assert etl_main(["--home", home, "history", "seen", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [e["type"] for e in events][-1] == "ExecutionSucceeded"


def test_unknown_operation_and_bad_body(server):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.url, data=b"{}", method="POST", headers={
        "X-Amz-Target": "AWSStepFunctions.DoSomethingElse", "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)
    body = json.loads(excinfo.value.read())
    assert excinfo.value.code == 400 and body["__type"] == "UnknownOperationException"


def test_test_state_calls_the_projects_function(sfn):
    event = {"error": {"Error": "TransientError", "Cause": "reset"}, "failed_state": "Extract", "attempt": 0,
             "execution_id": "arn:aws:states:us-east-1:123456789012:execution:EtlStateMachine:x"}
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
            "Parameters": {"FunctionName": "ErrorHandlerFunction", "Payload": event}, "Next": "Decide"}
    answer = sfn.test_state(definition=json.dumps(task), input="{}")
    assert answer["status"] == "SUCCEEDED" and answer["nextState"] == "Decide"
    decision = json.loads(answer["output"])
    assert decision["failed_state"] == "Extract" and decision["retry"] is True
