"""The States.* intrinsic functions of JSONPath-mode states, with AWS's observed quirks.

AWS runs these on the JVM, which shows through: MathAdd rounds each operand with Java's
Math.round, Format prints objects as Java maps, StringSplit splits on a character set.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import uuid
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Mapping

from etl_local.asl.errors import StatesError
from etl_local.asl.intrinsic_syntax import (
    Argument,
    Call,
    IntrinsicSyntaxError,
    Literal,
    PathArg,
    parse_intrinsic,
)
from etl_local.asl.paths import compact_json, read_path

__all__ = ["evaluate_intrinsic", "intrinsic_function", "is_intrinsic", "java_text", "parse_cached_intrinsic"]

_MAX_STRING = 10_000
_MAX_RANGE = 1_000
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def is_intrinsic(expression: str) -> bool:
    """Whether AWS would accept ``expression`` as an intrinsic call (used by validation too)."""
    try:
        parse_cached_intrinsic(expression)
    except IntrinsicSyntaxError:
        return False
    return True


@lru_cache(maxsize=4096)
def parse_cached_intrinsic(expression: str) -> Call:
    return parse_intrinsic(expression)


def evaluate_intrinsic(expression: str, data: Any, context: Mapping[str, Any] | None,
                       variables: Mapping[str, Any] | None) -> Any:
    """Evaluate a call; a missing path argument raises PathNotFound, bad arguments
    StatesError("States.IntrinsicFailure", ...)."""
    try:
        call = parse_cached_intrinsic(expression)
    except IntrinsicSyntaxError as error:
        raise StatesError("States.IntrinsicFailure", f"Invalid intrinsic function call {expression!r}: {error}") from error
    return _evaluate(call, data, context, variables)


def _evaluate(call: Call, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None) -> Any:
    args = [_argument(arg, data, context, variables) for arg in call.args]
    if call.name == "States.Format":
        template = call.args[0]
        raw = template.raw if isinstance(template, Literal) and template.raw is not None else args[0]
        return _format(raw, args[1:])
    return _FUNCTIONS[call.name](*args)


def _argument(arg: Argument, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, PathArg):
        return read_path(arg.path, data, context, variables)
    return _evaluate(arg, data, context, variables)


def _fail(message: str) -> StatesError:
    return StatesError("States.IntrinsicFailure", message)


# -- argument checks --------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string(function: str, value: Any, what: str = "argument") -> str:
    if not isinstance(value, str):
        raise _fail(f"The {what} of {function} must be a string, but was: {compact_json(value)}")
    return value


def _array(function: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(f"The first argument of {function} must be an array, but was: {compact_json(value)}")
    return value


def _integer(function: str, value: Any, what: str) -> int:
    """JSON numbers with an integral value count as integers (1.0 is accepted as 1)."""
    if _is_number(value) and float(value).is_integer():
        return int(value)
    raise _fail(f"The {what} of {function} must be an integer, but was: {compact_json(value)}")


def _limited(function: str, value: str) -> str:
    if len(value) > _MAX_STRING:
        raise _fail(f"The input of {function} exceeds the maximum length of {_MAX_STRING} characters")
    return value


# -- States.Format ----------------------------------------------------------------------------
_NO_ARGUMENT = object()


def _format(template: Any, args: list[Any]) -> str:
    """``{}`` takes the next argument; ``\\{ \\} \\' \\\\`` stand for the character itself."""
    template = _string("States.Format", template, "template")
    pieces: list[str] = []
    remaining = iter(args)
    used = 0
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\" and i + 1 < len(template):
            pieces.append(template[i + 1])
            i += 2
            continue
        if char == "{":
            if not template.startswith("{}", i):
                raise _fail("Invalid template in States.Format: matching '}' not found for '{'.")
            value = next(remaining, _NO_ARGUMENT)
            if value is _NO_ARGUMENT:
                raise _fail(f"States.Format has more placeholders than the {len(args)} argument(s) given")
            pieces.append(java_text(value))
            used += 1
            i += 2
            continue
        if char == "}":
            raise _fail("Invalid template in States.Format: matching '{' not found for '}'.")
        pieces.append(char)
        i += 1
    if used != len(args):
        raise _fail(f"States.Format was given {len(args)} argument(s) for {used} placeholder(s)")
    return "".join(pieces)



def java_text(value: Any) -> str:
    """How the JVM prints a JSON value: strings bare, maps as ``{k=v, ...}``, doubles as Java does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_text(item) for item in value) + "]"
    return "{" + ", ".join(f"{key}={java_text(item)}" for key, item in value.items()) + "}"


def java_double(value: float) -> str:
    """Java's Double.toString: plain between 1e-3 and 1e7, otherwise ``d.dddE[-]n``."""
    if math.isnan(value) or math.isinf(value):
        return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "e" not in text else format(Decimal(text), "f")
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    power = len(mantissa) - 1 + int(exponent)
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"


