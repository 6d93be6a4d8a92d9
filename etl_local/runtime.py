"""The local runtime: template.yaml's state machine, functions and integrations, wired together.

This is what `etl run` and the end-to-end tests drive. Nothing here knows the ETL domain:
it runs whatever the template declares, with local stand-ins chosen by configuration
(local.env.json, in the format of `sam local invoke --env-vars`).
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from etl_local.asl import RealClock, StateMachine, TaskRegistry, VirtualClock
from etl_local.integrations import LocalGlue, LocalMessaging
from etl_local.lambda_host import LambdaHost
from etl_local.sam_template import LocalEnv, SamApp, TemplateError
from etl_local.store import ExecutionStore
from etl_local.warehouse import start_postgres

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

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.home = (self.home or self.root / ".etl").resolve()
        self.app = SamApp(self.root / "template.yaml", self.parameter_overrides)
        self.local_env = read_env_file(self.env_file or self.root / "local.env.json")
        self.store = ExecutionStore(self.home / "executions")
        self.messaging = LocalMessaging(self.home / "outbox")
        self.host = LambdaHost(self.app.functions(), self._env_for, self.home / "logs", self.faults)

    # --- configuration ----------------------------------------------------------------
    def _placeholder(self, name: str) -> str:
        if name == "ETL_HOME":
            return str(self.home)
        if name == "ETL_ROOT":
            return str(self.root)
        if name == "ETL_WAREHOUSE_DSN":
            if self.warehouse_dsn is None:
                self.warehouse_dsn = start_postgres(self.home / "pg")
            return self.warehouse_dsn
        raise TemplateError(f"local.env.json: unknown placeholder ${{{name}}} (known: ETL_HOME, ETL_ROOT, ETL_WAREHOUSE_DSN)")

    def _env_for(self, logical_id: str) -> dict[str, str]:
        return {k: PLACEHOLDER.sub(lambda m: self._placeholder(m.group(1)), v) for k, v in self.local_env.for_function(logical_id).items()}

    def _registry(self) -> TaskRegistry:
        registry = TaskRegistry()
        registry.set_lambda_resolver(self._lambda)
        registry.register("arn:aws:states:::sqs:sendMessage", self.messaging.send_message)
        registry.register("arn:aws:states:::sns:publish", self.messaging.publish)
        glue = LocalGlue(self.app.glue_jobs(), self.home / "logs", self._env_for("GlueJob"))
        registry.register("arn:aws:states:::glue:startJobRun.sync", glue.start_job_run_sync)
        return registry

    def _lambda(self, name: str) -> Callable[[Any, Any], Any]:
        fn = self.host.resolve(name)  # KeyError naming the function when the template lacks it
        return lambda payload, ctx: self.host.invoke(fn.logical_id, payload)

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
    ):
        """Start an execution, wait for it, persist it; returns the engine's ExecutionResult."""
        machine = self.state_machine(state_machine)
        clock = VirtualClock() if self.virtual_clock else RealClock()
        result = machine.execute(
            execution_input, name=name or str(uuid.uuid4()), tasks=self._registry(), clock=clock, on_event=on_event
        )
        self.store.save(describe(result, machine.arn, execution_input), result.history)
        return result

    def invoke(self, function: str, event: Any) -> Any:
        return self.host.invoke(function, event)


def describe(result, state_machine_arn: str, execution_input: Any) -> dict[str, Any]:
    """DescribeExecution's shape (input and output as JSON strings, as AWS returns them)."""
    description = {
        "executionArn": result.execution_arn,
        "stateMachineArn": state_machine_arn,
        "name": result.name,
        "status": result.status,
        "startDate": result.start_date.isoformat(),
        "stopDate": result.stop_date.isoformat() if result.stop_date else None,
        "input": json.dumps(execution_input),
        "output": json.dumps(result.output) if result.status == "SUCCEEDED" else None,
    }
    if result.error is not None:
        description["error"] = result.error
    if result.cause is not None:
        description["cause"] = result.cause
    return description
