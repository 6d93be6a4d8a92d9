"""Pass, Fail, Choice, Succeed basics in both query languages: results, paths (array access,
wildcards and slices over missing data, filters), the context object, Output in JSONata, mixing
JSONPath and JSONata states.

Our own definitions of what localstack's base, context_object, outputdecl and query_language
tests ran on AWS; expected results come from the recordings (build_corpus.py).
"""
from __future__ import annotations

from typing import Any

BASE = "base/test_base.snapshot.json::TestSnfBase::"
CONTEXT = "context_object/test_context_object.snapshot.json::TestSnfBase::"
OUTPUT = "outputdecl/test_output.snapshot.json::TestArgumentsBase::"
LANGUAGE = "query_language/test_base_query_language.snapshot.json::TestBaseQueryLanguage::"
MIXED = "query_language/test_mixed_query_language.snapshot.json::TestMixedQueryLanguageFlow::"


def single(name: str, state: dict[str, Any], **top: Any) -> dict[str, Any]:
    body = dict(state)
    if body["Type"] not in ("Fail", "Succeed", "Choice"):
        body["End"] = True
    return {**top, "StartAt": name, "States": {name: body}}


def array_access(path: str) -> dict[str, Any]:
    return single("EntryState", {"Type": "Pass", "Parameters": {"item.$": path}})


def context_in(field: str, literal: str) -> dict[str, Any]:
    return single("TestState", {"Type": "Pass", field: literal})


