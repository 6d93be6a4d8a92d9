"""Choice in both query languages: AWS's documentation scenario, a single-rule And, rules in
any key order, JSONata Conditions (expressions and a constant), Default into Fail.

Our own definitions of what localstack's test_base_scenarios ran on AWS; expected results come
from the recordings (build_corpus.py)."""
from __future__ import annotations

from typing import Any

SCENARIOS = "scenarios/test_base_scenarios.snapshot.json::TestBaseScenarios::"
PASS = {"Type": "Pass", "End": True}
NO_MATCH = {"Type": "Fail", "Cause": "No Matches!"}


def choice(name: str, choices: list[dict[str, Any]], ends: dict[str, Any], jsonata: bool = False,
           default: str | None = "DefaultState") -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Choice", "Choices": choices}
    if jsonata:
        state["QueryLanguage"] = "JSONata"
    if default:
        state["Default"] = default
    return {"StartAt": name, "States": {name: state, **ends}}


DOCS_ENDS = {"Public": PASS, "ValueIsZero": PASS, "ValueInTwenties": PASS, "DefaultState": NO_MATCH}
DOCS = choice("ChoiceStateX", [
    {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
    {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
    {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20}, {"Variable": "$.value", "NumericLessThan": 30}],
     "Next": "ValueInTwenties"}], DOCS_ENDS)
DOCS_JSONATA = choice("ChoiceStateX", [
    {"Condition": "{% $not($states.input.type = 'Private') %}", "Next": "Public"},
    {"Condition": "{% $states.input.value = 0 %}", "Next": "ValueIsZero"},
    {"Condition": "{% $states.input.value >= 20 and $states.input.value < 30 %}", "Next": "ValueInTwenties"}],
    DOCS_ENDS, jsonata=True)
SINGLETON = choice("ChoiceStateX", [{"And": [{"Variable": "$.type", "StringEquals": "Public"}], "Next": "Public"}],
                   {"Public": PASS, "DefaultState": NO_MATCH})
SINGLETON_JSONATA = choice("ChoiceState", [{"Condition": "{% $states.input.type = 'Public' %}", "Next": "Public"}],
                           {"Public": PASS, "DefaultState": NO_MATCH}, jsonata=True)
SINGLETON_LITERAL = {"QueryLanguage": "JSONata", "StartAt": "Pass", "States": {
    "Pass": {"Type": "Pass", "Output": {"str_value": "string literal"}, "Next": "Choice"},
    "Choice": {"Type": "Choice", "Default": "Fail", "Choices": [
        {"Next": "Success", "Condition": "{% $states.input.str_value = \"string literal\" %}"}]},
    "Success": {"Type": "Succeed"}, "Fail": {"Type": "Fail"}}}
FINISH = {"FinishTrue": {"End": True, "Type": "Pass"}, "FinishFalse": {"End": True, "Type": "Pass"}}
UNSORTED = choice("CheckResult", [
    {"BooleanEquals": True, "Next": "FinishTrue", "Variable": "$.result.done"},
    {"BooleanEquals": False, "Next": "FinishFalse", "Variable": "$.result.done"}], FINISH, default=None)
UNSORTED_JSONATA = choice("CheckResult", [
    {"Condition": "{% $states.input.result.done %}", "Next": "FinishTrue"},
    {"Condition": "{% $not($states.input.result.done) %}", "Next": "FinishFalse"}], FINISH, jsonata=True, default=None)
CONSTANT = choice("ChoiceState", [{"Condition": True, "Next": "ConditionTrue"}],
                  {"ConditionTrue": PASS, "DefaultState": {"Type": "Fail", "Cause": "Condition is false"}}, jsonata=True)

CASES = [{"id": f"choice_{name}", "category": "choice", "source": SCENARIOS + test, "definition": definition}
         for name, test, definition in [
             ("aws_docs_scenario", "test_choice_aws_docs_scenario[CHOICE_STATE_AWS_SCENARIO]", DOCS),
             ("aws_docs_scenario_jsonata", "test_choice_aws_docs_scenario[CHOICE_STATE_AWS_SCENARIO_JSONATA]",
              DOCS_JSONATA),
             ("singleton_and", "test_choice_singleton_composite[CHOICE_STATE_SINGLETON_COMPOSITE]", SINGLETON),
             ("singleton_jsonata", "test_choice_singleton_composite[CHOICE_STATE_SINGLETON_COMPOSITE_JSONATA]",
              SINGLETON_JSONATA),
             ("singleton_literal_jsonata",
              "test_choice_singleton_composite[CHOICE_STATE_SINGLETON_COMPOSITE_LITERAL_JSONATA]", SINGLETON_LITERAL),
             ("unsorted_fields_true", "test_choice_unsorted_parameters_positive[CHOICE_STATE_UNSORTED_CHOICE_PARAMETERS]",
              UNSORTED),
             ("unsorted_fields_true_jsonata",
              "test_choice_unsorted_parameters_positive[CHOICE_STATE_UNSORTED_CHOICE_PARAMETERS_JSONATA]",
              UNSORTED_JSONATA),
             ("unsorted_fields_false",
              "test_choice_unsorted_parameters_negative[CHOICE_STATE_UNSORTED_CHOICE_PARAMETERS]", UNSORTED),
             ("unsorted_fields_false_jsonata",
              "test_choice_unsorted_parameters_negative[CHOICE_STATE_UNSORTED_CHOICE_PARAMETERS_JSONATA]",
              UNSORTED_JSONATA),
             ("condition_constant_jsonata", "test_choice_condition_constant_jsonata", CONSTANT)]]
