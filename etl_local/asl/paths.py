"""JSONPath for JSONPath-mode states: reading ($, $$, $var), selecting and ResultPath writing.

AWS evaluates paths with Jayway JsonPath, so a definite path that matches nothing fails with
Jayway's wording while an indefinite one (wildcard, slice, filter, deep scan, union) yields a
list, empty when nothing matches. Paths are parsed once per string and cached, because the same
few paths are read on every state transition.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Callable, Mapping

from etl_local.asl.errors import StatesError
from etl_local.asl.path_syntax import (
    ROOT_CONTEXT,
    ROOT_DATA,
    ParsedPath,
    PathSyntaxError,
    Segment,
    parse_path,
)

__all__ = [
    "NOT_FOUND",
    "PathNotFound",
    "PathSyntaxError",
    "apply_result_path",
    "compact_json",
    "data_reader",
    "member_name",
    "parse_cached",
    "read_path",
    "select_path",
]

_PROVIDER = "com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider"
_MISSING = object()
#: What a ``data_reader`` returns when the path reads nothing.
NOT_FOUND = _MISSING


class PathNotFound(Exception):
    """A definite path that matched nothing; ``jayway_message`` is what AWS puts in causes."""

    def __init__(self, path: str, jayway_message: str) -> None:
        super().__init__(f"Invalid path '{path}' : {jayway_message}")
        self.path = path
        self.jayway_message = jayway_message


def compact_json(value: Any) -> str:
    """Serialise as AWS prints values inside causes: compact, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=4096)
def parse_cached(path: str) -> ParsedPath:
    return parse_path(path)


def _compile_reader(path: str) -> Callable[[Any], Any] | None:
    """For the common ``$.a.b`` (state data, names only): a reader of the value, or ``_MISSING``
    when anything is absent or not an object (the general evaluation then words the error)."""
    try:
        parsed = parse_cached(path)
    except PathSyntaxError:
        return None
    if parsed.root != ROOT_DATA or parsed.function is not None or not parsed.segments or \
            any(kind != "prop" for kind, _ in parsed.segments):
        return None
    keys = tuple(name for _, name in parsed.segments)
    if len(keys) == 1:
        key = keys[0]
        return lambda data: data.get(key, _MISSING) if type(data) is dict else _MISSING

    def read(data: Any) -> Any:
        for key in keys:
            if type(data) is not dict:
                return _MISSING
            data = data.get(key, _MISSING)
            if data is _MISSING:
                return _MISSING
        return data

    return read


_READERS: dict[str, Any] = {}


def data_reader(path: str) -> Callable[[Any], Any] | None:
    """A fast reader of ``path`` when it is ``$.a.b`` (names in the state data): it returns the
    value, or ``NOT_FOUND`` where ``read_path`` would raise (or the path is not that simple)."""
    reader = _READERS.get(path, _MISSING)
    if reader is _MISSING:
        reader = _compile_reader(path)
        if len(_READERS) < 4096:
            _READERS[path] = reader
    return reader  # type: ignore[no-any-return]


def read_path(path: str, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None) -> Any:
    """Evaluate ``path`` against the state data, the context object or a variable."""
    reader = _READERS.get(path, _MISSING)
    if reader is _MISSING:
        reader = data_reader(path)
    if reader is not None:
        value = reader(data)
        if value is not _MISSING:
            return value
    parsed = parse_cached(path)
    root = _root_value(parsed, path, data, context, variables)
    if parsed.definite:
        value = _read_definite(parsed, path, root)
    else:
        value = []
        _collect(parsed.segments, 0, root, value, root)
    return value if parsed.function is None else _apply_function(parsed.function, value, path)


def select_path(path: str | None, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None) -> Any:
    """InputPath/OutputPath/ItemsPath: ``None`` discards everything and yields ``{}``."""
    if path is None:
        return {}
    if path == "$":
        return data
    return read_path(path, data, context, variables)


@lru_cache(maxsize=1024)
def member_name(path: str) -> str | None:
    """``name`` when ``path`` is ``$.name`` (one member of the state data), else None."""
    try:
        parsed = parse_cached(path)
    except PathSyntaxError:
        return None
    if parsed.root != ROOT_DATA or parsed.function is not None or len(parsed.segments) != 1:
        return None
    kind, name = parsed.segments[0]
    return name if kind == "prop" else None


def apply_result_path(data: Any, result_path: str | None, result: Any) -> Any:
    """Place ``result`` into a copy of ``data`` at ``result_path`` (missing objects are created)."""
    if result_path is None:
        return data
    if result_path == "$":
        return result
    parsed = parse_cached(result_path)
    if parsed.root != ROOT_DATA or not parsed.definite:
        raise StatesError("States.ResultPathMatchFailure", _result_path_failure(result_path, data))
    return _set_in_copy(data, parsed.segments, 0, result, result_path, data)


def _root_value(parsed: ParsedPath, path: str, data: Any, context: Mapping[str, Any] | None,
                variables: Mapping[str, Any] | None) -> Any:
    if parsed.root == ROOT_DATA:
        return data
    if parsed.root == ROOT_CONTEXT:
        return context if context is not None else {}
    if variables is None or parsed.root not in variables:
        raise PathNotFound(path, f"No results for path: ${parsed.root}")
    return variables[parsed.root]


