"""Task dispatch: which local callable serves a Task state's ``Resource``, and how it is called.

A Lambda is served by one resolver (bare function ARNs and ``arn:aws:states:::lambda:invoke``
both name a function); every other resource (SQS, SNS, Glue ``.sync``, ...) by a handler
registered for its exact ARN. Handlers report task failures by raising ``TaskFailed``.
A ``.waitForTaskToken`` task calls the same handler as the plain API, then waits for someone
to call ``registry.callbacks.send_task_success(token, output)`` (or ``send_task_failure``).
"""
from __future__ import annotations

import json
import re
import threading
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Callable

from .callbacks import TaskCallbacks
from .clock import Clock
from .errors import ExecutionTimedOut, StatesError, TaskFailed, TaskTimedOut

TaskHandler = Callable[[Any, "TaskContext"], Any]
LambdaResolver = Callable[[str], TaskHandler]

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"
_LAMBDA_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$")
_SERVICE_PREFIX = "arn:aws:states:::"


class TaskClock:
    """The clock a task handler sees: sleeping past a deadline ends the task.

    A task has up to three deadlines: its TimeoutSeconds, its HeartbeatSeconds (restarted by
    each heartbeat) and the execution's own TimeoutSeconds. On a virtual clock this is what
    makes them work without real waiting: the sleep stops at the nearest deadline and raises
    ``TaskTimedOut`` (the task's) or ``ExecutionTimedOut`` (the execution's).
    """

    def __init__(self, clock: Clock, timeout: float | None, heartbeat: float | None,
                 execution_deadline: datetime | None = None) -> None:
        self._clock = clock
        self.is_virtual = clock.is_virtual
        self.started = clock.now()
        self.timeout = timeout
        self.heartbeat_interval = heartbeat
        self.execution_deadline = execution_deadline
        self._last_beat = self.started

    def now(self) -> datetime:
        return self._clock.now()

    def beat(self) -> None:
        self._last_beat = self._clock.now()

    def _deadlines(self) -> list[tuple[float, type[Exception]]]:
        """(seconds left, what passing it raises) for each deadline that applies."""
        now = self._clock.now()
        deadlines: list[tuple[float, type[Exception]]] = []
        if self.timeout is not None:
            deadlines.append((self.timeout - (now - self.started).total_seconds(), TaskTimedOut))
        if self.heartbeat_interval is not None:
            deadlines.append((self.heartbeat_interval - (now - self._last_beat).total_seconds(), TaskTimedOut))
        if self.execution_deadline is not None:
            deadlines.append(((self.execution_deadline - now).total_seconds(), ExecutionTimedOut))
        return deadlines

    def seconds_left(self) -> float | None:
        """Seconds until the nearest deadline, if any."""
        deadlines = self._deadlines()
        return min(left for left, _ in deadlines) if deadlines else None

    def check(self) -> None:
        """Raise for the first deadline already passed (the earliest one wins a tie)."""
        overdue = [(left, error) for left, error in self._deadlines() if left <= 0]
        if overdue:
            raise min(overdue, key=lambda deadline: deadline[0])[1]()

    def sleep(self, seconds: float) -> None:
        deadlines = self._deadlines()
        if deadlines:
            left, error = min(deadlines, key=lambda deadline: deadline[0])
            if seconds >= left:
                self._clock.sleep(max(left, 0.0))
                raise error()
        self._clock.sleep(seconds)


class TaskContext:
    """What a handler may know about the task it serves (the ``$$`` object among others)."""

    def __init__(self, *, state_name: str, retry_count: int, context_object: dict[str, Any],
                 clock: TaskClock, execution_name: str, task_token: str | None = None) -> None:
        self.state_name = state_name
        self.retry_count = retry_count
        self.context_object = context_object
        self.clock = clock
        self.execution_name = execution_name
        self.task_token = task_token

    @property
    def remaining_time_seconds(self) -> float | None:
        """Seconds before TimeoutSeconds expires, or None without a timeout."""
        if self.clock.timeout is None:
            return None
        return self.clock.timeout - (self.clock.now() - self.clock.started).total_seconds()

    def heartbeat(self) -> None:
        """Report progress (SendTaskHeartbeat): restarts the HeartbeatSeconds countdown."""
        self.clock.beat()


