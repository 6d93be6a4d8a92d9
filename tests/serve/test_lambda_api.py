"""boto3's Lambda client against `etl serve`: the template's functions through the Invoke API,
as `sam local start-lambda` serves them (RequestResponse, Event, DryRun, errors, log tail)."""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from .conftest import CLIENT_ARGS, REPO

EVENT = json.loads((REPO / "events" / "error_handler.json").read_text())


@pytest.fixture
def lambda_client(server):
    return boto3.client("lambda", endpoint_url=server.url, **CLIENT_ARGS)


def test_request_response_returns_the_functions_result(lambda_client):
    answer = lambda_client.invoke(FunctionName="ErrorHandlerFunction", Payload=json.dumps(EVENT))
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    result = json.loads(answer["Payload"].read())
    assert result["failed_state"] == "Extract" and result["error"] == {"Error": "TransientError", "Cause": "connection reset by peer"} and result["retry"] is True


def test_a_function_arn_names_the_function_too(lambda_client):
    arn = "arn:aws:lambda:us-east-1:123456789012:function:ErrorHandlerFunction"
    answer = lambda_client.invoke(FunctionName=arn, Payload=json.dumps(EVENT))
    assert json.loads(answer["Payload"].read())["error"]["Error"] == "TransientError"


def test_an_unhandled_error_is_reported_as_lambda_does(lambda_client):
    answer = lambda_client.invoke(FunctionName="ErrorHandlerFunction", Payload=json.dumps({"attempt": -1}))
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorType"] and error["errorMessage"]


def test_log_tail_is_the_invocations_log_in_base64(server, lambda_client):
    answer = lambda_client.invoke(FunctionName="ErrorHandlerFunction", Payload=json.dumps(EVENT), LogType="Tail")
    tail = base64.b64decode(answer["LogResult"]).decode()
    log: Path = server.runtime.home / "logs" / "ErrorHandlerFunction.log"
    assert tail and log.read_text().endswith(tail)
    assert len(answer["LogResult"]) <= 4096 * 4 / 3 + 4


def test_event_invocations_run_in_the_background(server, lambda_client):
    answer = lambda_client.invoke(FunctionName="ErrorHandlerFunction", InvocationType="Event", Payload=json.dumps(EVENT))
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    log: Path = server.runtime.home / "logs" / "ErrorHandlerFunction.log"
    deadline = time.monotonic() + 30
    while not (log.exists() and log.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.exists() and log.stat().st_size > 0
    assert lambda_client.invoke(FunctionName="ErrorHandlerFunction", InvocationType="DryRun")["StatusCode"] == 204


def test_missing_function_and_bad_payload(lambda_client):
    with pytest.raises(ClientError) as excinfo:
        lambda_client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ResourceNotFoundException"
    assert error["Message"] == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as excinfo:
        lambda_client.invoke(FunctionName="ErrorHandlerFunction", Payload=b"{not json")
    assert excinfo.value.response["Error"]["Code"] == "InvalidRequestContentException"
