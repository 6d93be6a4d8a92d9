"""States.* intrinsic functions: AWS_BEHAVIOURS #10-15 and each function's edge cases."""
from __future__ import annotations

import re

import pytest

from etl_local.asl.errors import StatesError
from etl_local.asl.intrinsics import evaluate_intrinsic, is_intrinsic, java_double
from etl_local.asl.paths import PathNotFound

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def call(expression: str, data: object = None, variables: dict | None = None) -> object:
    return evaluate_intrinsic(expression, data if data is not None else {}, {"Execution": {"Id": "e"}},
                              variables or {})


def failure(expression: str, data: object = None) -> str:
    with pytest.raises(StatesError) as raised:
        call(expression, data)
    assert raised.value.error == "States.IntrinsicFailure"
    return raised.value.cause


@pytest.mark.parametrize(("a", "b", "total"), [
    (-9, 3, -6), (1.49, 1.5, 3), (1.5, 1.51, 4), (-1.49, -1.5, -2), (-1.5, -1.51, -3), (0.5, 0, 1),
    (2.5, 0, 3), (-0.5, 0, 0), (-2.5, 0, -2), (-0.5, 0.5, 1), (1.51, 0, 2), (-1.51, 0, -2),
])
def test_math_add_rounds_each_operand_half_up(a: float, b: float, total: int) -> None:
    result = call("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == total and type(result) is int


def test_math_add_literals_and_type_errors() -> None:
    assert call("States.MathAdd(111, -1)") == 110
    failure("States.MathAdd('1', 2)")
    failure("States.MathAdd(true, 2)")


def test_format_prints_values_java_style() -> None:
    data = {"o": {"Arg1": 1, "Arg2": []}, "s": "str", "n": None, "f": 1.5, "b": True, "l": [1, "a", None]}
    assert call("States.Format('{} {} {} {} {} {}', $.o, $.s, $.n, $.f, $.b, $.l)", data) == \
        "{Arg1=1, Arg2=[]} str null 1.5 true [1, a, null]"


def test_format_escapes_apply_to_the_template_only() -> None:
    assert call("States.Format('It\\'s {} at C:\\\\tmp \\{\\}', $.who)", {"who": "Bob\\x{}"}) == \
        "It's Bob\\x{} at C:\\tmp {}"


@pytest.mark.parametrize("expression", ["States.Format('{ x }', 1)", "States.Format('a } b')",
                                        "States.Format('{} {}', 1)", "States.Format('{}', 1, 2)"])
def test_format_template_errors(expression: str) -> None:
    failure(expression)


def test_format_with_unmatched_brace_uses_aws_wording() -> None:
    assert failure("States.Format('\\\\{ x }')") == "Invalid template in States.Format: matching '}' not found for '{'."


@pytest.mark.parametrize(("value", "text"), [(1.0, "1.0"), (0.001, "0.001"), (1e7, "1.0E7"), (1.5e-5, "1.5E-5"),
                                             (-12345678.9, "-1.23456789E7"), (123.456, "123.456")])
def test_java_double_text(value: float, text: str) -> None:
    assert java_double(value) == text


@pytest.mark.parametrize(("text", "parsed"), [
    ("", None), (" ", None), ("null", None), ("-0", 0), ("1", 1), ("1.1", 1.1), ("true", True),
    ("\"HelloWorld\"", "HelloWorld"), ("[1, 2, \"x\"]", [1, 2, "x"]), ("{\"Arg1\": 1, \"Arg2\": []}", {"Arg1": 1, "Arg2": []}),
])
def test_string_to_json(text: str, parsed: object) -> None:
    assert call("States.StringToJson($.t)", {"t": text}) == parsed


def test_string_to_json_rejects_bad_json() -> None:
    failure("States.StringToJson('{nope')")


def test_json_to_string_is_compact_and_keeps_unicode() -> None:
    assert call("States.JsonToString($.o)", {"o": {"a": [1, 2], "é": None}}) == '{"a":[1,2],"é":null}'


def test_array_functions() -> None:
    data = {"l": [1, 2, 2, "a", {"k": 1}, {"k": 1}, True, 1.0]}
    assert call("States.Array()") == []
    assert call("States.Array('Foo', 2020, $.l[3], null, true)", data) == ["Foo", 2020, "a", None, True]
    assert call("States.ArrayPartition(States.ArrayRange(1, 5, 1), 2)") == [[1, 2], [3, 4], [5]]
    assert call("States.ArrayContains($.l, 'a')", data) is True
    assert call("States.ArrayContains($.l, 3)", data) is False
    assert call("States.ArrayUnique($.l)", data) == [1, 2, "a", {"k": 1}, True]
    assert call("States.ArrayLength($.l)", data) == 8
    assert call("States.ArrayGetItem($.l, 3)", data) == "a"
    failure("States.ArrayGetItem($.l, 8)", data)
    failure("States.ArrayLength('x')")
    failure("States.ArrayPartition($.l, 0)", data)


@pytest.mark.parametrize(("args", "expected"), [
    ("0, 9, 3", [0, 3, 6, 9]), ("0, 10, 3", [0, 3, 6, 9]), ("1, 9, 9", [1]), ("1, 9, 2", [1, 3, 5, 7, 9]),
    ("5, 1, -2", [5, 3, 1]),
])
def test_array_range_includes_a_reachable_end(args: str, expected: list) -> None:
    assert call(f"States.ArrayRange({args})") == expected


def test_array_range_limits() -> None:
    failure("States.ArrayRange(1, 2, 0)")
    failure("States.ArrayRange(0, 1000, 1)")
    assert len(call("States.ArrayRange(1, 1000, 1)")) == 1000


def test_base64_round_trip() -> None:
    assert call("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
    assert call("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode"
    assert call("States.Base64Encode('')") == "" and call("States.Base64Decode('')") == ""
    failure("States.Base64Decode('***')")


@pytest.mark.parametrize(("algorithm", "digest"), [
    ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
    ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
    ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
])
def test_hash(algorithm: str, digest: str) -> None:
    assert call(f"States.Hash('input data', '{algorithm}')") == digest


def test_hash_rejects_unknown_algorithms() -> None:
    failure("States.Hash('x', 'SHA-3')")


def test_json_merge_is_shallow_only() -> None:
    data = {"a": {"x": {"1": 1}, "b": 2}, "b": {"x": {"2": 2}, "c": 3}}
    assert call("States.JsonMerge($.a, $.b, false)", data) == {"x": {"2": 2}, "b": 2, "c": 3}
    failure("States.JsonMerge($.a, $.b, true)", data)


def test_math_random_is_in_range_and_seedable() -> None:
    values = {call("States.MathRandom(1, 3)") for _ in range(50)}
    assert values <= {1, 2}
    assert call("States.MathRandom(0, 1000, 7)") == call("States.MathRandom(0, 1000, 7)")


def test_string_split_uses_a_character_set_and_drops_empty_tokens() -> None:
    assert call("States.StringSplit('This.is+a,test=string', '.+,=')") == ["This", "is", "a", "test", "string"]
    assert call("States.StringSplit(',,,,', ',')") == []
    assert call("States.StringSplit(', , ,', ',')") == [" ", " "]


def test_uuid_is_a_v4_uuid() -> None:
    assert UUID.match(call("States.UUID()"))


def test_nested_calls_context_and_variables() -> None:
    data = {"name": "alpha-beta-gamma"}
    last = "States.ArrayGetItem(States.StringSplit($.name, '-'), " \
           "States.MathAdd(States.ArrayLength(States.StringSplit($.name, '-')), -1))"
    assert call(last, data) == "gamma"
    assert call("States.Format('{}/{}', $$.Execution.Id, $v)", {}, {"v": 1}) == "e/1"


def test_missing_path_argument_raises_path_not_found() -> None:
    with pytest.raises(PathNotFound):
        call("States.Format('{}', $.missing)")


@pytest.mark.parametrize("text", [
    "States.Format('x')", "States.Array( $.a , 'b' )", "States.JsonMerge($.a, $.b, false)",
    "States.Format('\\{\\}\\'\\\\')", "States.Array($.a[?(@.x in [1, 2])], $.b[0,1])",
])
def test_valid_intrinsics(text: str) -> None:
    assert is_intrinsic(text)


@pytest.mark.parametrize("text", [
    "States.StringToJson('{\"text\":\"An \\\"escaped\\\" here\"}')",  # \" is not a legal escape
    "States.Format('a\\nb')", "States.Nope(1)", "States.UUID(1)", "States.Format(", "States.Array(1) x",
    "States.Format('unterminated)", "Format('x')", "States.Array($.[)",
])
def test_invalid_intrinsics(text: str) -> None:
    assert not is_intrinsic(text)
