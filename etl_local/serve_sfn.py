"""The Step Functions API of `etl serve`: AWS JSON 1.0 operations over the local runtime.

Each operation takes the request's JSON members and returns the response's, with the
member names of botocore's service model (``stepfunctions/2016-11-23``); a failure raises
``ApiError(code, message)``, which the server sends as AWS does (``__type`` and ``message``).
State machines created through the API live in memory and in ``<home>/state-machines`` (so
`etl graph` can draw their executions); the template's own state machine is registered at
start under its logical id. Executions run in background threads (ExecutionRunner) and are
kept by the runtime's ExecutionStore, the same records `etl executions` and `etl history` read.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from etl_local.asl import DefinitionError, StateMachine, TaskRegistry
from etl_local.asl.callbacks import TaskCallbacks, TaskDoesNotExist
from etl_local.asl.states.base import PAYLOAD_LIMIT_BYTES
from etl_local.mock_config import MockConfig, MockConfigError, MockTestCase
from etl_local.names import InvalidName, check_execution_name
from etl_local.runtime import LocalRuntime
from etl_local.sam_template import ACCOUNT, REGION
from etl_local.serve_errors import ApiError
from etl_local.serve_executions import ExecutionRunner
from etl_local.serve_tasks import served_registry
from etl_local.serve_test_state import test_state

_ARN = re.compile(r"^arn:aws[a-z-]*:states:([a-z0-9-]+):(\d{12}):(stateMachine|execution|express):([^:#]+)(?::([^:#]+))?(?:#(.+))?$")
_STATUSES = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"}
_REDRIVABLE = {"FAILED", "TIMED_OUT", "ABORTED"}
DEFAULT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocal"


def epoch(value: str | dt.datetime | None) -> float | None:
    """A stored ISO time (or history timestamp) as the epoch seconds AWS JSON carries."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return math.floor(value.timestamp() * 1000) / 1000  # milliseconds, as history timestamps are cut


@dataclass
class MachineRecord:
    """A registered state machine, as DescribeStateMachine reports it."""

    arn: str
    name: str
    definition: str
    role_arn: str
    type: str
    creation_date: float
    update_date: float
    revision_id: str
    machine: StateMachine
    logging: dict[str, Any]
    tracing: dict[str, Any]

    def to_file(self) -> dict[str, Any]:
        return {"arn": self.arn, "name": self.name, "definition": self.definition, "roleArn": self.role_arn,
                "type": self.type, "creationDate": self.creation_date, "updateDate": self.update_date,
                "revisionId": self.revision_id, "loggingConfiguration": self.logging,
                "tracingConfiguration": self.tracing}


def _machine(definition: str, name: str, arn: str) -> StateMachine:
    try:
        return StateMachine(definition, name=name, arn=arn)
    except DefinitionError as exc:
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{', '.join(exc.problems)}'") from None


def _required(params: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if params.get(name) in (None, "")]
    if missing:
        raise ApiError("ValidationException", "; ".join(
            f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
            for name in missing))


def _check_name(name: str, what: str = "name") -> None:
    try:
        check_execution_name(name)
    except InvalidName as exc:
        raise ApiError("InvalidName", str(exc)) from None


