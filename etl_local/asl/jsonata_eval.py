"""JSONata-mode field evaluation on top of jsonata-python, with Step Functions' own rules.

Only a string that is exactly ``{% expression %}`` is evaluated; every evaluated field must
produce a value (undefined is an error naming the field, e.g. ``Output/result``), and the
functions AWS adds to JSONata ($partition, $range, $hash, $random, $uuid, $parse) are bound.
Expressions are compiled once per text.
"""
from __future__ import annotations

import json
import random
import re
import threading
import uuid
from functools import lru_cache
from typing import Any, Callable

import jsonata
from jsonata.jexception import JException
from jsonata.utils import Utils

from etl_local.asl.causes import state_cause
from etl_local.asl.errors import QueryEvaluationFailed, StatesError
from etl_local.asl.intrinsics import intrinsic_function
from etl_local.asl.paths import compact_json

__all__ = [
    "evaluate_jsonata_template",
    "evaluate_jsonata_typed",
    "is_jsonata_expression",
    "jsonata_condition",
    "jsonata_syntax_error",
]

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
_TYPE_NAMES = {"array": list, "object": dict, "string": str, "boolean": bool}
_COMPILE_LOCK = threading.Lock()


def is_jsonata_expression(value: Any) -> bool:
    """``{% ... %}`` with nothing outside the delimiters: a leading space makes a literal."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}") and len(value) >= 4


def jsonata_syntax_error(expression: str) -> str | None:
    """The parser's complaint about ``expression`` (the text between the delimiters), or None."""
    try:
        _compiled(expression)
    except JException as error:
        return str(error)
    return None


def evaluate_jsonata_template(template: Any, bindings: dict, *, field: str,
                              state_name: str | None = None, entered_event_id: int = 0) -> Any:
    """Evaluate every ``{% %}`` string in ``template`` (recursing into objects and arrays).

    ``bindings`` holds ``states`` and the variables; causes get AWS's state prefix when
    ``state_name`` is given.
    """
    try:
        return _render(template, bindings, field)
    except _QueryFailure as failure:
        raise QueryEvaluationFailed(_cause(failure.detail, state_name, entered_event_id), failure.field) from None


def evaluate_jsonata_typed(template: Any, bindings: dict, *, field: str, expected: str,
                           state_name: str | None = None, entered_event_id: int = 0) -> Any:
    """Like evaluate_jsonata_template, but the value must be of JSON type ``expected``
    (array, object, string, boolean, number or integer), as for Map Items or Wait Seconds."""
    value = evaluate_jsonata_template(template, bindings, field=field, state_name=state_name,
                                      entered_event_id=entered_event_id)
    if _has_type(value, expected):
        return value
    shown = template[2:-2].strip() if is_jsonata_expression(template) else compact_json(template)
    detail = (f"The JSONata expression '{shown}' specified for the field '{field}' returned an unexpected "
              f"result type. Expected '{expected}', but was '{_type_name(value)}' for value: {compact_json(value)}")
    raise StatesError(QUERY_EVALUATION_ERROR, _cause(detail, state_name, entered_event_id))


def jsonata_condition(expression: str, bindings: dict, *, field: str,
                      state_name: str | None = None, entered_event_id: int = 0) -> bool:
    """A Choice rule's Condition: it must evaluate to a boolean."""
    return evaluate_jsonata_typed(expression, bindings, field=field, expected="boolean",
                                  state_name=state_name, entered_event_id=entered_event_id)


class _QueryFailure(Exception):
    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


def _cause(detail: str, state_name: str | None, entered_event_id: int) -> str:
    return detail if state_name is None else state_cause(state_name, entered_event_id, detail)


def _render(template: Any, bindings: dict, field: str) -> Any:
    if isinstance(template, str):
        return _evaluate(template[2:-2].strip(), bindings, field) if is_jsonata_expression(template) else template
    if isinstance(template, dict):
        return {key: _render(value, bindings, f"{field}/{key}") for key, value in template.items()}
    if isinstance(template, list):
        return [_render(value, bindings, f"{field}/{index}") for index, value in enumerate(template)]
    return template


