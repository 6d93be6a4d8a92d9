"""Every JSONPath Choice comparison operator (String*, Numeric*, Boolean*, Is*, and
the *Path forms) on values of every JSON type, one execution per recorded input. The Timestamp*
recordings are left out: localstack masked their timestamps (``"date"``), so their inputs are lost.

localstack's choice_operators tests ran one Choice state per (variable, value) pair on AWS and
recorded each final output; these are our own definitions of that state, and the recorded
outputs are the expected ones (build_corpus.py)."""
from __future__ import annotations

from typing import Any, Callable

FILE = "choice_operators/{}.snapshot.json::{}"


def comparing(operator: str, by_path: bool) -> Callable[[Any], dict[str, Any]]:
    """The machine for one input: ``Variable`` compared with ``Value`` (a literal, or ``$.Value``)."""
    def definition(execution_input: Any) -> dict[str, Any]:
        value = "$.Value" if by_path else execution_input["Value"]
        return {"StartAt": "CheckValues", "States": {
            "CheckValues": {"Type": "Choice", "Default": "ConditionFalse",
                            "Choices": [{"Variable": "$.Variable", operator: value, "Next": "ConditionTrue"}]},
            "ConditionTrue": {"Type": "Pass", "Result": {"TestResult.$": "ConditionTrue"}, "End": True},
            "ConditionFalse": {"Type": "Pass", "Result": {"TestResult.$": "ConditionFalse"}, "End": True}}}
    return definition


TESTS = {
    "test_string_operators": ["StringEquals", "StringGreaterThan", "StringGreaterThanEquals", "StringLessThan",
                              "StringLessThanEquals"],
    "test_numeric": ["NumericEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "NumericLessThan",
                     "NumericLessThanEquals"],
    "test_boolean_equals": ["BooleanEquals"],
}
CLASSES = {"test_string_operators": "TestStrings", "test_numeric": "TestNumerics",
           "test_timestamp_operators": "TestTimestamps", "test_boolean_equals": "TestBooleanEquals",
           "test_is_operators": "TestIsOperators"}


def snake(operator: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in operator).lstrip("_")


CASES: list[dict[str, Any]] = []
for file, operators in TESTS.items():
    for operator in operators:
        for by_path in (False, True):
            name = operator + ("Path" if by_path else "")
            CASES.append({"id": f"choice_op_{snake(name)}", "category": "choice_operators",
                          "source": FILE.format(file, f"{CLASSES[file]}::test_{snake(name)}"), "record": "cases",
                          "definition_for": comparing(name, by_path)})
for operator in ("IsBoolean", "IsNull", "IsNumeric", "IsPresent", "IsString"):
    CASES.append({"id": f"choice_op_{snake(operator)}", "category": "choice_operators",
                  "source": FILE.format("test_is_operators", f"TestIsOperators::test_{snake(operator)}"),
                  "record": "cases", "definition_for": comparing(operator, False)})
