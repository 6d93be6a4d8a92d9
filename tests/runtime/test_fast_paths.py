"""The engine's shortcuts on the per-transition hot path give what the general code gives.

History texts come from one prebuilt encoder, from cached texts, or spliced from the input's text
(ResultPath ``$.name``); paths ``$.a.b`` are read by compiled readers; timestamps are made once
per millisecond; event ids are handed out without the lock unless branches run in threads.
"""
from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from typing import Any

import pytest

from etl_local.asl import RealClock, TaskContext
from etl_local.asl.clock import format_timestamp
from etl_local.asl.history import to_json

from .conftest import machine, task


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("value", [
    {"a": 1.5, "b": [1, None, True, False, "é\"\n\u2028"], "c": {}, "d": []}, "text", "", 0, -7, 10**30, 1e16,
    2.5, float("nan"), float("inf"), None, True, [], {1: "int key"}, {"nested": {"deep": [{"x": "ü"}]}},
])
def test_to_json_writes_what_json_dumps_writes(value: Any) -> None:
    assert to_json(value) == compact(value)


def test_to_json_reports_cycles_and_foreign_objects_as_json_dumps_does() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        to_json(cycle)
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        to_json({"x": object()})


def state_texts(result: Any) -> list[tuple[str, str, str]]:
    """(type, name, input or output text) of every state event."""
    texts = []
    for event in result.history:
        for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
            if key in event:
                details = event[key]
                texts.append((event["type"], details["name"], details.get("input", details.get("output"))))
    return texts


PUT = ("Put", {"Type": "Pass", "Result": {"k": "ü"}, "ResultPath": "$.r"})


@pytest.mark.parametrize("value, expected", [
    ({}, {"r": {"k": "ü"}}),
    ({"a": 1}, {"a": 1, "r": {"k": "ü"}}),
    ({"r": 0, "a": 1}, {"r": {"k": "ü"}, "a": 1}),  # an existing member keeps its place
    ({"a": {"b": [1, 2.5]}, "s": "x\"y"}, {"a": {"b": [1, 2.5]}, "s": "x\"y", "r": {"k": "ü"}}),
])
@pytest.mark.parametrize("before", [(), (("Same", {"Type": "Pass"}),), (("Copy", {"Type": "Pass", "Parameters": {"v.$": "$"},
                                                                                  "OutputPath": "$.v"}),)])
def test_result_path_member_text_is_the_output_serialised(run, value: Any, expected: Any, before: tuple) -> None:
    result = run(machine(*before, PUT, ("After", {"Type": "Pass"})), value)
    assert result.output == expected
    texts = state_texts(result)
    assert ("PassStateExited", "Put", compact(expected)) in texts
    assert ("PassStateEntered", "After", compact(expected)) in texts
    assert all(text == compact(json.loads(text)) for _, _, text in texts)


def test_result_path_onto_a_non_object_fails_as_before(run) -> None:
    result = run(machine(("Put", {"Type": "Pass", "Result": 1, "ResultPath": "$.r"})), [1, 2])
    assert (result.status, result.error) == ("FAILED", "States.ResultPathMatchFailure")
    assert result.cause == "Unable to apply ReferencePath $.r to input [1,2]"


def test_fast_path_reads_keep_null_values_and_the_missing_path_errors(run) -> None:
    found = run(machine(("Read", {"Type": "Pass", "Parameters": {"v.$": "$.a.b", "w.$": "$.n"}, "OutputPath": "$.v"})),
                {"a": {"b": None}, "n": None})
    assert (found.status, found.output) == ("SUCCEEDED", None)
    missing = run(machine(("Read", {"Type": "Pass", "Parameters": {"v.$": "$.a.c"}})), {"a": {"b": 1}})
    assert (missing.status, missing.error) == ("FAILED", "States.Runtime")
    assert "The JSONPath '$.a.c' specified for the field 'v.$' could not be found in the input" in missing.cause
    not_object = run(machine(("Read", {"Type": "Pass", "OutputPath": "$.a.b"})), {"a": 3})
    assert (not_object.status, not_object.error) == ("FAILED", "States.Runtime")
    assert "Invalid path '$.a.b'" in not_object.cause


def test_real_clock_stamps_are_aws_timestamps_of_now() -> None:
    clock = RealClock()
    before = clock.now() - timedelta(milliseconds=1)
    stamp = clock.stamp()
    after = clock.now() + timedelta(milliseconds=1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert format_timestamp(before) <= stamp <= format_timestamp(after)


def test_events_of_branches_in_threads_get_unique_consecutive_ids(run) -> None:
    entered = threading.Barrier(4, timeout=10)

    def meet(event: Any, ctx: TaskContext) -> Any:
        entered.wait()  # the four iterations are inside their task at the same time
        return event

    run.functions["meet"] = meet
    definition = machine(("Fan", {"Type": "Map", "MaxConcurrency": 4, "ItemProcessor": {
        "StartAt": "Meet", "States": {"Meet": {**task("meet"), "Next": "Done"},
                                      "Done": {"Type": "Pass", "End": True}}}}))
    result = run(definition, [{"i": index} for index in range(8)], clock=RealClock())
    assert result.status == "SUCCEEDED" and result.output == [{"i": index} for index in range(8)]
    assert [event["id"] for event in result.history] == list(range(1, len(result.history) + 1))
    assert all(event["previousEventId"] < event["id"] for event in result.history)
