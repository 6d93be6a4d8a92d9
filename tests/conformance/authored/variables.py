"""Variables: Assign in every state type, references from paths, scope in Map/Parallel, order
of evaluation, undefined JSONata references.

Our own definitions of what localstack's assign tests ran on AWS; expected results come from
the recordings (build_corpus.py).
"""
from __future__ import annotations

from typing import Any

BASE = "assign/test_assign_base.snapshot.json::TestAssignBase::"
REF = "assign/test_assign_reference_variables.snapshot.json::TestAssignReferenceVariables::"


def pass_(**fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", **fields}


def machine(start: str, states: dict[str, Any], language: str | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"StartAt": start, "States": states}
    if language:
        definition["QueryLanguage"] = language
    return definition


INLINE = {"Mode": "INLINE"}
ASSIGN_IN_CHOICE = machine("CheckInputState", {
    "CheckInputState": {"Type": "Choice", "Default": "FinalState",
                        "Assign": {"status": "INCORRECT", "guess.$": "$.input_value"},
                        "Choices": [
                            {"Variable": "$.input_value", "IsPresent": False, "Assign": {"status": "UNKNOWN"},
                             "Next": "FinalState"},
                            {"Variable": "$.input_value", "NumericEquals": 42, "Assign": {"status": "CORRECT"},
                             "Next": "FinalState"}]},
    "FinalState": pass_(Parameters={"result.$": "$status"}, End=True)})
BRANCH_ASSIGN = {"innerX.$": "$x", "value.$": "$"}

DEFINITIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "var_assign_empty": (BASE + "test_base_cases[BASE_EMPTY]", machine("State0", {"State0": pass_(Assign={}, End=True)})),
    "var_assign_paths": (BASE + "test_base_cases[BASE_PATHS]", machine("State0", {"State0": pass_(End=True, Assign={
        "str_path_root.$": "$", "str_path.$": "$.input_value", "str_contextpath_root.$": "$$",
        "str_contextpath.$": "$$.Execution.Id",
        "str_intrinsic_func.$": "States.Format('Format Func {}', $.input_value)"})})),
    "var_scope_map": (BASE + "test_base_cases[BASE_SCOPE_MAP]", machine("State0", {
        "State0": pass_(Assign={"x": 42, "items": [1, 2, 3]}, Next="State1"),
        "State1": {"Type": "Map", "ItemsPath": "$items", "MaxConcurrency": 1, "Next": "State2",
                   "ItemProcessor": {"ProcessorConfig": INLINE, "StartAt": "Inner", "States": {
                       "Inner": pass_(Assign={"innerX.$": "$x"}, End=True)}}},
        "State2": pass_(Assign={"final.$": "$x"}, End=True)})),
    "var_scope_parallel": (BASE + "test_base_parallel_cases[BASE_SCOPE_PARALLEL]", machine("State0", {
        "State0": pass_(Assign={"x": 42}, Next="State1"),
        "State1": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": name, "States": {name: pass_(Assign=BRANCH_ASSIGN, End=True)}}
            for name in ("Branch1", "Branch21", "Branch31")]}})),
    "var_ref_in_parameters": (REF + "test_reference_assign[BASE_REFERENCE_IN_PARAMETERS]", machine("State0", {
        "State0": pass_(Parameters={"result": "$result"}, Assign={"result": "foobar"}, Next="State1"),
        "State1": pass_(ResultPath="$.result", Parameters={"result.$": "$result"}, End=True)})),
    "var_ref_in_choice_loop": (REF + "test_reference_assign[BASE_REFERENCE_IN_CHOICE]", machine("Setup", {
        "Setup": pass_(Assign={"guess": "the_guess", "answer": "the_answer"}, Next="CheckAnswer"),
        "CheckAnswer": {"Type": "Choice", "Default": "WrongAnswer", "Choices": [
            {"Variable": "$guess", "StringEqualsPath": "$answer", "Next": "CorrectAnswer"}]},
        "CorrectAnswer": pass_(Result={"state": "CORRECT"}, End=True),
        "WrongAnswer": pass_(Assign={"guess.$": "$answer"}, Result={"state": "WRONG"}, Next="CheckAnswer")})),
    "var_ref_in_iterator_outer_scope": (REF + "test_reference_assign[BASE_REFERENCE_IN_ITERATOR_OUTER_SCOPE]", machine(
        "Input", {
            "Input": pass_(Result=[[9, 44, 6], [82, 25, 76], [18, 42, 2]], Assign={"bias": 4.3}, Next="IterateLevels"),
            "IterateLevels": {"Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": {
                "ProcessorConfig": INLINE, "StartAt": "AssignCurrentVector", "States": {
                    "AssignCurrentVector": pass_(Assign={"xCurrent.$": "$[0]", "yCurrent.$": "$[1]",
                                                         "zCurrent.$": "$[2]"}, Next="Calculate"),
                    "Calculate": {"Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": {
                        "ProcessorConfig": INLINE, "StartAt": "Summate", "States": {"Summate": pass_(End=True, Assign={
                            "Sum.$": "States.MathAdd(States.MathAdd(States.MathAdd($yCurrent, $xCurrent), "
                                     "$zCurrent), $bias)"})}}}}}}})),
    "var_ref_in_inputpath": (REF + "test_reference_assign[BASE_REFERENCE_IN_INPUTPATH]", machine("State0", {
        "State0": pass_(Assign={"theAnswer": 42}, Next="State1"),
        "State1": pass_(InputPath="$theAnswer", End=True)})),
    "var_ref_in_outputpath": (REF + "test_reference_assign[BASE_REFERENCE_IN_OUTPUTPATH]", machine("State0", {
        "State0": pass_(Result={"answer": 42}, Assign={"theAnswer.$": "$.answer"}, Next="State1"),
        "State1": pass_(OutputPath="$theAnswer", End=True)})),
    "var_ref_in_wait": (REF + "test_reference_assign[BASE_REFERENCE_IN_WAIT]", machine("Start", {
        "Start": pass_(Assign={"waitTime": 0, "startAt": "2024-11-06T09:42:03Z"}, Next="WaitSecondsState"),
        "WaitSecondsState": {"Type": "Wait", "SecondsPath": "$waitTime", "Next": "WaitUntilState"},
        "WaitUntilState": {"Type": "Wait", "TimestampPath": "$startAt", "End": True}})),
    "var_ref_in_fail": (REF + "test_reference_assign[BASE_REFERENCE_IN_FAIL]", machine("Pass", {
        "Pass": pass_(Assign={"errorVar": "Exception", "causeVar": "An Exception was encountered"}, Next="Fail"),
        "Fail": {"Type": "Fail", "CausePath": "$causeVar", "ErrorPath": "$errorVar"}})),
    "var_assign_from_parameters": (REF + "test_assign_from_value[BASE_ASSIGN_FROM_PARAMETERS]", machine("State0", {
        "State0": pass_(Parameters={"input": "PENDING"}, Assign={"result.$": "$.input"}, Next="State1"),
        "State1": pass_(Assign={"result": "SUCCESS", "originalResult.$": "$.input"}, End=True)})),
    "var_assign_from_result": (REF + "test_assign_from_value[BASE_ASSIGN_FROM_RESULT]", machine("State0", {
        "State0": pass_(Result={"answer": 42}, Assign={"theAnswer.$": "$.answer"}, End=True)})),
    "var_assign_in_choice_state_correct": (REF + "test_assign_in_choice_state[CORRECT]", ASSIGN_IN_CHOICE),
    "var_assign_in_choice_state_incorrect": (REF + "test_assign_in_choice_state[INCORRECT]", ASSIGN_IN_CHOICE),
    "var_assign_in_wait": (REF + "test_assign_in_wait_state", machine("WaitState", {
        "WaitState": {"Type": "Wait", "Seconds": 0, "Assign": {"foo": "oof"}, "End": True}})),
    "var_evaluation_order_pass": (REF + "test_state_assign_evaluation_order[BASE_EVALUATION_ORDER_PASS_STATE]", machine(
        "State0", {
            "State0": pass_(Result={"theQuestion": "What is the answer to life the universe and everything?"},
                            Assign={"question.$": "$.theQuestion", "answer": 42}, Next="State1"),
            "State1": pass_(InputPath="$answer", ResultPath="$.theAnswer", OutputPath="$answer",
                            Assign={"answer": "<omitted>"}, End=True)})),
    "var_undefined_output": (REF + "test_undefined_reference[BASE_UNDEFINED_OUTPUT]", machine("State0", {
        "State0": pass_(Output="{% $doesNotExist %}", End=True)}, "JSONata")),
    "var_undefined_output_field": (REF + "test_undefined_reference[BASE_UNDEFINED_OUTPUT_FIELD]", machine("State0", {
        "State0": pass_(Output={"result": "{% $doesNotExist %}"}, End=True)}, "JSONata")),
    "var_undefined_output_multiple_states": (REF + "test_undefined_reference[BASE_UNDEFINED_OUTPUT_MULTIPLE_STATES]",
                                             machine("State0", {
                                                 "State0": pass_(Next="State1"), "State1": pass_(Next="State2"),
                                                 "State2": pass_(Output={"result": "{% $doesNotExist %}"}, End=True)},
                                                 "JSONata")),
    "var_undefined_assign": (REF + "test_undefined_reference[BASE_UNDEFINED_ASSIGN]", machine("State0", {
        "State0": pass_(Assign={"result": "{% $doesNotExist %}"}, End=True)}, "JSONata")),
}
CASES = [{"id": name, "category": "variables_jsonata" if definition.get("QueryLanguage") else "variables_jsonpath",
          "source": source, "definition": definition, "placeholders": {"date": "<date>", "\"date\"": "\"<date>\""}}
         for name, (source, definition) in DEFINITIONS.items()]

