"""The events each Lambda accepts, as the state machine sends them.

Validated with Powertools' parser before the domain runs, so a bad event fails fast with
an InputError that names the field, instead of a KeyError deep inside a stage.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from etl_core.spec.paths import PART_NAME, PIPELINE_NAME, RUN_ID


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    execution_id: str | None = Field(None, description="$$.Execution.Id, the logs' correlation id")


class PlanEvent(_Event):
    input: Any = Field(description="the execution input, checked by etl_core.plan.parse_request")
    execution_start: str | None = Field(None, description="$$.Execution.StartTime, the default run date")


class RunEvent(_Event):
    """Pipeline and run id become parts of lake paths: they match the same patterns Plan enforces."""

    pipeline: str = Field(pattern=PIPELINE_NAME.pattern)
    run_id: str = Field(pattern=RUN_ID.pattern)


class TransformEvent(RunEvent):
    step: Literal["sql", "flatten"] = Field("sql", description="flatten: the semi-structured path's first step")


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=PART_NAME.pattern)
    uri: str


class ExtractEvent(RunEvent):
    run_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    source: SourceRef


class ValidateEvent(RunEvent):
    extracted: list[dict[str, Any]] = Field(min_length=1)


class LoadEvent(RunEvent):
    target: str = Field(pattern=PART_NAME.pattern)
    fingerprint: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="Validate's fingerprint of the rows to load")


class FinalizeEvent(RunEvent):
    """Sent once every Load of the run succeeded: the run's source state may now be committed."""


class StateError(BaseModel):
    Error: str
    Cause: str | None = ""


class ErrorEvent(_Event):
    error: StateError
    failed_state: str
    attempt: int = Field(ge=0)
    # The failed execution's input: its ``pipeline`` is the handler's metrics' pipeline dimension
    # (observability.pipeline_of), as for every other stage. Absent in older callers.
    input: Any = Field(default=None, description="the execution input ($$.Execution.Input)")
