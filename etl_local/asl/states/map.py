"""Map: run the item processor once per item; the result lists the outputs in item order.

Inline iterations log MapIteration* events in this execution's history. A Distributed Map
runs its iterations as child executions of a Map Run, whose events AWS keeps out of the
parent history, which logs MapRunStarted (``{mapRunArn}``) and MapRunSucceeded or
MapRunFailed (``{error, cause}``) instead. Its items may come from an ItemReader (S3), be
grouped by an ItemBatcher and have their results exported by a ResultWriter (see those
modules). ToleratedFailureCount/Percentage let some iterations fail; past them the Map
fails with States.ExceedToleratedFailureThreshold (AWS_BEHAVIOURS #24).
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from ..branches import DISTRIBUTED_CONCURRENCY_CAP, INLINE_CONCURRENCY_CAP, run_indexed
from ..causes import state_error
from ..clock import Clock
from ..errors import StatesError
from ..execution import RUNTIME, AbortSignal, BranchAborted, Frame, Visit, run_program
from ..history import DiscardedHistory, error_details, to_json
from ..item_batcher import ItemBatcher
from ..item_reader import ItemReader
from ..jsonata_eval import evaluate_jsonata_typed
from ..map_run import ABORTED, FAILED, SUCCEEDED, MapRun
from ..paths import PathNotFound, read_path
from ..payload import render_template
from ..result_writer import ResultWriter
from ..retry_catch import error_output
from .base import ABSENT, QUERY_EVALUATION_ERROR, WorkState, mark_branch_failure

EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"


class MapState(WorkState):
    failed_event = "MapStateFailed"
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
        self.label = spec.get("Label", name)
        self.item_reader = ItemReader(name, spec["ItemReader"], self.jsonata) if "ItemReader" in spec else None
        self.item_batcher = ItemBatcher(spec["ItemBatcher"]) if "ItemBatcher" in spec else None
        self.result_writer = (ResultWriter(name, spec["ResultWriter"], self.jsonata)
                              if "ResultWriter" in spec else None)

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        return self.run_guarded(value, frame)

    def attempt(self, visit: Visit) -> Any:
        frame = visit.frame
        if self.result_writer is not None and "WriterConfig" in self.spec["ResultWriter"]:
            raise visit.runtime_error(f"The local runtime does not support ResultWriter.WriterConfig "
                                      f"(Map state '{self.name}').")
        # With an ItemReader the Map Run reads the items after it started: MapStateStarted says
        # length 0 and a read failure is MapRunFailed (AWS_BEHAVIOURS #39).
        reads = self.item_reader is not None and self.distributed
        data, items = (self._reader_data(visit), []) if reads else self._items(visit)
        concurrency = self._limit(visit, data, "MaxConcurrency", minimum=0, default=0)
        frame.emit("MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)})
        tolerated_count = self._limit(visit, data, "ToleratedFailureCount", minimum=0, default=None)
        tolerated_percentage = self._limit(visit, data, "ToleratedFailurePercentage", minimum=0, default=None)
        map_run = None
        if self.distributed:
            map_run = MapRun(frame.execution.state_machine_arn, self.label, record=self.result_writer is not None)
            frame.emit("MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": map_run.arn})
        if reads:
            try:
                items = self._read_items(visit, data)
            except StatesError as err:
                frame.emit("MapRunFailed", "mapRunFailedEventDetails", error_details(err.error, err.cause))
                raise mark_branch_failure(err) from None
        inputs, prepared = items, False
        if self.item_batcher is not None:
            selected = [self.item_input(visit, data, index, item) for index, item in enumerate(items)]
            try:
                inputs = self.item_batcher.batches(selected, self._evaluator(visit, data),
                                                   lambda path: self._reference(visit, data, path))
            except ValueError as bad:
                raise visit.runtime_error(str(bad)) from None
            prepared = True
        if map_run is not None:
            map_run.expect(len(inputs))
        outcome = _Iterations(self, visit, data, inputs, prepared, map_run, tolerated_count, tolerated_percentage)
        run_indexed(len(inputs), outcome.run_item, frame.clock, concurrency=concurrency,
                    threaded=self.can_block, abort=outcome.abort, history=frame.history,
                    cap=DISTRIBUTED_CONCURRENCY_CAP if self.distributed else INLINE_CONCURRENCY_CAP)
        if not self.distributed:
            frame.last_event_id = outcome.chain
        frame.check()
        result: Any = outcome.results
        if self.result_writer is not None and map_run is not None:
            result = self.result_writer.write(frame.execution.s3, self._evaluator(visit, data), map_run, inputs)
        failure = outcome.failure()
        if failure is not None:
            if self.distributed:
                frame.emit("MapRunFailed", "mapRunFailedEventDetails", error_details(failure.error, failure.cause))
            raise failure
        if self.distributed:
            # Since November 2024 AWS chains MapRunSucceeded and MapStateSucceeded off the Map
            # Run's start, and MapStateExited follows MapRunStarted (AWS_BEHAVIOURS #34).
            succeeded = frame.emit("MapRunSucceeded", advance=False)
            frame.emit("MapStateSucceeded", previous=succeeded, advance=False)
            return result
        if outcome.last_end is not None:
            frame.last_event_id = outcome.last_end
        frame.emit("MapStateSucceeded", advance=False)  # the Exited event follows the event before it
        return result



    # -- inputs -------------------------------------------------------------------------
    def _reader_data(self, visit: Visit) -> Any:
        """What an ItemReader's fields and ItemSelector see: the input (after InputPath in JSONPath)."""
        return visit.input if self.jsonata else self.effective_input(visit)

    def _items(self, visit: Visit) -> tuple[Any, list[Any]]:
        """(the data ItemSelector sees, the items): the ItemReader's, JSONata ``Items``, or ``ItemsPath``."""
        if self.jsonata and self.item_reader is not None:
            return visit.input, self._read_items(visit, visit.input)
        if self.jsonata:
            if self.items is ABSENT:
                items = visit.input
                if type(items) is not list:
                    err = state_error(QUERY_EVALUATION_ERROR, self.name, visit.entered_id,
                                      f"Map state input must be an array but was: {to_json(items)}")
                    raise self.evaluation_failed(visit, None, err)
                return visit.input, items
            try:
                items = evaluate_jsonata_typed(self.items, self.bindings(visit), field="Items", expected="array",
                                               state_name=self.name, entered_event_id=visit.entered_id)
            except StatesError as err:
                raise self.evaluation_failed(visit, "Items", err) from None
            return visit.input, items
        data = self.effective_input(visit)
        if self.item_reader is not None:
            return data, self._read_items(visit, data)
        items = data if self.items_path == "$" else self.select(visit, self.items_path, data)
        if type(items) is not list:
            raise visit.runtime_error(f"Map state input must be an array; the ItemsPath '{self.items_path}' "
                                      f"references: {to_json(items)}")
        return data, items

    def _limit(self, visit: Visit, data: Any, field: str, *, minimum: int, default: Any) -> Any:
        """MaxConcurrency / ToleratedFailure*: literal, ``...Path`` or a JSONata expression."""
        path = self.spec.get(field + "Path")
        if path is not None:
            value = self._reference(visit, data, path)
            where = f"{field}Path"
        elif field in self.spec:
            value = self.field_value(visit, self.spec[field], field)
            where = field
        else:
            return default
        percentage = field == "ToleratedFailurePercentage"
        number = _number_from(value, percentage)
        if number is None:
            if path is None:
                raise visit.runtime_error(f"The {where} field must be a non-negative integer, got: {to_json(value)}")
            shown = value if isinstance(value, str) else to_json(value)
            raise visit.runtime_error(f'The {where} field refers to value "{shown}" which is not a valid '
                                      f'{"float" if percentage else "integer"}: {path}')
        if percentage:
            if not 0 <= number <= 100:
                raise visit.runtime_error("ToleratedFailurePercentage must be between 0 and 100.")
            return number
        if number < minimum:
            if field == "ToleratedFailureCount":
                raise visit.runtime_error("ToleratedFailureCount cannot be negative.")
            raise visit.runtime_error(f"The {where} field must be a non-negative integer, got: {to_json(value)}")
        return number

    def _reference(self, visit: Visit, data: Any, path: str) -> Any:
        """A ``...Path`` field's value; a path matching nothing is States.Runtime."""
        try:
            return read_path(path, data, visit.context(), visit.variables)
        except PathNotFound as missing:
            raise visit.runtime_error(f"Invalid path '{path}' : {missing.jayway_message}") from None

    def _evaluator(self, visit: Visit, data: Any) -> Callable[[Any, str], Any]:
        """How ItemReader/ItemBatcher/ResultWriter fields are evaluated in this state's language."""
        if self.jsonata:
            bindings = self.bindings(visit)
            return lambda template, field: self.evaluate(visit, template, field, bindings)
        return lambda template, field: self.render(visit, template, data)

    def _read_items(self, visit: Visit, data: Any) -> list[Any]:
        assert self.item_reader is not None
        return self.item_reader.read(visit.frame.execution.s3, self._evaluator(visit, data),
                                     lambda path: self._reference(visit, data, path))

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