POKEMON_PROCESSOR = {"ProcessorConfig": INLINE, "StartAt": "Pass", "States": {"Pass": pass_(
    Parameters={"Question.$": "$Question", "Answer.$": "$.AnnouncePokemon"}, End=True)}}
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
MAP_REFERENCES: dict[str, dict[str, Any]] = {
    "MAP_STATE_REFERENCE_IN_INTRINSIC_FUNCTION": machine("Start", {
        "Start": pass_(Assign={"AnswerTemplate": "It's {}!", "Question": "Who's that Pokemon?"},
                       Result=["Charizard", "Pikachu", "Squirtle"], Next="MapIterateState"),
        "MapIterateState": {"Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": POKEMON_PROCESSOR,
                            "ItemSelector": {"AnnouncePokemon.$": "States.Format($AnswerTemplate, $$.Map.Item.Value)"}}}),
    "MAP_STATE_REFERENCE_IN_ITEMS_PATH": machine("Start", {
        "Start": pass_(Assign={"Question": "Who's that Pokemon?", "PokemonList": ["Charizard", "Pikachu", "Squirtle"]},
                       Result={"AnswerTemplate": "It's {}!"}, Next="MapIterateState"),
        "MapIterateState": {"Type": "Map", "MaxConcurrency": 1, "ItemsPath": "$PokemonList", "End": True,
                            "ItemProcessor": POKEMON_PROCESSOR,
                            "ItemSelector": {"AnnouncePokemon.$": "States.Format($.AnswerTemplate, $$.Map.Item.Value)"}}}),
    "MAP_STATE_REFERENCE_IN_MAX_CONCURRENCY_PATH": machine("Start", {
        "Start": pass_(Assign={"maxConcurrency": "1"}, Result={"Values": [1, 2, 3]}, Next="MapState"),
        "MapState": {"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrencyPath": "$maxConcurrency", "End": True,
                     "ItemProcessor": {"ProcessorConfig": INLINE, "StartAt": "HandleItem",
                                       "States": {"HandleItem": pass_(End=True)}}}}),
    "MAP_STATE_REFERENCE_IN_ITEM_SELECTOR": machine("Start", {
        "Start": pass_(Assign={"bucket": "test-name"}, Result={"Values": [1, 2, 3]}, Next="MapState"),
        "MapState": {"Type": "Map", "MaxConcurrency": 1, "ItemsPath": "$.Values", "End": True,
                     "ItemSelector": {"value.$": "$$.Map.Item.Value", "bucketName": "$bucket"},
                     "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "MapPass",
                                       "States": {"MapPass": pass_(End=True)}}}}),
    "MAP_STATE_REFERENCE_IN_TOLERATED_FAILURE_PATH": machine("Start", {
        "Start": pass_(Assign={"toleratedFailurePercentage": "1", "toleratedFailureCount": "1"},
                       Result={"Values": [1, 2, 3]}, Next="MapState"),
        "MapState": {"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrency": 1, "End": True,
                     "ToleratedFailurePercentagePath": "$toleratedFailurePercentage",
                     "ToleratedFailureCountPath": "$toleratedFailureCount",
                     "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "HandleItem",
                                       "States": {"HandleItem": pass_(End=True)}}}}),
}
CASES += [{"id": f"var_{label.lower()}", "category": "variables_jsonpath", "definition": definition,
           "source": REF + f"test_reference_in_map_state[{label}]"} for label, definition in MAP_REFERENCES.items()]

