"""JSONPath Choice rules: every operator, type mismatches are false (AWS_BEHAVIOURS #17)."""
from __future__ import annotations

import pytest

from etl_local.asl.choice import choice_rule_matches, parse_timestamp
from etl_local.asl.errors import StatesError

DATA = {
    "s": "foo23.log", "n": 22, "f": 1.5, "b": False, "nul": None, "arr": [""], "obj": {},
    "ts": "2012-10-09T19:00:55Z", "ts_offset": "2012-10-09T21:00:55.5+02:00", "bad_ts": "2023-02-24 12:15:56.832957",
    "other_n": 22.0, "star": "a*b", "slash": "a\\b",
}
VARIABLES = {"limit": 20}
CONTEXT = {"State": {"RetryCount": 0}}


def matches(rule: dict) -> bool:
    return choice_rule_matches(rule, DATA, CONTEXT, VARIABLES)


@pytest.mark.parametrize(("rule", "expected"), [
    ({"Variable": "$.s", "StringEquals": "foo23.log"}, True),
    ({"Variable": "$.s", "StringLessThan": "goo"}, True),
    ({"Variable": "$.s", "StringGreaterThanEquals": "foo23.log"}, True),
    ({"Variable": "$.s", "StringLessThanEquals": "foo"}, False),
    ({"Variable": "$.n", "NumericEquals": 22}, True),
    ({"Variable": "$.n", "NumericEquals": 22.0}, True),
    ({"Variable": "$.n", "NumericGreaterThan": 21.5}, True),
    ({"Variable": "$.f", "NumericLessThanEquals": 1.5}, True),
    ({"Variable": "$.b", "BooleanEquals": False}, True),
    ({"Variable": "$.ts", "TimestampEquals": "2012-10-09T19:00:55.000Z"}, True),
    ({"Variable": "$.ts_offset", "TimestampGreaterThan": "2012-10-09T19:00:55Z"}, True),
    ({"Variable": "$.ts", "TimestampLessThan": "2012-10-09T19:00:56Z"}, True),
    ({"Variable": "$.n", "NumericEqualsPath": "$.other_n"}, True),
    ({"Variable": "$.n", "NumericGreaterThanPath": "$limit"}, True),
    ({"Variable": "$$.State.RetryCount", "NumericEquals": 0}, True),
    ({"Variable": "$.s", "StringEqualsPath": "$.s"}, True),
    ({"Variable": "$.ts", "TimestampLessThanEqualsPath": "$.ts"}, True),
    ({"Variable": "$.b", "BooleanEqualsPath": "$.b"}, True),
    ({"Variable": "$.s", "StringMatches": "foo*.log"}, True),
    ({"Variable": "$.s", "StringMatches": "*.txt"}, False),
    ({"Variable": "$.star", "StringMatches": "a\\*b"}, True),
    ({"Variable": "$.s", "StringMatches": "foo\\*"}, False),
    ({"Variable": "$.slash", "StringMatches": "a\\\\b"}, True),
])
def test_comparisons(rule: dict, expected: bool) -> None:
    assert matches(rule) is expected


@pytest.mark.parametrize("rule", [
    {"Variable": "$.s", "NumericEquals": 1},
    {"Variable": "$.n", "StringEquals": "22"},
    {"Variable": "$.b", "NumericEquals": 0},
    {"Variable": "$.n", "BooleanEquals": True},
    {"Variable": "$.bad_ts", "TimestampEquals": "2012-10-09T19:00:55Z"},
    {"Variable": "$.n", "TimestampLessThan": "2012-10-09T19:00:55Z"},
    {"Variable": "$.s", "StringMatches": 1},
    {"Variable": "$.nul", "NumericLessThan": 1},
])
def test_type_mismatch_is_false_not_an_error(rule: dict) -> None:
    assert matches(rule) is False


@pytest.mark.parametrize(("variable", "operator", "value", "expected"), [
    ("$.nul", "IsPresent", True, True), ("$.missing", "IsPresent", True, False), ("$.missing", "IsPresent", False, True),
    ("$.nul", "IsNull", True, True), ("$.s", "IsNull", False, True),
    ("$.f", "IsNumeric", True, True), ("$.b", "IsNumeric", False, True),
    ("$.s", "IsString", True, True), ("$.arr", "IsString", False, True),
    ("$.b", "IsBoolean", True, True), ("$.n", "IsBoolean", True, False),
    ("$.ts", "IsTimestamp", True, True), ("$.bad_ts", "IsTimestamp", False, True),
])
def test_type_tests(variable: str, operator: str, value: bool, expected: bool) -> None:
    assert matches({"Variable": variable, operator: value}) is expected


def test_and_or_not() -> None:
    yes = {"Variable": "$.n", "NumericEquals": 22}
    no = {"Variable": "$.n", "NumericEquals": 0}
    assert matches({"And": [yes, {"Not": no}], "Next": "X"})
    assert not matches({"And": [yes, no]})
    assert matches({"Or": [no, yes]})
    assert not matches({"Not": {"Or": [no, yes]}})


def test_or_short_circuits_before_a_missing_path() -> None:
    assert matches({"Or": [{"Variable": "$.n", "IsNumeric": True}, {"Variable": "$.missing", "NumericEquals": 1}]})


@pytest.mark.parametrize("rule", [
    {"Variable": "$.missing", "NumericEquals": 1},
    {"Variable": "$.n", "NumericEqualsPath": "$.missing"},
    {"Variable": "$.missing", "IsNull": True},
])
def test_missing_path_is_states_runtime(rule: dict) -> None:
    with pytest.raises(StatesError) as raised:
        choice_rule_matches(rule, DATA, CONTEXT, VARIABLES, state_name="C", entered_event_id=4)
    assert raised.value.error == "States.Runtime"
    assert raised.value.cause.startswith("An error occurred while executing the state 'C' (entered at the event id #4). "
                                         "Invalid path '$.missing': ")


def test_timestamps_need_t_and_an_offset() -> None:
    assert parse_timestamp("2016-12-05T21:29:29.123456789Z") is not None
    assert parse_timestamp("2016-12-05T21:29:29") is None
    assert parse_timestamp("2016-12-05 21:29:29Z") is None
    assert parse_timestamp("2016-13-05T21:29:29Z") is None
