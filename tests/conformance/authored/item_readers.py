"""Distributed Map items read from S3 (JSON lists, CSV with headers from the first row or
declared, MaxItems literal, by path and from JSONata, ItemsPath over the read items).

The objects are the ones localstack's tests wrote to S3 before running on AWS (case ``s3``,
served locally from a folder); the bucket is named ``bucket-name`` as the recordings show it.
Expected results come from the recordings (build_corpus.py)."""
from __future__ import annotations

import json
from typing import Any

SCENARIOS = "scenarios/test_base_scenarios.snapshot.json::TestBaseScenarios::"
BUCKET = "bucket-name"
STATEMENTS = [{"verdict": "true", "statement_date": "6/11/2008", "statement_source": "speech"},
              {"verdict": "false", "statement_date": "6/7/2022", "statement_source": "television"},
              {"verdict": "mostly-true", "statement_date": "5/18/2016", "statement_source": "news"}]
CSV_ROWS = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"
SMALL_CSV = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n"
READ = {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"}}
PASS_ITEM = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "PassItem",
             "States": {"PassItem": {"Type": "Pass", "End": True}}}


def reading(config: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {**top, "StartAt": "MapState", "States": {"MapState": {
        "Type": "Map", "MaxConcurrency": 1, "ItemReader": {**READ, "ReaderConfig": config},
        "ItemProcessor": PASS_ITEM, "End": True}}}


def case(name: str, test: str, definition: dict[str, Any], key: str, body: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"item_reader_{name}", "category": "map_distributed", "source": SCENARIOS + test,
            "definition": definition, "s3": {BUCKET: {key: body}},
            "input": {"Bucket": BUCKET, "Key": key, **extra.pop("input", {})}, **extra}


CASES = [
    case("json", "test_map_item_reader_base_json", reading({"InputType": "JSON"}), "file.json",
         json.dumps(STATEMENTS)),
    case("json_max_items", "test_map_item_reader_base_json_max_items", reading({"InputType": "JSON", "MaxItems": 2}),
         "file.json", json.dumps(STATEMENTS[:1] * 3)),
    case("json_not_a_list", "test_map_item_reader_json_no_json_list_object", reading({"InputType": "JSON"}),
         "file.json", json.dumps({"Hello": "world"})),
    case("csv_headers_first_row", "test_map_item_reader_base_csv_headers_first_line",
         reading({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}), "file.csv", "Col1,Col2,Col3\n" + CSV_ROWS),
    case("csv_headers_given", "test_map_item_reader_base_csv_headers_decl",
         reading({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1", "H2", "H3"]}),
         "file.csv", CSV_ROWS),
    case("json_max_items_jsonata", "test_map_item_reader_base_json_max_items_jsonata", {
        "QueryLanguage": "JSONata", "StartAt": "MapState", "States": {"MapState": {
            "Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": PASS_ITEM, "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "Arguments": {"Bucket": "{% $states.input.Bucket %}", "Key": "{% $states.input.Key %}"},
                "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $maxItems := 2 %}"}}}}},
         "file.json", json.dumps(STATEMENTS), input={"MaxItems": 2}),
]
for max_items in (0, 2, 100_000_000):
    CASES.append(case(f"csv_max_items_{max_items}", f"test_map_item_reader_csv_max_items[{max_items}]",
                      reading({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": max_items}),
                      "file.csv", SMALL_CSV))
for label, path in (("VALID_ITEMS_PATH_FROM_PREVIOUS", "$.from_previous"), ("VALID_ITEMS_PATH_FROM_ITEM_READER", "$[0]"),
                    ("INVALID_ITEMS_PATH", "$.no_such_path_in_bucket_result")):
    CASES.append(case(f"json_items_path_{label.lower()}", f"test_map_item_reader_base_json_with_items_path[{label}]", {
        "StartAt": "LoadState", "States": {
            "LoadState": {"Type": "Pass", "Next": "MapState", "Parameters": {
                "Bucket.$": "$.Bucket", "Key.$": "$.Key", "from_previous": ["from-previous-item-0"]}},
            "MapState": {"Type": "Map", "MaxConcurrency": 1, "ItemsPath": path, "End": True, "ItemProcessor": {
                **PASS_ITEM, "StartAt": "PassState", "States": {"PassState": {"Type": "Pass", "End": True}}},
                "ItemReader": {**READ, "ReaderConfig": {"InputType": "JSON"}}}}},
        "file.json", json.dumps([["from-bucket-item-0"]]), input={"from_input_items": ["input-item-0"]}))
