"""Running a template's Lambda functions as Lambda runs them: one process per execution environment.

Each function gets its own pool of worker processes (``lambda_worker.py``), one per concurrent
invocation, kept warm and reused; a cold start imports the handler (the REPORT line's Init
Duration). A worker sees exactly what Lambda would give it: the function's code and its layers
on ``sys.path`` (nothing else of the project), its template environment overlaid by the local
env file, the ``AWS_LAMBDA_*`` variables, a context whose remaining time counts down, and its
stdout/stderr going to ``<log_dir>/<LogicalId>.log`` as CloudWatch Logs.

A worker past the function's ``Timeout`` is killed and its environment discarded
(``Sandbox.Timedout``); ``ReservedConcurrentExecutions`` caps a function's concurrent
environments, beyond which an invocation is throttled (``TooManyRequestsException``).

Where the code comes from: the source folders (``CodeUri``/``ContentUri``, with the current
venv's packages as the dependencies, hence the current interpreter), or ``.aws-sam/build``
(``from_build``), where every function carries its own dependencies built for its Runtime, so
the Runtime's interpreter runs it when the machine has it, and a packaging mistake fails as on
AWS (``Runtime.ImportModuleError``).
"""
from __future__ import annotations

import glob
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from etl_core.redaction import redact
from etl_local.asl.errors import TaskFailed
from etl_local.asl.tasks import LambdaFunctionFailed, LambdaResponse
from etl_local.lambda_worker import LambdaContext, read_frame, report_line, write_frame
from etl_local.sam_template import REGION, FunctionDef

__all__ = ["LambdaContext", "LambdaHost", "InvocationRecord"]

WORKER = Path(__file__).with_name("lambda_worker.py")
#: Lambda's synchronous response limit (bytes): larger responses are an error, not a result.
RESPONSE_LIMIT_BYTES = 6_291_556
#: How long an environment may take to initialise (Lambda's is 10 s; generous for a loaded machine).
INIT_LIMIT_SECONDS = 60
#: What Lambda's Python runtime has on its path besides the function (boto3 and its dependencies).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


@dataclass(frozen=True)
class InvocationRecord:
    """When one invocation ran (monotonic seconds) and whether it was a cold start."""

    function: str
    request_id: str
    started: float
    ended: float
    cold: bool


class _Worker:
    """One execution environment: a process running ``lambda_worker.py`` for one function."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        read_fd, write_fd = os.pipe()
        config = json.loads(command[-1])
        config["response_fd"] = write_fd
        command = [*command[:-1], json.dumps(config)]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
                command, stdin=subprocess.PIPE, stdout=out, stderr=out, pass_fds=(write_fd,),
                env=env, cwd=cwd, close_fds=True, start_new_session=True)
        os.close(write_fd)
        self.responses = os.fdopen(read_fd, "rb", buffering=0)
        self.cold = True

    def send(self, request: dict[str, Any], body: bytes) -> None:
        assert self.process.stdin is not None
        fd = self.process.stdin.fileno()
        write_frame(fd, json.dumps(request).encode())
        write_frame(fd, body)

    def started(self, timeout: float) -> bool:
        """Whether the environment is initialised and the handler started within ``timeout``."""
        ready, _, _ = select.select([self.responses], [], [], max(timeout, 0.0))
        return bool(ready) and read_frame(self.responses) == b"started"  # type: ignore[arg-type]

    def receive(self, timeout: float) -> tuple[dict[str, Any], bytes] | None:
        """The response, or None when ``timeout`` passes first (or the worker died: see ``alive``)."""
        ready, _, _ = select.select([self.responses], [], [], max(timeout, 0.0))
        if not ready:
            return None
        meta = read_frame(self.responses)  # type: ignore[arg-type]
        payload = read_frame(self.responses)  # type: ignore[arg-type]
        if meta is None or payload is None:
            return None
        return json.loads(meta), payload

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, kill: bool = False) -> None:
        if kill and self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.responses.close()


class _Pool:
    """A function's execution environments: idle ones are reused, busy ones counted."""

    def __init__(self, reserved: int | None) -> None:
        self.reserved = reserved
        self.idle: list[_Worker] = []
        self.busy = 0
        self.lock = threading.Lock()

    def take(self) -> _Worker | None:
        """An idle environment (the most recently used), under ``lock``."""
        while self.idle:
            worker = self.idle.pop()
            with _WARM_LOCK:
                _WARM.pop(worker, None)
            if worker.alive():
                return worker
            worker.stop()
        return None

    def put(self, worker: _Worker) -> list[tuple[_Worker, _Pool]]:
        """Keep ``worker`` warm (under ``lock``); returns the idle environments to stop past the
        machine-wide cap (the least recently used), for the caller to stop outside the lock."""
        self.idle.append(worker)
        with _WARM_LOCK:
            _WARM[worker] = self
            evicted = []
            while len(_WARM) > MAX_WARM:
                evicted.append(_WARM.popitem(last=False))
        return evicted


