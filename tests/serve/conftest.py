"""A real `etl serve` on a free port of 127.0.0.1 for each test, and real clients pointed at it.

The server is the one `etl serve` runs (EtlServer over a LocalRuntime of the real template),
with its own home folder; it is shut down (executions stopped, port released) after the test.
Credentials are dummies: the server does not check signatures, as Step Functions Local does not.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.config import Config

from etl_local.mock_config import MockConfig
from etl_local.runtime import LocalRuntime
from etl_local.serve import EtlServer

REPO = Path(__file__).resolve().parents[2]
MOCK_CONFIG = REPO / "events" / "MockConfigFile.json"
ROLE = "arn:aws:iam::123456789012:role/DummyRole"
ETL_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:EtlStateMachine"
CLIENT_ARGS = {"region_name": "us-east-1", "aws_access_key_id": "local", "aws_secret_access_key": "local"}


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., EtlServer]]:
    servers: list[EtlServer] = []

    def make(*, virtual_clock: bool = True, mock_config: Path | dict | None = MOCK_CONFIG, **runtime_args: Any) -> EtlServer:
        runtime = LocalRuntime(REPO, home=tmp_path / f"home{len(servers)}", virtual_clock=virtual_clock, **runtime_args)
        config = None
        if isinstance(mock_config, dict):
            config = MockConfig(mock_config, "test mock config")
        elif mock_config is not None:
            config = MockConfig.load(mock_config)
        server = EtlServer(runtime, "127.0.0.1", 0, config)
        server.start_background()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def server(make_server) -> EtlServer:
    return make_server()


@pytest.fixture
def sfn(server: EtlServer):
    # StartSyncExecution and TestState carry AWS's "sync-" host prefix, which a local endpoint must not get.
    return boto3.client("stepfunctions", endpoint_url=server.url, config=Config(inject_host_prefix=False), **CLIENT_ARGS)


def wait_done(sfn, execution_arn: str, timeout: float = 60) -> dict:
    """DescribeExecution until it is no longer RUNNING (polling, as a client of AWS would)."""
    deadline = time.monotonic() + timeout
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING" or time.monotonic() > deadline:
            return description
        time.sleep(0.05)


def wait_for_event(sfn, execution_arn: str, event_type: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        found = [event for event in events if event["type"] == event_type]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} event in {execution_arn} after {timeout} s")


def create(sfn, name: str, definition: dict, **extra: Any) -> str:
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, **extra)["stateMachineArn"]


#: A task that waits for its token: the token travels in the (local) SQS message and its TaskScheduled parameters.
WAIT_FOR_TOKEN = {
    "StartAt": "Ask",
    "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/DeadLetterQueue",
                               "MessageBody": {"token.$": "$$.Task.Token", "question.$": "$.question"}},
                "HeartbeatSeconds": 600, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def task_token(sfn, execution_arn: str) -> str:
    scheduled = wait_for_event(sfn, execution_arn, "TaskSubmitted")
    assert scheduled
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    parameters = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]["parameters"]
    return json.loads(parameters)["MessageBody"]["token"]
