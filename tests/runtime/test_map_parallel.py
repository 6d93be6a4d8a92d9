"""Map and Parallel: ordering, concurrency limits, failure handling, variable scopes, size."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from etl_local.asl import RealClock, TaskContext

from .conftest import machine, task, types


def map_state(processor: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "ItemProcessor": {"StartAt": "Item", "States": {"Item": {**processor, "End": True}}},
            **fields}


@pytest.mark.parametrize("limit, elapsed", [(0, 5), (1, 9), (2, 5)])
def test_map_results_keep_item_order_and_virtual_time_follows_concurrency(run, limit: int, elapsed: int) -> None:
    items = [{"seconds": 5}, {"seconds": 3}, {"seconds": 1}]
    result = run(machine(("Fan", map_state(task("sleep"), MaxConcurrency=limit))), items)
    assert result.output == items
    assert result.stop_date - result.start_date == timedelta(seconds=elapsed)


def test_max_concurrency_is_respected_with_real_threads(run) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]

    def busy(event: Any, ctx: TaskContext) -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return event

    run.functions["busy"] = busy
    result = run(machine(("Fan", map_state(task("busy"), MaxConcurrency=3))), list(range(12)), clock=RealClock())
    assert result.output == list(range(12))
    assert peak[0] == 3


def test_max_concurrency_one_is_strictly_sequential(run) -> None:
    order: list[int] = []

    def record(event: Any, ctx: TaskContext) -> Any:
        order.append(event)
        return event

    run.functions["record"] = record
    result = run(machine(("Fan", map_state(task("record"), MaxConcurrency=1))), list(range(20)), clock=RealClock())
    assert order == list(range(20)) and result.output == list(range(20))
    starts = [e["mapIterationStartedEventDetails"]["index"] for e in result.history
              if e["type"] == "MapIterationStarted"]
    assert starts == list(range(20))


def test_ten_thousand_item_map_does_not_recurse(run) -> None:
    processor = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"n.$": "$"}, "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 0, "Next": "C"}]},
        "C": {"Type": "Pass", "OutputPath": "$.n", "End": True}}}
    result = run({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemProcessor": processor, "End": True}}},
                 list(range(10_000)))
    assert result.status == "SUCCEEDED" and result.output == list(range(10_000))
    assert types(result).count("MapIterationSucceeded") == 10_000


def test_failing_iteration_aborts_the_others(run) -> None:
    def maybe_fail(event: Any, ctx: TaskContext) -> Any:
        ctx.clock.sleep(event["wait"])
        if event["fail"]:
            raise ValueError("item broke")
        return event

    run.functions["maybe_fail"] = maybe_fail
    processor = {"StartAt": "Work", "States": {"Work": task("maybe_fail", Next="Later"),
                                               "Later": {"Type": "Wait", "Seconds": 100, "End": True}}}
    items = [{"wait": 1, "fail": True}, {"wait": 5, "fail": False}, {"wait": 5, "fail": False}]
    result = run({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemProcessor": processor, "End": True}}},
                 items)
    assert result.error == "ValueError"
    kinds = types(result)
    assert kinds.count("MapIterationFailed") == 1 and "MapStateFailed" in kinds
    assert kinds[-1] == "ExecutionFailed"


def test_tolerated_failure_count(run) -> None:
    processor = {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThanEquals": 2, "Next": "Boom"}],
                 "Default": "Ok"}
    states = {"Check": processor, "Boom": {"Type": "Fail", "Error": "ItemFailed"}, "Ok": {"Type": "Pass", "End": True}}

    def definition(count: int) -> dict[str, Any]:
        return {"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": count, "MaxConcurrency": 1,
                                                 "ItemProcessor": {"StartAt": "Check", "States": states},
                                                 "End": True}}}

    tolerated = run(definition(2), [0, 1, 2, 3])
    assert tolerated.status == "SUCCEEDED"
    assert tolerated.output[:2] == [0, 1] and tolerated.output[2]["Error"] == "ItemFailed"
    exceeded = run(definition(1), [0, 1, 2, 3])
    assert exceeded.error == "States.ExceedToleratedFailureThreshold"


def test_distributed_map_logs_a_map_run_not_iterations(run) -> None:
    definition = machine(("M", {"Type": "Map", "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run"}}, "ItemsPath": "$.items"}))
    result = run(definition, {"run": "r1", "items": [1, 2, 3]})
    assert result.output == [{"Items": [1, 2], "BatchInput": {"run": "r1"}}, {"Items": [3], "BatchInput": {"run": "r1"}}]
    assert types(result) == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                             "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


def test_parallel_branches_run_concurrently_and_failures_abort_siblings(run) -> None:
    branches = [{"StartAt": "S", "States": {"S": task("sleep", End=True)}} for _ in range(3)]
    result = run(machine(("Both", {"Type": "Parallel", "Branches": branches})), {"seconds": 4})
    assert result.output == [{"seconds": 4}] * 3
    assert result.stop_date - result.start_date == timedelta(seconds=4)
    failing = [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "c"}}},
               {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 50, "Next": "X"},
                                           "X": {"Type": "Pass", "End": True}}}]
    failed = run(machine(("Both", {"Type": "Parallel", "Branches": failing})), {})
    assert (failed.error, failed.cause) == ("Boom", "c")
    assert "PassStateEntered" not in types(failed)


def test_variables_flow_into_branches_but_not_out(run) -> None:
    inner = {"StartAt": "Read", "States": {
        "Read": {"Type": "Pass", "Parameters": {"outer.$": "$outer", "item.$": "$"}, "Assign": {"inner": 1},
                 "Next": "Again"},
        "Again": {"Type": "Pass", "Parameters": {"outer.$": "$outer", "item.$": "$.item", "inner.$": "$inner"},
                  "End": True}}}
    definition = machine(("Set", {"Type": "Pass", "Assign": {"outer": "o"}}),
                         ("Fan", {"Type": "Map", "ItemProcessor": inner}),
                         ("After", {"Type": "Pass", "Parameters": {"seen.$": "$"},
                                    "Assign": {"after": "yes"}}))
    result = run(definition, [1, 2])
    assert result.output == {"seen": [{"outer": "o", "item": 1, "inner": 1}, {"outer": "o", "item": 2, "inner": 1}]}
    leaked = run(machine(("Fan", {"Type": "Map", "ItemProcessor": inner}),
                         ("Use", {"Type": "Pass", "Parameters": {"x.$": "$inner"}})), [1])
    assert leaked.status == "FAILED" and leaked.error == "States.Runtime"


def test_retry_on_map_reruns_it(run) -> None:
    definition = machine(("Fan", map_state(task("fail_n_times"), Retry=[{"ErrorEquals": ["CustomError"],
                                                                           "MaxAttempts": 1}])))
    result = run(definition, [{"n": 1}])
    assert result.status == "FAILED"  # RetryCount restarts at 0 in each new iteration
    assert types(result).count("MapStateStarted") == 2 and run.clock.sleeps == [1]
