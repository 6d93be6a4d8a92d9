"""The run loop and the per-execution, per-branch and per-state bookkeeping it needs.

``Execution`` holds what one run shares (ids, ``$$.Execution``, task registry, history);
``Frame`` is one thread of control (the main path, a Parallel branch or a Map iteration)
with its own clock lane, variable scope and abort signal; ``Visit`` is one entry into a
state. The loop is iterative: a Map over 10,000 items nests only as deep as the
definition does.
"""
from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Mapping, MutableMapping

from .causes import state_error
from .clock import Clock, format_timestamp, stamper
from .errors import ExecutionTimedOut, StatesError
from .history import History, to_json
from .retry_catch import RUNTIME
from .storage import ObjectStore
from .tasks import TaskRegistry

if TYPE_CHECKING:
    from .states.base import State


class BranchAborted(Exception):
    """A branch or iteration stopped because a sibling failed (or the execution ended)."""


class AbortSignal:
    """Set when the work under a Parallel/Map must stop; nested signals see their parents'."""

    __slots__ = ("_set", "_parent")

    def __init__(self, parent: "AbortSignal | None" = None) -> None:
        self._set = False
        self._parent = parent

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        signal: AbortSignal | None = self
        while signal is not None:
            if signal._set:
                return True
            signal = signal._parent
        return False


@dataclass
class Execution:
    """What every frame of one execution shares."""

    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    input: Any
    start_time: datetime
    role_arn: str
    tasks: TaskRegistry
    history: History
    #: When TimeoutSeconds started counting: the start, or the latest redrive.
    timeout_from: datetime
    timeout_seconds: float | None = None
    #: Where a Distributed Map's ItemReader/ResultWriter find S3 buckets (None: no storage given).
    s3: ObjectStore | None = None
    region: str = field(init=False)
    context_execution: dict[str, Any] = field(init=False)
    context_state_machine: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.region = self.state_machine_arn.split(":")[3]
        self.context_execution = {
            "Id": self.arn, "Input": self.input, "Name": self.name, "RoleArn": self.role_arn,
            "StartTime": format_timestamp(self.start_time), "RedriveCount": 0,
        }
        self.context_state_machine = {"Id": self.state_machine_arn, "Name": self.state_machine_name}

    @property
    def deadline(self) -> datetime | None:
        """When the execution's TimeoutSeconds passes (None without one)."""
        if self.timeout_seconds is None:
            return None
        return self.timeout_from + timedelta(seconds=self.timeout_seconds)


class Frame:
    """One thread of control: its clock lane, variable scope, abort signal and last event id.

    A branch or iteration reads its parent's variables and assigns into a scope of its own,
    made when it first assigns (most iterations never do; a Map makes one frame per item).
    """

    __slots__ = ("execution", "clock", "stamp", "variables", "_own_scope", "abort", "last_event_id", "history",
                 "_json_cache", "_json_older")

    def __init__(self, execution: Execution, clock: Clock, variables: MutableMapping[str, Any],
                 abort: AbortSignal, last_event_id: int, history: History | None = None,
                 stamp: Callable[[], str] | None = None, own_scope: bool = True) -> None:
        self.execution = execution
        self.clock = clock
        #: ``format_timestamp(clock.now())``, as every history event needs it
        self.stamp = stamper(clock) if stamp is None else stamp
        self.variables = variables
        self._own_scope = own_scope
        self.abort = abort
        self.last_event_id = last_event_id
        self.history = execution.history if history is None else history
        self._json_cache: tuple[Any, str] | None = None
        self._json_older: tuple[Any, str] | None = None

    def child(self, clock: Clock, abort: AbortSignal, history: History | None = None) -> "Frame":
        """A branch/iteration frame: reads outer variables, assigns into its own scope."""
        return Frame(self.execution, clock, self.variables, abort, self.last_event_id,
                     self.history if history is None else history,
                     self.stamp if clock is self.clock else None, own_scope=False)

    def assign(self, assigned: Mapping[str, Any]) -> None:
        """Make a state's assigned variables visible to the states after it in this frame."""
        if not self._own_scope:
            self.variables = ChainMap({}, self.variables)  # type: ignore[arg-type]
            self._own_scope = True
        self.variables.update(assigned)

    def emit(self, event_type: str, details_key: str | None = None,
             details: dict[str, Any] | None = None, timestamp: str | None = None,
             previous: int | None = None, advance: bool = True) -> int:
        """Log an event after this frame's previous one (or after ``previous``); return its id.

        ``advance=False`` logs an event the next one does not follow: AWS chains a Map's next
        event to the event before MapIterationSucceeded/MapStateSucceeded, not to them.
        """
        event_id = self.history.append(event_type, self.stamp() if timestamp is None else timestamp,
                                       self.last_event_id if previous is None else previous,
                                       details_key, details)
        if advance:
            self.last_event_id = event_id
        return event_id

    def json_text(self, value: Any) -> str:
        """``value`` as compact JSON, reusing the text of the last two values serialised when
        it is the very same object.

        A state's output is the next state's input, and a Task's input is often its
        payload: serialising each once is a third of the cost of a small state. Values
        are never mutated in place by the engine, and handlers get copies, so identity
        is enough.
        """
        cached = self._json_cache
        if cached is not None and cached[0] is value:
            return cached[1]
        older = self._json_older
        if older is not None and older[0] is value:
            return older[1]
        text = to_json(value)
        self._json_older = cached
        self._json_cache = (value, text)
        return text

    def json_member_added(self, base: Any, extended: dict[str, Any], name: str) -> None:
        """Note the text of ``extended``, a copy of the object ``base`` with the new member
        ``name`` added last (ResultPath ``$.name``), when ``base``'s text is known: it is that
        text with one more member, so a large state input is not serialised again."""
        cached = self._json_cache
        if cached is not None and cached[0] is base:
            text = cached[1]
        else:
            older = self._json_older
            if older is None or older[0] is not base:
                return
            text = older[1]
        if type(base) is not dict or name in base:
            return
        member = f"{to_json(name)}:{self.json_text(extended[name])}}}"
        self._json_older = self._json_cache
        self._json_cache = (extended, f"{text[:-1]},{member}" if base else "{" + member)

    def check(self) -> None:
        """Stop at a state boundary when aborted or past the execution's TimeoutSeconds."""
        if self.abort.is_set():
            raise BranchAborted()
        timeout = self.execution.timeout_seconds
        if timeout is not None and (self.clock.now() - self.execution.timeout_from).total_seconds() >= timeout:
            raise ExecutionTimedOut()

    def sleep(self, seconds: float) -> None:
        """Wait (Wait state, retry delay), cut short by the execution's TimeoutSeconds."""
        timeout = self.execution.timeout_seconds
        if timeout is not None:
            left = timeout - (self.clock.now() - self.execution.timeout_from).total_seconds()
            if seconds >= left:
                self.clock.sleep(max(left, 0.0))
                raise ExecutionTimedOut()
        self.clock.sleep(seconds)


