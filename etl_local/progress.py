"""Per-state progress lines, from an execution's history events as they happen.

Each event is placed in a *scope*: the chain of Map iterations and Parallel branches it
runs in, found through ``previousEventId`` the way AWS chains events (an iteration's first
state follows its ``MapIterationStarted``, a branch's first state follows
``ParallelStateStarted``). So concurrent iterations never mix: each state of each
iteration gets its own line, labelled with the iteration's index and timed from its own
``StateEntered``. A Task also gets a ``start`` line with how many Tasks run at that moment,
so concurrent iterations show as overlapping invocations. A state that exits after a failure (caught by a ``Catch``) is shown as
failed with its error; a failure followed by another attempt is shown as a retry.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from etl_core.causes import for_people

Scope = tuple[tuple[str, int], ...]

#: Events that end a Map or Parallel state, closing the scopes of its iterations or branches.
_CLOSING = {
    "MapStateSucceeded": "Map", "MapStateFailed": "Map", "MapStateAborted": "Map", "MapStateExited": "Map",
    "ParallelStateSucceeded": "Parallel", "ParallelStateFailed": "Parallel", "ParallelStateAborted": "Parallel",
    "ParallelStateExited": "Parallel",
}
_ITERATION = ("MapIterationStarted", "MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted")
_SCHEDULED = ("LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled")
_EXECUTION_END = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")


@dataclass
class _Open:
    name: str
    kind: str  # "Task", "Map", "Parallel", ...
    started: float
    error: str | None = None
    cause: str | None = None
    branches: int = 0  # Parallel: branches started so far


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


class Progress:
    """Call with each history event; writes one line per finished state to ``stream``.

    ``branch_starts`` maps a Parallel state's name to its branches' ``StartAt`` states, so a
    branch is labelled with its index in the definition even when branches start out of order.
    """

    def __init__(self, stream: TextIO | None = None, branch_starts: dict[str, list[str]] | None = None) -> None:
        self.stream = stream
        self.branch_starts = branch_starts or {}
        self._scope: dict[int, Scope] = {}
        self._types: dict[int, str] = {}
        self._open: dict[Scope, _Open] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._running = 0  # Task states entered and not yet exited

    # --- output ---------------------------------------------------------------------------
    def _write(self, line: str) -> None:
        if self._closed:
            return
        try:
            print(line, file=self.stream or sys.stderr, flush=True)
        except (BrokenPipeError, ValueError):  # the reader went away: stop printing, keep running
            self._closed = True

    @staticmethod
    def label(scope: Scope, name: str) -> str:
        return "".join(f"{owner}[{index}]/" for owner, index in scope) + name

    def _line(self, status: str, scope: Scope, state: _Open, now: float, error: str | None = None, cause: str | None = None) -> None:
        took = f"{now - state.started:7.2f}s"
        text = f"  {status:<5} {self.label(scope, state.name):<32} {took}"
        if error:
            text += f"  {error}" + (f": {for_people(cause, limit=160, one_line=True)}" if cause else "")
        self._write(text)

    # --- scopes ---------------------------------------------------------------------------
    def _enclosing(self, scope: Scope, kind: str, name: str | None) -> Scope:
        """The scope of the innermost open ``kind`` state (named ``name`` if given) around ``scope``."""
        for cut in range(len(scope), -1, -1):
            candidate = scope[:cut]
            state = self._open.get(candidate)
            if state is not None and state.kind == kind and (name is None or state.name == name):
                return candidate
        return scope

    def _place(self, event: dict[str, Any]) -> Scope:
        kind, previous = event["type"], event.get("previousEventId") or 0
        inherited = self._scope.get(previous, ())
        details = _details(event)
        if kind in _ITERATION:
            owner = self._enclosing(inherited, "Map", details.get("name"))
            return (*owner, (details.get("name", "?"), int(details.get("index", 0))))
        if kind in _CLOSING:
            return self._enclosing(inherited, _CLOSING[kind], details.get("name"))
        if kind.endswith("StateEntered") and self._types.get(previous) == "ParallelStateStarted":
            parallel = self._open.get(inherited)
            if parallel is not None:
                starts = self.branch_starts.get(parallel.name, [])
                name = details.get("name")
                index = starts.index(name) if name in starts and starts.count(name) == 1 else parallel.branches
                parallel.branches += 1
                return (*inherited, (parallel.name, index))
        return inherited

    # --- events ---------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            now = time.monotonic()
            scope = self._place(event)
            self._scope[event["id"]] = scope
            self._types[event["id"]] = event["type"]
            self._on(event["type"], scope, _details(event), now)

    def _on(self, kind: str, scope: Scope, details: dict[str, Any], now: float) -> None:
        state = self._open.get(scope)
        if kind in _CLOSING:
            # Whatever still runs inside the Map or Parallel never will: close it first.
            inner_error, inner_cause = self._fail_open(now, None, None, within=scope, strict=True)
            if state is not None and kind.endswith(("Failed", "Aborted")) and not state.error:
                state.error, state.cause = details.get("error") or inner_error or kind, details.get("cause") or inner_cause
        if kind.endswith("StateEntered"):
            self._open[scope] = _Open(details.get("name", "?"), kind[: -len("StateEntered")], now)
            if kind == "TaskStateEntered":  # overlapping invocations show as several running
                self._running += 1
                self._write(f"  start {self.label(scope, details.get('name', '?')):<32} ({self._running} running)")
        elif kind.endswith("StateExited"):
            if state is not None:
                del self._open[scope]
                self._running -= state.kind == "Task"
                self._line("fail" if state.error else "ok", scope, state, now, state.error, state.cause)
        elif kind in _SCHEDULED and state is not None and state.error:
            self._line("retry", scope, state, now, state.error, state.cause)
            state.error = state.cause = None
        elif kind in ("MapIterationFailed", "MapIterationAborted"):
            error, cause = self._fail_open(now, details.get("error"), details.get("cause"), within=scope)
            owner = self._open.get(scope[:-1])
            if owner is not None and not owner.error:
                owner.error, owner.cause = error or details.get("error"), cause or details.get("cause")
        elif kind in _EXECUTION_END:
            self._fail_open(now, details.get("error") or kind.removeprefix("Execution"), details.get("cause"))
        elif kind not in _CLOSING and kind.endswith(("Failed", "TimedOut")) and state is not None:
            state.error = details.get("error") or kind
            state.cause = details.get("cause")

    def _fail_open(self, now: float, error: str | None, cause: str | None, within: Scope = (), strict: bool = False) -> tuple[str | None, str | None]:
        """States that will never exit (their iteration, branch or execution ended): shown failed,
        innermost first. Returns the first error among them (or the one given)."""
        inside = [s for s in self._open if s[: len(within)] == within and (len(s) > len(within) or not strict)]
        first: tuple[str | None, str | None] = (None, None)
        for scope in sorted(inside, key=len, reverse=True):
            state = self._open.pop(scope)
            self._running -= state.kind == "Task"
            own = (state.error, state.cause) if state.error else (error, cause)
            first = first if first[0] else own
            self._line("fail", scope, state, now, own[0] or "States.BranchFailed", own[1])
        return first if first[0] else (error, cause)


def branch_starts(definition: dict[str, Any]) -> dict[str, list[str]]:
    """Every Parallel state's branches' ``StartAt``, nested ones included (for branch indexes)."""
    found: dict[str, list[str]] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            if state.get("Type") == "Parallel":
                found[name] = [branch.get("StartAt") for branch in state.get("Branches", [])]
                for branch in state.get("Branches", []):
                    walk(branch.get("States", {}))
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict):
                walk(processor.get("States", {}))

    walk(definition.get("States", {}))
    return found
