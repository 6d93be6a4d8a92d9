"""TestState: run one state on an input, as the Step Functions console's "Test state" does.

The state (or ``stateName`` of a whole definition) runs in a machine of its own whose
transitions end at stand-in Succeed states, so the engine's real semantics apply (paths,
Parameters, Catch, Choice rules, Task calls or the request's ``mock``). Retry is not
performed, as on AWS: a failure a retrier would retry is reported RETRIABLE. What follows
the state is read from the history: ``nextState``, CAUGHT_ERROR when a Catch handled a failure.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from etl_local.asl import Clock, DefinitionError, StateMachine, TaskContext, TaskFailed, TaskRegistry
from etl_local.serve_errors import ApiError

VARIABLES_STATE = "TestStateVariables"
_FAILURES = ("Failed", "TimedOut")


def _targets(state: dict[str, Any]) -> set[str]:
    found = {state.get("Next"), state.get("Default")}
    found |= {choice.get("Next") for choice in state.get("Choices", []) if isinstance(choice, dict)}
    found |= {catcher.get("Next") for catcher in state.get("Catch", []) if isinstance(catcher, dict)}
    return {name for name in found if isinstance(name, str)}


def _parse(text: Any, what: str, code: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ApiError(code, f"Invalid {what}: '{exc}'") from None


def _retriable(state: dict[str, Any], error: str | None) -> bool:
    for retrier in state.get("Retry", []):
        names = retrier.get("ErrorEquals", [])
        if error in names or "States.ALL" in names or ("States.TaskFailed" in names and error != "States.Timeout"):
            return retrier.get("MaxAttempts", 3) != 0
    return False


def test_state(params: dict[str, Any], registry: Callable[[], TaskRegistry], clock: Clock) -> dict[str, Any]:
    definition = _parse(params["definition"], "State Machine Definition", "InvalidDefinition")
    if not isinstance(definition, dict):
        raise ApiError("InvalidDefinition", "Invalid State Machine Definition: 'the definition must be a JSON object'")
    language = definition.get("QueryLanguage", "JSONPath")
    if "States" in definition:
        name = params.get("stateName") or definition.get("StartAt")
        if name not in definition["States"]:
            raise ApiError("ValidationException", f"State '{name}' does not exist in the definition")
        state = definition["States"][name]
    else:
        name, state = params.get("stateName") or "TestState", definition
        language = state.get("QueryLanguage", language)
    tested = {key: value for key, value in state.items() if key != "Retry"}
    states: dict[str, Any] = {target: {"Type": "Succeed"} for target in _targets(state) if target != name}
    states[name] = tested
    start = name
    if params.get("variables"):
        variables = _parse(params["variables"], "variables", "ValidationException")
        states[VARIABLES_STATE] = {"Type": "Pass", "Assign": variables, "Next": name}
        start = VARIABLES_STATE
    try:
        machine = StateMachine({"QueryLanguage": language, "StartAt": start, "States": states}, name="TestState")
    except DefinitionError as exc:
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{', '.join(exc.problems)}'") from None
    state_input = _parse(params.get("input") or "{}", "State Machine Execution Input", "InvalidExecutionInput")
    mock = params.get("mock")
    tasks = registry() if not mock else mocked_registry_for_test(
        _parse(mock["result"], "mock result", "ValidationException") if mock.get("result") is not None else None,
        mock.get("errorOutput"))
    result = machine.execute(state_input, tasks=tasks, clock=clock)
    return _report(name, state, result, params)


def _report(name: str, state: dict[str, Any], result: Any, params: dict[str, Any]) -> dict[str, Any]:
    events = result.history
    entered = next((i for i, e in enumerate(events) if e["type"].endswith("StateEntered")
                    and e["stateEnteredEventDetails"]["name"] == name), None)
    answer: dict[str, Any] = {}
    inspection: dict[str, Any] = {"input": params.get("input") or "{}"}
    exited = None
    last_failure = None
    for event in events[entered or 0:]:
        kind = event["type"]
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
        if kind in ("TaskScheduled",):
            inspection["afterParameters"] = details.get("parameters")
        elif kind == "LambdaFunctionScheduled":
            inspection["afterParameters"] = details.get("input")
        elif kind in ("TaskSucceeded", "LambdaFunctionSucceeded"):
            inspection["result"] = details.get("output")
        elif kind.endswith(_FAILURES) and not kind.startswith("Execution"):
            last_failure = details
        elif kind.endswith("StateExited") and details.get("name") == name:
            exited = details
        elif kind.endswith("StateEntered") and exited is not None:
            answer["nextState"] = details["name"]
            break
    if last_failure is not None and _retriable(state, last_failure.get("error")):
        answer.update(status="RETRIABLE", **{k: last_failure[k] for k in ("error", "cause") if k in last_failure})
        answer.pop("nextState", None)
    elif exited is not None:
        answer["output"] = exited.get("output")
        if last_failure is not None and answer.get("nextState") in {c.get("Next") for c in state.get("Catch", [])}:
            answer.update(status="CAUGHT_ERROR", **{k: last_failure[k] for k in ("error", "cause") if k in last_failure})
        else:
            answer["status"] = "SUCCEEDED"
    else:
        answer["status"] = "RETRIABLE" if _retriable(state, result.error) else "FAILED"
        if result.error is not None:
            answer["error"] = result.error
        if result.cause is not None:
            answer["cause"] = result.cause
    if params.get("inspectionLevel") in ("DEBUG", "TRACE"):
        answer["inspectionData"] = {k: v for k, v in inspection.items() if v is not None}
    return answer


def mocked_registry_for_test(result: Any, error: dict[str, Any] | None) -> TaskRegistry:
    """TestState's ``mock``: every Task returns ``result`` or fails with ``error``."""

    class Mocked(TaskRegistry):
        def _answer(self, argument: Any, ctx: TaskContext) -> Any:
            if error is not None:
                raise TaskFailed(error.get("error") or "", error.get("cause"))
            return result

        def handler_for(self, resource: str):  # type: ignore[override]
            return self._answer

        def lambda_function(self, name_or_arn: str):  # type: ignore[override]
            return self._answer

    return Mocked()
