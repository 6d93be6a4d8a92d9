"""JSONata states through the engine, Catch/Assign interplay, and redriving a failed execution."""
from __future__ import annotations

from typing import Any

from etl_local.asl import TaskContext, TaskFailed

from .conftest import LAMBDA, machine, task, types


def test_jsonata_task_map_parallel_wait(run) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Add",
        "States": {
            "Add": {"Type": "Task", "Resource": LAMBDA + "add",
                    "Arguments": {"val1": "{% $states.input.a %}", "val2": 2},
                    "Assign": {"total": "{% $states.result %}"},
                    "Output": {"sum": "{% $states.result %}", "before": "{% $exists($total) %}"},
                    "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": "{% $total %}", "Next": "Fan"},
            "Fan": {"Type": "Map", "Items": "{% [1, 2, 3] %}",
                    "ItemSelector": {"value": "{% $states.context.Map.Item.Value %}",
                                     "index": "{% $states.context.Map.Item.Index %}"},
                    "ItemProcessor": {"StartAt": "Double", "States": {
                        "Double": {"Type": "Pass", "Output": "{% $states.input.value * $total %}", "End": True}}},
                    "Next": "Both"},
            "Both": {"Type": "Parallel", "Arguments": {"items": "{% $states.input %}"},
                     "Branches": [
                         {"StartAt": "Sum", "States": {"Sum": {"Type": "Pass", "Output": "{% $sum($states.input.items) %}",
                                                               "End": True}}},
                         {"StartAt": "Count", "States": {"Count": {"Type": "Pass",
                                                                   "Output": "{% $count($states.input.items) %}",
                                                                   "End": True}}}],
                     "Output": {"sum": "{% $states.result[0] %}", "count": "{% $states.result[1] %}"},
                     "End": True},
        },
    }
    result = run(definition, {"a": 3})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"sum": 30, "count": 3}
    assert run.clock.sleeps == [5]
    exited = next(e for e in result.history if e["type"] == "TaskStateExited")["stateExitedEventDetails"]
    assert exited["output"] == '{"sum":5,"before":false}'
    assert exited["assignedVariables"] == {"total": "5"}


def test_jsonata_choice_rule_assign_and_default(run) -> None:
    definition = {
        "QueryLanguage": "JSONata", "StartAt": "Gate",
        "States": {
            "Gate": {"Type": "Choice", "Choices": [
                {"Condition": "{% $states.input.bad > 10 %}", "Assign": {"verdict": "reject"}, "Next": "Done"}],
                "Default": "Done", "Assign": {"verdict": "accept"}},
            "Done": {"Type": "Pass", "Output": "{% $verdict %}", "End": True}}}
    assert run(definition, {"bad": 11}).output == "reject"
    assert run(definition, {"bad": 1}).output == "accept"


def test_jsonata_evaluation_error_is_catchable(run) -> None:
    definition = {
        "QueryLanguage": "JSONata", "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": LAMBDA + "echo", "Output": "{% $states.result.missing %}",
                  "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught"}], "Next": "Caught"},
            "Caught": {"Type": "Pass", "End": True}}}
    result = run(definition, {"x": 1})
    assert result.output["Error"] == "States.QueryEvaluationError"
    assert "EvaluationFailed" in types(result)


def test_jsonpath_catch_assign_sees_error_output(run) -> None:
    definition = machine(
        ("T", task("fail_with", Assign={"skipped": True},
                   Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err",
                           "Assign": {"why.$": "$.Cause"}, "Next": "Report"}])),
        ("Report", {"Type": "Pass", "Parameters": {"why.$": "$why", "err.$": "$.err.Error"}}))
    result = run(definition, {"Error": "E", "Cause": "because"})
    assert result.output == {"why": "because", "err": "E"}
    assert "skipped" not in result.variables


def test_redrive_resumes_at_the_failed_state(run) -> None:
    calls: list[str] = []
    broken = [True]

    def extract(event: Any, ctx: TaskContext) -> Any:
        calls.append("extract")
        return {"rows": 3}

    def load(event: Any, ctx: TaskContext) -> Any:
        calls.append("load")
        if broken[0]:
            raise TaskFailed("Load.Unavailable", "database down")
        return {"loaded": event["rows"], "by": event["who"]}

    run.functions.update(extract=extract, load=load)
    definition = machine(("Extract", task("extract", Assign={"who": "etl"})),
                         ("Load", task("load", Parameters={"rows.$": "$.rows", "who.$": "$who"})))
    failed = run(definition, {"run": 1}, name="run-1")
    assert (failed.status, failed.failed_state, failed.failed_state_input) == ("FAILED", "Load", {"rows": 3})
    assert failed.variables == {"who": "etl"}
    broken[0] = False
    sm_result = run(definition, None, redrive_from=failed)
    assert sm_result.status == "SUCCEEDED" and sm_result.output == {"loaded": 3, "by": "etl"}
    assert calls == ["extract", "load", "load"]
    assert sm_result.execution_arn == failed.execution_arn and sm_result.redrive_count == 1
    kinds = types(sm_result)
    assert kinds[:len(failed.history)] == types(failed)
    assert kinds[len(failed.history)] == "ExecutionRedriven" and kinds[-1] == "ExecutionSucceeded"


def test_timed_out_execution_can_be_redriven_with_a_fresh_timeout(run) -> None:
    definition = machine(("Prepare", {"Type": "Pass", "Result": {"ready": True}}),
                         ("Slow", {"Type": "Wait", "Seconds": 100}),
                         ("Hold", {"Type": "Wait", "Seconds": 100}),
                         ("Finish", {"Type": "Pass", "Parameters": {"done.$": "$.ready"}}), TimeoutSeconds=150)
    timed_out = run(definition, {})
    assert (timed_out.status, timed_out.failed_state, timed_out.failed_state_input) == (
        "TIMED_OUT", "Hold", {"ready": True})
    redriven = run(definition, None, redrive_from=timed_out)
    assert (redriven.status, redriven.output) == ("SUCCEEDED", {"done": True})
    assert types(redriven).count("PassStateEntered") == 2  # Prepare is not run again
