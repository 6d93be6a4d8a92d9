"""Map: JSONata ``Items`` of every type, MaxConcurrencyPath and ToleratedFailure*Path values.

Our own definitions of the machines AWS ran in localstack's test_base_scenarios; expected
results come from the recordings (build_corpus.py).
"""
from __future__ import annotations

import json
from typing import Any

SCENARIOS = "scenarios/test_base_scenarios.snapshot.json::TestBaseScenarios::"
PASS_PROCESSOR = {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Pass",
                  "States": {"Pass": {"Type": "Pass", "End": True}}}


def items_literal(items: str) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": "MapIterateState", "States": {"MapIterateState": {
        "Type": "Map", "MaxConcurrency": 1, "Items": items, "ItemProcessor": PASS_PROCESSOR, "End": True}}}


def items_variable(value: Any) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": "Start", "States": {
        "Start": {"Type": "Pass", "Assign": {"ItemsVar": value}, "Next": "MapIterateState"},
        "MapIterateState": {"Type": "Map", "MaxConcurrency": 1, "Items": "{% $ItemsVar %}",
                            "ItemProcessor": PASS_PROCESSOR, "End": True}}}


ITEMS_FROM_INPUT = {"QueryLanguage": "JSONata", "StartAt": "Start", "States": {
    "Start": {"Type": "Pass", "Output": "{% $states.input.items %}", "Next": "MapIterateState"},
    "MapIterateState": {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": PASS_PROCESSOR, "End": True}}}

MAX_CONCURRENCY_PATH = {"StartAt": "MapState", "States": {
    "MapState": {"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrencyPath": "$.MaxConcurrencyValue",
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "HandleItem",
                                   "States": {"HandleItem": {"Type": "Pass", "End": True}}},
                 "Next": "Final"},
    "Final": {"Type": "Pass", "End": True}}}


def tolerated_path(field: str) -> dict[str, Any]:
    return {"StartAt": "MapState", "States": {"MapState": {
        "Type": "Map", "ItemsPath": "$.Items", "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "HandleItem", "States": {"HandleItem": {"Type": "Pass", "End": True}}},
        f"{field}Path": f"$.{field}", "End": True}}}


TYPES = ["number", "string", "boolean", "object", "null"]
JSONATA_LITERALS = ["1", "'string'", "true", "{'foo': 'bar'}", "null"]
JSON_LITERALS = [1, "string", True, {"foo": "bar"}, None]

CASES: list[dict[str, Any]] = []
for kind, literal in zip(TYPES, JSONATA_LITERALS):
    CASES.append({"id": f"map_items_jsonata_{kind}_fails", "category": "map",
                  "source": f"{SCENARIOS}test_map_state_items_eval_jsonata_fail[{kind}]",
                  "definition": items_literal(f"{{% {literal} %}}")})
    CASES.append({"id": f"map_items_variable_jsonata_{kind}_fails", "category": "map",
                  "source": f"{SCENARIOS}test_map_state_items_eval_jsonata_variable_sampling_fail[{kind}]",
                  "definition": items_variable(f"{{% {literal} %}}")})
for kind, value in zip(TYPES, JSON_LITERALS):
    CASES.append({"id": f"map_items_input_{kind}_fails", "category": "map",
                  "source": f"{SCENARIOS}test_map_state_items_input_types[{kind}]", "definition": ITEMS_FROM_INPUT})
    CASES.append({"id": f"map_items_variable_{kind}_fails", "category": "map",
                  "source": f"{SCENARIOS}test_map_state_items_variable_sampling[{kind}]",
                  "definition": items_variable(value)})
CASES.append({"id": "map_items_jsonata_function_fails", "category": "map",
              "source": f"{SCENARIOS}test_map_state_items_eval_jsonata_fail[function]",
              "definition": items_literal("{% $fn := function($x){$x} %}")})
for kind, value in zip(["empty", "singleton", "mixed"], [[], [0], [1, "two", 3]]):
    CASES.append({"id": f"map_items_jsonata_{kind}", "category": "map",
                  "source": f"{SCENARIOS}test_map_state_items_eval_jsonata[{kind}]",
                  "definition": items_literal(f"{{% {json.dumps(value)} %}}")})
    CASES.append({"id": f"map_items_input_{kind}", "category": "map",
                  "source": f"{SCENARIOS}test_map_state_items_input_array[{kind}]", "definition": ITEMS_FROM_INPUT})
for value in ["max_concurrency_value0", "NoNumber", "0", "1"]:
    CASES.append({"id": f"map_max_concurrency_path_{value}", "category": "map",
                  "source": f"{SCENARIOS}test_max_concurrency_path[{value}]", "definition": MAX_CONCURRENCY_PATH})
for value in ["tolerated_failure_count_value0", "NoNumber", "-1", "0", "1"]:
    CASES.append({"id": f"map_tolerated_failure_count_path_{value}", "category": "map_distributed",
                  "source": f"{SCENARIOS}test_map_state_tolerated_failure_count_path[{value}]",
                  "definition": tolerated_path("ToleratedFailureCount")})
for value in ["tolerated_failure_percentage_value0", "NoNumber", "-1.1", "-1", "0", "1", "1.1", "100", "100.1"]:
    CASES.append({"id": f"map_tolerated_failure_percentage_path_{value}", "category": "map_distributed",
                  "source": f"{SCENARIOS}test_map_state_tolerated_failure_percentage_path[{value}]",
                  "definition": tolerated_path("ToleratedFailurePercentage")})
