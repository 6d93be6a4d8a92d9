"""Choice: the first matching rule picks ``Next``; no match and no Default is States.NoChoiceMatched.

The output is the (filtered) input. In JSONata a matched rule's own Assign/Output apply,
while the state-level ones apply when the Default is taken.
"""
from __future__ import annotations

from typing import Any

from ..choice import choice_rule_matches
from ..errors import StatesError
from ..execution import Frame, Visit
from ..jsonata_eval import jsonata_condition
from .base import ABSENT, State

NO_CHOICE_MATCHED = "States.NoChoiceMatched"


class ChoiceState(State):
    kind = "Choice"

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        self.choices: list[dict[str, Any]] = spec.get("Choices", [])
        self.default: str | None = spec.get("Default")

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        visit = self.enter(value, frame)
        if self.jsonata:
            return self._run_jsonata(visit)
        data = self.effective_input(visit)
        for rule in self.choices:
            if choice_rule_matches(rule, data, visit.context(), visit.variables,
                                   state_name=self.name, entered_event_id=visit.entered_id):
                next_state, assign = rule["Next"], rule.get("Assign")
                break
        else:
            next_state, assign = self._default(visit), self.assign
        assigned = self.render(visit, assign, data) if assign is not None else None
        output = data if self.output_path == "$" else self.select(visit, self.output_path, data)
        self.leave(visit, self.output_json(visit, output), assigned)
        return next_state, output

    def _run_jsonata(self, visit: Visit) -> tuple[str | None, Any]:
        bound = self.bindings(visit)
        for index, rule in enumerate(self.choices):
            field = f"Choices[{index}].Condition"
            try:
                matched = jsonata_condition(rule["Condition"], bound, field=field, state_name=self.name,
                                            entered_event_id=visit.entered_id)
            except StatesError as err:
                raise self.evaluation_failed(visit, field, err) from None
            if matched:
                next_state, assign, output = rule["Next"], rule.get("Assign"), rule.get("Output", ABSENT)
                break
        else:
            next_state, assign, output = self._default(visit), self.assign, self.output
        assigned = self.evaluate(visit, assign, "Assign", bound) if assign is not None else None
        result = self.evaluate(visit, output, "Output", bound) if output is not ABSENT else visit.input
        self.leave(visit, self.output_json(visit, result), assigned)
        return next_state, result

    def _default(self, visit: Visit) -> str:
        if self.default is None:
            raise StatesError(NO_CHOICE_MATCHED, f"No Choice Rule matched and no Default was specified "
                                                 f"in the Choice state '{self.name}'.")
        return self.default