class Visit:
    """One entry into a state: its input, entered event and ``$$`` object."""

    __slots__ = ("state", "frame", "input", "entered_id", "entered_time", "retry_count",
                 "task_token", "_context", "entered_previous_id")

    def __init__(self, state: "State", frame: Frame, raw_input: Any, entered_id: int, entered_time: str,
                 entered_previous_id: int = 0) -> None:
        self.state = state
        self.frame = frame
        self.input = raw_input
        self.entered_id = entered_id
        self.entered_time = entered_time
        self.retry_count = 0
        self.task_token: str | None = None
        self._context: dict[str, Any] | None = None
        #: the previousEventId of the Entered event (an EvaluationFailed event points there)
        self.entered_previous_id = entered_previous_id

    @property
    def variables(self) -> Mapping[str, Any]:
        return self.frame.variables

    def context(self) -> dict[str, Any]:
        """The ``$$`` object; ``State.RetryCount`` exists only in Task states (AWS_BEHAVIOURS #16)."""
        if self._context is None:
            execution = self.frame.execution
            state_info: dict[str, Any] = {"Name": self.state.name, "EnteredTime": self.entered_time}
            if self.state.has_retry_count:
                state_info["RetryCount"] = self.retry_count
            self._context = {"Execution": execution.context_execution,
                             "StateMachine": execution.context_state_machine, "State": state_info}
            if self.task_token is not None:
                self._context["Task"] = {"Token": self.task_token}
        return self._context

    def next_attempt(self) -> None:
        self.retry_count += 1
        self._context = None

    def set_task_token(self, token: str) -> None:
        self.task_token = token
        self._context = None

    def runtime_error(self, detail: str) -> StatesError:
        return state_error(RUNTIME, self.state.name, self.entered_id, detail)


@dataclass
class Program:
    """A compiled ``StartAt`` + ``States`` block (the machine, a branch or an item processor)."""

    start_at: str
    states: dict[str, "State"]

    @property
    def can_block(self) -> bool:
        """Whether running it may wait (Task, Wait): only then do branches need threads."""
        return any(state.can_block for state in self.states.values())


class FailurePoint:
    """Where an uncaught error left a program: enough to redrive from that state."""

    __slots__ = ("state_name", "state_input", "variables")

    def __init__(self, state_name: str, state_input: Any, variables: Mapping[str, Any]) -> None:
        self.state_name = state_name
        self.state_input = state_input
        self.variables = variables


def run_program(program: Program, value: Any, frame: Frame, start_at: str | None = None) -> Any:
    """Run states from ``start_at`` (default StartAt) until one ends the program; return its output.

    An uncaught ``StatesError`` (or the execution timing out) leaves with ``failure_point``
    naming the state it left in this program, so the outermost program's failure point is the
    state to redrive.
    """
    states = program.states
    name: str | None = program.start_at if start_at is None else start_at
    abort = frame.abort
    timed = frame.execution.timeout_seconds is not None
    while True:
        state = states[name]  # type: ignore[index]
        try:
            if timed or abort.is_set():
                frame.check()
            name, value = state.run(value, frame)
        except (StatesError, ExecutionTimedOut) as err:
            err.failure_point = FailurePoint(state.name, value, frame.variables)  # type: ignore[union-attr]
            raise
        if name is None:
            return value
