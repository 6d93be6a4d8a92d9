"""Pass: its result is ``Result`` taken literally (AWS_BEHAVIOURS #18), else the rendered
Parameters, else its input. ``Result`` is copied: later tasks may mutate what they get."""
from __future__ import annotations

from typing import Any

from ..execution import Frame
from ..payload import copy_json
from .base import ABSENT, State


class PassState(State):
    kind = "Pass"

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        self.result = spec.get("Result", ABSENT)
        self.parameters = spec.get("Parameters")
        self.result_path = spec.get("ResultPath", "$")

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        visit = self.enter(value, frame)
        if self.jsonata:
            output, assigned = self.jsonata_output(visit, value)
            return self.finish(visit, output, assigned)
        result = self.result
        if result is ABSENT:
            result = value if self.input_path == "$" else self.select(visit, self.input_path, value)
            if self.parameters is not None:
                result = self.render(visit, self.parameters, result)
        elif type(result) is dict or type(result) is list:
            result = copy_json(result)
        output, assigned = self.jsonpath_output(visit, result, None, self.result_path)
        return self.finish(visit, output, assigned)
