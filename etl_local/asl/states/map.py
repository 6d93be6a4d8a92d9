"""Map: run the item processor once per item; the result lists the outputs in item order.

Inline iterations log MapIteration* events in this execution's history. A Distributed Map
runs its iterations as child executions, whose events AWS keeps out of the parent history,
which logs MapRunStarted/MapRunSucceeded instead. ToleratedFailureCount/Percentage let
some iterations fail; past them the Map fails (AWS_BEHAVIOURS #24).
"""
from __future__ import annotations

import threading
import uuid
from typing import Any

from ..branches import run_indexed
from ..clock import Clock
from ..errors import StatesError
from ..execution import RUNTIME, AbortSignal, BranchAborted, Frame, Visit, run_program
from ..history import DiscardedHistory, error_details, to_json
from ..jsonata_eval import evaluate_jsonata_typed
from ..paths import PathNotFound, read_path
from ..payload import render_template
from ..retry_catch import error_output
from .base import ABSENT, State, branch_failure, mark_branch_failure

EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"


class MapState(State):
    kind = "Map"

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        from . import compile_program

        processor = spec.get("ItemProcessor") or spec.get("Iterator") or {}
        self.processor = compile_program(processor, query_language)
        self.can_block = self.processor.can_block
        self.distributed = processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        self.items_path = spec.get("ItemsPath", "$")
        self.items = spec.get("Items", ABSENT)
        self.item_selector = spec.get("ItemSelector", spec.get("Parameters"))
        self.item_batcher: dict[str, Any] | None = spec.get("ItemBatcher")
        self.unsupported = [field for field in ("ItemReader", "ResultWriter") if field in spec]
        self.result_selector = spec.get("ResultSelector")
        self.result_path = spec.get("ResultPath", "$")

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        return self.run_guarded(value, frame)

    def attempt(self, visit: Visit) -> Any:
        frame = visit.frame
        if self.unsupported:
            raise visit.runtime_error(f"The local runtime does not support {' and '.join(self.unsupported)} "
                                      f"(Map state '{self.name}').")
        data, items = self._items(visit)
        concurrency = self._limit(visit, data, "MaxConcurrency", minimum=0, default=0)
        frame.emit("MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)})
        tolerated_count = self._limit(visit, data, "ToleratedFailureCount", minimum=0, default=None)
        tolerated_percentage = self._limit(visit, data, "ToleratedFailurePercentage", minimum=0, default=None)
        if tolerated_percentage is not None and tolerated_percentage > 100:
            raise visit.runtime_error("ToleratedFailurePercentage must be between 0 and 100.")
        if self.item_batcher is not None:
            items = self._batches(visit, self.item_batcher, data, items)
        if self.distributed:
            map_run_arn = (frame.execution.state_machine_arn.replace(":stateMachine:", ":mapRun:")
                           + f"/{self.name}:{uuid.uuid4()}")
            frame.emit("MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": map_run_arn})
        outcome = _Iterations(self, visit, data, items, tolerated_count, tolerated_percentage)
        run_indexed(len(items), outcome.run_item, frame.clock, concurrency=concurrency,
                    threaded=self.can_block, abort=outcome.abort)
        frame.check()
        failure = outcome.failure()
        if failure is not None:
            if self.distributed:
                frame.emit("MapRunFailed", "mapRunFailedEventDetails", error_details(failure.error, failure.cause))
            raise failure
        if self.distributed:
            frame.emit("MapRunSucceeded")
        frame.emit("MapStateSucceeded")
        return outcome.results

    def process_result(self, visit: Visit, result: Any) -> tuple[Any, dict[str, Any] | None]:
        if self.jsonata:
            return self.jsonata_output(visit, result, result=result)
        return self.jsonpath_output(visit, result, self.result_selector, self.result_path)

    def failed(self, visit: Visit, err: StatesError) -> None:
        if branch_failure(err):
            visit.frame.emit("MapStateFailed")

    # -- inputs -------------------------------------------------------------------------
    def _items(self, visit: Visit) -> tuple[Any, list[Any]]:
        """(the data ItemSelector sees, the items): JSONata ``Items``, or ``ItemsPath``."""
        if self.jsonata:
            if self.items is ABSENT:
                items = visit.input
                if type(items) is not list:
                    raise visit.runtime_error(f"The Map state input must be an array, got: {to_json(items)}")
                return visit.input, items
            try:
                items = evaluate_jsonata_typed(self.items, self.bindings(visit), field="Items", expected="array",
                                               state_name=self.name, entered_event_id=visit.entered_id)
            except StatesError as err:
                raise self.evaluation_failed(visit, "Items", err) from None
            return visit.input, items
        data = self.effective_input(visit)
        items = data if self.items_path == "$" else self.select(visit, self.items_path, data)
        if type(items) is not list:
            raise visit.runtime_error(f"Map state input must be an array; the ItemsPath '{self.items_path}' "
                                      f"references: {to_json(items)}")
        return data, items

    def _limit(self, visit: Visit, data: Any, field: str, *, minimum: int, default: Any) -> Any:
        """MaxConcurrency / ToleratedFailure*: literal, ``...Path`` or a JSONata expression."""
        path = self.spec.get(field + "Path")
        if path is not None:
            try:
                value = read_path(path, data, visit.context(), visit.variables)
            except PathNotFound as missing:
                raise visit.runtime_error(f"Invalid path '{path}' : {missing.jayway_message}") from None
            where = f"{field}Path"
        elif field in self.spec:
            value = self.field_value(visit, self.spec[field], field)
            where = field
        else:
            return default
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if field == "ToleratedFailurePercentage":
            if not numeric:
                raise visit.runtime_error(f"The {where} field must be a number, got: {to_json(value)}")
            return value
        if not numeric or value != int(value) or value < minimum:
            raise visit.runtime_error(f"The {where} field must be a non-negative integer, got: {to_json(value)}")
        return int(value)

    def _batches(self, visit: Visit, batcher: dict[str, Any], data: Any, items: list[Any]) -> list[Any]:
        """ItemBatcher: iterations get ``{"Items": [...], "BatchInput": ...}``."""
        size = batcher.get("MaxItemsPerBatch")
        if "MaxItemsPerBatchPath" in batcher:
            size = read_path(batcher["MaxItemsPerBatchPath"], data, visit.context(), visit.variables)
        size = size or len(items) or 1
        batch_input = batcher.get("BatchInput")
        if batch_input is not None and not self.jsonata:
            batch_input = self.render(visit, batch_input, data)
        batches = []
        for start in range(0, len(items), size):
            batch: dict[str, Any] = {"Items": items[start:start + size]}
            if batch_input is not None:
                batch["BatchInput"] = batch_input
            batches.append(batch)
        return batches

    def item_input(self, visit: Visit, data: Any, index: int, item: Any) -> Any:
        """An iteration's input: the item, or ItemSelector with ``$$.Map.Item`` defined."""
        if self.item_selector is None:
            return item
        context = dict(visit.context())
        context["Map"] = {"Item": {"Index": index, "Value": item}}
        if self.jsonata:
            bound = dict(visit.variables)
            bound["states"] = {"input": visit.input, "context": context}
            return self.evaluate(visit, self.item_selector, "ItemSelector", bound)
        return render_template(self.item_selector, data, context, visit.variables,
                               state_name=self.name, entered_event_id=visit.entered_id)


