"""Wait states, retries, timeouts and heartbeats on the virtual (and once the real) clock; payload quota."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from etl_local.asl import RealClock, TaskContext, VirtualClock

from .conftest import machine, task, types

START = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_wait_seconds_and_timestamp_on_virtual_clock(run) -> None:
    until = (START + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    definition = machine(("Short", {"Type": "Wait", "Seconds": 30}),
                         ("Until", {"Type": "Wait", "TimestampPath": "$.until"}),
                         ("Past", {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z"}))
    result = run(definition, {"until": until}, clock=VirtualClock(START))
    assert result.status == "SUCCEEDED"
    assert run.clock.sleeps == [30, 570.0, 0.0]
    assert result.stop_date - result.start_date == timedelta(minutes=10)
    assert types(result).count("WaitStateExited") == 3


def test_jitter_full_stays_within_backoff(run) -> None:
    definition = machine(("T", task("fail_n_times", Retry=[{"ErrorEquals": ["CustomError"], "IntervalSeconds": 4,
                                                            "MaxAttempts": 3, "JitterStrategy": "FULL"}])))
    result = run(definition, {"n": 3})
    assert result.status == "SUCCEEDED"
    assert [0 <= delay <= limit for delay, limit in zip(run.clock.sleeps, [4, 8, 16])] == [True] * 3


def test_task_timeout_on_virtual_clock(run) -> None:
    result = run(machine(("Slow", task("sleep", TimeoutSeconds=5))), {"seconds": 60})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Timeout", None)
    assert types(result)[-2:] == ["LambdaFunctionTimedOut", "ExecutionFailed"]
    assert run.clock.sleeps == [5]


def test_timeout_is_caught_by_all_but_not_by_task_failed(run) -> None:
    def slow(catch: str) -> dict[str, Any]:
        return machine(("Slow", task("sleep", TimeoutSecondsPath="$.limit",
                                     Catch=[{"ErrorEquals": [catch], "Next": "Caught"}])),
                       ("Caught", {"Type": "Pass"}))

    caught = run(slow("States.ALL"), {"seconds": 60, "limit": 5})
    assert caught.output == {"Error": "States.Timeout", "Cause": ""}
    assert run(slow("States.TaskFailed"), {"seconds": 60, "limit": 5}).error == "States.Timeout"


def test_sleep_within_timeout_succeeds(run) -> None:
    result = run(machine(("Slow", task("sleep", TimeoutSeconds=5))), {"seconds": 4})
    assert result.status == "SUCCEEDED"


def test_heartbeat_keeps_a_task_alive_and_a_missing_one_times_it_out(run) -> None:
    def worker(event: Any, ctx: TaskContext) -> Any:
        for _ in range(5):
            ctx.clock.sleep(8)
            if event["beat"]:
                ctx.heartbeat()
        return "done"

    run.functions["worker"] = worker
    definition = machine(("Work", task("worker", HeartbeatSeconds=10, TimeoutSeconds=100)))
    assert run(definition, {"beat": True}).output == "done"
    silent = run(definition, {"beat": False})
    assert silent.error == "States.Timeout" and run.clock.sleeps == [8, 2]


def test_heartbeat_seconds_logged_for_integrations(run) -> None:
    run.tasks.register("arn:aws:states:::glue:startJobRun.sync", lambda parameters, ctx: {"JobRunState": "SUCCEEDED"})
    definition = machine(("Glue", {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                                   "Parameters": {"JobName": "transform"}, "HeartbeatSeconds": 60,
                                   "TimeoutSeconds": 3600}))
    result = run(definition, {})
    scheduled = next(e for e in result.history if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"]) == ("glue", "startJobRun.sync")
    assert (scheduled["timeoutInSeconds"], scheduled["heartbeatInSeconds"]) == (3600, 60)
    assert result.output == {"JobRunState": "SUCCEEDED"}


def test_task_timeout_on_real_clock_stops_waiting_for_a_blocked_handler(run) -> None:
    release = threading.Event()
    run.functions["blocked"] = lambda event, ctx: release.wait(30)
    began = time.monotonic()
    result = run(machine(("Blocked", task("blocked", TimeoutSeconds=1))), {}, clock=RealClock())
    release.set()
    assert result.error == "States.Timeout"
    assert time.monotonic() - began < 10


def test_execution_timeout(run) -> None:
    definition = machine(("Wait", {"Type": "Wait", "Seconds": 100}), TimeoutSeconds=30)
    result = run(definition, {})
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert types(result) == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    assert result.stop_date - result.start_date == timedelta(seconds=30)


def test_payload_quota(run) -> None:
    too_big = machine(("Big", {"Type": "Pass", "Parameters": {"a.$": "$.text", "b.$": "$.text"}}))
    result = run(too_big, {"text": "é" * 70_000})  # 140,000 characters, but 280,000 UTF-8 bytes
    assert (result.error, result.cause) == (
        "States.DataLimitExceeded",
        "The state/task 'Big' returned a result with a size exceeding the maximum number of bytes service limit.")
    assert run(too_big, {"text": "e" * 70_000}).status == "SUCCEEDED"
    invoke = machine(("Invoke", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                 "Parameters": {"FunctionName": "big_payload", "Payload": {"size": 300_000}}}))
    failed = run(invoke, {})
    assert failed.error == "States.DataLimitExceeded" and "'lambda'" in failed.cause
    assert "TaskFailed" in types(failed)
