"""Payload templates (Parameters, ResultSelector, ItemSelector, Assign): AWS_BEHAVIOURS #1-2, #18-19."""
from __future__ import annotations

import pytest

from etl_local.asl.errors import StatesError
from etl_local.asl.payload import copy_json, render_template


def render(template: object, data: object, variables: dict | None = None) -> object:
    return render_template(template, data, {"State": {"Name": "S"}}, variables or {},
                           state_name="S", entered_event_id=2)


def test_dollar_keys_are_evaluated_and_lose_the_suffix_recursively() -> None:
    template = {
        "literal": "$.not_evaluated",
        "path.$": "$.x",
        "ctx.$": "$$.State.Name",
        "var.$": "$v",
        "call.$": "States.Format('{}-{}', $.x, $v)",
        "nested": {"deep.$": "$.x", "list": [{"in_list.$": "$.x"}, "$.y", 3]},
    }
    assert render(template, {"x": 1}, {"v": "w"}) == {
        "literal": "$.not_evaluated",
        "path": 1,
        "ctx": "S",
        "var": "w",
        "call": "1-w",
        "nested": {"deep": 1, "list": [{"in_list": 1}, "$.y", 3]},
    }


def test_literal_parts_are_fresh_copies() -> None:
    template = {"fixed": {"list": [1, 2]}, "x.$": "$"}
    first = render(template, 1)
    first["fixed"]["list"].append(3)
    assert render(template, 1)["fixed"] == {"list": [1, 2]}
    assert template == {"fixed": {"list": [1, 2]}, "x.$": "$"}


def test_missing_path_is_states_runtime_with_aws_cause() -> None:
    with pytest.raises(StatesError) as raised:
        render_template({"value.$": "$.no_such_jsonpath"}, {"int-literal": 0}, {}, {},
                        state_name="pass", entered_event_id=2)
    assert raised.value.error == "States.Runtime"
    assert raised.value.cause == (
        "An error occurred while executing the state 'pass' (entered at the event id #2). The JSONPath "
        "'$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input "
        "'{\"int-literal\":0}'")


def test_missing_path_inside_an_intrinsic_names_that_path() -> None:
    with pytest.raises(StatesError) as raised:
        render({"m.$": "States.Format('{}', $.gone)"}, {})
    assert raised.value.error == "States.Runtime"
    assert "The JSONPath '$.gone' specified for the field 'm.$'" in raised.value.cause


def test_intrinsic_failure_keeps_its_error_with_the_state_prefix() -> None:
    with pytest.raises(StatesError) as raised:
        render({"n.$": "States.MathAdd($.a, 1)"}, {"a": "x"})
    assert raised.value.error == "States.IntrinsicFailure"
    assert raised.value.cause.startswith("An error occurred while executing the state 'S' (entered at the event id #2). ")


def test_wildcard_over_missing_data_renders_empty_list() -> None:
    assert render({"a.$": "$.items[*]"}, {}) == {"a": []}


def test_copy_json_is_deep() -> None:
    value = {"a": [{"b": 1}]}
    copied = copy_json(value)
    assert copied == value and copied["a"][0] is not value["a"][0]
