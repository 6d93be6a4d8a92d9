"""What every state shares: entering and leaving (history, quota, variables), input/output
processing in both query languages, and the Retry/Catch envelope around a state's work.

AWS's processing order for JSONPath is InputPath -> Parameters -> work -> ResultSelector ->
(Assign, with ``$`` = the result) -> ResultPath (onto the raw input) -> OutputPath; for
JSONata it is Arguments -> work -> Assign/Output with ``$states.result``. Assigned values take
effect only after the state, so Output/OutputPath still see the old ones.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..errors import QueryEvaluationFailed, StatesError
from ..execution import Frame, Visit
from ..history import NOT_TRUNCATED, to_json
from ..jsonata_eval import evaluate_jsonata_template, is_jsonata_expression
from ..paths import NOT_FOUND, PathNotFound, apply_result_path, data_reader, member_name, select_path
from ..payload import RENDER_ERRORS, compiled_template, rendering_failure
from ..retry_catch import Catcher, Retrier, RetryPolicy, error_output, find_catcher

#: Marks a field the definition leaves out where ``null`` means something else.
ABSENT: Any = object()
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
PAYLOAD_LIMIT_BYTES = 262144


def payload_too_large(text: str) -> bool:
    """Whether a serialised payload is over AWS's 256 KiB quota (UTF-8 bytes, counted only when it may be)."""
    return len(text) > PAYLOAD_LIMIT_BYTES // 4 and len(text.encode()) > PAYLOAD_LIMIT_BYTES


def data_limit_error(what: str) -> StatesError:
    return StatesError(DATA_LIMIT_EXCEEDED, f"The state/task '{what}' returned a result with a size "
                                            "exceeding the maximum number of bytes service limit.")