class TaskRegistry:
    """Maps Task resources to local callables."""

    def __init__(self, callbacks: TaskCallbacks | None = None) -> None:
        self._handlers: dict[str, TaskHandler] = {}
        self._lambda_resolver: LambdaResolver | None = None
        #: Where ``.waitForTaskToken`` tasks wait for SendTaskSuccess/SendTaskFailure.
        self.callbacks = callbacks or TaskCallbacks()

    def set_lambda_resolver(self, resolver: LambdaResolver) -> None:
        """``resolver(function_name_or_arn)`` returns ``handler(event, ctx)``; KeyError if unknown."""
        self._lambda_resolver = resolver

    def register(self, resource: str, handler: TaskHandler) -> None:
        """Serve ``resource`` (exact ARN) with ``handler(parameters, ctx) -> result``."""
        self._handlers[resource] = handler

    def handler_for(self, resource: str) -> TaskHandler | None:
        """The handler of ``resource``; a ``.waitForTaskToken`` resource falls back to the
        plain API's handler, since the call is the same (only the waiting differs)."""
        found = self._handlers.get(resource)
        if found is None and resource.endswith(WAIT_FOR_TASK_TOKEN):
            found = self._handlers.get(resource.removesuffix(WAIT_FOR_TASK_TOKEN))
        return found

    @property
    def has_lambda_resolver(self) -> bool:
        return self._lambda_resolver is not None

    def lambda_function(self, name_or_arn: str) -> TaskHandler | None:
        """The function behind a name or ARN; None when no resolver or the resolver does not know it."""
        if self._lambda_resolver is None:
            return None
        try:
            return self._lambda_resolver(name_or_arn)
        except KeyError:
            return None


class LambdaFunctionFailed(Exception):
    """A function's error response (Lambda's ``X-Amz-Function-Error``), with the body Lambda
    returned: ``{errorMessage, errorType, requestId?, stackTrace?}``."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(f"{body.get('errorType')}: {body.get('errorMessage')}")
        self.body = body


@dataclass(frozen=True)
class LambdaResponse:
    """A function's successful response as the Invoke API returns it: the raw payload bytes."""

    payload: bytes
    request_id: str = ""

    def value(self) -> Any:
        """The payload as JSON (ValueError when the function returned bytes that are not JSON)."""
        return json.loads(self.payload)


def lambda_function_name(name_or_arn: str) -> str:
    """``NAME`` from ``NAME``, ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``."""
    match = _LAMBDA_ARN.match(name_or_arn)
    return match.group(1) if match else name_or_arn


def is_bare_lambda_arn(resource: str) -> bool:
    return _LAMBDA_ARN.match(resource) is not None


def service_of(resource: str) -> tuple[str, str]:
    """(resourceType, resource) as history shows them: ``lambda:invoke`` -> ("lambda", "invoke")."""
    tail = resource[len(_SERVICE_PREFIX):] if resource.startswith(_SERVICE_PREFIX) else resource.split(":", 5)[-1]
    kind, _, action = tail.rpartition(":")
    return (kind, action) if kind else (tail, tail)


def lambda_error(exc: BaseException, *, compact: bool) -> StatesError:
    """A Python exception as AWS reports a failed Lambda: Error = type, Cause = Lambda's JSON.

    The cause uses ``", "`` separators for a bare Lambda ARN and compact ones for
    ``lambda:invoke`` (AWS_BEHAVIOURS #9); the first traceback frame (the engine) is dropped.
    """
    frames = traceback.format_tb(exc.__traceback__)[1:]
    body = {"errorMessage": str(exc), "errorType": type(exc).__name__,
            "requestId": str(uuid.uuid4()), "stackTrace": frames}
    separators = (",", ":") if compact else (", ", ": ")
    return StatesError(type(exc).__name__, json.dumps(body, separators=separators, ensure_ascii=False))