def _json_input(text: str | None, code: str = "InvalidExecutionInput") -> Any:
    if text is None:
        return {}
    if len(text.encode()) > PAYLOAD_LIMIT_BYTES:
        raise ApiError("ValidationException", f"1 validation error detected: Value at 'input' failed to satisfy "
                       f"constraint: Member must have length less than or equal to {PAYLOAD_LIMIT_BYTES}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(code, f"Invalid State Machine Execution Input: '{exc.msg}'") from None


def _page(items: list[Any], params: dict[str, Any], default: int = 100, limit: int = 1000) -> tuple[list[Any], str | None]:
    """``maxResults``/``nextToken`` paging (the token is the offset, opaque to clients)."""
    size = params.get("maxResults") or default
    if not isinstance(size, int) or size < 0 or size > limit:
        raise ApiError("ValidationException", f"1 validation error detected: Value '{size}' at 'maxResults' failed to "
                       f"satisfy constraint: Member must have value less than or equal to {limit}")
    token = params.get("nextToken")
    start = 0
    if token:
        if not str(token).isdigit() or int(token) > len(items):
            raise ApiError("InvalidToken", f"Invalid Token: '{token}'")
        start = int(token)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


class StepFunctionsApi:
    """The operations; ``call(operation, params)`` dispatches by name."""

    def __init__(self, runtime: LocalRuntime, mock_config: MockConfig | None = None) -> None:
        self.runtime = runtime
        self.mock_config = mock_config
        self.runner = ExecutionRunner(runtime)
        self.machines: dict[str, MachineRecord] = {}
        self.test_cases: dict[str, MockTestCase] = {}
        self._lock = threading.Lock()
        self.folder = runtime.home / "state-machines"
        self._register_template_machines()
        self._load_saved()

    # -- registry of state machines -------------------------------------------------------
    def _register_template_machines(self) -> None:
        now = epoch(dt.datetime.now(dt.timezone.utc))
        for logical_id, spec in self.runtime.app.state_machines().items():
            machine = self.runtime.state_machine(logical_id)
            self.machines[machine.arn] = MachineRecord(
                arn=machine.arn, name=logical_id, definition=spec.definition_text(), role_arn=DEFAULT_ROLE,
                type=spec.type if spec.type in ("STANDARD", "EXPRESS") else "STANDARD", creation_date=now,  # type: ignore[arg-type]
                update_date=now, revision_id=str(uuid.uuid4()), machine=machine, logging={"level": "OFF"},
                tracing={"enabled": False})

    def _load_saved(self) -> None:
        for path in sorted(self.folder.glob("*.json")) if self.folder.exists() else []:
            data = json.loads(path.read_text())
            try:
                machine = StateMachine(data["definition"], name=data["name"], arn=data["arn"])
            except DefinitionError:
                continue  # saved by an older engine that accepted it; listed no more
            self.machines[data["arn"]] = MachineRecord(
                arn=data["arn"], name=data["name"], definition=data["definition"], role_arn=data["roleArn"],
                type=data["type"], creation_date=data["creationDate"], update_date=data["updateDate"],
                revision_id=data["revisionId"], machine=machine, logging=data["loggingConfiguration"],
                tracing=data["tracingConfiguration"])

    def _save(self, record: MachineRecord) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{record.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record.to_file(), indent=1))
        tmp.replace(path)

    def _arn(self, value: Any, kinds: tuple[str, ...]) -> re.Match:
        match = _ARN.match(value) if isinstance(value, str) else None
        if match is None:
            raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {value}'")
        if match.group(3) not in kinds:
            raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {match.group(3)}'")
        return match

    def _state_machine(self, arn: Any) -> MachineRecord:
        match = self._arn(arn, ("stateMachine",))
        bare = arn.split("#", 1)[0]
        if match.group(5) is not None:
            raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid Arn resource id: {bare}'")
        record = self.machines.get(bare)
        if record is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{bare}'")
        return record

    def _execution(self, arn: Any) -> dict[str, Any]:
        match = self._arn(arn, ("execution", "express"))
        if match.group(5) is None:
            raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid Arn resource id: {arn}'")
        try:
            record = self.runtime.store.load(match.group(5))
        except KeyError:
            record = None
        if record is None or record["execution"]["executionArn"] != arn:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return record

    # -- dispatch -------------------------------------------------------------------------
    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise ApiError("UnknownOperationException", f"Operation {operation} is not supported by etl serve")
        return handler(params)

    # -- state machines -------------------------------------------------------------------
    def op_CreateStateMachine(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "name", "definition", "roleArn")
        name = params["name"]
        _check_name(name)
        kind = params.get("type") or "STANDARD"
        if kind not in ("STANDARD", "EXPRESS"):
            raise ApiError("ValidationException", f"1 validation error detected: Value '{kind}' at 'type' failed to "
                           "satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]")
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        machine = _machine(params["definition"], name, arn)
        with self._lock:
            existing = self.machines.get(arn)
            if existing is not None:
                if existing.definition == params["definition"] and existing.role_arn == params["roleArn"] and existing.type == kind:
                    return {"stateMachineArn": arn, "creationDate": existing.creation_date}
                raise ApiError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
            now = epoch(dt.datetime.now(dt.timezone.utc))
            record = MachineRecord(arn=arn, name=name, definition=params["definition"], role_arn=params["roleArn"],
                                   type=kind, creation_date=now, update_date=now, revision_id=str(uuid.uuid4()),  # type: ignore[arg-type]
                                   machine=machine, logging=params.get("loggingConfiguration") or {"level": "OFF"},
                                   tracing=params.get("tracingConfiguration") or {"enabled": False})
            self.machines[arn] = record
            self._save(record)
        return {"stateMachineArn": arn, "creationDate": record.creation_date}

    def op_UpdateStateMachine(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "stateMachineArn")
        record = self._state_machine(params["stateMachineArn"])
        fields = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(params.get(key) for key in fields):
            raise ApiError("MissingRequiredParameter", "Either the definition, the role ARN, the LoggingConfiguration, "
                           "or the TracingConfiguration must be specified")
        with self._lock:
            if params.get("definition"):
                record.machine = _machine(params["definition"], record.name, record.arn)
                record.definition = params["definition"]
            record.role_arn = params.get("roleArn") or record.role_arn
            record.logging = params.get("loggingConfiguration") or record.logging
            record.tracing = params.get("tracingConfiguration") or record.tracing
            record.update_date = epoch(dt.datetime.now(dt.timezone.utc))  # type: ignore[assignment]
            record.revision_id = str(uuid.uuid4())
            self._save(record)
        return {"updateDate": record.update_date, "revisionId": record.revision_id}

    def _describe_machine(self, record: MachineRecord) -> dict[str, Any]:
        return {"stateMachineArn": record.arn, "name": record.name, "status": "ACTIVE", "definition": record.definition,
                "roleArn": record.role_arn, "type": record.type, "creationDate": record.creation_date,
                "loggingConfiguration": record.logging, "tracingConfiguration": record.tracing,
                "revisionId": record.revision_id}

    def op_DescribeStateMachine(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "stateMachineArn")
        return self._describe_machine(self._state_machine(params["stateMachineArn"]))

    def op_ListStateMachines(self, params: dict[str, Any]) -> dict[str, Any]:
        records = sorted(self.machines.values(), key=lambda record: record.name)
        page, token = _page(records, params)
        listed = [{"stateMachineArn": r.arn, "name": r.name, "type": r.type, "creationDate": r.creation_date} for r in page]
        return {"stateMachines": listed, **({"nextToken": token} if token else {})}

    def op_DeleteStateMachine(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "stateMachineArn")
        self._arn(params["stateMachineArn"], ("stateMachine",))
        with self._lock:
            record = self.machines.pop(params["stateMachineArn"], None)  # AWS: deleting a missing one succeeds
            if record is not None:
                (self.folder / f"{record.name}.json").unlink(missing_ok=True)
        return {}

    def op_ValidateStateMachineDefinition(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "definition")
        try:
            StateMachine(params["definition"])
        except DefinitionError as exc:
            diagnostics = [_diagnostic(problem) for problem in exc.problems]
            limit = params.get("maxResults") or 100
            return {"result": "FAIL", "diagnostics": diagnostics[:limit], "truncated": len(diagnostics) > limit}
        return {"result": "OK", "diagnostics": [], "truncated": False}

    # -- executions -----------------------------------------------------------------------
    def _case(self, record: MachineRecord, case_name: str | None) -> MockTestCase | None:
        """The MockConfigFile test case ``stateMachineArn#TestCase`` names, if any."""
        if case_name is None:
            return None
        if self.mock_config is None:
            raise ApiError("InvalidArn", f"Invalid Arn: 'test case {case_name} given, but etl serve has no mock "
                           "config (--mock-config FILE or SFN_MOCK_CONFIG)'")
        try:
            return self.mock_config.test_case(record.name, case_name)
        except MockConfigError as exc:
            raise ApiError("InvalidArn", f"Invalid Arn: '{exc}'") from None

    def _tasks(self, record: MachineRecord, case: MockTestCase | None) -> Callable[[TaskCallbacks], TaskRegistry]:
        def build(callbacks: TaskCallbacks) -> TaskRegistry:
            registry = served_registry(self.runtime.task_registry(callbacks))
            return case.registry(registry, record.machine.definition) if case is not None else registry

        return build

    def op_StartExecution(self, params: dict[str, Any], *, sync: bool = False) -> dict[str, Any]:
        _required(params, "stateMachineArn")
        arn = params["stateMachineArn"]
        record = self._state_machine(arn)
        case_name = arn.split("#", 1)[1] if "#" in arn else None
        if sync and record.type != "EXPRESS":
            raise ApiError("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")
        name = params.get("name") or str(uuid.uuid4())
        _check_name(name)
        input_text = params.get("input") if params.get("input") is not None else "{}"
        execution_input = _json_input(input_text)
        execution_arn = f"{record.arn.replace(':stateMachine:', ':execution:')}:{name}"
        case = self._case(record, case_name)
        tasks = self._tasks(record, case)
        with self._lock:
            try:
                existing = self.runtime.store.load(name)["execution"]
            except KeyError:
                existing = None
            if existing is not None:
                same = existing["executionArn"] == execution_arn and existing["status"] == "RUNNING" and \
                    _same_json(existing.get("input"), input_text)
                if same and not sync:
                    return {"executionArn": execution_arn, "startDate": epoch(existing["startDate"])}
                raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{execution_arn}'")
            run = self.runner.start(record.machine, name, execution_input, input_text, tasks)
        if sync:  # outside the lock: other requests go on while this execution runs
            run.done.wait()
        if case is not None:  # a redrive goes on counting the mocked invocations
            self.test_cases[execution_arn] = case
        if run.failure is not None and run.result is None:
            raise ApiError("ValidationException", str(run.failure))
        description = self.runtime.store.load(name)["execution"]
        if not sync:
            return {"executionArn": execution_arn, "startDate": epoch(description["startDate"])}
        described = describe_execution(self.runtime.store.load(name))
        keys = ("executionArn", "stateMachineArn", "name", "startDate", "stopDate", "status", "error", "cause",
                "input", "inputDetails", "output", "outputDetails")
        return {key: described[key] for key in keys if key in described}

    def op_StartSyncExecution(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.op_StartExecution(params, sync=True)

    def op_DescribeExecution(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "executionArn")
        record = self._execution(params["executionArn"])
        return describe_execution(record)

    def op_DescribeStateMachineForExecution(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "executionArn")
        description = self._execution(params["executionArn"])["execution"]
        record = self.machines.get(description["stateMachineArn"])
        if record is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{params['executionArn']}' "
                           "(its state machine was deleted)")
        answer = self._describe_machine(record)
        for key in ("status", "type", "creationDate", "description"):
            answer.pop(key, None)
        answer["updateDate"] = record.update_date
        return answer

    def op_ListExecutions(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("stateMachineArn") and not params.get("mapRunArn"):
            raise ApiError("ValidationException", "Must provide a StateMachine ARN or MapRun ARN")
        if params.get("mapRunArn"):
            raise ApiError("ResourceNotFound", f"Resource not found: '{params['mapRunArn']}'")
        record = self._state_machine(params["stateMachineArn"])
        status = params.get("statusFilter")
        if status is not None and status not in _STATUSES:
            raise ApiError("ValidationException", f"1 validation error detected: Value '{status}' at 'statusFilter' "
                           f"failed to satisfy constraint: Member must satisfy enum value set: {sorted(_STATUSES)}")
        found = [e for e in self.runtime.store.list() if e["stateMachineArn"] == record.arn
                 and (status is None or e["status"] == status)]
        page, token = _page(found, params)
        listed = []
        for e in page:
            item = {"executionArn": e["executionArn"], "stateMachineArn": e["stateMachineArn"], "name": e["name"],
                    "status": e["status"], "startDate": epoch(e["startDate"])}
            if e.get("stopDate"):
                item["stopDate"] = epoch(e["stopDate"])
            listed.append(item)
        return {"executions": listed, **({"nextToken": token} if token else {})}

    def op_GetExecutionHistory(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "executionArn")
        events = self._execution(params["executionArn"])["events"]
        if params.get("reverseOrder"):
            events = list(reversed(events))
        page, token = _page(events, params)
        include = params.get("includeExecutionData", True) is not False
        return {"events": [wire_event(event, include) for event in page], **({"nextToken": token} if token else {})}

    def op_StopExecution(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "executionArn")
        arn = params["executionArn"]
        description = self._execution(arn)["execution"]
        if description["status"] == "RUNNING" and not self.runner.stop(arn, params.get("error"), params.get("cause")):
            raise ApiError("ValidationException", f"Execution {arn} is RUNNING in another process; stop it there")
        description = self._execution(arn)["execution"]
        return {"stopDate": epoch(description.get("stopDate"))}

    def op_RedriveExecution(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "executionArn")
        arn = params["executionArn"]
        stored = self._execution(arn)
        description = stored["execution"]
        record = self.machines.get(description["stateMachineArn"])
        if description["status"] not in _REDRIVABLE or record is None or record.type != "STANDARD":
            reason = "its state machine was deleted" if record is None else f"it is {description['status']}"
            raise ApiError("ExecutionNotRedrivable", f"Execution {arn} cannot be redriven: {reason}")
        tasks = self._tasks(record, self.test_cases.get(arn))
        with self._lock:
            if arn in self.runner.running:
                raise ApiError("ExecutionNotRedrivable", f"Execution {arn} cannot be redriven: it is RUNNING")
            run = self.runner.start(record.machine, description["name"], None, description["input"], tasks, redrive=True)
        if run.failure is not None and run.result is None:
            raise ApiError("ExecutionNotRedrivable", f"Execution {arn} cannot be redriven: {run.failure}")
        return {"redriveDate": epoch(dt.datetime.now(dt.timezone.utc))}

    # -- task tokens ----------------------------------------------------------------------
    def _answer(self, token: Any, answer: Callable[[TaskCallbacks], None]) -> dict[str, Any]:
        """Answer the task waiting for ``token``: AWS's TaskDoesNotExist when none is (any more)."""
        if not isinstance(token, str) or not token:
            raise ApiError("InvalidToken", "Invalid Token: 'Invalid token'")
        callbacks = self.runner.callbacks_for(token)
        try:
            if callbacks is None:
                raise TaskDoesNotExist(token)
            answer(callbacks)
        except TaskDoesNotExist:
            raise ApiError("TaskDoesNotExist", "Task Timed Out: 'Provided task does not exist anymore'") from None
        return {}

    def op_SendTaskSuccess(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "taskToken", "output")
        output = _json_input(params["output"], code="InvalidOutput")
        token = params["taskToken"]
        return self._answer(token, lambda callbacks: callbacks.send_task_success(token, output))

    def op_SendTaskFailure(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "taskToken")
        token = params["taskToken"]
        return self._answer(token, lambda callbacks: callbacks.send_task_failure(token, params.get("error"), params.get("cause")))

    def op_SendTaskHeartbeat(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "taskToken")
        token = params["taskToken"]
        return self._answer(token, lambda callbacks: callbacks.send_task_heartbeat(token))

    # -- TestState ------------------------------------------------------------------------
    def op_TestState(self, params: dict[str, Any]) -> dict[str, Any]:
        _required(params, "definition")
        return test_state(params, lambda: served_registry(self.runtime.task_registry()), self.runtime._clock())


def _same_json(stored: str | None, given: str) -> bool:
    try:
        return json.loads(stored or "null") == json.loads(given)
    except json.JSONDecodeError:
        return False


def _diagnostic(problem: str) -> dict[str, Any]:
    """``CODE: message at /path`` as a ValidateStateMachineDefinition diagnostic."""
    code, _, message = problem.partition(": ")
    if not message:
        code, message = "SCHEMA_VALIDATION_FAILED", problem
    diagnostic = {"severity": "ERROR", "code": code, "message": message}
    body, sep, location = message.rpartition(" at ")
    if sep and location.startswith("/"):
        diagnostic["location"] = location
    return diagnostic


def describe_execution(record: dict[str, Any]) -> dict[str, Any]:
    """DescribeExecution's members from a stored execution record."""
    description = record["execution"]
    redrive = record.get("redrive") or {}
    logged = {event["type"]: event for event in record["events"]
              if event["type"] in ("ExecutionStarted", "ExecutionSucceeded")}  # the texts as the engine logged them
    started = (logged.get("ExecutionStarted") or {}).get("executionStartedEventDetails") or {}
    answer: dict[str, Any] = {
        "executionArn": description["executionArn"], "stateMachineArn": description["stateMachineArn"],
        "name": description["name"], "status": description["status"], "startDate": epoch(description["startDate"]),
        "input": started.get("input", description.get("input")), "inputDetails": {"included": True},
    }
    if description["status"] != "RUNNING" and description.get("stopDate"):
        answer["stopDate"] = epoch(description["stopDate"])
    if description["status"] == "SUCCEEDED":
        succeeded = (logged.get("ExecutionSucceeded") or {}).get("executionSucceededEventDetails") or {}
        answer.update(output=succeeded.get("output", description.get("output")), outputDetails={"included": True})
    for key in ("error", "cause"):
        if description.get(key) is not None:
            answer[key] = description[key]
    count = int(redrive.get("redrive_count") or 0)
    answer["redriveCount"] = count
    if count:
        redriven = [e for e in record["events"] if e["type"] == "ExecutionRedriven"]
        if redriven:
            answer["redriveDate"] = epoch(redriven[-1]["timestamp"])
    redrivable = description["status"] in _REDRIVABLE
    answer["redriveStatus"] = "REDRIVABLE" if redrivable else "NOT_REDRIVABLE"
    if not redrivable:
        answer["redriveStatusReason"] = ("Execution is RUNNING and cannot be redriven" if description["status"] == "RUNNING"
                                         else f"Execution is {description['status']} and cannot be redriven")
    return answer


_DATA_KEYS = {"input", "output", "inputDetails", "outputDetails", "parameters"}


def wire_event(event: dict[str, Any], include_data: bool = True) -> dict[str, Any]:
    """A stored history event as GetExecutionHistory sends it (epoch timestamp, data optional)."""
    wired = {**event, "timestamp": epoch(event["timestamp"])}
    if not include_data:
        for key, value in event.items():
            if key.endswith("EventDetails") and isinstance(value, dict):
                wired[key] = {k: v for k, v in value.items() if k not in _DATA_KEYS}
    return wired


def load_saved_definition(home: Path, name: str) -> str | None:
    """The definition of a state machine created through `etl serve`, if it saved one under ``home``."""
    path = home / "state-machines" / f"{name}.json"
    return json.loads(path.read_text())["definition"] if path.exists() else None