ALL_INTRINSICS_INPUT = {
    "inputArray": [1, 2, 3, 4, 5, 6], "duplicateArray": [1, 2, 2, 3, 3, 4], "rawString": "Hello World",
    "encodedString": "SGVsbG8gV29ybGQ=", "inputString": "Hash this string", "json1": {"a": 1, "b": 2},
    "json2": {"c": 3, "d": 4}, "jsonString": "{\"key\":\"value\"}", "jsonObject": {"test": "object"}, "value1": 5,
    "value2": 3, "csvString": "a,b,c,d,e", "name": "John", "place": "LocalStack",
    "additionalInfo": {"age": 30, "role": "developer"}}


def intrinsic_ops(ref: str) -> dict[str, Any]:
    """Every non-array intrinsic over the values above, read with ``ref`` (``$.`` the input, ``$`` variables)."""
    return {
        "encodingOps": {"encoded.$": f"States.Base64Encode({ref}rawString)",
                        "decoded.$": f"States.Base64Decode({ref}encodedString)"},
        "hashOps": {"hashValue.$": f"States.Hash({ref}inputString, 'SHA-256')"},
        "jsonOps": {"mergedJson.$": f"States.JsonMerge({ref}json1, {ref}json2, false)",
                    "parsedJson.$": f"States.StringToJson({ref}jsonString)",
                    "stringifiedJson.$": f"States.JsonToString({ref}jsonObject)"},
        "mathOps": {"sum.$": f"States.MathAdd({ref}value1, {ref}value2)"},
        "stringOps": {"splitString.$": f"States.StringSplit({ref}csvString, ',')",
                      "formattedString.$": f"States.Format('Hello {{}}, welcome to {{}}!', {ref}name, {ref}place)"},
        "uuidOp": {"uniqueId.$": "States.UUID()"}}


