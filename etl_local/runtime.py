"""The local runtime: template.yaml's state machine, functions and integrations, wired together.

This is what `etl run` and the end-to-end tests drive. Nothing here knows the ETL domain:
it runs whatever the template declares, with local stand-ins chosen by configuration
(local.env.json, in the format of `sam local invoke --env-vars`).

Served locally: Lambda (the template's functions), SQS, SNS, Glue and EMR Serverless
``startJobRun.sync``, DynamoDB putItem/getItem/deleteItem/updateItem (and DynamoDB for the
handlers, at ``${ETL_DYNAMODB_ENDPOINT}``: etl_local.dynamodb), and S3 for Distributed
Map ItemReader/ResultWriter. Each ``AWS::S3::Bucket`` is a folder: the folder local.env.json
gives the variable the template sets to ``s3://<bucket>`` (LAKE_URI -> ``<home>/lake``,
RAW_URI -> the sample raw folder), else ``<home>/buckets/<LogicalId>``. Any other resource, or
a replacement for one of these, is served by a Python callable::

    runtime = LocalRuntime(Path("."), virtual_clock=True)
    runtime.register("arn:aws:states:::events:putEvents", lambda parameters, ctx: {"FailedEntryCount": 0})

A ``.waitForTaskToken`` task hands its token (``$$.Task.Token``, ``ctx.task_token``) to the
handler and waits until some code calls ``runtime.send_task_success(token, output)`` or
``runtime.send_task_failure(token, error, cause)`` (or its deadlines pass: States.Timeout).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from etl_core import redaction
from etl_local.asl import Clock, ExecutionResult, RealClock, StateMachine, TaskHandler, TaskRegistry, VirtualClock
from etl_local.asl.callbacks import TaskCallbacks
from etl_local.asl.storage import LocalBuckets
from etl_local.dynamodb import DynamoDBEndpoint, DynamoDBTasks
from etl_local.integrations import LocalEmrServerless, LocalGlue, LocalMessaging
from etl_local.lambda_host import LambdaHost
from etl_local.names import check_execution_name
from etl_local.reachable import reachable_functions, top_level_names
from etl_local.sam_template import LocalEnv, SamApp, TemplateError
from etl_local.store import ExecutionStore
from etl_local.warehouse import apply_sql, start_postgres

PLACEHOLDER = re.compile(r"\$\{(ETL_[A-Z_]+)\}")


def read_env_file(path: Path) -> LocalEnv:
    if not path.exists():
        return LocalEnv()
    data = json.loads(path.read_text())
    return LocalEnv(
        parameters={k: str(v) for k, v in data.get("Parameters", {}).items()},
        per_function={fn: {k: str(v) for k, v in values.items()} for fn, values in data.items() if fn != "Parameters"},
    )


@dataclass
class LocalRuntime:
    """Everything a local execution needs; ``home`` holds its state (lake, executions, outboxes, logs)."""

    root: Path
    home: Path | None = None
    virtual_clock: bool = False
    faults: dict[str, list[str]] = field(default_factory=dict)
    warehouse_dsn: str | None = None
    env_file: Path | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    #: SQL applied to the warehouse when a run first needs it: the RDS source's data locally.
    seed_sql: list[Path] | None = None
    #: Run the functions from `.aws-sam/build` (what `sam build` packaged) instead of the sources.
    from_build: bool = False
    #: Limit each worker's address space to the function's MemorySize.
    enforce_memory: bool = False

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self._warehouse_ready = False
        self._warehouse_lock = threading.Lock()
        self.home = (self.home or self.root / ".etl").resolve()
        self.app = SamApp(self.root / "template.yaml", self.parameter_overrides)
        self.local_env = read_env_file(self.env_file or self.root / "local.env.json")
        self.store = ExecutionStore(self.home / "executions")
        self.messaging = LocalMessaging(self.home / "outbox")
        if self.from_build and not self.app.build_root.is_dir():
            raise TemplateError(f"{self.app.build_root} does not exist: run `sam build` first (--from-build runs what it built)")
        self.host = LambdaHost(self.app.functions(), self._env_for, self.home / "logs", self.faults,
                               from_build=self.from_build, runtime_dir=self.home / "lambda-runtime",
                               enforce_memory=self.enforce_memory)
        self.callbacks = TaskCallbacks()
        self.buckets = LocalBuckets(self._bucket_folders())
        self.dynamodb = DynamoDBTasks(DynamoDBEndpoint(self.home / "dynamodb", self._tables()))
        self._handlers: dict[str, TaskHandler] = {}
        register_secrets(self.warehouse_dsn, *os.environ.items())

    # --- configuration ----------------------------------------------------------------
    def _placeholder(self, name: str) -> str:
        if name == "ETL_HOME":
            return str(self.home)
        if name == "ETL_ROOT":
            return str(self.root)
        if name == "ETL_DYNAMODB_ENDPOINT":
            return self.dynamodb.endpoint.endpoint
        if name == "ETL_WAREHOUSE_DSN":
            with self._warehouse_lock:  # concurrent Map iterations start their functions at the same time
                if not self._warehouse_ready:
                    self.warehouse_dsn = self.warehouse_dsn or start_postgres(self.home / "pg")
                    seeds = self.seed_sql if self.seed_sql is not None else sorted((self.root / "sample" / "rds").glob("*.sql"))
                    redaction.register_dsn(self.warehouse_dsn)
                    try:
                        apply_sql(self.warehouse_dsn, seeds)
                    except Exception as exc:  # a DSN libpq cannot parse is echoed in its error: never show it
                        raise redaction.scrubbed(exc) from None
                    self._warehouse_ready = True
            return self.warehouse_dsn
        raise TemplateError(
            f"local.env.json: unknown placeholder ${{{name}}} (known: ETL_HOME, ETL_ROOT, ETL_WAREHOUSE_DSN, ETL_DYNAMODB_ENDPOINT)"
        )

    def _env_for(self, logical_id: str) -> dict[str, str]:
        env = {k: PLACEHOLDER.sub(lambda m: self._placeholder(m.group(1)), v) for k, v in self.local_env.for_function(logical_id).items()}
        register_secrets(None, *env.items())
        return env

    def _bucket_folders(self) -> dict[str, Path]:
        """Each template bucket's folder: where local.env.json points the variable naming it, or under home."""
        buckets = {lid: self.app.ref(lid) for lid, resource in self.app.resources.items()
                   if resource.get("Type") == "AWS::S3::Bucket"}
        folders = {name: self.home / "buckets" / lid for lid, name in buckets.items()}
        for fn in self.app.functions().values():
            local = self.local_env.for_function(fn.logical_id)
            for variable, value in fn.environment.items():
                bucket = value[len("s3://"):] if value.startswith("s3://") else None
                if bucket in folders and variable in local:
                    # Only this variable's placeholders: others (the warehouse DSN) may start servers.
                    folder = PLACEHOLDER.sub(lambda m: self._placeholder(m.group(1)), local[variable])
                    folders[bucket] = Path(folder.removeprefix("file://"))
        return folders

    def _tables(self) -> dict[str, dict[str, Any]]:
        """Each template table's name, KeySchema and the AttributeDefinitions of its keys."""
        tables = {}
        for lid, resource in self.app.resources.items():
            if resource.get("Type") == "AWS::DynamoDB::Table":
                properties = self.app.resolve(resource.get("Properties", {}))
                keys = {key["AttributeName"] for key in properties.get("KeySchema", [])}
                definitions = [d for d in properties.get("AttributeDefinitions", []) if d["AttributeName"] in keys]
                tables[self.app.ref(lid)] = {"KeySchema": properties.get("KeySchema", []), "AttributeDefinitions": definitions}
        return tables

    def task_registry(self, callbacks: TaskCallbacks | None = None) -> TaskRegistry:
        """What serves each Task resource: the template's functions and the local integrations.

        ``callbacks`` gives the execution its own task tokens (``etl serve`` keeps one set per
        execution so StopExecution can end that execution's waits); default: the runtime's.
        """
        registry = TaskRegistry(callbacks or self.callbacks)
        registry.set_lambda_resolver(self._lambda)
        registry.register("arn:aws:states:::sqs:sendMessage", self.messaging.send_message)
        registry.register("arn:aws:states:::sns:publish", self.messaging.publish)
        logs = self.home / "logs"
        glue = LocalGlue(self.app.glue_jobs(), logs, self._env_for("GlueJob"))
        registry.register("arn:aws:states:::glue:startJobRun.sync", glue.start_job_run_sync)
        registry.register("arn:aws:states:::aws-sdk:glue:getJob", glue.get_job)
        emr = LocalEmrServerless(self.root, self.buckets, logs, self._env_for("GlueJob"))
        registry.register("arn:aws:states:::emr-serverless:startJobRun.sync", emr.start_job_run_sync)
        for action in DynamoDBTasks.ACTIONS:
            registry.register(f"arn:aws:states:::dynamodb:{action}", self.dynamodb.handler(action))
        for resource, handler in self._handlers.items():
            registry.register(resource, handler)
        return registry

    def register(self, resource: str, handler: TaskHandler) -> None:
        """Serve ``resource`` (its exact ARN) with ``handler(parameters, ctx) -> result``, replacing
        any built-in integration; raise ``etl_local.asl.TaskFailed(error, cause)`` to fail the task."""
        self._handlers[resource] = handler

    def send_task_success(self, token: str, output: Any) -> None:
        """SendTaskSuccess for a ``.waitForTaskToken`` task of a running execution."""
        self.callbacks.send_task_success(token, output)

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """SendTaskFailure for a ``.waitForTaskToken`` task of a running execution."""
        self.callbacks.send_task_failure(token, error, cause)

    def send_task_heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: restart the task's HeartbeatSeconds countdown."""
        self.callbacks.send_task_heartbeat(token)

    def _lambda(self, name: str) -> Callable[[Any, Any], Any]:
        fn = self.host.resolve(name)  # KeyError naming the function when the template lacks it
        return lambda payload, ctx: self.host.invoke(fn.logical_id, payload)

    def close(self) -> None:
        """Stop the Lambda environments this runtime started."""
        self.host.close()

    def __enter__(self) -> LocalRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- operations ---------------------------------------------------------------------
    def state_machine(self, logical_id: str | None = None) -> StateMachine:
        machines = self.app.state_machines()
        if not machines:
            raise TemplateError("template.yaml declares no AWS::Serverless::StateMachine")
        if logical_id is None:
            if len(machines) > 1:
                raise TemplateError(f"several state machines; name one of {', '.join(machines)}")
            logical_id = next(iter(machines))
        if logical_id not in machines:
            raise TemplateError(f"no state machine {logical_id!r} (known: {', '.join(machines)})")
        definition = machines[logical_id]
        return StateMachine(definition.definition_text(), name=logical_id, arn=definition.arn)

    def run(
        self,
        execution_input: Any,
        *,
        name: str | None = None,
        state_machine: str | None = None,
        on_event: Callable[[dict], None] | None = None,
        machine: StateMachine | None = None,
        tasks: TaskRegistry | None = None,
        clock: Clock | None = None,
        release_unreachable: bool = False,
    ) -> ExecutionResult:
        """Start an execution, wait for it, persist it; returns the engine's ExecutionResult.

        ``machine`` runs another definition than the template's (``etl serve``'s
        CreateStateMachine), ``tasks`` replaces the task registry (a MockConfigFile test case
        wraps it) and ``clock`` the runtime's clock (a stoppable one). ``release_unreachable``:
        this is the process's only execution (``etl run``), so the idle environments of the
        functions it can no longer reach are stopped as it goes (etl_local.reachable).
        """
        machine = machine or self.state_machine(state_machine)
        name = check_execution_name(name or str(uuid.uuid4()))
        started = {
            "executionArn": f"{machine.arn.replace(':stateMachine:', ':execution:')}:{name}",
            "stateMachineArn": machine.arn,
            "name": name,
            "startDate": dt.datetime.now(dt.timezone.utc).isoformat(),
            "input": json.dumps(execution_input),
        }
        with self.store.begin(started) as journal:
            result = machine.execute(
                execution_input, name=name, tasks=tasks or self.task_registry(), clock=clock or self._clock(),
                on_event=self._recorder(machine, _journaling(journal, on_event), release_unreachable),
                s3=self.buckets,
            )
        self._save(result)
        return result

    def _recorder(self, machine: StateMachine, on_event: Callable[[dict], None], release_unreachable: bool) -> Callable[[dict], None]:
        """``on_event`` that also, if ``release_unreachable``, stops as the execution enters a
        top-level state the idle environments of every function no state reachable from there
        can invoke."""
        if not release_unreachable:
            return on_event
        definition = machine.definition
        top = top_level_names(definition)

        def record(event: dict) -> None:
            on_event(event)
            details = event.get("stateEnteredEventDetails")
            if details is None or details.get("name") not in top:
                return
            try:
                keep = {self.host.resolve(function).logical_id for function in reachable_functions(definition, details["name"])}
            except KeyError:  # a function chosen at run time (ANY), or one the template lacks: keep them all
                return
            self.host.retire(set(self.host.functions) - keep)

        return record

    def redrive(self, name: str, *, from_state: str | None = None, on_event: Callable[[dict], None] | None = None,
                machine: StateMachine | None = None, tasks: TaskRegistry | None = None,
                clock: Clock | None = None, release_unreachable: bool = False) -> ExecutionResult:
        """Resume a failed (or killed) execution without re-running the states that completed.

        Like AWS's RedriveExecution it keeps the execution's name, input and history and
        continues at the unsuccessful step. That step is the last top-level state that
        failed (its failure may have been caught and routed to an error path), the state a
        killed process was in, or ``from_state`` when given; its recorded input is reused.
        ``release_unreachable`` as for ``run`` (``etl redrive``, one execution per process).
        """
        record = self.store.load(name)
        description = record["execution"]
        if description["status"] == "SUCCEEDED":
            raise ValueError(f"execution {description['name']!r} SUCCEEDED: there is nothing to redrive")
        machine = machine or self.state_machine(description["stateMachineArn"].rsplit(":", 1)[-1])
        previous = failure_point(record, machine, from_state)
        with self.store.begin({**description, "startDate": description["startDate"]}) as journal:
            result = machine.execute(
                previous.input, tasks=tasks or self.task_registry(), clock=clock or self._clock(),
                on_event=self._recorder(machine, _journaling(journal, on_event), release_unreachable), redrive_from=previous,
                s3=self.buckets,
            )
        self._save(result)
        return result

    def _clock(self):
        return VirtualClock() if self.virtual_clock else RealClock()

    def _save(self, result: ExecutionResult) -> None:
        redrive = {
            "failed_state": result.failed_state,
            "failed_state_input": result.failed_state_input,
            "variables": result.variables,
            "redrive_count": result.redrive_count,
        }
        self.store.save(describe(result), result.history, redrive)

    def invoke(self, function: str, event: Any) -> Any:
        """`sam local invoke`: the function's response as JSON; ``LambdaFunctionFailed`` carries its error."""
        return self.host.value(function, event)

    def warehouse(self) -> str:
        """The warehouse's DSN: the one given, else the embedded PostgreSQL under home, started and seeded."""
        return self._placeholder("ETL_WAREHOUSE_DSN")

    def provision(self) -> None:
        """Bring up now every local stand-in the functions' environment names (``local.env.json``'s
        placeholders: the warehouse, seeded; the DynamoDB endpoint with the template's tables),
        rather than when the first execution first reads their variables.

        On AWS they exist before any execution (``sam deploy`` made the tables, the database is
        there); an execution started after this pays for the execution only. The pipeline
        benchmark calls it before its clock starts: the DynamoDB endpoint's start (moto's import,
        its backend, the tables) was 0.45-0.6 s of every run it measured, whatever the scale."""
        for logical_id in self.app.functions():
            self._env_for(logical_id)  # resolving a function's environment starts what it names


