"""Running a template's Lambda functions in this process, as `sam local invoke` would in Docker.

Each function's handler module is imported from its CodeUri with its layers on sys.path
and its own environment applied (template values overlaid by the local env file), and is
called with a Lambda-shaped context. What a function prints (Powertools' JSON logs and
EMF metrics) goes to a per-function log file, like CloudWatch Logs, not to the terminal.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

from etl_local.sam_template import FunctionDef, function_arn

#: Handlers share os.environ and the process's stdout, so invocations run one at a time.
_INVOKE_LOCK = threading.RLock()


@dataclass
class LambdaContext:
    """The attributes and method Lambda's Python runtime passes as ``context``."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or function_arn(self.function_name)
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InjectedFault(Exception):
    """Base of the exceptions raised by fault injection; each gets the requested error name."""


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _output_to(path: Path | None) -> Iterator[None]:
    """Send fds 1 and 2 (Python's and native code's output) to ``path`` for the call, as Lambda sends them to CloudWatch."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    streams = sys.stdout, sys.stderr
    with path.open("a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log  # for Python-level writers when sys.stdout is not fd 1 (e.g. under capture)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = streams
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)


class LambdaHost:
    """Imports and invokes the template's functions; optionally injects faults for testing.

    ``faults`` maps a function's logical id to what its next invocations do, in order: an
    error name raises that error (``{"ExtractFunction": ["TransientError"]}`` fails the first
    call only), ``pass`` lets the call through, ``hang`` blocks it for good (to kill the
    process mid-stage and test recovery).
    """

    def __init__(
        self,
        functions: dict[str, FunctionDef],
        env_for: Callable[[str], dict[str, str]],
        log_dir: Path | None = None,
        faults: dict[str, list[str]] | None = None,
    ) -> None:
        self.functions = functions
        self.env_for = env_for
        self.log_dir = log_dir
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.invocations: dict[str, int] = {name: 0 for name in functions}
        self._modules: dict[str, ModuleType] = {}

    def resolve(self, name_or_arn: str) -> FunctionDef:
        name = name_or_arn.rsplit(":function:", 1)[-1].split(":", 1)[0]
        if name not in self.functions:
            raise KeyError(f"no function {name!r} in the template (known: {', '.join(sorted(self.functions))})")
        return self.functions[name]

    def environment(self, fn: FunctionDef) -> dict[str, str]:
        return {
            **fn.environment,
            **self.env_for(fn.logical_id),
            "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        }

    def _module(self, fn: FunctionDef) -> ModuleType:
        if fn.logical_id in self._modules:
            return self._modules[fn.logical_id]
        module_name, _, _ = fn.handler.rpartition(".")
        source = fn.code_uri / (module_name.replace(".", "/") + ".py")
        if not source.exists():
            raise FileNotFoundError(f"{fn.logical_id}: handler module {source} does not exist (Handler: {fn.handler})")
        for folder in [*fn.layer_dirs, fn.code_uri]:
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
        spec = importlib.util.spec_from_file_location(f"lambda_{fn.logical_id}_{module_name}", source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # imported under the function's environment (see invoke)
        self._modules[fn.logical_id] = module
        return module

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        fn = self.resolve(name_or_arn)
        with _INVOKE_LOCK, _environment(self.environment(fn)):
            self.invocations[fn.logical_id] += 1
            pending = self.faults.get(fn.logical_id)
            fault = pending.pop(0) if pending else "pass"
            if fault == "hang":
                threading.Event().wait()
            if fault != "pass":
                raise type(fault, (InjectedFault,), {})(f"fault injected into {fn.logical_id} (invocation {self.invocations[fn.logical_id]})")
            log = self.log_dir / f"{fn.logical_id}.log" if self.log_dir else None
            with _output_to(log):
                handler = getattr(self._module(fn), fn.handler.rpartition(".")[2])
                context = LambdaContext(function_name=fn.logical_id, memory_limit_in_mb=fn.memory_size, timeout_seconds=fn.timeout)
                return handler(event, context)
