"""JSONPath-mode Choice rules.

AWS treats a comparison whose operand has the wrong type as simply false (never an error), but
a Variable or comparand path that matches nothing fails the execution, except under IsPresent.
Rules are compiled once per rule object into closures; Choice states run in loops.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Mapping

from etl_local.asl.causes import state_cause
from etl_local.asl.errors import StatesError
from etl_local.asl.paths import PathNotFound, read_path

__all__ = ["OPERATORS", "choice_rule_matches", "parse_timestamp"]

Test = Callable[[Any, Any, Any], bool]

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})\Z")


class _ConditionPathInvalid(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def choice_rule_matches(rule: dict, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None,
                        *, state_name: str | None = None, entered_event_id: int = 0) -> bool:
    """Whether ``rule`` (a Choices entry or a nested And/Or/Not operand) matches.

    A path that matches nothing raises StatesError("States.Runtime"); its cause carries AWS's
    "An error occurred while executing the state ..." prefix when ``state_name`` is given.
    """
    try:
        return _compiled(rule)(data, context, variables)
    except _ConditionPathInvalid as invalid:
        detail = f"Invalid path '{invalid.path}': The choice state's condition path references an invalid value."
        cause = detail if state_name is None else state_cause(state_name, entered_event_id, detail)
        raise StatesError("States.Runtime", cause) from None


_COMPILED: dict[int, tuple[dict, Test]] = {}


def _compiled(rule: dict) -> Test:
    cached = _COMPILED.get(id(rule))
    if cached is not None and cached[0] is rule:
        return cached[1]
    test = _compile(rule)
    _COMPILED[id(rule)] = (rule, test)
    return test


def _compile(rule: dict) -> Test:
    if "And" in rule:
        tests = [_compile(operand) for operand in rule["And"]]
        return lambda data, context, variables: all(test(data, context, variables) for test in tests)
    if "Or" in rule:
        tests = [_compile(operand) for operand in rule["Or"]]
        return lambda data, context, variables: any(test(data, context, variables) for test in tests)
    if "Not" in rule:
        inner = _compile(rule["Not"])
        return lambda data, context, variables: not inner(data, context, variables)
    variable = rule.get("Variable")
    operator = next((key for key in rule if key in OPERATORS), None)
    if not isinstance(variable, str) or operator is None:
        raise StatesError("States.Runtime", f"Invalid Choice rule: {rule!r}")
    if operator == "IsPresent":
        expected = rule[operator]
        return lambda data, context, variables: _present(variable, data, context, variables) is expected
    compare = COMPARISON_OPERATORS[operator]
    operand = rule[operator]
    if operator.endswith("Path"):
        return lambda data, context, variables: compare(
            _value(variable, data, context, variables), _value(operand, data, context, variables))
    return lambda data, context, variables: compare(_value(variable, data, context, variables), operand)


def _value(path: str, data: Any, context: Any, variables: Any) -> Any:
    try:
        return read_path(path, data, context, variables)
    except PathNotFound:
        raise _ConditionPathInvalid(path) from None


def _present(path: str, data: Any, context: Any, variables: Any) -> bool:
    try:
        read_path(path, data, context, variables)
    except PathNotFound:
        return False
    return True


# -- value tests ------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset, or None (AWS rejects '2023-02-24 12:15:56')."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = timedelta(0) if zone == "Z" else (
        (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone(offset))
    except ValueError:
        return None


def _numeric(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, operand: _is_number(value) and _is_number(operand) and test(value, operand)


def _string(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, operand: isinstance(value, str) and isinstance(operand, str) and test(value, operand)


def _timestamp(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(value: Any, operand: Any) -> bool:
        left, right = parse_timestamp(value), parse_timestamp(operand)
        return left is not None and right is not None and test(left, right)
    return compare


def _boolean_equals(value: Any, operand: Any) -> bool:
    return isinstance(value, bool) and isinstance(operand, bool) and value == operand


def _type_test(check: Callable[[Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, expected: check(value) is expected


@lru_cache(maxsize=1024)
def _wildcard_pattern(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; ``\\*`` and ``\\\\`` are a literal star and backslash."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.S)


def _string_matches(value: Any, pattern: Any) -> bool:
    return isinstance(value, str) and isinstance(pattern, str) and _wildcard_pattern(pattern).fullmatch(value) is not None


_EQ: Callable[[Any, Any], bool] = lambda a, b: a == b
_LT: Callable[[Any, Any], bool] = lambda a, b: a < b
_GT: Callable[[Any, Any], bool] = lambda a, b: a > b
_LE: Callable[[Any, Any], bool] = lambda a, b: a <= b
_GE: Callable[[Any, Any], bool] = lambda a, b: a >= b

COMPARISON_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "IsNull": _type_test(lambda value: value is None),
    "IsNumeric": _type_test(_is_number),
    "IsString": _type_test(lambda value: isinstance(value, str)),
    "IsBoolean": _type_test(lambda value: isinstance(value, bool)),
    "IsTimestamp": _type_test(lambda value: parse_timestamp(value) is not None),
    "StringMatches": _string_matches,
    "BooleanEquals": _boolean_equals,
    "BooleanEqualsPath": _boolean_equals,
}
for _suffix in ("", "Path"):
    for _name, _test in (("Equals", _EQ), ("LessThan", _LT), ("GreaterThan", _GT),
                         ("LessThanEquals", _LE), ("GreaterThanEquals", _GE)):
        COMPARISON_OPERATORS[f"String{_name}{_suffix}"] = _string(_test)
        COMPARISON_OPERATORS[f"Numeric{_name}{_suffix}"] = _numeric(_test)
        COMPARISON_OPERATORS[f"Timestamp{_name}{_suffix}"] = _timestamp(_test)

OPERATORS = frozenset({"IsPresent", *COMPARISON_OPERATORS})
"""Every data-test operator name, for rule compilation and definition validation."""
