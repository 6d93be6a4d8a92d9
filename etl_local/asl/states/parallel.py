"""Parallel: run every branch on the same input; the result lists their outputs in branch order.

A failing branch aborts its siblings and fails the state with the branch's own error (never
States.BranchFailed); there is no ParallelStateSucceeded event (AWS_BEHAVIOURS #5, #21).
"""
from __future__ import annotations

from typing import Any

from ..branches import run_indexed
from ..clock import Clock
from ..errors import StatesError
from ..execution import AbortSignal, BranchAborted, Frame, Visit, run_program
from .base import WorkState, mark_branch_failure


class ParallelState(WorkState):
    failed_event = "ParallelStateFailed"
    kind = "Parallel"

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        from . import compile_program

        self.branches = [compile_program(branch, query_language) for branch in spec.get("Branches", [])]
        self.can_block = any(branch.can_block for branch in self.branches)
        self.parameters = spec.get("Arguments" if self.jsonata else "Parameters")

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        return self.run_guarded(value, frame)

    def attempt(self, visit: Visit) -> Any:
        frame = visit.frame
        if self.jsonata:
            branch_input = (visit.input if self.parameters is None
                            else self.evaluate(visit, self.parameters, "Arguments", self.bindings(visit)))
        else:
            branch_input = self.effective_input(visit)
            if self.parameters is not None:
                branch_input = self.render(visit, self.parameters, branch_input)
        frame.emit("ParallelStateStarted")
        abort = AbortSignal(frame.abort)
        results: list[Any] = [None] * len(self.branches)
        failures: list[StatesError] = []
        last_ids = [frame.last_event_id]

        def run_branch(index: int, clock: Clock) -> None:
            child = frame.child(clock, abort)
            try:
                run_child(index, child)
            finally:
                last_ids.append(child.last_event_id)

        def run_child(index: int, child: Frame) -> None:
            try:
                results[index] = run_program(self.branches[index], branch_input, child)
            except BranchAborted:
                return
            except StatesError as err:
                failures.append(mark_branch_failure(err))
                abort.set()

        run_indexed(len(self.branches), run_branch, frame.clock, concurrency=0,
                    threaded=self.can_block, abort=abort, history=frame.history)
        frame.last_event_id = max(last_ids)  # what follows the branches follows their latest event
        frame.check()
        if failures:
            raise failures[0]
        frame.history.reserve()  # AWS numbers a ParallelStateSucceeded event it does not return
        return results


