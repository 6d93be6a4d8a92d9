"""StateMachine: a validated, compiled definition that runs executions and reports them as AWS would."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import Clock, RealClock
from .errors import DefinitionError, ExecutionTimedOut, StatesError
from .execution import AbortSignal, Execution, FailurePoint, Frame, run_program
from .history import EventListener, History, error_details, io_details, to_json
from .retry_catch import TIMEOUT
from .states import compile_program
from .states.base import PAYLOAD_LIMIT_BYTES
from .storage import ObjectStore
from .tasks import TaskRegistry
from .validation import validate_definition

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


@dataclass
class ExecutionResult:
    """How an execution ended, plus what a redrive needs (``failed_state`` and friends)."""

    execution_arn: str
    name: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    start_date: datetime
    stop_date: datetime
    history: list[dict[str, Any]]
    state_machine_arn: str
    input: Any
    #: The top-level state whose failure ended the execution, its input and the variables then.
    failed_state: str | None = None
    failed_state_input: Any = None
    variables: dict[str, Any] = field(default_factory=dict)
    redrive_count: int = 0


class StateMachine:
    """A definition AWS would accept, ready to execute locally."""

    def __init__(self, definition: dict[str, Any] | str, name: str = "StateMachine", arn: str | None = None) -> None:
        if isinstance(definition, str):
            if not definition.strip():
                raise DefinitionError(["SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object"])
            try:
                definition = json.loads(definition)
            except json.JSONDecodeError as err:
                raise DefinitionError([f"INVALID_JSON_DESCRIPTION: the definition is not JSON: {err}"]) from None
        problems = validate_definition(definition)  # type: ignore[arg-type]
        if problems:
            raise DefinitionError(problems)
        assert isinstance(definition, dict)
        self.definition = definition
        self.name = name
        self.arn = arn or f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:stateMachine:{name}"
        self.program = compile_program(definition, definition.get("QueryLanguage", "JSONPath"))
        self.timeout_seconds: float | None = definition.get("TimeoutSeconds")

    def execute(self, input_value: Any, *, name: str | None = None, tasks: TaskRegistry,
                clock: Clock | None = None, on_event: EventListener | None = None,
                role_arn: str | None = None, redrive_from: ExecutionResult | None = None,
                s3: ObjectStore | None = None) -> ExecutionResult:
        """Run one execution to its end and return the result with the full history.

        ``s3`` is the object storage a Distributed Map's ItemReader and ResultWriter use
        (e.g. ``LocalBuckets({"lake": "/data/lake"})``). ``redrive_from`` resumes a FAILED/TIMED_OUT execution at its failed state with the
        input and variables it had there, keeping the earlier history (AWS RedriveExecution).
        """
        clock = clock or RealClock()
        if redrive_from is not None:
            return self._redrive(redrive_from, tasks=tasks, clock=clock, on_event=on_event, role_arn=role_arn, s3=s3)
        input_text = to_json(input_value)
        if len(input_text.encode()) > PAYLOAD_LIMIT_BYTES:
            raise ValueError(f"The execution input is over the {PAYLOAD_LIMIT_BYTES}-byte payload quota: "
                             "AWS rejects it at StartExecution.")
        name = name or str(uuid.uuid4())
        history = History(on_event)
        start = clock.now()
        execution = self._execution(name, input_value, start, tasks, history, role_arn, start, s3)
        frame = Frame(execution, clock, {}, AbortSignal(), 0)
        frame.emit("ExecutionStarted", "executionStartedEventDetails",
                   {**io_details("input", input_text), "roleArn": execution.role_arn})
        frame.last_event_id = 0  # AWS: the first state's Entered event follows no event (previousEventId 0)
        return self._run(execution, frame, input_value, None, redrive_count=0)

    def _execution(self, name: str, input_value: Any, start: datetime, tasks: TaskRegistry,
                   history: History, role_arn: str | None, timeout_from: datetime,
                   s3: ObjectStore | None) -> Execution:
        prefix, _, _ = self.arn.partition(":stateMachine:")
        account = self.arn.split(":")[4] or DEFAULT_ACCOUNT
        return Execution(arn=f"{prefix}:execution:{self.name}:{name}", name=name,
                         state_machine_arn=self.arn, state_machine_name=self.name, input=input_value,
                         start_time=start, role_arn=role_arn or f"arn:aws:iam::{account}:role/StepFunctionsLocal",
                         tasks=tasks, history=history, timeout_from=timeout_from,
                         timeout_seconds=self.timeout_seconds, s3=s3)

    def _redrive(self, previous: ExecutionResult, *, tasks: TaskRegistry, clock: Clock,
                 on_event: EventListener | None, role_arn: str | None, s3: ObjectStore | None) -> ExecutionResult:
        if previous.status not in ("FAILED", "TIMED_OUT", "ABORTED") or previous.failed_state is None:
            raise ValueError(f"Only a failed execution can be redriven; {previous.execution_arn} is {previous.status}.")
        history = History(on_event)
        history.events.extend(previous.history)
        execution = self._execution(previous.name, previous.input, previous.start_date, tasks, history, role_arn,
                                    clock.now(), s3)
        redrive_count = previous.redrive_count + 1
        execution.context_execution["RedriveCount"] = redrive_count
        frame = Frame(execution, clock, dict(previous.variables), AbortSignal(), len(history.events))
        frame.emit("ExecutionRedriven", "executionRedrivenEventDetails", {"redriveCount": redrive_count})
        return self._run(execution, frame, previous.failed_state_input, previous.failed_state, redrive_count)

    def _run(self, execution: Execution, frame: Frame, value: Any, start_at: str | None,
             redrive_count: int) -> ExecutionResult:
        output: Any = None
        error: str | None = None
        cause: str | None = None
        failure: FailurePoint | None = None
        try:
            output = run_program(self.program, value, frame, start_at)
        except StatesError as err:
            status, error, cause = "FAILED", err.error, err.cause
            failure = getattr(err, "failure_point", None)
            frame.emit("ExecutionFailed", "executionFailedEventDetails", error_details(error, cause))
        except ExecutionTimedOut as timed_out:
            status, error = "TIMED_OUT", TIMEOUT
            failure = getattr(timed_out, "failure_point", None)
            frame.emit("ExecutionTimedOut", "executionTimedOutEventDetails", {"error": TIMEOUT})
        else:
            status = "SUCCEEDED"
            frame.emit("ExecutionSucceeded", "executionSucceededEventDetails", io_details("output", frame.json_text(output)))
        return ExecutionResult(
            execution_arn=execution.arn, name=execution.name, status=status, output=output, error=error,
            cause=cause, start_date=execution.start_time, stop_date=frame.clock.now(),
            history=execution.history.events, state_machine_arn=self.arn, input=execution.input,
            failed_state=failure.state_name if failure else None,
            failed_state_input=failure.state_input if failure else None,
            variables=dict(failure.variables) if failure else dict(frame.variables),
            redrive_count=redrive_count)
