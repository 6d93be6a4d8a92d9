"""``etl run`` stops the idle environments of functions its execution can no longer reach
(etl_local.reachable): real worker processes of a small SAM project, the engine's real
StateEntered events. Nothing of AWS is emulated here."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from etl_local.asl import StateMachine
from etl_local.reachable import ANY, reachable_functions, top_level_names
from etl_local.runtime import LocalRuntime

HANDLER = textwrap.dedent("""
    import os

    def handler(event, context):
        if os.path.exists(event.get("fail_if", "")):
            raise RuntimeError("told to fail")
        alive = []
        for pid in event.get("pids", []):
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        return {"pid": os.getpid(), "alive": alive}
""")

TEMPLATE = textwrap.dedent("""
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.11, Handler: app.handler, CodeUri: fns/, Timeout: 30}
    Resources:
      Early: {Type: AWS::Serverless::Function, Properties: {}}
      Late: {Type: AWS::Serverless::Function, Properties: {}}
      OnError: {Type: AWS::Serverless::Function, Properties: {}}
""")


def _invoke(function: str, pids_from: str | None, result: str) -> dict:
    payload = {"pids.$": f"States.Array({pids_from})"} if pids_from else {}
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload": payload},
            "ResultSelector": {"pid.$": "$.Payload.pid", "alive.$": "$.Payload.alive"}, "ResultPath": result,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}]}


#: Early, then Late twice, each told the pid of the environment before it; OnError only after an error.
DEFINITION = {"StartAt": "First", "States": {
    "First": {**_invoke("Early", None, "$.first"), "Next": "Second"},
    "Second": {**_invoke("Late", "$.first.pid", "$.second"), "Next": "Third"},
    "Third": {**_invoke("Late", "$.second.pid", "$.third"), "End": True},
    "Handle": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Parameters": {"FunctionName": "OnError", "Payload": {}}, "End": True},
}}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "local.env.json").write_text(json.dumps({"Parameters": {}}))
    return tmp_path


@pytest.mark.parametrize("release", [True, False], ids=["etl run", "serving"])
def test_an_environment_stops_once_its_function_is_unreachable(project: Path, release: bool) -> None:
    """Entering Second, Early can no longer be invoked: its idle environment stops (``etl run``)
    or stays warm (a runtime that serves other executions). Late's stays warm from Second to
    Third either way: Late is reachable from Third."""
    runtime = LocalRuntime(project, home=project / "home")
    try:
        result = runtime.run({}, machine=StateMachine(DEFINITION), release_unreachable=release)
    finally:
        runtime.close()
    assert result.status == "SUCCEEDED", result.cause
    first, second, third = (result.output[k] for k in ("first", "second", "third"))
    assert second["alive"] == ([] if release else [first["pid"]])
    assert third["pid"] == second["pid"] and third["alive"] == [second["pid"]]  # warm, in Second's environment


@pytest.mark.parametrize("release", [True, False], ids=["etl redrive", "serving"])
def test_a_redrive_stops_the_environments_of_the_states_it_leaves_behind(project: Path, release: bool) -> None:
    """The first run fails at Second; redriven, it resumes there, where Early is unreachable:
    Early's environment, warm from the first run, stops (``etl redrive``) or stays."""
    marker = project / "fail"
    marker.touch()
    definition = {"StartAt": "First", "States": {
        "First": {**_invoke("Early", None, "$.first"), "Catch": [], "Next": "Second"},
        "Second": {**_invoke("Late", "$.first.pid", "$.second"), "Catch": [], "End": True},
    }}
    definition["States"]["Second"]["Parameters"]["Payload"]["fail_if"] = str(marker)
    runtime = LocalRuntime(project, home=project / "home")
    try:
        failed = runtime.run({}, machine=StateMachine(definition), name="once")
        assert failed.status == "FAILED"
        marker.unlink()
        result = runtime.redrive("once", machine=StateMachine(definition), release_unreachable=release)
    finally:
        runtime.close()
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["second"]["alive"] == ([] if release else [result.output["first"]["pid"]])


def test_reach_follows_every_transition_of_a_run_that_goes_well_and_every_nested_state() -> None:
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Plan", "Next": "B"},
        "B": {"Type": "Map", "ItemProcessor": {"StartAt": "In", "States": {
            "In": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "Extract"}, "End": True}}}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "D"}], "Default": "E"},
        "D": {"Type": "Parallel", "Branches": [{"StartAt": "P", "States": {
            "P": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                  "Parameters": {"FunctionName": "Load", "Payload": {}}, "End": True}}}], "End": True,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "E": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True},
        "F": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "QueryLanguage": "JSONata",
              "Arguments": {"FunctionName": "{% $states.input.fn %}"}, "End": True},
    }}
    assert reachable_functions(definition, "A") == {"arn:aws:lambda:us-east-1:1:function:Plan", "Extract", "Load"}
    assert reachable_functions(definition, "B") == {"Extract", "Load"}
    assert reachable_functions(definition, "E") == set()
    assert reachable_functions(definition, "D") == {"Load"}  # F only through the Catch: an error path
    assert reachable_functions(definition, "F") == {ANY}
    shared = {"StartAt": "A", "States": {**definition["States"], "In": {"Type": "Pass", "End": True}}}
    assert top_level_names(shared) == set(definition["States"])  # "In" also names a nested state
