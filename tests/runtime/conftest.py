"""Shared helpers for the engine tests: run a definition on a virtual clock with the corpus helpers."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from etl_local.asl import (
    ExecutionResult,
    StateMachine,
    TaskRegistry,
    VirtualClock,
    lambda_function_name,
)
from etl_local.conformance import HELPERS

LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:"


class Runner:
    """Runs definitions; ``clock`` is the VirtualClock of the last run."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.functions: dict[str, Callable[..., Any]] = dict(HELPERS)
        self.tasks = TaskRegistry()
        self.tasks.set_lambda_resolver(lambda function: self.functions[lambda_function_name(function)])

    def __call__(self, definition: dict[str, Any], value: Any = None, **options: Any) -> ExecutionResult:
        self.clock = options.pop("clock", VirtualClock())
        return StateMachine(definition).execute(value, tasks=self.tasks, clock=self.clock, **options)


@pytest.fixture
def run() -> Runner:
    return Runner()


def types(result: ExecutionResult) -> list[str]:
    return [event["type"] for event in result.history]


def task(name: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA + name, **fields}


def machine(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition from (name, state) pairs chained in order; the last one ends."""
    body: dict[str, Any] = {}
    for (name, state), following in zip(states, [s[0] for s in states[1:]] + [None]):
        state = dict(state)
        if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state and "End" not in state:
            state.update({"Next": following} if following else {"End": True})
        body[name] = state
    return {"StartAt": states[0][0], "States": body, **top}


def exits_soon(pid: int) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within 20 s: Lambda environments and fork
    servers check for their parent twice a second and exit when it is gone."""
    for _ in range(200):
        if not _running(pid):
            return True
        time.sleep(0.1)
    return not _running(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")
