"""Benchmark: the local ASL engine running a Map over N items of three cheap states.

Prints microseconds per state transition and peak traced memory for N = 100, 1,000 and
10,000, for a processor of three Pass states and one of three Tasks calling a trivial
registered Lambda. Timing and memory come from separate runs (tracemalloc slows Python).
Target: <= 50 us per transition at N = 10,000.

    .venv/bin/python bench/bench_asl_map.py [--sizes 100 1000 10000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from typing import Any

from etl_local.asl import RealClock, StateMachine, TaskContext, TaskRegistry

CONCURRENCY = 0
LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:bump"


def _processor(kind: str) -> dict[str, Any]:
    if kind == "pass":
        states = {
            "First": {"Type": "Pass", "Parameters": {"id.$": "$.id", "step": 1}, "Next": "Second"},
            "Second": {"Type": "Pass", "ResultPath": "$.second", "Result": 2, "Next": "Third"},
            "Third": {"Type": "Pass", "OutputPath": "$.id", "End": True},
        }
    else:
        states = {
            "First": {"Type": "Task", "Resource": LAMBDA, "Next": "Second"},
            "Second": {"Type": "Task", "Resource": LAMBDA, "Next": "Third"},
            "Third": {"Type": "Task", "Resource": LAMBDA, "ResultSelector": {"id.$": "$.id"}, "End": True},
        }
    return {"StartAt": "First", "States": states}


def machine(kind: str) -> StateMachine:
    return StateMachine({
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": CONCURRENCY,
                           "ItemProcessor": _processor(kind), "End": True}},
    }, name=f"bench-{kind}")


def registry() -> TaskRegistry:
    def bump(event: Any, ctx: TaskContext) -> Any:
        return {"id": event["id"], "n": event.get("n", 0) + 1}

    tasks = TaskRegistry()
    tasks.set_lambda_resolver(lambda name: bump)
    return tasks


def run_once(sm: StateMachine, size: int) -> float:
    items = [{"id": index} for index in range(size)]
    gc.collect()
    start = time.perf_counter()
    result = sm.execute({"items": items}, tasks=registry(), clock=RealClock())
    elapsed = time.perf_counter() - start
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(result.output) == size
    return elapsed


def peak_memory(sm: StateMachine, size: int) -> int:
    tracemalloc.start()
    run_once(sm, size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (best is reported)")
    args = parser.parse_args()
    print(f"{'processor':<10}{'items':>8}{'transitions':>13}{'best s':>10}{'us/transition':>15}{'peak MiB':>10}")
    for kind in ("pass", "task"):
        sm = machine(kind)
        for size in args.sizes:
            transitions = 3 * size
            best = min(run_once(sm, size) for _ in range(args.repeat))
            peak = peak_memory(sm, size)
            print(f"{kind:<10}{size:>8}{transitions:>13}{best:>10.3f}{best / transitions * 1e6:>15.1f}"
                  f"{peak / 2**20:>10.1f}")


if __name__ == "__main__":
    main()