def _evict(evicted: list[tuple[_Worker, _Pool]]) -> None:
    for worker, pool in evicted:
        with pool.lock:
            if worker in pool.idle:
                pool.idle.remove(worker)
        worker.stop()


#: Idle environments kept warm across every host of this process, oldest first: many hosts
#: (one per LocalRuntime) must not pile up idle processes; Lambda too reclaims idle environments.
MAX_WARM = 16
_WARM: OrderedDict[_Worker, _Pool] = OrderedDict()
_WARM_LOCK = threading.Lock()


def _throttled() -> TaskFailed:
    return TaskFailed("Lambda.TooManyRequestsException",
                      "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException; "
                      f"Request ID: {uuid.uuid4()}; Proxy: null)")


def _interpreter_version(path: str) -> str | None:
    try:
        out = subprocess.run([path, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],  # noqa: S603
                             capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def find_interpreter(runtime: str) -> str | None:
    """The machine's interpreter for a Lambda ``Runtime`` such as ``python3.12`` (pyenv's included)."""
    version = runtime.removeprefix("python")
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{root}/versions/{version}*/bin/{runtime}"), reverse=True)
    found = shutil.which(runtime)
    if found:
        candidates.append(found)
    for candidate in candidates:
        if _interpreter_version(candidate) == version:
            return candidate
    return None


class LambdaHost:
    """Invokes the template's functions in worker processes; optionally injects faults for testing.

    ``faults`` maps a function's logical id to what its next invocations do, in order: an
    error name fails the call with that error (``{"ExtractFunction": ["TransientError"]}`` fails
    the first call only), ``pass`` lets the call through, ``hang`` blocks it for good (to kill
    the process mid-stage and test recovery).
    """

    def __init__(
        self,
        functions: dict[str, FunctionDef],
        env_for: Callable[[str], dict[str, str]],
        log_dir: Path | None = None,
        faults: dict[str, list[str]] | None = None,
        *,
        from_build: bool = False,
        runtime_dir: Path | None = None,
        enforce_memory: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.functions = functions
        self.env_for = env_for
        self.log_dir = log_dir
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.from_build = from_build
        self.enforce_memory = enforce_memory
        self.runtime_dir = runtime_dir
        self.warn = warn or (lambda message: print(f"etl: warning: {message}", file=sys.stderr))
        self.invocations: dict[str, int] = {name: 0 for name in functions}
        self.records: list[InvocationRecord] = []
        self._pools = {name: _Pool(fn.reserved_concurrency) for name, fn in functions.items()}
        self._lock = threading.Lock()
        self._interpreters: dict[str, str] = {}
        self._closed = False
        weakref.finalize(self, _stop_idle, self._pools)

    # --- the environment a function gets --------------------------------------------------
    def resolve(self, name_or_arn: str) -> FunctionDef:
        name = name_or_arn.rsplit(":function:", 1)[-1].split(":", 1)[0]
        if name not in self.functions:
            raise KeyError(f"no function {name!r} in the template (known: {', '.join(sorted(self.functions))})")
        return self.functions[name]

    def environment(self, fn: FunctionDef) -> dict[str, str]:
        """The process environment: Lambda's reserved variables, the template's, then the env file's."""
        base = {key: os.environ[key] for key in ("PATH", "LD_LIBRARY_PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                 "AWS_SESSION_TOKEN") if key in os.environ}
        region = os.environ.get("AWS_REGION", REGION)
        return {
            **base,
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(self.code_dir(fn)),
            "_HANDLER": fn.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            **fn.environment,
            **self.env_for(fn.logical_id),
        }

    def code_dir(self, fn: FunctionDef) -> Path:
        return fn.build_dir if self.from_build and fn.build_dir is not None else fn.code_uri

    def search_path(self, fn: FunctionDef) -> list[str]:
        """Lambda's order: the function, its layers (a later layer overrides an earlier one), the runtime's packages."""
        if self.from_build:
            layers = [str(layer / "python") for layer in reversed(fn.layer_build_dirs)]
            return [str(self.code_dir(fn)), *layers, str(self._runtime_packages())]
        site = sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]
        return [str(fn.code_uri), *(str(layer) for layer in reversed(fn.layer_dirs)), *dict.fromkeys(site)]

    def _runtime_packages(self) -> Path:
        """A folder holding what Lambda's Python runtime provides (boto3 and its pure-Python dependencies)."""
        folder = self.runtime_dir or Path(self.log_dir or ".").parent / "lambda-runtime"
        with self._lock:
            if not folder.exists():
                staging = folder.with_name(folder.name + f".{os.getpid()}")
                staging.mkdir(parents=True, exist_ok=True)
                site = Path(sysconfig.get_paths()["purelib"])
                for name in RUNTIME_PACKAGES:
                    if (site / name).exists():
                        (staging / name).symlink_to(site / name)
                staging.rename(folder)
        return folder

    def interpreter(self, fn: FunctionDef) -> str:
        """The Runtime's interpreter from the build; from source, the venv's (its packages are built for it)."""
        with self._lock:
            if fn.runtime in self._interpreters:
                return self._interpreters[fn.runtime]
        current = f"python{sys.version_info.major}.{sys.version_info.minor}"
        chosen = sys.executable
        if fn.runtime != current:
            found = find_interpreter(fn.runtime) if self.from_build else None
            if found:
                chosen = found
            elif self.from_build:
                self.warn(f"{fn.runtime} (Runtime of {fn.logical_id}) is not on this machine; running on {current}")
            else:
                self.warn(f"functions run from source on {current}, the interpreter whose packages the venv holds, "
                          f"not their Runtime {fn.runtime}; `--from-build` runs the built packages on {fn.runtime}")
        with self._lock:
            return self._interpreters.setdefault(fn.runtime, chosen)

    def _spawn(self, fn: FunctionDef) -> _Worker:
        config = {
            "path": self.search_path(fn), "handler": fn.handler, "function_name": fn.logical_id,
            "memory_size": fn.memory_size, "timeout": fn.timeout, "arn": fn.arn, "log_stream": "local",
            "memory_limit_bytes": fn.memory_size * 1024 * 1024 if self.enforce_memory else None,
        }
        command = [self.interpreter(fn), "-I", "-S", "-u", str(WORKER), json.dumps(config)]
        # The working directory is the caller's (Lambda's is the code folder, /var/task): events name
        # local files relative to the project, as `sam local invoke` users expect of their paths.
        return _Worker(command, self.environment(fn), Path.cwd(), self._log(fn))

    def _append_log(self, fn: FunctionDef, text: str) -> None:
        """The host's log writer: what it adds to a function's log (an invocation's error lines with
        their traceback, END, REPORT) is redacted first, as everything that leaves a function as text."""
        with self._log(fn).open("a") as log:
            log.write(redact(text))

    def _log(self, fn: FunctionDef) -> Path:
        return self.log_dir / f"{fn.logical_id}.log" if self.log_dir else Path(os.devnull)

    # --- invoking ---------------------------------------------------------------------------
    def invoke(self, name_or_arn: str, event: Any) -> LambdaResponse:
        """Invoke with ``event`` as the request body (JSON); see ``invoke_body``."""
        return self.invoke_body(name_or_arn, json.dumps(event).encode())

    def invoke_body(self, name_or_arn: str, body: bytes) -> LambdaResponse:
        """Lambda's synchronous Invoke: the function's response, or ``LambdaFunctionFailed`` with its
        error body, ``TaskFailed`` when throttled, KeyError for a function the template lacks."""
        fn = self.resolve(name_or_arn)
        with self._lock:
            self.invocations[fn.logical_id] += 1
            count = self.invocations[fn.logical_id]
            pending = self.faults.get(fn.logical_id)
            fault = pending.pop(0) if pending else "pass"
        if fault == "hang":
            threading.Event().wait()
        request_id = str(uuid.uuid4())
        if fault != "pass":
            raise LambdaFunctionFailed({"errorMessage": f"fault injected into {fn.logical_id} (invocation {count})",
                                        "errorType": fault, "requestId": request_id, "stackTrace": []})
        pool = self._pools[fn.logical_id]
        with pool.lock:
            if self._closed:
                raise RuntimeError("the Lambda host is shut down")
            if pool.reserved is not None and pool.busy >= pool.reserved:
                raise _throttled()
            pool.busy += 1
            worker = pool.take()
        keep, evicted = False, []
        try:
            worker = worker or self._spawn(fn)
            outcome, keep = self._run(fn, worker, request_id, body)
            if isinstance(outcome, LambdaFunctionFailed):
                raise outcome
            return outcome
        finally:
            with pool.lock:
                pool.busy -= 1
                if keep and worker is not None and not self._closed:
                    evicted = pool.put(worker)
                    worker = None
            if worker is not None:
                worker.stop(kill=True)
            _evict(evicted)

    def _run(self, fn: FunctionDef, worker: _Worker, request_id: str,
             body: bytes) -> tuple[LambdaResponse | LambdaFunctionFailed, bool]:
        """(the response or the function's error, whether the environment stays warm)."""
        started = time.monotonic()
        cold, worker.cold = worker.cold, False
        worker.send({"request_id": request_id, "remaining_ms": fn.timeout * 1000,
                     "trace_id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"}, body)
        # Lambda times the invocation, not the init (which has its own limit, longer here for loaded machines).
        answer = worker.receive(fn.timeout) if worker.started(INIT_LIMIT_SECONDS + fn.timeout) else None
        ended = time.monotonic()
        with self._lock:
            self.records.append(InvocationRecord(fn.logical_id, request_id, started, ended, cold))
        if answer is None and worker.alive():
            return self._timed_out(fn, worker, request_id, ended - started), False
        if answer is None:
            return LambdaFunctionFailed({"errorType": "Runtime.ExitError",
                                         "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                                                         f"{_exit_status(worker.process.wait())}"}), False
        meta, payload = answer
        self._append_log(fn, meta["log"])
        if meta["failed"]:
            return LambdaFunctionFailed(json.loads(payload)), not meta["exiting"]
        if len(payload) > RESPONSE_LIMIT_BYTES:
            return LambdaFunctionFailed({
                "errorMessage": f"Response payload size ({len(payload)} bytes) exceeded maximum allowed payload size "
                                f"({RESPONSE_LIMIT_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge"}), True
        return LambdaResponse(payload, request_id), True

    def _timed_out(self, fn: FunctionDef, worker: _Worker, request_id: str, elapsed: float) -> LambdaFunctionFailed:
        """Kill the environment and report the timeout as Lambda does (log lines, then the error)."""
        peak_mb = _peak_memory_mb(worker.process.pid)
        worker.stop(kill=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
        self._append_log(fn, f"{stamp} {request_id} Task timed out after {fn.timeout:.2f} seconds\n\n"
                             f"END RequestId: {request_id}\n"
                             + report_line(request_id, elapsed * 1000, fn.memory_size, peak_mb, None))
        return LambdaFunctionFailed({"errorType": "Sandbox.Timedout",
                                     "errorMessage": f"RequestId: {request_id} Error: Task timed out after {fn.timeout:.2f} seconds"})

    def value(self, name_or_arn: str, event: Any) -> Any:
        """Invoke and decode the JSON response (what `sam local invoke` prints)."""
        return self.invoke(name_or_arn, event).value()

    def close(self) -> None:
        """Stop every environment (idle ones at once; busy ones when their invocation ends)."""
        self._closed = True
        _stop_idle(self._pools)

    def __enter__(self) -> LambdaHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _peak_memory_mb(pid: int) -> int:
    """A live process's peak resident memory (VmHWM), for the REPORT line of an invocation we kill."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _stop_idle(pools: dict[str, _Pool]) -> None:
    for pool in pools.values():
        with pool.lock:
            idle, pool.idle = pool.idle, []
        with _WARM_LOCK:
            for worker in idle:
                _WARM.pop(worker, None)
        for worker in idle:
            worker.stop()


def _exit_status(code: int) -> str:
    return f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}" if code < 0 else f"exit status {code}"
