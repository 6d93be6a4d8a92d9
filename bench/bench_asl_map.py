"""Benchmark: the local ASL engine running a Map over N items of three cheap states, beside
aws-local-stepfunctions running the same definition in the same minutes.

Prints microseconds per state transition (best and median of the timed runs, wall clock) and
the project's peak traced memory for N = 100, 1,000 and 10,000, for a processor of three Pass
states and one of three Tasks calling a trivial function (a registered Lambda here, a local
task handler there). Timing and memory come from separate runs (tracemalloc slows Python).
For each processor and size it prints ``ratio project/aws-local-stepfunctions`` (transitions
per second, medians: above 1 the project is faster), and at the end the verdict on issue 14's
target: at most 30 us per transition at N = 10,000 for the Map of three Pass states.

The yardstick is the npm package pinned in ``bench/asl_yardstick/package-lock.json``
(``make bench`` installs it with ``npm ci``; by hand: ``cd bench/asl_yardstick && npm ci``).
Without Node.js or without that install the bench says so and measures the project alone.

    .venv/bin/python bench/bench_asl_map.py [--sizes 100 1000 10000] [--repeat 3] [--kinds pass task] [--no-yardstick]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import time
import tracemalloc
from pathlib import Path
from typing import Any

from etl_local.asl import RealClock, StateMachine, TaskContext, TaskRegistry

CONCURRENCY = 0
LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:bump"
TASK_STATES = ("First", "Second", "Third")
YARDSTICK = "aws-local-stepfunctions"
YARDSTICK_DIR = Path(__file__).resolve().parent / "asl_yardstick"
#: issue 14 item 5: at most this many microseconds per transition, Map of three Pass states, N = 10,000
TARGET_US = 30.0
TARGET_SIZE = 10_000


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


def definition(kind: str) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": CONCURRENCY,
                           "ItemProcessor": _processor(kind), "End": True}},
    }


def machine(kind: str) -> StateMachine:
    return StateMachine(definition(kind), name=f"bench-{kind}")


def registry() -> TaskRegistry:
    def bump(event: Any, ctx: TaskContext) -> Any:
        return {"id": event["id"], "n": event.get("n", 0) + 1}

    tasks = TaskRegistry()
    tasks.set_lambda_resolver(lambda name: bump)
    return tasks


def run_once(sm: StateMachine, size: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) of one execution over ``size`` items."""
    items = [{"id": index} for index in range(size)]
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = sm.execute({"items": items}, tasks=registry(), clock=RealClock())
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(result.output) == size
    return elapsed, cpu


def peak_memory(sm: StateMachine, size: int) -> int:
    tracemalloc.start()
    run_once(sm, size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def yardstick_missing() -> str | None:
    """Why the yardstick cannot run here (None when it can)."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not (YARDSTICK_DIR / "node_modules" / YARDSTICK / "package.json").is_file():
        return "the npm package is not installed (make bench installs it; by hand: cd bench/asl_yardstick && npm ci)"
    return None


def run_yardstick(kind: str, size: int, repeat: int) -> dict[str, Any]:
    """The yardstick's timed runs of the same definition: {version, node, seconds, cpu_seconds}."""
    request = {"definition": definition(kind), "size": size, "repeat": repeat,
               "task_states": list(TASK_STATES) if kind == "task" else []}
    done = subprocess.run(["node", "map_bench.mjs"], cwd=YARDSTICK_DIR, input=json.dumps(request),
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{YARDSTICK} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _row(engine: str, kind: str, size: int, seconds: list[float], cpu_seconds: list[float], peak: str) -> str:
    transitions = 3 * size
    best, median = min(seconds), statistics.median(seconds)
    return (f"{engine:<32}{kind:<7}{size:>8}{transitions:>13}{best:>10.3f}"
            f"{best / transitions * 1e6:>9.1f}{median / transitions * 1e6:>9.1f}"
            f"{min(cpu_seconds) / transitions * 1e6:>9.1f}{peak:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size and engine")
    parser.add_argument("--kinds", nargs="+", choices=("pass", "task"), default=["pass", "task"],
                        help="which processors to run")
    parser.add_argument("--no-yardstick", action="store_true", help=f"measure the project alone, without {YARDSTICK}")
    args = parser.parse_args()
    missing = "--no-yardstick given" if args.no_yardstick else yardstick_missing()
    print(f"load average at start: {_load()}")
    if missing:
        print(f"{YARDSTICK}: not run ({missing}); the project alone")
    print("us best / us med: wall-clock microseconds per transition, best and median run; cpu us: the best\n"
          "run's CPU time per transition (the process's own, so less sensitive to the machine's load)")
    print(f"{'engine':<32}{'kind':<7}{'items':>8}{'transitions':>13}{'best s':>10}"
          f"{'us best':>9}{'us med':>9}{'cpu us':>9}{'peak MiB':>10}")
    verdict: tuple[float, float] | None = None
    runtime = ""
    for kind in args.kinds:
        sm = machine(kind)
        for size in args.sizes:
            runs = [run_once(sm, size) for _ in range(args.repeat)]
            seconds, cpu_seconds = [wall for wall, _ in runs], [cpu for _, cpu in runs]
            peak = peak_memory(sm, size)
            print(_row("project", kind, size, seconds, cpu_seconds, f"{peak / 2**20:.1f}"), flush=True)
            if kind == "pass" and size == TARGET_SIZE:
                verdict = (min(seconds) / (3 * size) * 1e6, statistics.median(seconds) / (3 * size) * 1e6)
            if missing:
                continue
            other = run_yardstick(kind, size, args.repeat)
            runtime = f"{YARDSTICK} {other['version']} ran on Node.js {other['node']}"
            print(_row(f"{YARDSTICK} {other['version']}", kind, size, other["seconds"], other["cpu_seconds"], "-"),
                  flush=True)
            ratio = statistics.median(other["seconds"]) / statistics.median(seconds)
            print(f"{kind} {size} ratio project/{YARDSTICK} = {ratio:.2f}", flush=True)
    if verdict is not None:
        best, median = verdict
        met = "met" if median <= TARGET_US else "NOT met"
        print(f"target (issue 14 item 5): <= {TARGET_US:.0f} us per transition at N = {TARGET_SIZE:,}, Map of three "
              f"Pass states: best {best:.1f} us, median {median:.1f} us: {met}")
    if runtime:
        print(runtime)
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