def _evaluate(expression: str, bindings: dict, field: str) -> Any:
    lookup = _simple_lookup(expression)
    if lookup is not None:
        value = _walk(lookup, bindings)
        if value is _UNDEFINED:
            raise _QueryFailure(f"The JSONata expression '{expression}' specified for the field '{field}' "
                                "returned nothing (undefined).", field)
        if value is not _NEEDS_JSONATA:
            return value
    try:
        compiled = _compiled(expression)
        states = bindings.get("states")
        raw = compiled.evaluate(states.get("input") if isinstance(states, dict) else None, bindings)
    except JException as error:
        raise _QueryFailure(f"The JSONata expression '{expression}' specified for the field '{field}' threw an "
                            f"error during evaluation. {error.error}: {error}", field) from None
    except StatesError as error:  # raised by the Step Functions functions below
        raise _QueryFailure(f"The JSONata expression '{expression}' specified for the field '{field}' threw an "
                            f"error during evaluation. {error.cause}", field) from None
    if raw is None:
        raise _QueryFailure(f"The JSONata expression '{expression}' specified for the field '{field}' "
                            "returned nothing (undefined).", field)
    return _plain(raw, expression, field)


def _plain(value: Any, expression: str, field: str) -> Any:
    """Turn jsonata-python's values (JList, NULL_VALUE) into plain JSON values.

    Inside containers None is a null taken over from the input: JSONata already drops
    undefined members when it builds objects and arrays."""
    if value is Utils.NULL_VALUE or value is None:
        return None
    if isinstance(value, dict):
        return {key: _plain(item, expression, field) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, expression, field) for item in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    raise _QueryFailure(f"The JSONata expression '{expression}' specified for the field '{field}' returned an "
                        "unsupported result type.", field)


_UNDEFINED = object()
_NEEDS_JSONATA = object()
_SIMPLE_LOOKUP = re.compile(r"\$([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)")


@lru_cache(maxsize=2048)
def _simple_lookup(expression: str) -> tuple[str, ...] | None:
    """``$states.input.a.b`` or ``$var.x`` as names, else None.

    Most fields are such lookups; walking plain objects directly is ~50 times faster than
    jsonata-python. Anything JSONata would treat specially (arrays to map over, functions)
    still goes to the library, see _walk.
    """
    match = _SIMPLE_LOOKUP.fullmatch(expression)
    if match is None:
        return None
    return (match.group(1), *filter(None, match.group(2).split(".")))


def _walk(names: tuple[str, ...], bindings: dict) -> Any:
    if names[0] not in bindings:
        return _NEEDS_JSONATA
    node = bindings[names[0]]
    for name in names[1:]:
        if type(node) is not dict:
            return _NEEDS_JSONATA
        node = node.get(name, _UNDEFINED)
        if node is _UNDEFINED:
            return _UNDEFINED
    return node if type(node) in _PLAIN_TYPES else _NEEDS_JSONATA


_PLAIN_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})


@lru_cache(maxsize=2048)
def _compiled(expression: str) -> jsonata.Jsonata:
    with _COMPILE_LOCK:  # the library's parser is shared per thread and records the current instance
        compiled = jsonata.Jsonata(expression)
    compiled.set_output_convert_nulls(False)
    compiled.set_validate_input(False)  # values come from JSON already; validation walks the whole input
    for name, implementation in _STEP_FUNCTIONS_FUNCTIONS.items():
        compiled.register_lambda(name, implementation)
    return compiled


def _has_type(value: Any, expected: str) -> bool:
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "integer":
        return _has_type(value, "number") and float(value).is_integer()
    return isinstance(value, _TYPE_NAMES[expected])


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {list: "array", dict: "object", str: "string"}[type(value)]


# -- the functions Step Functions adds to JSONata ---------------------------------------------
def _json_arg(value: Any) -> Any:
    """Arguments arrive in jsonata-python's representation; the intrinsic code wants JSON."""
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, list):
        return [_json_arg(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_arg(item) for key, item in value.items()}
    return value


def _range(start: Any, end: Any, step: Any = 1) -> list[int]:
    """A sequence, so that JSONata unwraps a single item: $range(1, 9, 9) is 1, not [1]."""
    return Utils.create_sequence_from_iter(intrinsic_function("ArrayRange")(start, end, step))


def _parse(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as error:
        raise StatesError(QUERY_EVALUATION_ERROR, f"$parse could not parse {text!r} as JSON: {error}") from error


def _random(seed: Any = None) -> float:
    return random.Random(seed).random() if seed is not None else random.random()


_STEP_FUNCTIONS_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": lambda array, size: intrinsic_function("ArrayPartition")(_json_arg(array), size),
    "range": _range,
    "hash": lambda data, algorithm: intrinsic_function("Hash")(data, algorithm),
    "random": _random,
    "uuid": lambda: str(uuid.uuid4()),
    "parse": _parse,
}