CASES.append({"id": "var_assign_every_intrinsic", "category": "intrinsic",
              "source": REF + "test_assign_from_value[BASE_ASSIGN_FROM_INTRINSIC_FUNCTION]",
              "definition": machine("State0", {"State0": pass_(Result=ALL_INTRINSICS_INPUT, End=True, Assign={
                  "arrayOps": {"simpleArray.$": "States.Array('a', 'b', 'c')",
                               "partitionedArray.$": "States.ArrayPartition($.inputArray, 2)",
                               "containsElement.$": "States.ArrayContains($.inputArray, 5)",
                               "numberRange.$": "States.ArrayRange(1, 10, 2)",
                               "thirdElement.$": "States.ArrayGetItem($.inputArray, 2)",
                               "arraySize.$": "States.ArrayLength($.inputArray)",
                               "uniqueValues.$": "States.ArrayUnique($.duplicateArray)"},
                  **intrinsic_ops("$.")})})})
CASES.append({"id": "var_reference_in_every_intrinsic", "category": "intrinsic",
              "source": REF + "test_reference_assign[BASE_REFERENCE_IN_INTRINSIC_FUNCTION]",
              "definition": machine("State0", {
                  "State0": pass_(Assign={**ALL_INTRINSICS_INPUT, "inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
                                  Next="State1"),
                  "State1": pass_(End=True, Parameters=intrinsic_ops("$"))})})
