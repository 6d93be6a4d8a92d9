"""Step Functions Local's MockConfigFile: canned responses for Task states, per test case.

The format is the one Step Functions Local documents, so suites written for it run here
unchanged::

    {"StateMachines": {"EtlStateMachine": {"TestCases": {"GlueFails": {"TransformOnGlue": "GlueFailure"}}}},
     "MockedResponses": {"GlueFailure": {"0": {"Throw": {"Error": "Glue.AWSGlueException", "Cause": "..."}}}}}

A test case maps state names to mocked-response names; a mocked response maps invocation
numbers of that state (``"0"``, or a range ``"1-2"``; retries count) to ``Return`` (the
task's result) or ``Throw`` (``Error`` and ``Cause`` of the task failure). Past the last
invocation listed, the last response is reused. A test case is selected with
``stateMachineArn#TestCaseName`` on StartExecution (``etl serve``) or
``etl run --mock-config FILE --test-case NAME``.

A mock replaces the call only: the engine still logs the Task's events (TaskScheduled,
TaskStarted, TaskSucceeded/TaskFailed with its resource type and resource, or the
LambdaFunction* events of a bare Lambda ARN) and applies Retry, Catch and the result paths,
as it would for a real call. For ``lambda:invoke`` the mocked ``Payload`` is what the function
returned; the engine wraps it as Lambda's Invoke API does (StatusCode, ExecutedVersion, ...).
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl_local.asl import TaskContext, TaskFailed, TaskHandler, TaskRegistry
from etl_local.asl.tasks import LAMBDA_INVOKE

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


class MockConfigError(ValueError):
    """A MockConfigFile that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class MockedResponse:
    """One entry: a result to return, or an (error, cause) to fail with."""

    returns: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def throws(self) -> bool:
        return self.error is not None


