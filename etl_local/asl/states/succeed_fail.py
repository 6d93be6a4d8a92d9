"""Succeed ends a branch with its (filtered) input; Fail ends it with an error.

A Fail state logs only FailStateEntered; its error and cause may come from paths,
intrinsics or variables, and may be absent altogether (AWS_BEHAVIOURS #5).
"""
from __future__ import annotations

from typing import Any

from ..causes import state_error
from ..errors import StatesError
from ..execution import Frame, Visit
from ..history import to_json
from ..intrinsics import evaluate_intrinsic
from ..paths import PathNotFound, read_path
from .base import State


class SucceedState(State):
    kind = "Succeed"

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        visit = self.enter(value, frame)
        if self.jsonata:
            output, assigned = self.jsonata_output(visit, value)
        else:
            output = self.effective_input(visit)
            if self.output_path != "$":
                output = self.select(visit, self.output_path, output)
            assigned = None
        self.leave(visit, self.output_json(visit, output), assigned)
        return None, output


class FailState(State):
    kind = "Fail"

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        self.error = spec.get("Error")
        self.cause = spec.get("Cause")
        self.error_path = spec.get("ErrorPath")
        self.cause_path = spec.get("CausePath")

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        visit = self.enter(value, frame)
        if self.jsonata:
            bound = self.bindings(visit)
            error = self.evaluate(visit, self.error, "Error", bound) if self.error is not None else None
            cause = self.evaluate(visit, self.cause, "Cause", bound) if self.cause is not None else None
        else:
            error = self._from_path(visit, self.error_path, "ErrorPath") if self.error_path else self.error
            cause = self._from_path(visit, self.cause_path, "CausePath") if self.cause_path else self.cause
        raise StatesError(error, cause)  # type: ignore[arg-type]  # a bare Fail has no error at all

    def _from_path(self, visit: Visit, path: str, field: str) -> str:
        try:
            if path.startswith("$"):
                value = read_path(path, visit.input, visit.context(), visit.variables)
            else:
                value = evaluate_intrinsic(path, visit.input, visit.context(), visit.variables)
        except PathNotFound:
            raise visit.runtime_error(f"The JSONPath '{path}' specified for the field '{field}' could not be found "
                                      f"in the input '{to_json(visit.input)}'") from None
        except StatesError as err:
            raise state_error(err.error, self.name, visit.entered_id, err.cause or "") from None
        if not isinstance(value, str):
            raise visit.runtime_error(f"The {field} field must reference a string; '{path}' is {type(value).__name__}")
        return value
