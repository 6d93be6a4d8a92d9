"""JSONata fields: whole-string expressions, undefined results, AWS's added functions (#13, #20)."""
from __future__ import annotations

import pytest

from etl_local.asl.errors import StatesError
from etl_local.asl.jsonata_eval import (
    evaluate_jsonata_template,
    evaluate_jsonata_typed,
    is_jsonata_expression,
    jsonata_condition,
    jsonata_syntax_error,
)

BINDINGS = {
    "states": {"input": {"n": None, "list": [None, 1], "one": [1], "flag": True, "x": 2.0},
               "context": {"State": {"Name": "S"}}, "result": {"r": 1}},
    "year": 2006, "make": "Infiniti",
}


def evaluate(template: object, field: str = "Output") -> object:
    return evaluate_jsonata_template(template, BINDINGS, field=field)


def query_error(template: object, **kwargs: object) -> str:
    with pytest.raises(StatesError) as raised:
        evaluate_jsonata_template(template, BINDINGS, field="Output", **kwargs)
    assert raised.value.error == "States.QueryEvaluationError"
    return raised.value.cause


def test_only_whole_expression_strings_are_evaluated() -> None:
    template = {"a": "{% $year & ' ' & $make %}", "b": " {% 1 %}", "c": "{% 1 %} ", "d": ["{%2%}", 3, None]}
    assert evaluate(template) == {"a": "2006 Infiniti", "b": " {% 1 %}", "c": "{% 1 %} ", "d": [2, 3, None]}


def test_states_bindings_and_nulls_survive() -> None:
    assert evaluate("{% $states.input %}") == BINDINGS["states"]["input"]
    assert evaluate("{% $states.input.n %}") is None
    assert evaluate("{% $states.input.list %}") == [None, 1]
    assert evaluate("{% $states.result.r + 1 %}") == 2
    assert evaluate("{% $states.context.State.Name %}") == "S"


def test_numbers_keep_their_kind() -> None:
    assert evaluate("{% 1 + 2 %}") == 3 and type(evaluate("{% 1 + 2 %}")) is int
    assert evaluate("{% 10 / 4 %}") == 2.5


def test_undefined_result_names_the_field_path() -> None:
    assert query_error({"result": "{% $doesNotExist %}"}) == \
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    assert query_error("{% $doesNotExist %}", state_name="State0", entered_event_id=2) == (
        "An error occurred while executing the state 'State0' (entered at the event id #2). The JSONata expression "
        "'$doesNotExist' specified for the field 'Output' returned nothing (undefined).")


def test_evaluation_and_syntax_errors_are_query_evaluation_errors() -> None:
    assert "T2002" in query_error("{% 1 + 'a' %}")
    assert "Output" in query_error("{% 1 + %}")


def test_step_functions_functions() -> None:
    assert evaluate("{% $range(1, 9, 9) %}") == 1
    assert evaluate("{% $range(1, 9, 2) %}") == [1, 3, 5, 7, 9]
    assert evaluate("{% $partition([1, 2, 3], 2) %}") == [[1, 2], [3]]
    assert evaluate("{% $hash('input data', 'SHA-1') %}") == "aaff4a450a104cd177d28d18d74485e8cae074b7"
    assert evaluate("{% $parse('{\"a\": [1]}') %}") == {"a": [1]}
    assert 0 <= evaluate("{% $random() %}") < 1
    assert evaluate("{% $random(3) %}") == evaluate("{% $random(3) %}")
    assert len(evaluate("{% $uuid() %}")) == 36


def test_typed_evaluation_reports_aws_wording() -> None:
    with pytest.raises(StatesError) as raised:
        evaluate_jsonata_typed("{% 1 %}", BINDINGS, field="Items", expected="array",
                               state_name="MapIterateState", entered_event_id=2)
    assert raised.value.cause == (
        "An error occurred while executing the state 'MapIterateState' (entered at the event id #2). The JSONata "
        "expression '1' specified for the field 'Items' returned an unexpected result type. Expected 'array', "
        "but was 'number' for value: 1")
    assert evaluate_jsonata_typed("{% 3 %}", BINDINGS, field="Seconds", expected="integer") == 3


def test_condition_must_be_boolean() -> None:
    assert jsonata_condition("{% $states.input.flag %}", BINDINGS, field="Condition") is True
    with pytest.raises(StatesError):
        jsonata_condition("{% 1 %}", BINDINGS, field="Condition")


def test_expression_detection_and_syntax_check() -> None:
    assert is_jsonata_expression("{% x %}") and not is_jsonata_expression(" {% x %}")
    assert jsonata_syntax_error("1 +") is not None and jsonata_syntax_error("$x + 1") is None


def test_lookups_through_arrays_keep_jsonata_semantics() -> None:
    bindings = {"states": {"input": {"many": [{"x": 1}, {"x": 2}], "single": [{"x": 1}], "s": "text"}}}
    assert evaluate_jsonata_template("{% $states.input.many.x %}", bindings, field="Output") == [1, 2]
    assert evaluate_jsonata_template("{% $states.input.single.x %}", bindings, field="Output") == 1
    with pytest.raises(StatesError):
        evaluate_jsonata_template("{% $states.input.s.x %}", bindings, field="Output")
    with pytest.raises(StatesError):
        evaluate_jsonata_template("{% $states.input.missing %}", bindings, field="Output")
