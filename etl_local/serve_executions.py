"""Executions of `etl serve` running in background threads, stoppable, persisted like `etl run`'s.

Each execution runs ``LocalRuntime.run`` (or ``redrive``) in its own thread, so its history
is journaled and saved in the home folder's ExecutionStore where `etl executions` and
`etl history` see it. What StopExecution needs is kept here: each execution has its own
task tokens (so a stop ends its ``.waitForTaskToken`` waits), a clock whose waits a stop
cuts short, and an event hook that ends the run at the next history event. A stopped
execution is saved ABORTED with an ``ExecutionAborted`` event, as AWS records it.
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from etl_local.asl import Clock, ExecutionResult, StateMachine, TaskRegistry, VirtualClock
from etl_local.asl.callbacks import TaskCallbacks
from etl_local.asl.clock import format_timestamp
from etl_local.runtime import LocalRuntime


class ExecutionStopped(BaseException):
    """Ends a stopped execution's thread; a BaseException so that no state's error handling catches it."""


class StoppableCallbacks(TaskCallbacks):
    """One execution's task tokens; ``abort_all`` ends every wait with ExecutionStopped."""

    def abort_all(self) -> None:
        with self._lock:
            waiters = list(self._waiting.values())
        for waiter in waiters:
            waiter.failure = ExecutionStopped()  # type: ignore[assignment]  # raised by wait() in the task's thread
            waiter.answered.set()

    def knows(self, token: str) -> bool:
        with self._lock:
            return token in self._waiting


class StoppableClock:
    """A real clock whose sleeps (Wait states, retry back-off) end early, raising, on stop."""

    is_virtual = False

    def __init__(self, inner: Clock, stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop

    def now(self) -> dt.datetime:
        return self._inner.now()

    def sleep(self, seconds: float) -> None:
        if self._stop.wait(max(seconds, 0.0)):
            raise ExecutionStopped()


@dataclass
class Running:
    """What the server knows of an execution while its thread runs."""

    arn: str
    name: str
    input_text: str
    callbacks: StoppableCallbacks = field(default_factory=StoppableCallbacks)
    stop: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    stop_error: str | None = None
    stop_cause: str | None = None
    result: ExecutionResult | None = None
    failure: BaseException | None = None


class ExecutionRunner:
    """Starts, stops and answers the task tokens of the server's executions."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.running: dict[str, Running] = {}
        self._lock = threading.Lock()

    def _clock(self, run: Running) -> Clock:
        clock = self.runtime._clock()
        return clock if isinstance(clock, VirtualClock) else StoppableClock(clock, run.stop)

    def start(self, machine: StateMachine, name: str, execution_input: Any, input_text: str,
              tasks: Callable[[TaskCallbacks], TaskRegistry], *, redrive: bool = False) -> Running:
        """Run (or redrive) an execution in a thread; returns once its first event is stored."""
        arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{name}"
        run = Running(arn=arn, name=name, input_text=input_text)
        with self._lock:
            self.running[arn] = run

        def on_event(event: dict) -> None:
            run.started.set()
            if run.stop.is_set():
                raise ExecutionStopped()

        def target() -> None:
            registry = tasks(run.callbacks)
            try:
                if redrive:
                    run.result = self.runtime.redrive(name, machine=machine, tasks=registry, clock=self._clock(run),
                                                      on_event=on_event)
                else:
                    run.result = self.runtime.run(execution_input, name=name, machine=machine, tasks=registry,
                                                  clock=self._clock(run), on_event=on_event)
            except ExecutionStopped:
                self._save_aborted(run)
            except Exception as exc:  # noqa: BLE001 - kept on the record; the server stays up
                run.failure = exc
                self._save_broken(run, exc)
            finally:
                with self._lock:
                    self.running.pop(arn, None)
                run.started.set()
                run.done.set()

        threading.Thread(target=target, name=f"execution-{name}", daemon=True).start()
        run.started.wait()
        return run

    def stop(self, arn: str, error: str | None, cause: str | None) -> bool:
        """Ask a running execution to stop; False when it is not running here."""
        with self._lock:
            run = self.running.get(arn)
        if run is None:
            return False
        run.stop_error, run.stop_cause = error, cause
        run.stop.set()
        run.callbacks.abort_all()
        run.done.wait(timeout=30)
        return True

    def callbacks_for(self, token: str) -> TaskCallbacks | None:
        """The task tokens holding ``token`` (the execution waiting for it), if any."""
        with self._lock:
            runs = list(self.running.values())
        return next((run.callbacks for run in runs if run.callbacks.knows(token)), None)

    def stop_all(self) -> None:
        with self._lock:
            arns = list(self.running)
        for arn in arns:
            self.stop(arn, "States.Aborted", "The server stopped")

    # -- records of executions that did not end through the engine --------------------------
    def _finish(self, run: Running, status: str, event_type: str, details_key: str,
                details: dict[str, Any]) -> None:
        store = self.runtime.store
        record = store.load(run.name)
        events = record["events"]
        now = dt.datetime.now(dt.timezone.utc)
        events.append({"timestamp": format_timestamp(now), "type": event_type, "id": len(events) + 1,
                       "previousEventId": events[-1]["id"] if events else 0, details_key: details})
        description = {**record["execution"], "status": status, "stopDate": now.isoformat(), "output": None}
        description.update({key: value for key, value in details.items() if key in ("error", "cause")})
        redrive = {**(record.get("redrive") or {}), "failed_state": None}
        store.save(description, events, redrive)

    def _save_aborted(self, run: Running) -> None:
        details = {key: value for key, value in (("error", run.stop_error), ("cause", run.stop_cause)) if value is not None}
        self._finish(run, "ABORTED", "ExecutionAborted", "executionAbortedEventDetails", details)

    def _save_broken(self, run: Running, exc: Exception) -> None:
        """An error outside the state machine (the runtime could not start it): FAILED, saying why."""
        try:
            self._finish(run, "FAILED", "ExecutionFailed", "executionFailedEventDetails",
                         {"error": type(exc).__name__, "cause": str(exc)})
        except KeyError:
            pass  # it never got as far as its record: StartExecution reports the error