class _Iterations:
    """The bookkeeping of one run of a Map's iterations, shared by its worker threads."""

    def __init__(self, state: MapState, visit: Visit, data: Any, items: list[Any],
                 tolerated_count: int | None, tolerated_percentage: float | None) -> None:
        self.state = state
        self.visit = visit
        self.data = data
        self.items = items
        self.results: list[Any] = [None] * len(items)
        self.failures: list[StatesError] = []
        self.tolerated_count = tolerated_count
        self.tolerated_percentage = tolerated_percentage
        self.abort = AbortSignal(visit.frame.abort)
        self.history = DiscardedHistory() if state.distributed else None
        self._lock = threading.Lock()

    def run_item(self, index: int, clock: Clock) -> None:
        state = self.state
        frame = self.visit.frame.child(clock, self.abort, self.history)
        log = not state.distributed
        details = {"name": state.name, "index": index}
        if log:
            frame.emit("MapIterationStarted", "mapIterationStartedEventDetails", details)
        try:
            item_input = state.item_input(self.visit, self.data, index, self.items[index])
            self.results[index] = run_program(state.processor, item_input, frame)
        except BranchAborted:
            if log:
                frame.emit("MapIterationAborted", "mapIterationAbortedEventDetails", details)
            return
        except StatesError as err:
            if log:
                frame.emit("MapIterationFailed", "mapIterationFailedEventDetails", details)
            self.results[index] = error_output(err)
            with self._lock:
                self.failures.append(err)
                fatal = err.error == RUNTIME or self._exceeded()
            if fatal:
                self.abort.set()
            return
        if log:
            frame.emit("MapIterationSucceeded", "mapIterationSucceededEventDetails", details)

    def _exceeded(self) -> bool:
        failed = len(self.failures)
        if self.tolerated_count is None and self.tolerated_percentage is None:
            return failed > 0
        if self.tolerated_count is not None and failed > self.tolerated_count:
            return True
        return (self.tolerated_percentage is not None
                and failed * 100 > self.tolerated_percentage * len(self.items))

    def failure(self) -> StatesError | None:
        """The Map's error, if its iterations failed beyond what it tolerates."""
        if not self.failures:
            return None
        first = self.failures[0]
        if first.error == RUNTIME or (self.tolerated_count is None and self.tolerated_percentage is None):
            return mark_branch_failure(first)
        if not self._exceeded():
            return None
        return mark_branch_failure(StatesError(
            EXCEED_TOLERATED_FAILURE_THRESHOLD,
            f"The specified tolerated failure threshold was exceeded in the Map state '{self.state.name}'."))

