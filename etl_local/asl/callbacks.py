"""Task tokens: how a ``.waitForTaskToken`` task learns its outcome (SendTaskSuccess & co).

On AWS the task's API call (send a message, invoke a function ...) only hands the token to
some other party, and the task ends when that party calls SendTaskSuccess, SendTaskFailure
or, to keep it alive, SendTaskHeartbeat. Locally that party is any Python code holding the
``TaskCallbacks`` of the run (``LocalRuntime.send_task_success`` or
``registry.callbacks.send_task_success``): a handler, a test, another thread.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .errors import StatesError, TaskTimedOut

if TYPE_CHECKING:
    from .tasks import TaskClock

#: How long AWS lets a task wait without TimeoutSeconds (99999999 s): a virtual clock jumps there.
DEFAULT_TASK_TIMEOUT_SECONDS = 99_999_999


class TaskDoesNotExist(KeyError):
    """The token names no waiting task (unknown, or the task already ended), as AWS reports it."""


class _Waiter:
    """One task waiting for its token to be answered."""

    __slots__ = ("clock", "answered", "output", "failure")

    def __init__(self, clock: "TaskClock") -> None:
        self.clock = clock
        self.answered = threading.Event()
        self.output: Any = None
        self.failure: StatesError | None = None


class TaskCallbacks:
    """The tokens of the tasks waiting for a callback, and the three calls that answer them."""

    def __init__(self) -> None:
        self._waiting: dict[str, _Waiter] = {}
        self._lock = threading.Lock()

    def open(self, token: str, clock: "TaskClock") -> None:
        """Start waiting for ``token`` (before the task's API call, which may answer at once)."""
        with self._lock:
            self._waiting[token] = _Waiter(clock)

    def close(self, token: str) -> None:
        with self._lock:
            self._waiting.pop(token, None)

    def _waiter(self, token: str) -> _Waiter:
        with self._lock:
            waiter = self._waiting.get(token)
        if waiter is None or waiter.answered.is_set():
            raise TaskDoesNotExist(f"Task Timed Out or does not exist: no task is waiting for the token {token!r}")
        return waiter

    def send_task_success(self, token: str, output: Any) -> None:
        """SendTaskSuccess: the task succeeds with ``output`` (a JSON value) as its result."""
        waiter = self._waiter(token)
        waiter.output = output
        waiter.answered.set()

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """SendTaskFailure: the task fails with ``error``/``cause`` (Retry and Catch see them)."""
        waiter = self._waiter(token)
        waiter.failure = StatesError(error, cause)  # type: ignore[arg-type]
        waiter.answered.set()

    def send_task_heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: restart the task's HeartbeatSeconds countdown."""
        self._waiter(token).clock.beat()

    def wait(self, token: str) -> Any:
        """Block until ``token`` is answered; return the output or raise the failure.

        Past the task's deadlines this raises what its clock raises (``TaskTimedOut`` or
        ``ExecutionTimedOut``). A virtual clock cannot expect an answer later without real
        waiting, so an unanswered token there waits in virtual time until the nearest deadline.
        """
        with self._lock:
            waiter = self._waiting[token]
        clock = waiter.clock
        while not waiter.answered.is_set():
            left = clock.seconds_left()
            if clock.is_virtual:
                if left is None:
                    clock.sleep(DEFAULT_TASK_TIMEOUT_SECONDS)
                    raise TaskTimedOut()
                clock.sleep(left)  # raises at the deadline
            if left is not None and left <= 0:
                clock.check()
            waiter.answered.wait(timeout=left)
        if waiter.failure is not None:
            raise waiter.failure
        return waiter.output
