"""Payload templates: Parameters, ResultSelector, ItemSelector and JSONPath-mode Assign.

A template is compiled once into nested closures (keyed by the identity of the definition's
dict, which lives as long as the state machine) so that rendering it on every transition only
does the dynamic work. Literal parts are copied on each render: the engine may hand rendered
values to task code that mutates them, and the definition must stay intact.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from etl_local.asl.causes import state_cause, state_error
from etl_local.asl.errors import StatesError
from etl_local.asl.intrinsics import evaluate_intrinsic
from etl_local.asl.paths import PathNotFound, compact_json, read_path

__all__ = ["copy_json", "render_template", "uses_context"]

Renderer = Callable[[Any, Any, Any], Any]


class _FieldPathMissing(Exception):
    def __init__(self, field: str, path: str) -> None:
        super().__init__(field, path)
        self.field = field
        self.path = path


def render_template(template: Any, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None,
                    *, state_name: str, entered_event_id: int) -> Any:
    """Evaluate every ``key.$`` of ``template`` (a path or an intrinsic call) against ``data``."""
    try:
        return _renderer(template)(data, context, variables)
    except _FieldPathMissing as missing:
        raise state_error("States.Runtime", state_name, entered_event_id,
                          f"The JSONPath '{missing.path}' specified for the field '{missing.field}' "
                          f"could not be found in the input '{compact_json(data)}'") from None
    except StatesError as error:
        raise StatesError(error.error, state_cause(state_name, entered_event_id, error.cause or "")) from None


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value, several times faster than copy.deepcopy."""
    if type(value) is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if type(value) is list:
        return [copy_json(item) for item in value]
    return value


_RENDERERS: dict[int, tuple[Any, Renderer]] = {}
_USES_CONTEXT: dict[int, tuple[Any, bool]] = {}


def uses_context(template: Any) -> bool:
    """Whether any ``key.$`` expression of ``template`` may read ``$$`` (so the caller need not
    build the context object for the many templates that never do)."""
    cached = _USES_CONTEXT.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    found = _mentions_context(template)
    _USES_CONTEXT[id(template)] = (template, found)
    return found


def _mentions_context(template: Any) -> bool:
    if type(template) is dict:
        return any(("$$" in value if isinstance(value, str) else False) if key.endswith(".$")
                   else _mentions_context(value) for key, value in template.items())
    if type(template) is list:
        return any(_mentions_context(item) for item in template)
    return False


def _renderer(template: Any) -> Renderer:
    cached = _RENDERERS.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    renderer, _ = _compile(template)
    _RENDERERS[id(template)] = (template, renderer)
    return renderer


def _compile(template: Any) -> tuple[Renderer, bool]:
    """Return the renderer and whether the template is fully literal."""
    if type(template) is dict:
        entries: list[tuple[str, Renderer]] = []
        literal = True
        for key, value in template.items():
            if key.endswith(".$"):
                entries.append((key[:-2], _dynamic(key, value)))
                literal = False
            else:
                renderer, value_literal = _compile(value)
                entries.append((key, renderer))
                literal = literal and value_literal
        if literal:
            return _constant(template), True
        return (lambda data, context, variables: {key: render(data, context, variables) for key, render in entries}), False
    if type(template) is list:
        compiled = [_compile(item) for item in template]
        if all(literal for _, literal in compiled):
            return _constant(template), True
        renderers = [renderer for renderer, _ in compiled]
        return (lambda data, context, variables: [render(data, context, variables) for render in renderers]), False
    return _constant(template), True


def _constant(value: Any) -> Renderer:
    if isinstance(value, (dict, list)):
        return lambda data, context, variables: copy_json(value)
    return lambda data, context, variables: value


def _dynamic(field: str, expression: Any) -> Renderer:
    if not isinstance(expression, str):
        def invalid(data: Any, context: Any, variables: Any) -> Any:
            raise StatesError("States.Runtime", f"The value for the field '{field}' must be a valid JSONPath "
                                                "or a valid intrinsic function call")
        return invalid
    if expression == "$":
        return lambda data, context, variables: data
    evaluate = read_path if expression.startswith("$") else evaluate_intrinsic

    def render(data: Any, context: Any, variables: Any) -> Any:
        try:
            return evaluate(expression, data, context, variables)
        except PathNotFound as missing:
            raise _FieldPathMissing(field, missing.path) from None

    return render
