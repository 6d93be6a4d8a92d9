""".waitForTaskToken (success, failure, heartbeat, timeout) and the execution timeout during a Task."""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from etl_local.asl import RealClock, TaskContext
from etl_local.asl.callbacks import TaskDoesNotExist

from .conftest import machine, task, types

SQS_WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def ask(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": SQS_WAIT, "Parameters": {"MessageBody": {"token.$": "$$.Task.Token"}}, **fields}


def test_wait_for_task_token_success_uses_the_plain_api_handler(run) -> None:
    def send(parameters: Any, ctx: TaskContext) -> Any:
        assert parameters["MessageBody"]["token"] == ctx.task_token
        run.tasks.callbacks.send_task_success(ctx.task_token, {"approved": True})
        return {"MessageId": "m1"}

    run.tasks.register("arn:aws:states:::sqs:sendMessage", send)
    result = run(machine(("Ask", ask())), {})
    assert result.output == {"approved": True}
    assert types(result)[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    submitted = next(e for e in result.history if e["type"] == "TaskSubmitted")["taskSubmittedEventDetails"]
    assert submitted["output"] == '{"MessageId":"m1"}' and submitted["resource"] == "sendMessage.waitForTaskToken"


def test_wait_for_task_token_failure_is_caught_like_a_task_error(run) -> None:
    def send(parameters: Any, ctx: TaskContext) -> Any:
        run.tasks.callbacks.send_task_failure(ctx.task_token, "Rejected", "the reviewer said no")
        return {}

    run.tasks.register("arn:aws:states:::sqs:sendMessage", send)
    result = run(machine(("Ask", ask(Catch=[{"ErrorEquals": ["Rejected"], "Next": "No"}])), ("No", {"Type": "Pass"})), {})
    assert result.output == {"Error": "Rejected", "Cause": "the reviewer said no"}
    with pytest.raises(TaskDoesNotExist):
        run.tasks.callbacks.send_task_success("not-a-token", {})


def test_unanswered_token_times_out_on_the_virtual_clock(run) -> None:
    run.tasks.register("arn:aws:states:::sqs:sendMessage", lambda parameters, ctx: {})
    result = run(machine(("Ask", ask(TimeoutSeconds=300))), {})
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert types(result)[-2:] == ["TaskTimedOut", "ExecutionFailed"]
    assert result.stop_date - result.start_date == timedelta(seconds=300)
    heartbeat = run(machine(("Ask", ask(TimeoutSeconds=300, HeartbeatSeconds=30))), {})
    assert heartbeat.error == "States.Timeout" and run.clock.sleeps == [30]


def test_real_clock_callback_from_another_thread_and_heartbeat(run) -> None:
    def send(parameters: Any, ctx: TaskContext) -> Any:
        token = ctx.task_token

        def reviewer() -> None:
            run.tasks.callbacks.send_task_heartbeat(token)
            run.tasks.callbacks.send_task_success(token, "ok")

        threading.Timer(0.05, reviewer).start()
        return {}

    run.tasks.register("arn:aws:states:::sqs:sendMessage", send)
    result = run(machine(("Ask", ask(TimeoutSeconds=5, HeartbeatSeconds=2))), {}, clock=RealClock())
    assert result.output == "ok"


def test_lambda_invoke_wait_for_task_token(run) -> None:
    def worker(event: Any, ctx: TaskContext) -> Any:
        run.tasks.callbacks.send_task_success(event["token"], {"done": event["n"]})
        return "accepted"

    run.functions["worker"] = worker
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
             "Parameters": {"FunctionName": "worker", "Payload": {"token.$": "$$.Task.Token", "n": 7}}}
    assert run(machine(("Call", state)), {}).output == {"done": 7}


def test_execution_timeout_during_a_task_on_the_virtual_clock(run) -> None:
    result = run(machine(("Slow", task("sleep")), ("Never", {"Type": "Pass"}), TimeoutSeconds=10), {"seconds": 60})
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert run.clock.sleeps == [10]
    assert result.stop_date - result.start_date == timedelta(seconds=10)
    assert types(result)[-1] == "ExecutionTimedOut" and "LambdaFunctionTimedOut" not in types(result)
    # The task's own, nearer TimeoutSeconds still wins, and can be caught.
    caught = run(machine(("Slow", task("sleep", TimeoutSeconds=5, Catch=[{"ErrorEquals": ["States.Timeout"],
                                                                           "Next": "Done"}])),
                         ("Done", {"Type": "Pass"}), TimeoutSeconds=10), {"seconds": 60})
    assert caught.status == "SUCCEEDED" and run.clock.sleeps == [5]


def test_execution_timeout_while_waiting_for_a_token(run) -> None:
    run.tasks.register("arn:aws:states:::sqs:sendMessage", lambda parameters, ctx: {})
    result = run(machine(("Ask", ask()), TimeoutSeconds=60), {})
    assert result.status == "TIMED_OUT" and run.clock.sleeps == [60]


def test_execution_timeout_during_a_task_on_the_real_clock(run) -> None:
    release = threading.Event()

    def blocked(event: Any, ctx: TaskContext) -> Any:
        release.wait(5)
        return event

    run.functions["blocked"] = blocked
    result = run(machine(("Stuck", task("blocked")), TimeoutSeconds=1), {}, clock=RealClock())
    release.set()
    assert result.status == "TIMED_OUT"
    assert 1 <= (result.stop_date - result.start_date).total_seconds() < 3