JSONATA = {"QueryLanguage": "JSONata"}
CASES: list[dict[str, Any]] = [
    {"id": "base_fail", "category": "fail", "source": BASE + "test_state_fail", "definition": single("FailState", {
        "Type": "Fail", "Error": "SomeFailure", "Cause": "This state machines raises a 'SomeFailure' failure."})},
    {"id": "base_fail_paths", "category": "fail", "source": BASE + "test_state_fail_path", "definition": single(
        "FailState", {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"})},
    {"id": "base_fail_intrinsic_paths", "category": "fail", "source": BASE + "test_state_fail_intrinsic",
     "definition": single("FailState", {"Type": "Fail", "ErrorPath": "States.Format('{}', $.Error)",
                                        "CausePath": "States.Format('This is a custom error message for {}, "
                                                     "caused by {}.', $.Error, $.Cause)"})},
    {"id": "base_pass_result", "category": "pass", "source": BASE + "test_state_pass_result",
     "definition": single("State_1", {"Type": "Pass", "Result": {"Arg1": "argument1"}})},
    {"id": "base_pass_result_dollar_keys_literal", "category": "pass", "source": BASE + "test_state_pass_result_jsonpaths",
     "definition": single("State_1", {"Type": "Pass", "Result": {"unsupported1.$": "$.jsonpath", "unsupported2.$": "$$"}})},
    {"id": "base_decl_version_1_0", "category": "pass", "source": BASE + "test_decl_version_1_0",
     "definition": {"StartAt": "State_1", "Version": "1.0", "States": {"State_1": {"Type": "Pass", "End": True}}}},
    {"id": "base_null_input_output_paths", "category": "jsonpath_io",
     "source": BASE + "test_state_pass_result_null_input_output_paths", "definition": {"StartAt": "State0", "States": {
         "State0": {"Type": "Pass", "Parameters": {"Arg1": "argument1", "FromInput.$": "$"}, "Next": "State1"},
         "State1": {"Type": "Pass", "InputPath": None, "Parameters": {"Arg2": "argument2", "FromInput.$": "$"},
                    "Next": "State2"},
         "State2": {"Type": "Pass", "OutputPath": None, "End": True}}}},
    {"id": "base_filter_path", "category": "jsonpath_io", "source": BASE + "test_state_pass_regex_json_path_base",
     "definition": single("State0", {"Type": "Pass", "Parameters": {"FromInput.$": "$.users[?(@.status == 0)]"}})},
    {"id": "base_query_context_object", "category": "context", "source": BASE + "test_query_context_object_values",
     "placeholders": {"date": "<date>", "start-time": "<start-time>", "entered-time": "<entered-time>"},
     "definition": {"StartAt": "QueryValues1", "States": {
         "QueryValues1": {"Type": "Pass", "Next": "QueryValues2", "ResultPath": "$.query_values_1", "Parameters": {
             "context_object.$": "$$", "execution.$": "$$.Execution", "execution_id.$": "$$.Execution.Id",
             "execution_input.$": "$$.Execution.Input", "execution_name.$": "$$.Execution.Name",
             "execution_rolearn.$": "$$.Execution.RoleArn", "execution_starttime.$": "$$.Execution.StartTime",
             "state.$": "$$.State", "state_enteredtime.$": "$$.State.EnteredTime", "state_name.$": "$$.State.Name",
             "statemachine.$": "$$.StateMachine", "statemachine_id.$": "$$.StateMachine.Id",
             "statemachine_name.$": "$$.StateMachine.Name"}},
         "QueryValues2": {"Type": "Pass", "End": True, "ResultPath": "$.query_values_2",
                          "Parameters": {"context_object.$": "$$"}}}}},
]
for path in ("$.items[0]", "$.items[10]"):
    CASES.append({"id": f"path_array_access_{path[8:-1]}", "category": "jsonpath_io",
                  "source": BASE + f"test_json_path_array_access[{path}]", "definition": array_access(path)})
for path in ("$[*]", "$.items[*]", "$.items[1:]", "$.items[:1]", "$.item.items[*]", "$.item.items[1:]",
             "$.item.items[:1]", "$.item.items[1:5]", "$.items[*].itemValue", "$.items[1:].itemValue",
             "$.items[:1].itemValue", "$.item.items[1:5].itemValue"):
    slug = path.replace("$", "root").replace("[", "_").replace("]", "").replace(":", "to").replace("*", "all")
    CASES.append({"id": f"path_no_input_{slug.replace('.', '_')}", "category": "jsonpath_io",
                  "source": BASE + f"test_json_path_array_wildcard_or_slice_with_no_input[{path}]",
                  "definition": array_access(path)})
for literal in ("$$", "$$.Execution.Input"):
    CASES.append({"id": f"context_input_path_{literal.strip('$.').replace('.', '_') or 'root'}", "category": "context",
                  "source": CONTEXT + f"test_input_path[{literal}]", "placeholders": {"date": "<date>"},
                  "definition": context_in("InputPath", literal)})
    CASES.append({"id": f"context_output_path_{literal.strip('$.').replace('.', '_') or 'root'}", "category": "context",
                  "source": CONTEXT + f"test_output_path[{literal}]", "placeholders": {"date": "<date>"},
                  "definition": context_in("OutputPath", literal)})
CASES += [
    {"id": "context_choice_variable", "category": "context", "source": CONTEXT + "test_variable",
     "definition": {"StartAt": "TestState", "States": {
         "TestState": {"Type": "Choice", "Default": "QuitNoChoiceMatched", "Choices": [
             {"Variable": "$$.Execution.Input.input-value", "NumericLessThanEquals": 0, "Next": "QuitChoiceMatched"}]},
         "QuitChoiceMatched": {"Type": "Pass", "End": True}, "QuitNoChoiceMatched": {"Type": "Pass", "End": True}}}},
    {"id": "context_fail_error_cause_paths", "category": "context", "source": CONTEXT + "test_error_cause_path",
     "placeholders": {"<ArnPart_0idx>": "<state_machine_name>"},
     "definition": single("StartState", {"Type": "Fail", "ErrorPath": "$$.State.Name",
                                         "CausePath": "$$.StateMachine.Name"})},
    {"id": "output_jsonata_empty", "category": "jsonata", "source": OUTPUT + "test_base_cases[BASE_EMPTY]",
     "definition": single("State0", {"QueryLanguage": "JSONata", "Type": "Pass", "Output": {}})},
    {"id": "output_jsonata_direct_expression", "category": "jsonata", "source": OUTPUT + "test_base_cases[BASE_DIRECT_EXPR]",
     "definition": {"StartAt": "Init", "States": {
         "Init": {"Type": "Pass", "Assign": {"var_constant_1": 1}, "Next": "State0"},
         "State0": {"QueryLanguage": "JSONata", "Type": "Pass", "End": True,
                    "Output": "{% $sum($states.input.input_values) + $var_constant_1 %}"}}}},
    {"id": "output_jsonata_expressions", "category": "jsonata", "source": OUTPUT + "test_base_cases[BASE_EXPR]",
     "placeholders": {"date": "<date>"},
     "definition": {"StartAt": "Init", "States": {
         "Init": {"Type": "Pass", "Assign": {"var_input_value.$": "$.input_value", "var_constant_1": 1},
                  "Next": "State0"},
         "State0": {"QueryLanguage": "JSONata", "Type": "Pass", "End": True, "Output": {
             "ja_states_context": "{% $states.context %}", "ja_states_input": "{% $states.input %}",
             "ja_var_access": "{% $var_input_value %}",
             "ja_expr": "{% $sum($states.input.input_values) + $var_constant_1 %}"}}}}},
    {"id": "language_jsonpath_field", "category": "pass", "source": LANGUAGE + "test_base_query_language_field[JSON_PATH]",
     "definition": single("StartState", {"Type": "Pass"}, QueryLanguage="JSONPath")},
    {"id": "language_jsonata_field", "category": "jsonata", "source": LANGUAGE + "test_base_query_language_field[JSONATA]",
     "definition": single("StartState", {"Type": "Pass"}, QueryLanguage="JSONata")},
    {"id": "language_jsonata_override", "category": "jsonata",
     "source": LANGUAGE + "test_query_language_field_override[JSONATA_OVERRIDE]",
     "definition": single("StartState", {"QueryLanguage": "JSONata", "Type": "Pass"}, QueryLanguage="JSONPath")},
    {"id": "language_jsonata_override_default", "category": "jsonata",
     "source": LANGUAGE + "test_query_language_field_override[JSONATA_OVERRIDE_DEFAULT]",
     "definition": single("StartState", {"QueryLanguage": "JSONata", "Type": "Pass"})},
    {"id": "mixed_jsonpath_assign_then_jsonpath_ref", "category": "variables_jsonpath",
     "source": MIXED + "test_variable_sampling[JSONATA_ASSIGN_JSONPATH_REF]", "definition": {
         "StartAt": "JSONataState", "States": {
             "JSONataState": {"QueryLanguage": "JSONPath", "Type": "Pass", "Assign": {"theAnswerVar": 42},
                              "Next": "JSONPathState"},
             "JSONPathState": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": True,
                               "Assign": {"theAnswerVar": 18, "oldAnswerVar.$": "$theAnswerVar"}}}}},
    {"id": "mixed_jsonpath_assign_jsonata_ref", "category": "variables_jsonata",
     "source": MIXED + "test_variable_sampling[JSONPATH_ASSIGN_JSONATA_REF]", "definition": {
         "StartAt": "JSONPathState", "States": {
             "JSONPathState": {"QueryLanguage": "JSONPath", "Type": "Pass", "Assign": {"theAnswer": 42},
                               "Next": "JSONataState"},
             "JSONataState": {"QueryLanguage": "JSONata", "Type": "Pass", "End": True,
                              "Assign": {"theAnswer": 18, "oldAnswer": "{% $theAnswer %}"}}}}},
    {"id": "mixed_jsonata_output_to_jsonpath", "category": "jsonata",
     "source": MIXED + "test_output_to_state[JSONATA_OUTPUT_TO_JSONPATH]", "definition": {
         "StartAt": "JSONataState", "States": {
             "JSONataState": {"QueryLanguage": "JSONata", "Type": "Pass", "Next": "JSONPathState",
                              "Output": {"foo": "foobar", "bar": "{% $states.input %}"}},
             "JSONPathState": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": True}}}},
    {"id": "mixed_jsonpath_output_to_jsonata", "category": "jsonata",
     "source": MIXED + "test_output_to_state[JSONPATH_OUTPUT_TO_JSONATA]", "definition": {
         "StartAt": "JSONataState", "States": {
             "JSONataState": {"QueryLanguage": "JSONPath", "Type": "Pass", "Next": "JSONPathState",
                              "Parameters": {"foo": "foobar", "bar.$": "$"}},
             "JSONPathState": {"QueryLanguage": "JSONata", "Type": "Pass", "End": True}}}},
]
NON_OBJECTS = {"NULL": None, "INT": 0, "FLOAT": 0.1, "BOOL": True, "STR_LIT": "string literal",
               "JSONATA_EXPR": "{% $states.input %}", "LIST_EMPY": [],
               "LIST_RICH": [None, 0, 0.1, True, "string", [], "$nosuchvar", "$.no.such.path", "{% $states.input %}",
                             {"key": "{% true %}"}]}
for label, value in NON_OBJECTS.items():
    CASES.append({"id": f"output_jsonata_non_object_{label.lower()}", "category": "jsonata",
                  "source": OUTPUT + f"test_base_output_any_non_dict[{label}]",
                  "definition": single("State0", {"QueryLanguage": "JSONata", "Type": "Pass", "Output": value})})
