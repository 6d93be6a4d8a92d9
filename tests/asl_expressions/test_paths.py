"""JSONPath reading, selection and ResultPath, with Jayway's failure wording (AWS_BEHAVIOURS #2, #3)."""
from __future__ import annotations

import pytest

from etl_local.asl.errors import StatesError
from etl_local.asl.path_syntax import PathSyntaxError, parse_path
from etl_local.asl.paths import PathNotFound, apply_result_path, read_path, select_path

DATA = {
    "a": {"b": [1, 2, {"c": 3}]},
    "items": [{"x": 1, "n": "a"}, {"x": 5, "n": "b"}, {"x": 3}],
    "s": "text",
    "delivery-partner": "UQS",
    "nothing": None,
}
CONTEXT = {"Execution": {"Id": "arn:exec"}, "Map": {"Item": {"Index": 0}}}
VARIABLES = {"v": {"k": [10, 20]}, "flag": False}


@pytest.mark.parametrize(("path", "expected"), [
    ("$", DATA),
    ("$.a.b[0]", 1),
    ("$.a.b[-1].c", 3),
    ("$['a'][\"b\"][1]", 2),
    ("$.delivery-partner", "UQS"),
    ("$.nothing", None),
    ("$$.Execution.Id", "arn:exec"),
    ("$$.Map.Item.Index", 0),
    ("$$", CONTEXT),
    ("$v.k[1]", 20),
    ("$flag", False),
    ("$.items.length()", 3),
])
def test_definite_paths(path: str, expected: object) -> None:
    assert read_path(path, DATA, CONTEXT, VARIABLES) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("$.items[*].x", [1, 5, 3]),
    ("$.items[*]", DATA["items"]),
    ("$.items[1:]", DATA["items"][1:]),
    ("$.items[:1].n", ["a"]),
    ("$.items[::2].x", [1, 3]),
    ("$.items[0,2].x", [1, 3]),
    ("$.items[?(@.x > 1)].x", [5, 3]),
    ("$.items[?(@.n == 'a' || @.x >= 5)].x", [1, 5]),
    ("$.items[?(@.n)].x", [1, 5]),
    ("$.items[?(!(@.x < 3))].x", [5, 3]),
    ("$.items[?(@.n in ['b', 'z'])].x", [5]),
    ("$.items[?(@.n =~ /a.*/)].x", [1]),
    ("$.items[?(@.x == '1')]", []),
    ("$..c", [3]),
    ("$..x", [1, 5, 3]),
    ("$.a.*", [[1, 2, {"c": 3}]]),
])
def test_indefinite_paths_return_lists(path: str, expected: list) -> None:
    assert read_path(path, DATA, CONTEXT, VARIABLES) == expected


@pytest.mark.parametrize("path", ["$.items2[*]", "$.missing[1:]", "$.item.items[:1]", "$.items2[*].itemValue",
                                  "$.item.items[1:5].itemValue"])
def test_indefinite_paths_over_missing_data_are_empty(path: str) -> None:
    assert read_path(path, {}, CONTEXT, VARIABLES) == []


@pytest.mark.parametrize(("path", "message"), [
    ("$.x", "No results for path: $['x']"),
    ("$.a.x", "No results for path: $['a']['x']"),
    ("$.no.such.result.path", "Missing property in path $['no']"),
    ("$.a.b[7]", "No results for path: $['a']['b'][7]"),
    ("$.nothing[0]", "The path $['nothing'] is null"),
])
def test_missing_definite_paths_use_jayway_wording(path: str, message: str) -> None:
    with pytest.raises(PathNotFound) as raised:
        read_path(path, DATA, CONTEXT, VARIABLES)
    assert raised.value.jayway_message == message
    assert str(raised.value) == f"Invalid path '{path}' : {message}"


def test_property_of_a_non_object_names_the_java_type() -> None:
    with pytest.raises(PathNotFound) as raised:
        read_path("$.s.x", DATA, CONTEXT, VARIABLES)
    assert raised.value.jayway_message.startswith(
        "Expected to find an object with property ['x'] in path $['s'] but found 'java.lang.String'.")


def test_unknown_variable_is_not_found() -> None:
    with pytest.raises(PathNotFound):
        read_path("$undefined", DATA, CONTEXT, VARIABLES)


def test_select_path_null_discards_input() -> None:
    assert select_path(None, DATA, CONTEXT, VARIABLES) == {}
    assert select_path("$", DATA, CONTEXT, VARIABLES) is DATA


@pytest.mark.parametrize("text", ["a.b", "$.", "$[", "$.a[?(@.x >)]", "$.a[1:2:0]", "@.x", "$.a.foo()"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(text)


def test_result_path_sets_without_mutating_the_input() -> None:
    raw = {"a": {"keep": 1}, "other": [1]}
    output = apply_result_path(raw, "$.a.result", {"r": 2})
    assert output == {"a": {"keep": 1, "result": {"r": 2}}, "other": [1]}
    assert raw == {"a": {"keep": 1}, "other": [1]}


def test_result_path_creates_missing_objects_and_handles_dollar_and_null() -> None:
    assert apply_result_path({}, "$.x.y.z", 1) == {"x": {"y": {"z": 1}}}
    assert apply_result_path({"a": 1}, "$", [1]) == [1]
    assert apply_result_path({"a": 1}, None, [1]) == {"a": 1}
    assert apply_result_path({"l": [0, 1]}, "$.l[1]", "x") == {"l": [0, "x"]}
    assert apply_result_path({"a": 1}, "$['b']", 2) == {"a": 1, "b": 2}


@pytest.mark.parametrize(("raw", "path"), [("foo", "$.x"), ({"a": 1}, "$.a.b"), ({"l": []}, "$.l[3]")])
def test_impossible_result_path_is_a_match_failure(raw: object, path: str) -> None:
    with pytest.raises(StatesError) as raised:
        apply_result_path(raw, path, 1)
    assert raised.value.error == "States.ResultPathMatchFailure"
    assert raised.value.cause.startswith(f"Unable to apply ReferencePath {path} to input ")
