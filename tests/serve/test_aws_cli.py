"""The AWS CLI v1 (the `awscli` package pinned in pyproject's dev extra) against `etl serve`,
the way suites written for Step Functions Local drive it: create-state-machine, start-execution
with `<arn>#<TestCase>`, describe-execution, get-execution-history --query, task-token callbacks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MOCK_CONFIG, ROLE, WAIT_FOR_TOKEN

ENV = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "PATH": "/usr/bin:/bin"}


@pytest.fixture(params=[True], ids=["virtual-clock"])
def aws(request, make_server, tmp_path: Path):
    """Run `aws stepfunctions ...` against a server whose mock config also covers a machine named OrdersPipeline.

    The mock suite runs on a virtual clock (its retries' back-off takes no time); the task-token
    test asks for the real one, where a task really waits for its callback.
    """
    config = json.loads(MOCK_CONFIG.read_text())
    config["StateMachines"]["OrdersPipeline"] = config["StateMachines"]["EtlStateMachine"]
    server = make_server(mock_config=config, virtual_clock=request.param)

    def run(*args: str, parse: bool = True):
        command = [sys.executable, "-m", "awscli", "stepfunctions", *args, "--endpoint-url", server.url, "--output", "json"]
        done = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return json.loads(done.stdout) if parse and done.stdout.strip() else done.stdout

    run.server = server  # type: ignore[attr-defined]
    return run


def definition_of_the_project(aws) -> str:
    described = aws("describe-state-machine", "--state-machine-arn",
                    "arn:aws:states:us-east-1:123456789012:stateMachine:EtlStateMachine")
    return described["definition"]


def test_mock_config_suite_through_the_cli(aws, tmp_path: Path):
    definition = tmp_path / "definition.json"
    definition.write_text(definition_of_the_project(aws))
    created = aws("create-state-machine", "--name", "OrdersPipeline", "--definition", f"file://{definition}",
                  "--role-arn", ROLE)
    arn = created["stateMachineArn"]
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:OrdersPipeline"
    expectations = {"HappyPath": "SUCCEEDED", "GlueFailure": "FAILED", "DeadLetterPath": "FAILED"}
    for case, status in expectations.items():
        started = aws("start-execution", "--state-machine-arn", f"{arn}#{case}", "--name", f"cli-{case}",
                      "--input", '{"pipeline": "orders", "run_date": "2026-11-26"}')
        execution = started["executionArn"]
        assert execution == f"arn:aws:states:us-east-1:123456789012:execution:OrdersPipeline:cli-{case}"
        for _ in range(600):
            described = aws("describe-execution", "--execution-arn", execution)
            if described["status"] != "RUNNING":
                break
        assert described["status"] == status, (case, described)
        exited = aws("get-execution-history", "--execution-arn", execution, "--query",
                     "events[?type==`TaskStateExited`].stateExitedEventDetails.name")
        if case == "HappyPath":
            assert exited[:2] == ["Plan", "ExtractSource"] and exited[-2:] == ["Finalize", "NotifySuccess"]
        else:
            assert "HandleError" in exited
            assert exited.index("HandleError") < exited.index("SendToDeadLetterQueue") < exited.index("NotifyFailure")
    glue = aws("get-execution-history", "--execution-arn",
               "arn:aws:states:us-east-1:123456789012:execution:OrdersPipeline:cli-GlueFailure", "--query",
               "events[?type==`TaskFailed`].taskFailedEventDetails | [0]")
    assert (glue["resourceType"], glue["resource"], glue["error"]) == ("glue", "startJobRun.sync", "States.TaskFailed")


@pytest.mark.parametrize("aws", [False], ids=["real-clock"], indirect=True)
def test_task_token_callbacks_through_the_cli(aws, tmp_path: Path):
    definition = tmp_path / "asks.json"
    definition.write_text(json.dumps(WAIT_FOR_TOKEN))
    arn = aws("create-state-machine", "--name", "asks", "--definition", f"file://{definition}", "--role-arn", ROLE)[
        "stateMachineArn"]
    answers = {}
    for name, callback in (("yes", "send-task-success"), ("no", "send-task-failure")):
        execution = aws("start-execution", "--state-machine-arn", arn, "--name", name,
                        "--input", '{"question": "ship it?"}')["executionArn"]
        token = None
        for _ in range(600):  # the token is in the TaskScheduled parameters; TaskSubmitted says the task now waits
            events = aws("get-execution-history", "--execution-arn", execution, "--query",
                         "events[?type==`TaskScheduled` || type==`TaskSubmitted`]")
            if len(events) == 2:
                token = json.loads(events[0]["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
                break
        assert token, "the task never waited for its token"
        aws("send-task-heartbeat", "--task-token", token, parse=False)
        if callback == "send-task-success":
            aws(callback, "--task-token", token, "--task-output", '{"approved": true}', parse=False)
        else:
            aws(callback, "--task-token", token, "--error", "Rejected", "--cause", "no budget", parse=False)
        for _ in range(600):
            answers[name] = aws("describe-execution", "--execution-arn", execution)
            if answers[name]["status"] != "RUNNING":
                break
    assert answers["yes"]["status"] == "SUCCEEDED" and json.loads(answers["yes"]["output"]) == {"approved": True}
    assert (answers["no"]["status"], answers["no"]["error"], answers["no"]["cause"]) == ("FAILED", "Rejected", "no budget")
    gone = subprocess.run([sys.executable, "-m", "awscli", "stepfunctions", "send-task-success", "--task-token", "nope",
                           "--task-output", "{}", "--endpoint-url", aws.server.url], capture_output=True, text=True, env=ENV)
    assert gone.returncode != 0 and "TaskDoesNotExist" in gone.stderr
