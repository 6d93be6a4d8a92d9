"""The run lease outlasts a Spark transform: Lambda stages renew it as they start, a Glue or EMR
Serverless job renews nothing, so the state machine extends it before the job for as long as
the job's states can keep the execution waiting (every attempt's TimeoutSeconds plus the
longest back-offs of their Retry), plus a margin to reach Validate's own hold.

Read from the project's definition itself, so a changed timeout or retry policy that the lease
no longer covers fails here."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DEFINITION = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "etl_pipeline.asl.json").read_text())
STATES = DEFINITION["States"]
#: Validate holds the lease right after the job; the margin covers that step and a slow start.
MARGIN = 900


def longest_wait(state: dict) -> float:
    """The longest a Task state can keep the execution waiting: each attempt its TimeoutSeconds,
    each retry the back-off before it (capped by MaxDelaySeconds; full jitter only shortens it)."""
    retriers = state.get("Retry", [])
    attempts = 1 + sum(r["MaxAttempts"] for r in retriers)
    delays = sum(min(r["IntervalSeconds"] * r.get("BackoffRate", 2.0) ** k, r.get("MaxDelaySeconds", float("inf")))
                 for r in retriers for k in range(r["MaxAttempts"]))
    return attempts * state["TimeoutSeconds"] + delays


def extension(hold: str) -> int:
    until = STATES[hold]["Arguments"]["ExpressionAttributeValues"][":until"]["N"]
    found = re.fullmatch(r"\{% \$string\(\$floor\(\$toMillis\(\$states\.context\.State\.EnteredTime\) / 1000\) \+ (\d+)\) %\}", until)
    assert found, until
    return int(found.group(1))


def states_until(start: str, end: str) -> list[str]:
    """The chain of Next from ``start`` up to (and without) ``end``."""
    chain = []
    while start != end:
        chain.append(start)
        start = STATES[start]["Next"]
    return chain


@pytest.mark.parametrize(("hold", "jobs"), [
    ("HoldRunThroughGlueJob", ["TransformOnGlue"]),
    ("HoldRunThroughEmrJob", ["LocateSparkScript", "TransformOnEmr"]),
])
def test_the_lease_is_extended_before_each_spark_job_for_as_long_as_it_can_run(hold: str, jobs: list[str]) -> None:
    assert hold in [choice["Next"] for choice in STATES["ChooseEngine"]["Choices"]]
    assert states_until(STATES[hold]["Next"], "Validate") == jobs
    assert extension(hold) == int(sum(longest_wait(STATES[job]) for job in jobs)) + MARGIN
    assert extension(hold) > 2 * 3600 + 900  # longer than any Lambda stage's hold (RUN_LEASE_SECONDS' default)


@pytest.mark.parametrize("hold", ["HoldRunThroughGlueJob", "HoldRunThroughEmrJob"])
def test_only_the_owner_extends_the_lease_and_losing_it_is_reported_as_run_in_progress(hold: str) -> None:
    arguments = STATES[hold]["Arguments"]
    assert arguments["ConditionExpression"] == "#owner = :owner"
    assert arguments["ExpressionAttributeValues"][":owner"] == {"S": "{% $states.context.Execution.Id %}"}
    assert arguments["Key"] == {"id": {"S": "{% 'run-lease#' & $states.input.run.pipeline & '#' & $states.input.run.run_id %}"}}
    lost, other = STATES[hold]["Catch"]
    assert lost["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"] and "'RunInProgress'" in lost["Output"]
    assert other["ErrorEquals"] == ["States.ALL"]
    assert {lost["Next"], other["Next"]} == {"HandleError"}
    assert lost["Assign"] == other["Assign"] == {"failed_state": "Transform"}
