"""Task: call the local handler behind ``Resource`` and log it as AWS does.

A bare Lambda ARN logs LambdaFunction* events and its return value is the result; every
integration (``lambda:invoke``, SQS, SNS, Glue ``.sync`` ...) logs Task* events, and
``lambda:invoke`` wraps the return value like the Lambda Invoke API. A ``.sync`` handler
returns the final result itself. A ``.waitForTaskToken`` task calls the API's handler with
the token in ``$$.Task.Token`` (and ``ctx.task_token``), logs TaskSubmitted with its
response, then waits until someone answers the token through the registry's
``TaskCallbacks`` (SendTaskSuccess/Failure), or until its deadlines pass: ``States.Timeout``.
A task whose work outlives the execution's TimeoutSeconds ends the execution TIMED_OUT.
Handlers get a fresh copy of their input (decoded from the logged JSON), as a real Lambda
would: nothing they do to it can change the state's input.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from ...lambda_worker import marshal
from ..errors import ExecutionTimedOut, StatesError
from ..execution import Frame, Visit
from ..history import error_details, io_details, to_json
from ..paths import PathNotFound, read_path
from ..retry_catch import TIMEOUT
from ..tasks import (
    LAMBDA_INVOKE,
    WAIT_FOR_TASK_TOKEN,
    LambdaFunctionFailed,
    LambdaResponse,
    TaskClock,
    TaskContext,
    TaskHandler,
    TaskTimedOut,
    call_within_limits,
    function_not_found,
    handler_error,
    is_bare_lambda_arn,
    lambda_error,
    lambda_failure,
    lambda_invoke_payload,
    lambda_invoke_result,
    passthrough_failure,
    service_of,
)
from .base import PAYLOAD_LIMIT_BYTES, WorkState, data_limit_error, payload_too_large

#: What AWS Lambda's Python runtime reports for a return value that is not JSON.
MARSHAL_ERROR = "Runtime.MarshalError"


class TaskState(WorkState):
    kind = "Task"
    can_block = True
    has_retry_count = True

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        self.resource: str = spec["Resource"]
        self.parameters = spec.get("Arguments" if self.jsonata else "Parameters")
        self.timeout = spec.get("TimeoutSeconds")
        self.timeout_path = spec.get("TimeoutSecondsPath")
        self.heartbeat = spec.get("HeartbeatSeconds")
        self.heartbeat_path = spec.get("HeartbeatSecondsPath")
        self.waits_for_token = self.resource.endswith(WAIT_FOR_TASK_TOKEN)
        self.bare_lambda = is_bare_lambda_arn(self.resource)
        self.lambda_invoke = self.resource.removesuffix(WAIT_FOR_TASK_TOKEN) == LAMBDA_INVOKE
        self.resource_type, self.resource_action = service_of(self.resource)

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        return self.run_guarded(value, frame)

    def attempt(self, visit: Visit) -> Any:
        if self.waits_for_token and visit.task_token is None:
            visit.set_task_token(str(uuid.uuid4()))
        if self.jsonata:
            arguments = (visit.input if self.parameters is None
                         else self.evaluate(visit, self.parameters, "Arguments", self.bindings(visit)))
        else:
            arguments = self.effective_input(visit)
            if self.parameters is not None:
                arguments = self.render(visit, self.parameters, arguments)
        timeout = self._seconds(visit, self.timeout, self.timeout_path, "TimeoutSeconds")
        heartbeat = self._seconds(visit, self.heartbeat, self.heartbeat_path, "HeartbeatSeconds")
        if self.bare_lambda:
            return self._call_lambda(visit, arguments, timeout, heartbeat)
        return self._call_integration(visit, arguments, timeout, heartbeat)


    # -- dispatch -------------------------------------------------------------------------
    def _call_lambda(self, visit: Visit, payload: Any, timeout: int | None, heartbeat: int | None) -> Any:
        function = self._lambda(visit, self.resource)
        text = visit.frame.json_text(payload)
        details: dict[str, Any] = {"resource": self.resource, **io_details("input", text)}
        if timeout is not None:
            details["timeoutInSeconds"] = timeout
        visit.frame.emit("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", details)
        visit.frame.emit("LambdaFunctionStarted")
        return self._complete(visit, function, json.loads(text), timeout, heartbeat)

    def _call_integration(self, visit: Visit, parameters: Any, timeout: int | None, heartbeat: int | None) -> Any:
        tasks = visit.frame.execution.tasks
        if self.lambda_invoke:
            if not isinstance(parameters, dict) or not isinstance(parameters.get("FunctionName"), str):
                raise visit.runtime_error(f"The Task state '{self.name}' calls {self.resource} "
                                          "without a string 'FunctionName' parameter.")
            handler = self._lambda(visit, parameters["FunctionName"])
        else:
            found = tasks.handler_for(self.resource)
            if found is None:
                raise visit.runtime_error(
                    f"No local handler serves the resource '{self.resource}' of the Task state '{self.name}'. "
                    "Register one with TaskRegistry.register(resource, handler).")
            handler = found
        text = visit.frame.json_text(parameters)
        details: dict[str, Any] = {"resourceType": self.resource_type, "resource": self.resource_action,
                                   "region": visit.frame.execution.region, "parameters": text}
        if timeout is not None:
            details["timeoutInSeconds"] = timeout
        if heartbeat is not None:
            details["heartbeatInSeconds"] = heartbeat
        visit.frame.emit("TaskScheduled", "taskScheduledEventDetails", details)
        visit.frame.emit("TaskStarted", "taskStartedEventDetails", self._service_details())
        argument = json.loads(text)
        if self.lambda_invoke:
            argument = lambda_invoke_payload(argument)
        return self._complete(visit, handler, argument, timeout, heartbeat)

    def _lambda(self, visit: Visit, function: str) -> TaskHandler:
        tasks = visit.frame.execution.tasks
        handler = tasks.lambda_function(function)
        if handler is None and tasks.has_lambda_resolver:
            return function_not_found(function, visit.frame.execution.state_machine_arn)
        if handler is None:
            raise visit.runtime_error(f"No local Lambda function serves '{function}' "
                                      f"(Task state '{self.name}', resource '{self.resource}').")
        return handler

    # -- calling and logging the outcome ---------------------------------------------------
    def _complete(self, visit: Visit, handler: TaskHandler, argument: Any,
                  timeout: int | None, heartbeat: int | None) -> Any:
        frame = visit.frame
        clock = TaskClock(frame.clock, timeout, heartbeat, frame.execution.deadline)
        ctx = TaskContext(state_name=self.name, retry_count=visit.retry_count, context_object=visit.context(),
                          clock=clock, execution_name=frame.execution.name, task_token=visit.task_token)
        callbacks = frame.execution.tasks.callbacks
        token = visit.task_token if self.waits_for_token else None
        if token is not None:
            callbacks.open(token, clock)
        try:
            result = call_within_limits(handler, argument, ctx)
            if token is not None:
                self._log_submitted(visit, result)
                result = callbacks.wait(token)
        except TaskTimedOut:
            self._log_outcome(visit, "TimedOut", error_details(TIMEOUT, None))
            raise StatesError(TIMEOUT, None) from None
        except ExecutionTimedOut:
            raise
        except LambdaFunctionFailed as failed:
            error = lambda_failure(failed.body, compact=not self.bare_lambda)
            self._log_outcome(visit, "Failed", error_details(error.error, error.cause))
            raise error from None
        except Exception as exc:
            error = passthrough_failure(exc)
            if error is None:
                is_lambda = self.bare_lambda or self.lambda_invoke
                error = lambda_error(exc, compact=not self.bare_lambda) if is_lambda else handler_error(exc)
            self._log_outcome(visit, "Failed", error_details(error.error, error.cause))
            raise error from None
        finally:
            if token is not None:
                callbacks.close(token)
        try:
            if isinstance(result, LambdaResponse):
                result = self._response_value(visit, result)
            elif self.lambda_invoke and token is None:
                # The function's response as Lambda's Python runtime writes it (", " and ": "):
                # AWS's Content-Length counts those bytes.
                result = lambda_invoke_result(result, marshal(result).decode(), frame.clock.now())
            text = frame.json_text(result)
        except (TypeError, ValueError) as exc:
            error = StatesError(MARSHAL_ERROR, f"Unable to marshal response: {exc}")
            self._log_outcome(visit, "Failed", error_details(error.error, error.cause))
            raise error from None
        if payload_too_large(text):
            error = data_limit_error(self.resource if self.bare_lambda else self.resource_type)
            self._log_outcome(visit, "Failed", error_details(error.error, error.cause))
            raise error
        self._log_outcome(visit, "Succeeded", io_details("output", text))
        return result

    def _response_value(self, visit: Visit, response: LambdaResponse) -> Any:
        """A function's raw response as the task's result: over 256 KiB is States.DataLimitExceeded
        before anything else (AWS-recorded, even for bytes that are not JSON); ``lambda:invoke``
        wraps the parsed payload with the response's metadata."""
        if len(response.payload) > PAYLOAD_LIMIT_BYTES:
            error = data_limit_error(self.resource if self.bare_lambda else self.resource_type)
            self._log_outcome(visit, "Failed", error_details(error.error, error.cause))
            raise error
        try:
            value = response.value()
        except ValueError:
            error = StatesError(MARSHAL_ERROR, "Unable to parse the function's response as JSON: "
                                + response.payload[:200].decode(errors="replace"))
            self._log_outcome(visit, "Failed", error_details(error.error, error.cause))
            raise error from None
        if self.lambda_invoke and not self.waits_for_token:
            return lambda_invoke_result(value, response.payload.decode(errors="replace"), visit.frame.clock.now(),
                                        response.request_id)
        return value

    def _log_submitted(self, visit: Visit, response: Any) -> None:
        """TaskSubmitted: the API call was made and the task now waits for its token."""
        if self.lambda_invoke:
            response = lambda_invoke_result(response, to_json(response), visit.frame.clock.now())
        visit.frame.emit("TaskSubmitted", "taskSubmittedEventDetails",
                         {**self._service_details(), **io_details("output", to_json(response))})

    def _log_outcome(self, visit: Visit, outcome: str, details: dict[str, Any]) -> None:
        if self.bare_lambda:
            visit.frame.emit(f"LambdaFunction{outcome}", f"lambdaFunction{outcome}EventDetails", details)
        else:
            visit.frame.emit(f"Task{outcome}", f"task{outcome}EventDetails", {**self._service_details(), **details})

    def _service_details(self) -> dict[str, str]:
        return {"resourceType": self.resource_type, "resource": self.resource_action}

    def _seconds(self, visit: Visit, value: Any, path: str | None, field: str) -> int | None:
        """TimeoutSeconds/HeartbeatSeconds from the definition, a path or a JSONata expression."""
        if path is not None:
            try:
                value = read_path(path, self.effective_input(visit), visit.context(), visit.variables)
            except PathNotFound as missing:
                raise visit.runtime_error(f"Invalid path '{path}' : {missing.jayway_message}") from None
        elif value is None:
            return None
        else:
            value = self.field_value(visit, value, field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise visit.runtime_error(f"The {field} value must be a positive integer, got: {to_json(value)}")
        return value
