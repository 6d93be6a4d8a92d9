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
from etl_local.asl.paths import NOT_FOUND, PathNotFound, compact_json, data_reader, member_name, read_path

__all__ = ["RENDER_ERRORS", "compiled_template", "copy_json", "render_template", "rendering_failure"]

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
        return compiled_template(template)[0](data, context, variables)
    except RENDER_ERRORS as err:
        raise rendering_failure(err, data, state_name, entered_event_id) from None


#: What a compiled template's renderer raises; ``rendering_failure`` makes it the state's error.
RENDER_ERRORS = (_FieldPathMissing, StatesError)


def rendering_failure(err: Exception, data: Any, state_name: str, entered_event_id: int) -> StatesError:
    """A rendering failure (one of ``RENDER_ERRORS``) as the state reports it."""
    if isinstance(err, _FieldPathMissing):
        return state_error("States.Runtime", state_name, entered_event_id,
                           f"The JSONPath '{err.path}' specified for the field '{err.field}' "
                           f"could not be found in the input '{compact_json(data)}'")
    assert isinstance(err, StatesError)
    return StatesError(err.error, state_cause(state_name, entered_event_id, err.cause or ""))


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value, several times faster than copy.deepcopy."""
    if type(value) is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if type(value) is list:
        return [copy_json(item) for item in value]
    return value


_COMPILED: dict[int, tuple[Any, Renderer, bool]] = {}


def compiled_template(template: Any) -> tuple[Renderer, bool]:
    """(the renderer of ``template``, whether any ``key.$`` expression of it may read ``$$``).

    Callers need not build the context object for the many templates that never read it."""
    cached = _COMPILED.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1], cached[2]
    renderer, _ = _compile(template)
    reads_context = _mentions_context(template)
    _COMPILED[id(template)] = (template, renderer, reads_context)
    return renderer, reads_context


def _mentions_context(template: Any) -> bool:
    if type(template) is dict:
        return any(("$$" in value if isinstance(value, str) else False) if key.endswith(".$")
                   else _mentions_context(value) for key, value in template.items())
    if type(template) is list:
        return any(_mentions_context(item) for item in template)
    return False


def _compile(template: Any) -> tuple[Renderer, bool]:
    """Return the renderer and whether the template is fully literal."""
    if type(template) is dict:
        #: (output key, renderer, value): a literal that needs no copy has no renderer
        plan: list[tuple[str, Renderer | None, Any]] = []
        literal = True
        for key, value in template.items():
            if key.endswith(".$"):
                plan.append((key[:-2], _dynamic(key, value), None))
                literal = False
            elif isinstance(value, (dict, list)):
                renderer, value_literal = _compile(value)
                plan.append((key, renderer, None))
                literal = literal and value_literal
            else:
                plan.append((key, None, value))
        if literal:
            return _constant(template), True
        steps = tuple(plan)

        def render_object(data: Any, context: Any, variables: Any) -> dict[str, Any]:
            rendered = {}
            for key, render, value in steps:
                rendered[key] = value if render is None else render(data, context, variables)
            return rendered

        return render_object, False
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
    name = member_name(expression) if evaluate is read_path else None
    if name is not None:
        def read_member(data: Any, context: Any, variables: Any) -> Any:
            if type(data) is dict:
                value = data.get(name, NOT_FOUND)
                if value is not NOT_FOUND:
                    return value
            try:
                return read_path(expression, data, context, variables)
            except PathNotFound as missing:
                raise _FieldPathMissing(field, missing.path) from None
        return read_member
    reader = data_reader(expression) if evaluate is read_path else None
    if reader is not None:
        def read(data: Any, context: Any, variables: Any) -> Any:
            value = reader(data)
            if value is NOT_FOUND:
                try:
                    return read_path(expression, data, context, variables)
                except PathNotFound as missing:
                    raise _FieldPathMissing(field, missing.path) from None
            return value
        return read

    def render(data: Any, context: Any, variables: Any) -> Any:
        try:
            return evaluate(expression, data, context, variables)
        except PathNotFound as missing:
            raise _FieldPathMissing(field, missing.path) from None

    return render