def function_not_found(function: str, state_machine_arn: str) -> TaskHandler:
    """A handler failing as the Invoke API does for an unknown function (Lambda.ResourceNotFoundException,
    catchable), the ARN completed from the state machine's region and account as AWS completes it."""
    if not function.startswith("arn:"):
        _, partition, _, region, account = state_machine_arn.split(":")[:5]
        function = f"arn:{partition}:lambda:{region}:{account}:function:{function}"
    if function.count(":") == 6:
        function += ":$LATEST"

    def fail(argument: Any, ctx: TaskContext) -> Any:
        raise TaskFailed("Lambda.ResourceNotFoundException",
                         f"Function not found: {function} (Service: AWSLambda; Status Code: 404; Error Code: "
                         f"ResourceNotFoundException; Request ID: {uuid.uuid4()}; Proxy: null)")

    return fail


def lambda_failure(body: dict[str, Any], *, compact: bool) -> StatesError:
    """A function's error response as Step Functions reports it: Error = errorType, Cause = the body."""
    separators = (",", ":") if compact else (", ", ": ")
    return StatesError(str(body.get("errorType") or "States.TaskFailed"),
                       json.dumps(body, separators=separators, ensure_ascii=False))


def lambda_invoke_payload(parameters: Any) -> Any:
    """The event ``lambda:invoke`` sends: a string holding JSON is sent as that JSON (raw), an absent
    or null Payload as ``{}`` (AWS-recorded: ``"Payload": "0"`` reaches the function as ``0``)."""
    payload = parameters.get("Payload") if isinstance(parameters, dict) else None
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload


def handler_error(exc: BaseException) -> StatesError:
    """An unexpected exception from a non-Lambda handler: Error = type, Cause = message."""
    return StatesError(type(exc).__name__, str(exc))


def lambda_invoke_result(payload: Any, payload_json: str, moment: datetime, request_id: str = "") -> dict[str, Any]:
    """The wrapper ``arn:aws:states:::lambda:invoke`` returns around a function's result."""
    request_id = request_id or str(uuid.uuid4())
    length = str(len(payload_json.encode()))
    date = format_datetime(moment, usegmt=True)
    trace = f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0"
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"], "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"], "x-amzn-RequestId": [request_id],
                "Content-Length": [length], "Date": [date], "X-Amzn-Trace-Id": [trace],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive", "Content-Length": length, "Content-Type": "application/json",
                "Date": date, "X-Amz-Executed-Version": "$LATEST", "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id, "X-Amzn-Trace-Id": trace,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def call_within_limits(handler: TaskHandler, argument: Any, ctx: TaskContext) -> Any:
    """Run a handler so that its deadlines end it (``TaskTimedOut`` / ``ExecutionTimedOut``).

    A virtual clock (or no deadline) runs the handler inline: sleeping through ``ctx.clock``
    is what times it out. On a real clock with a deadline the handler runs in a daemon thread
    we stop waiting for at the deadline, since Python cannot interrupt a blocked call.
    """
    clock = ctx.clock
    if clock.is_virtual or clock.seconds_left() is None:
        result = handler(argument, ctx)
        clock.check()
        return result
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = handler(argument, ctx)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"task-{ctx.state_name}", daemon=True)
    worker.start()
    while worker.is_alive():
        left = clock.seconds_left()
        if left is not None and left <= 0:
            clock.check()
        worker.join(timeout=left)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def passthrough_failure(exc: BaseException) -> StatesError | None:
    """A failure the handler reported on purpose keeps its own error and cause."""
    if isinstance(exc, (TaskFailed, StatesError)):
        return StatesError(exc.error, exc.cause)
    return None
