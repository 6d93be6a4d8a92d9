"""The expression layer against AWS's recorded results, for every corpus machine made of
Pass/Choice/Succeed/Fail states, plus the definition-validation cases."""
from __future__ import annotations

import re

import pytest

from etl_local.asl.paths import read_path
from etl_local.asl.validation import validate_definition

from .expression_machine import load_corpus, run_machine, runnable

CORPUS = load_corpus()
SIMPLE_CASES = [case for case in CORPUS["cases"] if runnable(case["definition"])]


def test_the_corpus_has_simple_cases_for_each_expression_area() -> None:
    areas = {case["area"] for case in SIMPLE_CASES}
    assert {"intrinsic", "jsonpath_io", "jsonata", "choice", "variables_jsonpath"} <= areas


@pytest.mark.parametrize("case", SIMPLE_CASES, ids=lambda case: case["id"])
def test_simple_case_matches_aws(case: dict) -> None:
    expected = case["expected"]
    actual = run_machine(case["definition"], case["input"])
    assert actual["status"] == expected["status"]
    if "output" in expected:
        assert actual["output"] == expected["output"]
    for check in expected.get("output_checks", []):
        value = read_path(check["path"], actual["output"], {}, {})
        if "equals" in check:
            assert value == check["equals"]
        else:
            assert re.search(check["regex"], value)
    if "error" in expected:
        assert actual["error"] == expected["error"]
    if "cause" in expected:
        assert actual["cause"] == expected["cause"]
    for fragment in expected.get("cause_contains", []):
        assert fragment in actual["cause"]


@pytest.mark.parametrize("case", CORPUS["cases"], ids=lambda case: case["id"])
def test_every_recorded_definition_is_valid(case: dict) -> None:
    assert validate_definition(case["definition"]) == []


@pytest.mark.parametrize("case", CORPUS["definition_validation_cases"], ids=lambda case: case["id"])
def test_invalid_definition_is_rejected_with_aws_wording(case: dict) -> None:
    problems = validate_definition(case["definition"])
    for fragment in case["expected"]["error_contains"]:
        assert any(fragment in problem for problem in problems), problems