class MockConfig:
    """A parsed, checked MockConfigFile."""

    def __init__(self, data: Any, source: str = "MockConfigFile") -> None:
        self.source = source
        if not isinstance(data, dict):
            raise MockConfigError(f"{source}: the file must hold a JSON object with StateMachines and MockedResponses")
        machines = data.get("StateMachines", {})
        responses = data.get("MockedResponses", {})
        if not isinstance(machines, dict):
            raise MockConfigError(f"{source}: StateMachines must be an object (state machine name -> TestCases)")
        if not isinstance(responses, dict):
            raise MockConfigError(f"{source}: MockedResponses must be an object (response name -> invocations)")
        self.responses = {name: self._response(name, value) for name, value in responses.items()}
        self.test_cases: dict[str, dict[str, dict[str, str]]] = {}
        for machine, spec in machines.items():
            where = f"StateMachines.{machine}"
            cases = spec.get("TestCases") if isinstance(spec, dict) else None
            if not isinstance(cases, dict):
                raise MockConfigError(f"{source}: {where}.TestCases must be an object (test case name -> states)")
            for case, states in cases.items():
                if not isinstance(states, dict):
                    raise MockConfigError(f"{source}: {where}.TestCases.{case} must map state names to mocked response names")
                for state, response in states.items():
                    if response not in self.responses:
                        known = ", ".join(sorted(self.responses)) or "none"
                        raise MockConfigError(f"{source}: {where}.TestCases.{case}.{state} names the mocked response "
                                              f"{response!r}, which MockedResponses does not define (defined: {known})")
            self.test_cases[machine] = cases

    @classmethod
    def load(cls, path: Path | str) -> "MockConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise MockConfigError(f"mock config file {path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise MockConfigError(f"{path}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        return cls(data, str(path))

    def _response(self, name: str, value: Any) -> list[tuple[int, int, MockedResponse]]:
        where = f"{self.source}: MockedResponses.{name}"
        if not isinstance(value, dict) or not value:
            raise MockConfigError(f"{where} must map invocation numbers (\"0\", \"1-2\") to Return or Throw")
        entries = []
        for key, entry in value.items():
            match = _RANGE.match(key)
            if match is None:
                raise MockConfigError(f"{where}: {key!r} is not an invocation number or range such as \"0\" or \"1-2\"")
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            if last < first:
                raise MockConfigError(f"{where}: range {key!r} ends before it starts")
            if not isinstance(entry, dict) or len(set(entry) & {"Return", "Throw"}) != 1:
                raise MockConfigError(f"{where}.{key} must hold exactly one of Return or Throw")
            if "Throw" in entry:
                throw = entry["Throw"]
                if not isinstance(throw, dict) or not isinstance(throw.get("Error"), str):
                    raise MockConfigError(f"{where}.{key}.Throw must be an object with a string Error (and a Cause)")
                cause = throw.get("Cause")
                entries.append((first, last, MockedResponse(error=throw["Error"], cause=None if cause is None else str(cause))))
            else:
                entries.append((first, last, MockedResponse(returns=entry["Return"])))
        entries.sort(key=lambda item: item[0])
        expected = 0
        for first, last, _ in entries:
            if first != expected:
                raise MockConfigError(f"{where}: invocations must be consecutive from 0; {expected} is missing")
            expected = last + 1
        return entries

    def test_case(self, state_machine: str, name: str) -> "MockTestCase":
        """The test case ``name`` of ``state_machine`` (its name, not ARN); ValueError naming what exists."""
        cases = self.test_cases.get(state_machine)
        if cases is None:
            known = ", ".join(sorted(self.test_cases)) or "none"
            raise MockConfigError(f"{self.source}: no StateMachines.{state_machine} (state machines with test cases: {known})")
        if name not in cases:
            raise MockConfigError(f"{self.source}: StateMachines.{state_machine}.TestCases has no {name!r} "
                                  f"(test cases: {', '.join(sorted(cases)) or 'none'})")
        return MockTestCase(name, {state: self.responses[response] for state, response in cases[name].items()})


class MockTestCase:
    """The mocked states of one test case, counting each state's invocations during one execution."""

    def __init__(self, name: str, states: dict[str, list[tuple[int, int, MockedResponse]]]) -> None:
        self.name = name
        self.states = states
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def next_response(self, state: str) -> MockedResponse:
        with self._lock:
            count = self._calls.get(state, 0)
            self._calls[state] = count + 1
        entries = self.states[state]
        for first, last, response in entries:
            if first <= count <= last:
                return response
        return entries[-1][2]

    def answer(self, state: str, lambda_invoke: bool) -> Any:
        response = self.next_response(state)
        if response.throws:
            raise TaskFailed(response.error, response.cause)  # type: ignore[arg-type]
        result = response.returns
        if lambda_invoke and isinstance(result, dict) and "Payload" in result:
            return result["Payload"]  # the engine wraps it as the Invoke API does
        return result

    def registry(self, inner: TaskRegistry, definition: dict[str, Any]) -> TaskRegistry:
        """A registry answering this test case's states from the mocks and the rest from ``inner``."""
        return MockedTaskRegistry(inner, self, task_resources(definition))


def task_resources(definition: dict[str, Any]) -> dict[str, str]:
    """Every Task state's name -> Resource, in branches and item processors too."""
    found: dict[str, str] = {}
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            found[name] = state.get("Resource", "")
        for branch in state.get("Branches", []):
            found.update(task_resources(branch))
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                found.update(task_resources(state[key]))
    return found


class MockedTaskRegistry(TaskRegistry):
    """A TaskRegistry whose handlers answer mocked states from the test case.

    Handlers are looked up by resource but a mock is chosen by state name, so each handler
    given to the engine dispatches on ``ctx.state_name``. A resource neither ``inner`` nor a
    mock serves gets no handler, so the engine reports it as it does without mocks.
    """

    def __init__(self, inner: TaskRegistry, case: MockTestCase, resources: dict[str, str]) -> None:
        super().__init__(inner.callbacks)
        self.inner = inner
        self.case = case
        self.resources = resources
        self.mocked_resources = {resources[state] for state in case.states if state in resources}

    def _dispatch(self, real: TaskHandler | None) -> TaskHandler:
        def handle(argument: Any, ctx: TaskContext) -> Any:
            if ctx.state_name in self.case.states:
                lambda_invoke = self.resources.get(ctx.state_name, "").startswith(LAMBDA_INVOKE)
                return self.case.answer(ctx.state_name, lambda_invoke)
            if real is None:
                raise TaskFailed("States.Runtime", f"Test case {self.case.name!r} mocks no response for the state "
                                 f"'{ctx.state_name}', and no local handler serves its resource.")
            return real(argument, ctx)

        return handle

    def handler_for(self, resource: str) -> TaskHandler | None:
        real = self.inner.handler_for(resource)
        if real is None and resource not in self.mocked_resources:
            return None
        return self._dispatch(real)

    def lambda_function(self, name_or_arn: str) -> TaskHandler | None:
        real = self.inner.lambda_function(name_or_arn)
        if real is None and not any(r.startswith(LAMBDA_INVOKE) or ":lambda:" in r for r in self.mocked_resources):
            return None
        return self._dispatch(real)
