"""Fault injection at every stage of the real state machine (faults raised by the local Lambda
host, named like the errors our code raises; everything else is real, on the virtual clock).

A transient fault is absorbed by the Task's own Retry; a permanent one goes once through the
error handler to the dead-letter queue and a notification, and the execution ends FAILED in
a bounded number of steps and of (virtual) time.
"""
from __future__ import annotations

import json

import pytest

from etl_local.integrations import read_messages

HAPPY = {"pipeline": "orders", "run_date": "2026-11-26"}
STAGES = [
    ("PlanFunction", "Plan"),
    ("ExtractFunction", "Extract"),
    ("TransformFunction", "Transform"),
    ("ValidateFunction", "Validate"),
    ("LoadFunction", "Load"),
    ("FinalizeFunction", "Finalize"),
]


def entered(result) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]


@pytest.mark.parametrize(("function", "stage"), STAGES)
def test_a_transient_fault_is_retried_and_the_run_succeeds(make_runtime, function: str, stage: str) -> None:
    runtime = make_runtime(faults={function: ["TransientError"]})
    result = runtime.run(HAPPY)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert "HandleError" not in entered(result)
    failed = [e for e in result.history if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == ["TransientError"]
    counts = result.output["counts"]
    assert counts["extracted"] == counts["valid"] + counts["quarantined"] + counts["deduplicated"]


@pytest.mark.parametrize(("function", "stage"), STAGES)
def test_a_permanent_fault_reaches_the_dlq_once_and_ends_failed(make_runtime, function: str, stage: str) -> None:
    runtime = make_runtime(faults={function: ["SourceError"] * 10})
    result = runtime.run(HAPPY)

    assert result.status == "FAILED" and result.error == "SourceError"
    states = entered(result)
    # Once Plan has planned the run, the failure path gives up the run's lease before failing.
    released = ["ReleaseRunLease"] if stage != "Plan" else []
    assert states.count("HandleError") == 1
    assert states[-5:] == [*(["ReattemptOrGiveUp"] if not released else []), "SendToDeadLetterQueue", "NotifyFailure",
                           "ReleaseRunIfPlanned", *released, "PipelineFailed"]
    assert len(result.history) < 200
    assert runtime.host.invocations[function] <= 3  # once per Map item at most: a permanent error is not retried
    dead = read_messages(runtime.messaging.queue_file("https://sqs.us-east-1.amazonaws.com/123456789012/DeadLetterQueue"))
    body = json.loads(dead[0]["Body"])
    assert len(dead) == 1 and body["failed_state"] == stage and body["recovery"]["classification"] == "non_retryable"
    assert body["input"] == HAPPY
    notes = read_messages(runtime.messaging.topic_file("arn:aws:sns:us-east-1:123456789012:NotificationTopic"))
    assert len(notes) == 1 and f"failed in {stage}" in notes[0]["Subject"]


def test_a_retryable_failure_that_outlasts_plans_retries_is_reattempted_on_the_same_input(make_runtime) -> None:
    """Plan's own Retry gives up (TransientError on each of its 4 tries); the error handler finds
    it retryable and the state machine enters Plan again, now with `error` and `recovery` in the
    state's data: Plan must still plan the execution's input, and the run succeeds."""
    runtime = make_runtime(faults={"PlanFunction": ["TransientError"] * 4})
    result = runtime.run(HAPPY)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    states = entered(result)
    assert states.count("Plan") == 2 and states.count("HandleError") == 1 and "SendToDeadLetterQueue" not in states
    scheduled = [json.loads(e["lambdaFunctionScheduledEventDetails"]["input"]) for e in result.history
                 if e["type"] == "LambdaFunctionScheduled" and "PlanFunction" in e["lambdaFunctionScheduledEventDetails"]["resource"]]
    assert len(scheduled) == runtime.host.invocations["PlanFunction"] == 5
    assert [event["input"] for event in scheduled] == [HAPPY] * 5
    counts = result.output["counts"]
    assert counts["extracted"] == counts["valid"] + counts["quarantined"] + counts["deduplicated"]