def _read_definite(parsed: ParsedPath, path: str, node: Any) -> Any:
    for position, (kind, arg) in enumerate(parsed.segments):
        if kind == "prop":
            if type(node) is dict:
                node = node.get(arg, _MISSING)
                if node is _MISSING:
                    if position == len(parsed.segments) - 1:
                        raise PathNotFound(path, f"No results for path: {parsed.jayway}")
                    raise PathNotFound(path, f"Missing property in path {parsed.jayway_prefix(position + 1)}")
            else:
                raise PathNotFound(path, _not_an_object(arg, parsed.jayway_prefix(position), node))
        elif type(node) is list:
            index = arg + len(node) if arg < 0 else arg
            if not 0 <= index < len(node):
                raise PathNotFound(path, f"No results for path: {parsed.jayway}")
            node = node[index]
        elif node is None:
            raise PathNotFound(path, f"The path {parsed.jayway_prefix(position)} is null")
        else:
            raise PathNotFound(path, f"Filter: [{arg}] can only be applied to arrays. Current context is: {_java_text(node)}")
    return node


def _collect(segments: tuple[Segment, ...], position: int, node: Any, out: list[Any], root: Any) -> None:
    """Append every match of ``segments[position:]`` under ``node`` to ``out`` (Jayway order)."""
    if position == len(segments):
        out.append(node)
        return
    kind, arg = segments[position]
    nxt = position + 1
    if kind == "prop":
        if type(node) is dict and arg in node:
            _collect(segments, nxt, node[arg], out, root)
    elif kind == "index":
        if type(node) is list:
            index = arg + len(node) if arg < 0 else arg
            if 0 <= index < len(node):
                _collect(segments, nxt, node[index], out, root)
    elif kind == "props":
        if type(node) is dict:
            for name in arg:
                if name in node:
                    _collect(segments, nxt, node[name], out, root)
    elif kind == "indexes":
        if type(node) is list:
            for i in arg:
                index = i + len(node) if i < 0 else i
                if 0 <= index < len(node):
                    _collect(segments, nxt, node[index], out, root)
    elif kind == "wildcard":
        for child in _children(node):
            _collect(segments, nxt, child, out, root)
    elif kind == "slice":
        if type(node) is list:
            start, stop, step = arg
            for child in node[slice(start, stop, step)]:
                _collect(segments, nxt, child, out, root)
    elif kind == "filter":
        if type(node) is list:
            candidates = node
        elif type(node) is dict:
            candidates = [node]
        else:
            candidates = []
        for child in candidates:
            if arg(child, root):
                _collect(segments, nxt, child, out, root)
    elif kind == "deep":
        _deep_scan(arg, segments, nxt, node, out, root)


def _deep_scan(step: Segment, segments: tuple[Segment, ...], nxt: int, node: Any, out: list[Any], root: Any) -> None:
    """``..x``: apply ``step`` at ``node`` and at every descendant, parents before children."""
    _collect((step,) + segments[nxt:], 0, node, out, root)
    for child in _children(node):
        if isinstance(child, (dict, list)):
            _deep_scan(step, segments, nxt, child, out, root)


def _children(node: Any) -> list[Any]:
    if type(node) is dict:
        return list(node.values())
    if type(node) is list:
        return node
    return []


def _apply_function(name: str, node: Any, path: str) -> Any:
    if name == "length" and isinstance(node, (list, dict, str)):
        return len(node)
    raise PathNotFound(path, f"Function {name}() can not be applied to {_java_class(node)}")


def _set_in_copy(node: Any, segments: tuple[Segment, ...], position: int, value: Any,
                 result_path: str, data: Any) -> Any:
    kind, arg = segments[position]
    last = position == len(segments) - 1
    if kind == "prop" and type(node) is dict:
        copy = dict(node)
        if last:
            copy[arg] = value
        else:
            child = node.get(arg, _MISSING)
            copy[arg] = _set_in_copy({} if child is _MISSING else child, segments, position + 1, value, result_path, data)
        return copy
    if kind == "index" and type(node) is list:
        index = arg + len(node) if arg < 0 else arg
        if 0 <= index < len(node):
            copy_list = list(node)
            copy_list[index] = value if last else _set_in_copy(node[index], segments, position + 1, value, result_path, data)
            return copy_list
    raise StatesError("States.ResultPathMatchFailure", _result_path_failure(result_path, data))


def _result_path_failure(result_path: str, data: Any) -> str:
    return f"Unable to apply ReferencePath {result_path} to input {compact_json(data)}"


def _not_an_object(prop: str, where: str, node: Any) -> str:
    return (f"Expected to find an object with property ['{prop}'] in path {where} but found "
            f"'{_java_class(node)}'. This is not a json object according to the JsonProvider: '{_PROVIDER}'.")


def _java_class(node: Any) -> str:
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "java.lang.Boolean"
    if isinstance(node, int):
        return "java.lang.Integer"
    if isinstance(node, float):
        return "java.lang.Double"
    if isinstance(node, str):
        return "java.lang.String"
    if isinstance(node, list):
        return "java.util.ArrayList"
    return "java.util.LinkedHashMap"


def _java_text(node: Any) -> str:
    return compact_json(node) if isinstance(node, (dict, list)) else str(node)
