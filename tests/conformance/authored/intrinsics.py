"""Intrinsic functions (JSONPath ``States.*``) and their JSONata counterparts, one Pass state each.

Each case runs every input AWS recorded for the same function; see build_corpus.py.
"""
from __future__ import annotations

from typing import Any

FILE = "intrinsic_functions/{}.snapshot.json::{}"


def jsonpath(expression: str) -> dict[str, Any]:
    """A one-state machine whose output is ``{"FunctionResult": <expression>}``."""
    return {"StartAt": "State_0", "States": {"State_0": {
        "Type": "Pass", "Parameters": {"FunctionResult.$": expression}, "End": True}}}


def jsonata(output: Any) -> dict[str, Any]:
    return {"StartAt": "State_0", "States": {"State_0": {
        "QueryLanguage": "JSONata", "Type": "Pass", "Output": output, "End": True}}}


def case(name: str, file: str, test: str, definition: dict[str, Any], record: str = "exec_hist_resp_*",
         **extra: Any) -> dict[str, Any]:
    return {"id": f"intr_{name}", "category": "intrinsic", "source": FILE.format(file, test),
            "record": record, "definition": definition, **extra}


ARGS2 = "$.FunctionInput.fst, $.FunctionInput.snd"
JARGS = "$states.input.FunctionInput.fst, $states.input.FunctionInput.snd"

CASES = [
    case("array_0", "test_array", "TestArray::test_array_0", jsonpath("States.Array()")),
    case("array_2", "test_array", "TestArray::test_array_2", jsonpath(f"States.Array({ARGS2})")),
    case("array_partition", "test_array", "TestArray::test_array_partition",
         jsonpath(f"States.ArrayPartition({ARGS2})")),
    case("array_contains", "test_array", "TestArray::test_array_contains",
         jsonpath(f"States.ArrayContains({ARGS2})")),
    case("array_range", "test_array", "TestArray::test_array_range",
         jsonpath("States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)")),
    case("array_get_item", "test_array", "TestArray::test_array_get_item",
         jsonpath(f"States.ArrayGetItem({ARGS2})")),
    case("array_length", "test_array", "TestArray::test_array_length", jsonpath("States.ArrayLength($.FunctionInput)")),
    # localstack's test_array_unique runs the ArrayLength template (its recording shows 20)
    case("array_length_mixed", "test_array", "TestArray::test_array_unique", jsonpath("States.ArrayLength($.FunctionInput)")),
    case("jsonata_partition", "test_array_jsonata", "TestArrayJSONata::test_array_partition",
         jsonata(f"{{% $partition({JARGS}) %}}")),
    case("jsonata_range", "test_array_jsonata", "TestArrayJSONata::test_array_range",
         jsonata(f"{{% $range({JARGS}, $states.input.FunctionInput.trd) %}}")),
    case("base64_encode", "test_encode_decode", "TestEncodeDecode::test_base_64_encode",
         jsonpath("States.Base64Encode($.FunctionInput)")),
    case("base64_decode", "test_encode_decode", "TestEncodeDecode::test_base_64_decode",
         jsonpath("States.Base64Decode($.FunctionInput)")),
    case("format_1", "test_generic", "TestGeneric::test_format_1",
         jsonpath("States.Format('Formatting argument {}.', $.FunctionInput)")),
    case("format_2", "test_generic", "TestGeneric::test_format_2",
         jsonpath(f"States.Format('Formatting arguments fst={{}} and snd={{}}.', {ARGS2})")),
    case("escape_sequence", "test_generic", "TestGeneric::test_escape_sequence",
         {"StartAt": "State0", "States": {"State0": {"Type": "Pass", "End": True, "Parameters": {
             "FunctionResult.$": "States.StringSplit('Hello\nWorld', '\n')"}}}}),
    case("hash", "test_hash_calculations", "TestHashCalculations::test_hash", jsonpath(f"States.Hash({ARGS2})")),
    case("string_to_json", "test_json_manipulation", "TestJsonManipulation::test_string_to_json",
         jsonpath("States.StringToJson($.FunctionInput)")),
    case("json_to_string", "test_json_manipulation", "TestJsonManipulation::test_json_to_string",
         jsonpath("States.JsonToString($.FunctionInput)")),
    case("json_merge", "test_json_manipulation", "TestJsonManipulation::test_json_merge",
         jsonpath(f"States.JsonMerge({ARGS2}, false)")),
    case("jsonata_parse", "test_json_manipulation_jsonata", "TestJsonManipulationJSONata::test_parse",
         jsonata("{% $parse($states.input.FunctionInput) %}")),
    case("math_random", "test_math_operations", "TestMathOperations::test_math_random",
         jsonpath(f"States.MathRandom({ARGS2})"), placeholders={"RandomNumberGenerated": "<random>"}),
    case("math_random_seeded", "test_math_operations", "TestMathOperations::test_math_random_seeded",
         jsonpath("States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)"),
         record="exec_hist_resp", placeholders={"RandomNumberGenerated": "<random>"}),
    case("math_add", "test_math_operations", "TestMathOperations::test_math_add",
         jsonpath(f"States.MathAdd({ARGS2})")),
    case("string_split", "test_string_operations", "TestStringOperations::test_string_split",
         jsonpath(f"States.StringSplit({ARGS2})")),
    case("uuid", "test_unique_id_generation", "TestUniqueIdGeneration::test_uuid", jsonpath("States.UUID()"),
         record="exec_hist_resp", placeholders={"generated-uuid": "<uuid>"},
         expected={"output_checks": [{"path": "$.FunctionResult",
                                      "regex": "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"}]}),
    case("format_context_objects", "test_generic", "TestGeneric::test_context_json_path", jsonpath(
        "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)")),
    case("nested_calls_1", "test_generic", "TestGeneric::test_nested_calls_1", {
        "StartAt": "State0", "States": {"State0": {"Type": "Pass", "End": True, "Parameters": {
            "FunctionResult.$": "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)"}}}}),
    case("nested_calls_2", "test_generic", "TestGeneric::test_nested_calls_2", {
        "StartAt": "State0", "States": {"State0": {"Type": "Pass", "End": True, "Parameters": {
            "FunctionResult.$": "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
                                "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))"}}}}),
    case("string_split_context", "test_string_operations", "TestStringOperations::test_string_split_context_object",
         jsonpath("States.StringSplit($$.Execution.Input.FunctionInput, ',')")),
]