# -- the other functions ----------------------------------------------------------------------
def _string_to_json(text: Any) -> Any:
    text = _string("States.StringToJson", text)
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise _fail(f"States.StringToJson could not parse {text!r} as JSON: {error}") from error


def _array_partition(array: Any, size: Any) -> list[list[Any]]:
    items = _array("States.ArrayPartition", array)
    chunk = _integer("States.ArrayPartition", size, "chunk size")
    if chunk <= 0:
        raise _fail(f"The chunk size of States.ArrayPartition must be positive, but was: {chunk}")
    return [items[i:i + chunk] for i in range(0, len(items), chunk)]


def _json_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return left == right


def _array_contains(array: Any, value: Any) -> bool:
    return any(_json_equal(item, value) for item in _array("States.ArrayContains", array))


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    first = _integer("States.ArrayRange", start, "start")
    last = _integer("States.ArrayRange", end, "end")
    stride = _integer("States.ArrayRange", step, "step")
    if stride == 0:
        raise _fail("The step of States.ArrayRange must not be 0")
    values = range(first, last + (1 if stride > 0 else -1), stride)
    if len(values) > _MAX_RANGE:
        raise _fail(f"States.ArrayRange would return {len(values)} items; the limit is {_MAX_RANGE}")
    return list(values)


def _array_get_item(array: Any, index: Any) -> Any:
    items = _array("States.ArrayGetItem", array)
    position = _integer("States.ArrayGetItem", index, "index")
    if not 0 <= position < len(items):
        raise _fail(f"The index {position} is out of bounds for an array of length {len(items)} in States.ArrayGetItem")
    return items[position]


def _array_unique(array: Any) -> list[Any]:
    unique: list[Any] = []
    for item in _array("States.ArrayUnique", array):
        if not any(_json_equal(item, seen) for seen in unique):
            unique.append(item)
    return unique


def _base64_encode(text: Any) -> str:
    value = _limited("States.Base64Encode", _string("States.Base64Encode", text))
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _base64_decode(text: Any) -> str:
    value = _limited("States.Base64Decode", _string("States.Base64Decode", text))
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise _fail(f"States.Base64Decode could not decode {value!r}: {error}") from error


def _hash(data: Any, algorithm: Any) -> str:
    value = _limited("States.Hash", _string("States.Hash", data, "data"))
    name = _HASHES.get(_string("States.Hash", algorithm, "algorithm"))
    if name is None:
        raise _fail(f"States.Hash does not support the algorithm {algorithm!r}; use one of {', '.join(_HASHES)}")
    return hashlib.new(name, value.encode("utf-8")).hexdigest()


def _json_merge(left: Any, right: Any, deep: Any) -> dict[str, Any]:
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise _fail("The first two arguments of States.JsonMerge must be JSON objects")
    if deep is not False:
        raise _fail("States.JsonMerge supports only shallow merging: its third argument must be false")
    return {**left, **right}


def _truncated(function: str, value: Any, what: str) -> int:
    """A number as Java's ``intValue`` takes it: AWS runs States.MathRandom(12.5, 44.51)."""
    if _is_number(value):
        return int(value)
    raise _fail(f"The {what} of {function} must be a number, but was: {compact_json(value)}")


def _math_random(start: Any, end: Any, seed: Any = None) -> int:
    low = _truncated("States.MathRandom", start, "start")
    high = _truncated("States.MathRandom", end, "end")
    if high <= low:
        raise _fail(f"The end of States.MathRandom must be greater than its start ({low}), but was: {high}")
    generator = random.Random(_integer("States.MathRandom", seed, "seed")) if seed is not None else random
    return generator.randrange(low, high)


def _java_round(value: float | int) -> int:
    """Java Math.round: half-up towards positive infinity (-1.5 -> -1, 2.5 -> 3)."""
    return value if isinstance(value, int) else math.floor(value + 0.5)


def _math_add(left: Any, right: Any) -> int:
    for value in (left, right):
        if not _is_number(value):
            raise _fail(f"The arguments of States.MathAdd must be numbers, but one was: {compact_json(value)}")
    return _java_round(left) + _java_round(right)


def _string_split(text: Any, delimiters: Any) -> list[str]:
    value = _string("States.StringSplit", text)
    separators = _string("States.StringSplit", delimiters, "delimiter")
    tokens: list[str] = []
    current: list[str] = []
    for char in value:
        if char in separators:
            tokens.append("".join(current))
            current = []
        else:
            current.append(char)
    tokens.append("".join(current))
    return [token for token in tokens if token]


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.StringToJson": _string_to_json,
    "States.JsonToString": compact_json,
    "States.Array": lambda *items: list(items),
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": lambda array: len(_array("States.ArrayLength", array)),
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": lambda: str(uuid.uuid4()),
}


def intrinsic_function(name: str) -> Callable[..., Any]:
    """The implementation behind ``States.<name>``; JSONata's $partition, $range and $hash share it."""
    return _FUNCTIONS[f"States.{name}"]