class State:
    """A compiled state. Subclasses implement ``run`` (usually via ``run_guarded``)."""

    kind: ClassVar[str] = ""
    #: Whether running it may wait (so branches containing it are worth a thread).
    can_block: bool = False
    #: Whether ``$$.State.RetryCount`` exists in its context object (Task states only).
    has_retry_count: ClassVar[bool] = False

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        self.name = name
        self.spec = spec
        self.jsonata = spec.get("QueryLanguage", query_language) == "JSONata"
        self.next: str | None = None if spec.get("End") else spec.get("Next")
        self.entered_type = f"{self.kind}StateEntered"
        self.exited_type = f"{self.kind}StateExited"
        self.input_path = spec.get("InputPath", "$")
        self.output_path = spec.get("OutputPath", "$")
        self.assign = spec.get("Assign")
        self.output = spec.get("Output", ABSENT)
        self.retriers = [Retrier.from_spec(r) for r in spec.get("Retry", ())]
        self.catchers = [Catcher.from_spec(c) for c in spec.get("Catch", ())]

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        """Run the state on ``value``; return (next state name or None at the end, output)."""
        raise NotImplementedError

    # -- entering and leaving ---------------------------------------------------------
    def enter(self, value: Any, frame: Frame) -> Visit:
        moment = frame.stamp()
        previous_id = frame.last_event_id
        event_id = frame.last_event_id = frame.history.append(
            self.entered_type, moment, previous_id, "stateEnteredEventDetails",
            {"name": self.name, "input": frame.json_text(value), "inputDetails": NOT_TRUNCATED})
        return Visit(self, frame, value, event_id, moment, previous_id)

    def output_json(self, visit: Visit, output: Any) -> str:
        """The output as history shows it; over the payload quota it is States.DataLimitExceeded."""
        text = visit.frame.json_text(output)
        if len(text) > PAYLOAD_LIMIT_BYTES // 4 and payload_too_large(text):
            raise data_limit_error(self.name)
        return text

    def leave(self, visit: Visit, output_text: str, assigned: dict[str, Any] | None) -> None:
        """Log the Exited event, then make the state's Assign values visible."""
        details = {"name": self.name, "output": output_text, "outputDetails": NOT_TRUNCATED}
        if assigned:
            details["assignedVariables"] = {key: to_json(value) for key, value in assigned.items()}
            details["assignedVariablesDetails"] = NOT_TRUNCATED
        frame = visit.frame
        frame.last_event_id = frame.history.append(self.exited_type, frame.stamp(), frame.last_event_id,
                                                   "stateExitedEventDetails", details)
        if assigned:
            frame.assign(assigned)

    def finish(self, visit: Visit, output: Any, assigned: dict[str, Any] | None) -> tuple[str | None, Any]:
        """Leave towards ``Next`` (the usual end of ``run`` for states without Catch)."""
        text = visit.frame.json_text(output)
        if len(text) > PAYLOAD_LIMIT_BYTES // 4 and payload_too_large(text):  # output_json, inlined: the hot path
            raise data_limit_error(self.name)
        self.leave(visit, text, assigned)
        return self.next, output

    # -- JSONPath processing ------------------------------------------------------------
    def select(self, visit: Visit, path: str | None, data: Any) -> Any:
        """InputPath/OutputPath/ItemsPath: a path matching nothing is States.Runtime."""
        if path == "$":
            return data
        reader = data_reader(path) if path is not None else None
        if reader is not None:
            value = reader(data)
            if value is not NOT_FOUND:
                return value
        try:
            return select_path(path, data, visit.context() if path is not None and path.startswith("$$") else None,
                               visit.variables)
        except PathNotFound as missing:
            raise visit.runtime_error(f"Invalid path '{path}' : {missing.jayway_message}") from None

    def render(self, visit: Visit, template: Any, data: Any) -> Any:
        renderer, reads_context = compiled_template(template)
        try:
            return renderer(data, visit.context() if reads_context else None, visit.frame.variables)
        except RENDER_ERRORS as err:
            raise rendering_failure(err, data, self.name, visit.entered_id) from None

    def effective_input(self, visit: Visit) -> Any:
        return visit.input if self.input_path == "$" else self.select(visit, self.input_path, visit.input)

    def jsonpath_output(self, visit: Visit, result: Any, result_selector: Any = None,
                        result_path: str | None = "$") -> tuple[Any, dict[str, Any] | None]:
        """ResultSelector -> Assign (``$`` = result) -> ResultPath on the raw input -> OutputPath."""
        if result_selector is not None:
            result = self.render(visit, result_selector, result)
        assigned = self.render(visit, self.assign, result) if self.assign is not None else None
        if result_path == "$":
            output = result
        else:
            name = member_name(result_path) if result_path is not None else None
            if name is not None and type(visit.input) is dict:
                output = dict(visit.input)
                output[name] = result
                visit.frame.json_member_added(visit.input, output, name)
            else:
                output = apply_result_path(visit.input, result_path, result)
        if self.output_path != "$":
            output = self.select(visit, self.output_path, output)
        return output, assigned

    # -- JSONata processing -------------------------------------------------------------
    def bindings(self, visit: Visit, **states: Any) -> dict[str, Any]:
        """Variables plus ``$states`` (input, context and, where defined, result/errorOutput)."""
        bound = dict(visit.variables)
        bound["states"] = {"input": visit.input, "context": visit.context(), **states}
        return bound

    def evaluate(self, visit: Visit, template: Any, field: str, bindings: dict[str, Any]) -> Any:
        """Evaluate a JSONata field; a failure is logged as EvaluationFailed, as AWS does."""
        try:
            return evaluate_jsonata_template(template, bindings, field=field, state_name=self.name,
                                             entered_event_id=visit.entered_id)
        except StatesError as err:
            raise self.evaluation_failed(visit, field, err) from None

    #: Whether this state's EvaluationFailed event follows its Entered event (Wait) rather than
    #: the event before it (every other state, as AWS records them).
    evaluation_follows_entered: ClassVar[bool] = False

    def evaluation_failed(self, visit: Visit, field: str | None, err: StatesError) -> StatesError:
        """Log AWS's EvaluationFailed event for a States.QueryEvaluationError (``field`` is its
        ``location``; AWS gives none when the state's input itself is of the wrong type)."""
        if err.error == QUERY_EVALUATION_ERROR:
            details = {"error": err.error, "cause": err.cause, "state": self.name}
            location = err.location if isinstance(err, QueryEvaluationFailed) else field
            if location is not None:
                details["location"] = location
            previous = None if self.evaluation_follows_entered else visit.entered_previous_id
            visit.frame.emit("EvaluationFailed", "evaluationFailedEventDetails", details, previous=previous)
        return err

    def jsonata_output(self, visit: Visit, default: Any, **states: Any) -> tuple[Any, dict[str, Any] | None]:
        """Assign and Output evaluated with the same (pre-state) variables."""
        if self.assign is None and self.output is ABSENT:
            return default, None
        bound = self.bindings(visit, **states)
        assigned = self.evaluate(visit, self.assign, "Assign", bound) if self.assign is not None else None
        output = self.evaluate(visit, self.output, "Output", bound) if self.output is not ABSENT else default
        return output, assigned

    def field_value(self, visit: Visit, value: Any, field: str) -> Any:
        """A field given literally or, in JSONata, as an expression (e.g. ``"{% $n %}"``)."""
        if self.jsonata and is_jsonata_expression(value):
            return self.evaluate(visit, value, field, self.bindings(visit))
        return value

    # -- Retry and Catch ------------------------------------------------------------------
    def attempt(self, visit: Visit) -> Any:
        """One try at the state's work, returning its result (retried as a whole)."""
        raise NotImplementedError

    def process_result(self, visit: Visit, result: Any) -> tuple[Any, dict[str, Any] | None]:
        """Turn the work's result into the state output and the variables it assigns."""
        raise NotImplementedError

    def failed(self, visit: Visit, err: StatesError) -> None:
        """Hook run once when the work failed for good (Map/Parallel log ...StateFailed)."""

    def attempts(self, visit: Visit) -> Any:
        policy: RetryPolicy | None = None
        while True:
            try:
                return self.attempt(visit)
            except StatesError as err:
                if not self.retriers:
                    raise
                if policy is None:
                    policy = RetryPolicy(self.retriers)
                delay = policy.next_delay(err)
                if delay is None:
                    raise
            visit.frame.sleep(delay)
            visit.frame.check()
            visit.next_attempt()

    def run_guarded(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        """Enter, work with retries, then leave by Next or by a matching Catcher.

        An error no Catcher takes leaves without an Exited event (AWS_BEHAVIOURS #21).
        """
        visit = self.enter(value, frame)
        try:
            try:
                result = self.attempts(visit)
            except StatesError as err:
                self.failed(visit, err)
                raise
            output, assigned = self.process_result(visit, result)
            text = self.output_json(visit, output)
            next_state = self.next
        except StatesError as err:
            catcher = find_catcher(self.catchers, err) if self.catchers else None
            if catcher is None:
                raise
            output, assigned = self.caught(visit, catcher, err)
            text = visit.frame.json_text(output)
            next_state = catcher.next
        self.leave(visit, text, assigned)
        return next_state, output

    def caught(self, visit: Visit, catcher: Catcher, err: StatesError) -> tuple[Any, dict[str, Any] | None]:
        """The Catcher's output: the state's own ResultSelector/OutputPath are skipped (AWS_BEHAVIOURS #7)."""
        error_value = error_output(err)
        if self.jsonata:
            if catcher.assign is None and not catcher.has_output:
                return error_value, None
            bound = self.bindings(visit, errorOutput=error_value)
            assigned = self.evaluate(visit, catcher.assign, "Catch/Assign", bound) if catcher.assign is not None else None
            output = self.evaluate(visit, catcher.output, "Catch/Output", bound) if catcher.has_output else error_value
            return output, assigned
        assigned = self.render(visit, catcher.assign, error_value) if catcher.assign is not None else None
        return apply_result_path(visit.input, catcher.result_path, error_value), assigned


def mark_branch_failure(err: StatesError) -> StatesError:
    """Tag an error that came out of a branch/iteration (vs. the Map/Parallel state's own input
    processing): only those make AWS log ...StateFailed."""
    err.from_branch = True  # type: ignore[attr-defined]
    return err


def branch_failure(err: StatesError) -> bool:
    return getattr(err, "from_branch", False) or err.error == QUERY_EVALUATION_ERROR


class WorkState(State):
    """A state whose work returns a result (Task, Map, Parallel): ResultSelector and ResultPath
    apply to it in JSONPath, Output in JSONata. Map and Parallel name the history event they
    log when their branches fail for good in ``failed_event``."""

    failed_event: str | None = None

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        self.result_selector = spec.get("ResultSelector")
        self.result_path = spec.get("ResultPath", "$")

    def process_result(self, visit: Visit, result: Any) -> tuple[Any, dict[str, Any] | None]:
        if self.jsonata:
            return self.jsonata_output(visit, result, result=result)
        return self.jsonpath_output(visit, result, self.result_selector, self.result_path)

    def failed(self, visit: Visit, err: StatesError) -> None:
        if self.failed_event and branch_failure(err):
            visit.frame.emit(self.failed_event)
