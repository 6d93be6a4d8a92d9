"""A minimal runner for corpus machines made only of Pass, Choice, Succeed and Fail states.

It exists so the expression layer can be checked against AWS's recorded outputs without the
engine: it strings the layer's functions together in AWS's processing order and nothing more
(no history, no retries, no tasks).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl_local.asl.causes import state_error
from etl_local.asl.choice import choice_rule_matches
from etl_local.asl.errors import StatesError
from etl_local.asl.intrinsics import evaluate_intrinsic
from etl_local.asl.jsonata_eval import evaluate_jsonata_template, jsonata_condition
from etl_local.asl.paths import PathNotFound, apply_result_path, read_path, select_path
from etl_local.asl.payload import render_template

CORPUS = Path("/work/shared/conformance/asl_cases.json")
SIMPLE_TYPES = {"Pass", "Choice", "Succeed", "Fail"}
START_TIME = "2024-01-02T03:04:05.678Z"


def load_corpus() -> dict[str, Any]:
    return json.loads(CORPUS.read_text())


def runnable(definition: dict) -> bool:
    return all(state["Type"] in SIMPLE_TYPES for state in definition["States"].values())


def run_machine(definition: dict, execution_input: Any) -> dict[str, Any]:
    """Run to the end; return {status, output} or {status: FAILED, error, cause}."""
    machine_language = definition.get("QueryLanguage", "JSONPath")
    variables: dict[str, Any] = {}
    name = definition["StartAt"]
    data = execution_input
    entered = 2
    while True:
        state = definition["States"][name]
        context = {"Execution": {"Input": execution_input, "StartTime": START_TIME},
                   "State": {"Name": name, "EnteredTime": START_TIME}}
        step = _run_jsonata if state.get("QueryLanguage", machine_language) == "JSONata" else _run_jsonpath
        try:
            try:
                name, data, assigned = step(name, state, data, context, variables, entered)
            except PathNotFound as missing:  # InputPath/OutputPath, as the engine reports them
                raise state_error("States.Runtime", name, entered, str(missing)) from None
        except StatesError as error:
            return {"status": "FAILED", "error": error.error, "cause": error.cause}
        variables.update(assigned)
        if name is None:
            return {"status": "SUCCEEDED", "output": data}
        entered += 2


def _fail(state: dict, text_of: Any) -> StatesError:
    error = state.get("Error", text_of(state["ErrorPath"]) if "ErrorPath" in state else None)
    cause = state.get("Cause", text_of(state["CausePath"]) if "CausePath" in state else None)
    return StatesError(error, cause)


def _run_jsonpath(name: str, state: dict, raw: Any, context: dict, variables: dict,
                  entered: int) -> tuple[str | None, Any, dict]:
    def evaluate(expression: str) -> Any:
        if expression.startswith("$"):
            return read_path(expression, data, context, variables)
        return evaluate_intrinsic(expression, data, context, variables)

    data = select_path(state.get("InputPath", "$"), raw, context, variables)
    kind = state["Type"]
    if kind == "Fail":
        raise _fail(state, evaluate)
    next_state = state.get("Next")
    result = data
    if kind == "Choice":
        next_state = state.get("Default")
        for rule in state["Choices"]:
            if choice_rule_matches(rule, data, context, variables, state_name=name, entered_event_id=entered):
                next_state = rule["Next"]
                break
        else:
            if next_state is None:
                raise StatesError("States.NoChoiceMatched", None)
    elif kind == "Pass":
        if "Parameters" in state:
            result = render_template(state["Parameters"], data, context, variables,
                                     state_name=name, entered_event_id=entered)
        elif "Result" in state:
            result = state["Result"]
    assigned = {}
    if "Assign" in state:
        assigned = render_template(state["Assign"], result, context, variables,
                                   state_name=name, entered_event_id=entered)
    output = apply_result_path(raw, state.get("ResultPath", "$"), result) if kind == "Pass" else result
    output = select_path(state.get("OutputPath", "$"), output, context, variables)
    return next_state, output, assigned


def _run_jsonata(name: str, state: dict, data: Any, context: dict, variables: dict,
                 entered: int) -> tuple[str | None, Any, dict]:
    bindings = {**variables, "states": {"input": data, "context": context}}
    kind = state["Type"]
    if kind == "Fail":
        raise _fail(state, lambda text: evaluate_jsonata_template(text, bindings, field="Error"))
    output_template = state.get("Output")
    next_state = state.get("Next")
    if kind == "Choice":
        next_state = state.get("Default")
        for index, rule in enumerate(state["Choices"]):
            if jsonata_condition(rule["Condition"], bindings, field=f"Choices[{index}].Condition"):
                next_state = rule["Next"]
                output_template = rule.get("Output", output_template)
                break
    assigned = evaluate_jsonata_template(state.get("Assign", {}), bindings, field="Assign",
                                         state_name=name, entered_event_id=entered)
    output = data
    if output_template is not None:
        output = evaluate_jsonata_template(output_template, bindings, field="Output",
                                           state_name=name, entered_event_id=entered)
    return next_state, output, assigned
