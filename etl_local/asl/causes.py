"""The wording AWS wraps around failures raised while a state runs.

AWS prefixes States.Runtime, States.IntrinsicFailure and States.QueryEvaluationError causes
with the state name and the id of its ...StateEntered event; keeping that text in one place
lets the expression layer and the engine produce identical causes.
"""
from __future__ import annotations

from etl_local.asl.errors import StatesError


def state_cause(state_name: str, entered_event_id: int, detail: str) -> str:
    return (f"An error occurred while executing the state '{state_name}' "
            f"(entered at the event id #{entered_event_id}). {detail}")


def state_error(error: str, state_name: str, entered_event_id: int, detail: str) -> StatesError:
    return StatesError(error, state_cause(state_name, entered_event_id, detail))