#: Environment variables whose whole value is a secret, whatever its shape.
_SECRET_VARIABLE = re.compile(r"PASSWORD|PASSWD|SECRET(?!_ARN)|TOKEN|API_KEY|CREDENTIAL", re.IGNORECASE)


def register_secrets(dsn: str | None, *variables: tuple[str, str]) -> None:
    """What the runtime hands to functions and may see echoed back: DSN passwords (the warehouse's,
    any variable holding a DSN) and the values of secret-named variables, registered for redaction."""
    redaction.register_dsn(dsn)
    for name, value in variables:
        redaction.register_dsn(value)
        if _SECRET_VARIABLE.search(name):
            redaction.register(value)


def _journaling(journal, on_event: Callable[[dict], None] | None) -> Callable[[dict], None]:
    def record(event: dict) -> None:
        journal.write(json.dumps(redaction.redact_data(event), default=str) + "\n")
        if on_event is not None:
            on_event(event)

    return record


FAILURE_EVENTS = ("Failed", "TimedOut", "Aborted")


def failure_point(record: dict[str, Any], machine: StateMachine, from_state: str | None) -> ExecutionResult:
    """What the engine's redrive needs, rebuilt from a stored execution's history.

    Scans the top-level states in history order: the state to resume is ``from_state``, else
    the last one that failed (a failure event while it ran, caught or not), else the one a
    killed process never exited. Its input is the one recorded when it was last entered, and
    the variables are those top-level states had assigned before it.
    """
    description, events = record["execution"], record["events"]
    top_level = set(machine.definition["States"])
    entered_input: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    variables_at: dict[str, dict[str, Any]] = {}
    current = failed = None
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] in top_level:
            current = event["stateEnteredEventDetails"]["name"]
            entered_input[current] = json.loads(event["stateEnteredEventDetails"].get("input") or "null")
            variables_at[current] = dict(variables)
        elif kind.endswith("StateExited") and event["stateExitedEventDetails"]["name"] == current:
            for key, value in (event["stateExitedEventDetails"].get("assignedVariables") or {}).items():
                variables[key] = json.loads(value)
            current = None
        elif current is not None and kind.endswith(FAILURE_EVENTS) and not kind.startswith("Execution"):
            failed = current
    # A process stopped between two states (Ctrl-C) resumes at the last one it entered.
    last_entered = next((e["stateEnteredEventDetails"]["name"] for e in reversed(events)
                         if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] in top_level), None)
    state = from_state or failed or current or (record.get("redrive") or {}).get("failed_state") or last_entered
    if state is None:
        raise ValueError(f"execution {description['name']!r} has no failed state to redrive from")
    if state not in entered_input:
        entered = ", ".join(name for name in entered_input) or "none"
        raise ValueError(f"state {state!r} was never entered by execution {description['name']!r} (entered: {entered})")
    stored = record.get("redrive") or {}
    return ExecutionResult(
        execution_arn=description["executionArn"],
        name=description["name"],
        status="ABORTED" if description["status"] == "RUNNING" else description["status"],
        output=None,
        error=description.get("error"),
        cause=description.get("cause"),
        start_date=dt.datetime.fromisoformat(description["startDate"]),
        stop_date=dt.datetime.now(dt.timezone.utc),
        history=events,
        state_machine_arn=description["stateMachineArn"],
        input=json.loads(description["input"]),
        failed_state=state,
        failed_state_input=entered_input[state],
        variables=variables_at[state],
        redrive_count=int(stored.get("redrive_count") or 0),
    )


def describe(result: ExecutionResult) -> dict[str, Any]:
    """DescribeExecution's shape (input and output as JSON strings, as AWS returns them)."""
    description = {
        "executionArn": result.execution_arn,
        "stateMachineArn": result.state_machine_arn,
        "name": result.name,
        "status": result.status,
        "startDate": result.start_date.isoformat(),
        "stopDate": result.stop_date.isoformat() if result.stop_date else None,
        "input": json.dumps(result.input),
        "output": json.dumps(result.output) if result.status == "SUCCEEDED" else None,
    }
    if result.error is not None:
        description["error"] = result.error
    if result.cause is not None:
        description["cause"] = result.cause
    return description
