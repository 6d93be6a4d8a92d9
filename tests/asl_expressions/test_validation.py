"""Definition validation: structure, transitions, per-language fields, paths and intrinsics."""
from __future__ import annotations

import copy

import pytest

from etl_local.asl.validation import validate_definition

VALID = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Parameters": {"x.$": "$.x", "f.$": "States.Format('{}', $.y)"}, "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": "$.r",
              "Retry": [{"ErrorEquals": ["Custom"]}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "F"}], "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.r", "IsPresent": True, "Next": "P"}], "Default": "W"},
        "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}], "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "End": True}}}, "End": True},
        "F": {"Type": "Fail", "Error": "E", "CausePath": "$.cause"},
    },
}


def problems_after(change) -> list[str]:
    definition = copy.deepcopy(VALID)
    change(definition)
    return validate_definition(definition)


def test_valid_definition_has_no_problems() -> None:
    assert validate_definition(VALID) == []


def test_jsonata_definition_is_valid() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"v": "{% $states.input.a %}"}, "Assign": {"x": "{% 1 %}"}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $x = 1 %}", "Next": "D", "Output": "{% 2 %}"}],
              "Default": "D"},
        "D": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"Payload": "{% $x %}"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "E"}],
              "End": True},
        "E": {"Type": "Fail", "Error": "{% 'E' %}"},
    }}
    assert validate_definition(definition) == []


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda d: d.update(StartAt="Nope"), "MISSING_TRANSITION_TARGET: Missing 'StartAt' target: Nope at /StartAt"),
    (lambda d: d["States"]["A"].update(Next="Nope"), "Missing 'Next' target: Nope at /States/A/Next"),
    (lambda d: d["States"]["C"].update(Default="Nope"), "Missing 'Default' target: Nope at /States/C/Default"),
    (lambda d: d["States"]["T"]["Catch"][0].update(Next="Nope"), "at /States/T/Catch[0]/Next"),
    (lambda d: d["States"]["A"].update(End=True), "exactly one of 'Next' or 'End'"),
    (lambda d: d["States"]["A"].pop("Next"), "exactly one of 'Next' or 'End'"),
    (lambda d: d["States"].update(Lonely={"Type": "Succeed"}), "UNREACHABLE_STATE: State 'Lonely' is not reachable"),
    (lambda d: d["States"]["A"].update(Type="Teleport"), "The field 'Type' should have one of these values: [Task, "),
    (lambda d: d["States"]["T"].pop("Resource"), "The field 'Resource' is required"),
    (lambda d: d["States"]["A"].update(Colour="red"), "The field 'Colour' is not supported by Step Functions"),
    (lambda d: d["States"]["A"].update(Output="x"), "only supported for the JSONata query language at /States/A/Output"),
    (lambda d: d["States"]["T"]["Retry"].reverse(), "'States.ALL' must appear alone in the last entry of 'Retry'"),
    (lambda d: d["States"]["T"]["Catch"][0].update(ErrorEquals=["States.ALL", "X"]), "'States.ALL' must appear alone"),
    (lambda d: d["States"]["A"]["Parameters"].update({"bad.$": "States.Format('\\\"')"}),
     "The value for the field 'bad.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Parameters"),
    (lambda d: d["States"]["A"]["Parameters"].update({"bad.$": "$..["}), "field 'bad.$'"),
    (lambda d: d["States"]["T"].update(ResultPath="$.a[*]"), "must be a valid ReferencePath"),
    (lambda d: d["States"]["T"].update(ResultPath="$$.a"), "must start with '$'"),
    (lambda d: d["States"]["A"].update(InputPath="x"), "The value for the field 'InputPath' must be a valid JSONPath"),
    (lambda d: d["States"]["W"].update(Seconds=1), "exactly one of Seconds"),
    (lambda d: d["States"]["F"].update(Cause="c"), "'Cause' and 'CausePath' are mutually exclusive"),
    (lambda d: d["States"]["C"]["Choices"][0].update(NumericEquals=1), "exactly one comparison operator"),
    (lambda d: d["States"]["C"]["Choices"].append({"Variable": "$.a", "NumericEquals": "1", "Next": "P"}),
     "The value for 'NumericEquals' must be a number"),
    (lambda d: d["States"]["C"]["Choices"].append({"Not": {"Variable": "$.a", "IsNull": True, "Next": "P"},
                                                   "Next": "P"}), "Nested choice rules can not have 'Next'"),
    (lambda d: d["States"]["C"].update(Next="P"), "The field 'Next' is not supported"),
    (lambda d: d["States"]["P"]["Branches"][0]["States"]["B"].update(Type="Pass"),
     "at /States/P/Branches[0]/States/B"),
    (lambda d: d["States"]["M"]["ItemProcessor"].update(StartAt="Z"), "at /States/M/ItemProcessor/StartAt"),
    (lambda d: d["States"]["M"].update(Iterator={}), "The field 'ItemProcessor' is required"),
])
def test_problems_name_the_state_and_field(change, fragment: str) -> None:
    problems = problems_after(change)
    assert any(fragment in problem for problem in problems), problems


def test_jsonata_state_rejects_jsonpath_fields_and_bad_expressions() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"a": 1}, "Output": "{% 1 + %}", "End": True}}}
    problems = validate_definition(definition)
    assert any("'Parameters' is not supported for the JSONata query language" in p for p in problems)
    assert any("The JSONata expression '1 +' is not valid" in p and "/States/P/Output" in p for p in problems)


def test_state_may_opt_into_jsonata_but_not_out_of_it() -> None:
    upgrade = {"StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONata",
                                                "Output": "{% 1 %}", "End": True}}}
    assert validate_definition(upgrade) == []
    downgrade = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}}
    assert validate_definition(downgrade) == [
        "SCHEMA_VALIDATION_FAILED: 'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state "
        "machine at /States/P"]


@pytest.mark.parametrize("definition", [None, {}, {"StartAt": "A"}, {"StartAt": "A", "States": {}}])
def test_malformed_definitions(definition: object) -> None:
    assert validate_definition(definition)