def _number_from(value: Any, fractional: bool) -> int | float | None:
    """A number field's value as AWS reads it from a path: a JSON number or a string holding
    one (``"1"`` runs the Map); None when it is neither. Integer fields take integers only."""
    if isinstance(value, str):
        try:
            value = float(value) if fractional else int(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if fractional:
        return value
    return int(value) if value == int(value) else None


class _Iterations:
    """The bookkeeping of one run of a Map's iterations, shared by its worker threads.

    ``prepared`` items are iteration inputs already (ItemBatcher batches); otherwise each goes
    through ItemSelector first. With a ``map_run`` that records, each child's outcome is kept
    for the ResultWriter.
    """

    def __init__(self, state: MapState, visit: Visit, data: Any, items: list[Any], prepared: bool,
                 map_run: MapRun | None, tolerated_count: int | None, tolerated_percentage: float | None) -> None:
        self.state = state
        self.visit = visit
        self.data = data
        self.items = items
        self.prepared = prepared
        self.map_run = map_run
        #: whether each child's outcome is kept (a Map Run with a ResultWriter)
        self.recording = map_run is not None and map_run.children is not None
        self.results: list[Any] = [None] * len(items)
        self.failures: list[StatesError] = []
        self.tolerated_count = tolerated_count
        self.tolerated_percentage = tolerated_percentage
        self.abort = AbortSignal(visit.frame.abort)
        self.history = DiscardedHistory() if state.distributed else None
        self._lock = threading.Lock()
        #: The event the next iteration's MapIterationStarted follows: AWS chains it to the
        #: previous iteration's last state event, not to its MapIteration{Succeeded,Failed}.
        self.chain = visit.frame.last_event_id
        #: The latest MapIteration{Succeeded,Failed} id: MapStateSucceeded follows it.
        self.last_end: int | None = None

    def run_item(self, index: int, clock: Clock) -> None:
        state = self.state
        frame = self.visit.frame.child(clock, self.abort, self.history)
        frame.last_event_id = self.chain
        log = not state.distributed
        details = {"name": state.name, "index": index}
        if log:
            frame.emit("MapIterationStarted", "mapIterationStartedEventDetails", details)
        started = clock.now() if self.recording else None
        item_input = self.items[index]
        try:
            if not self.prepared:
                item_input = state.item_input(self.visit, self.data, index, item_input)
            self.results[index] = run_program(state.processor, item_input, frame)
        except BranchAborted:
            if log:
                self._end(frame, "MapIterationAborted", "mapIterationAbortedEventDetails", details)
            self._record(index, item_input, started, clock, ABORTED)
            return
        except StatesError as err:
            if log:
                self._end(frame, "MapIterationFailed", "mapIterationFailedEventDetails", details)
            self.results[index] = error_output(err)
            self._record(index, item_input, started, clock, FAILED, error=err.error, cause=err.cause)
            with self._lock:
                self.failures.append(err)
                fatal = err.error == RUNTIME or self._exceeded()
            if fatal:
                self.abort.set()
            return
        if log:
            self._end(frame, "MapIterationSucceeded", "mapIterationSucceededEventDetails", details)
        if self.recording:
            self._record(index, item_input, started, clock, SUCCEEDED, output=self.results[index])

    def _end(self, frame: Frame, event_type: str, details_key: str, details: dict[str, Any]) -> None:
        """Log an iteration's end; the next iteration (and a failing Map) follows the event before it."""
        end = frame.history.append(event_type, frame.stamp(), frame.last_event_id, details_key, details)
        if self.visit.frame.history.pools:
            with self._lock:
                self._chain_after(frame.last_event_id, end)
        else:
            self._chain_after(frame.last_event_id, end)

    def _chain_after(self, last: int, end: int) -> None:
        self.chain = max(self.chain, last)
        self.last_end = end if self.last_end is None else max(self.last_end, end)

    def _record(self, index: int, item_input: Any, started: Any, clock: Clock, status: str, *,
                output: Any = None, error: str | None = None, cause: str | None = None) -> None:
        """Keep a child execution's outcome for the ResultWriter (only Map Runs that record)."""
        if not self.recording:
            return
        self.map_run.record(index, to_json(item_input), started, clock.now(), status,
                            None if status != SUCCEEDED else to_json(output), error, cause)

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
            "The specified tolerated failure threshold was exceeded"))

