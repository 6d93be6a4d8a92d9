"""`etl run`'s progress lines for concurrent Map iterations and Parallel branches, on a real clock.

The engine runs the iterations in threads, so their events interleave; every iteration must
still get its own line with its index, timed from its own start. Real parts: the ASL engine
and its threads; the Task is a local callable that sleeps (no AWS service is involved).
"""
from __future__ import annotations

import io
import re
import time

from etl_local.asl import RealClock, StateMachine, TaskRegistry
from etl_local.progress import Progress, branch_starts

WORK = "arn:aws:states:::local:work"
SLEEPS = [0.6, 0.1, 0.1, 0.3]  # item 0 starts first and ends last; item 2 starts only after item 1 ended

DEFINITION = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Items", "States": {"Items": {
                    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Work", "States": {
                        "Work": {"Type": "Task", "Resource": WORK, "Next": "Check"},
                        "Check": {"Type": "Pass", "End": True}}},
                    "End": True}}},
                {"StartAt": "Other", "States": {"Other": {"Type": "Task", "Resource": WORK, "Parameters": {"sleep": 0.2, "fail": True}, "Retry": [
                    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}], "End": True}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def work(parameters: dict, ctx) -> dict:
    time.sleep(parameters["sleep"])
    if parameters.get("fail"):
        raise RuntimeError("the other branch always fails")
    return parameters


def test_every_iteration_and_branch_gets_its_own_line_and_timing() -> None:
    tasks = TaskRegistry()
    tasks.register(WORK, work)
    out = io.StringIO()
    machine = StateMachine(DEFINITION)
    result = machine.execute({"items": [{"sleep": s} for s in SLEEPS]}, tasks=tasks, clock=RealClock(),
                             on_event=Progress(out, branch_starts(machine.definition)))
    assert result.status == "SUCCEEDED"
    printed = out.getvalue().splitlines()
    starts = [line.split()[1] for line in printed if line.startswith("  start ")]
    assert sorted(starts) == sorted([f"Fan[0]/Items[{i}]/Work" for i in range(len(SLEEPS))] + ["Fan[1]/Other"])
    lines = [re.match(r"^  (\w+)\s+(\S+)\s+([\d.]+)s(?:  (.*))?$", line).groups() for line in printed if not line.startswith("  start ")]
    by_label = {}
    for status, label, took, error in lines:
        by_label.setdefault(label, []).append((status, float(took), error))

    for index, sleep in enumerate(SLEEPS):  # one line per iteration and state, nothing dropped or merged
        [(status, took, _)] = by_label[f"Fan[0]/Items[{index}]/Work"]
        assert status == "ok" and took >= sleep  # timed from this iteration's own start
        assert [s for s, _, _ in by_label[f"Fan[0]/Items[{index}]/Check"]] == ["ok"]
    assert [s for s, _, _ in by_label["Fan[0]/Items"]] == ["ok"]
    # The other branch: one retry, then the failure that fails the Parallel, caught.
    assert [(s, e.split(":")[0]) for s, _, e in by_label["Fan[1]/Other"]] == [("retry", "RuntimeError"), ("fail", "RuntimeError")]
    [(status, _, error)] = by_label["Fan"]
    assert status == "fail" and error.startswith("RuntimeError: the other branch always fails")
    assert by_label["Caught"] == [("ok", by_label["Caught"][0][1], None)]
