"""Running a template's Lambda functions as Lambda runs them: one process per execution environment.

Each function gets its own pool of worker processes (``lambda_worker.py``), one per concurrent
invocation, kept warm and reused; a cold start imports the handler (the REPORT line's Init
Duration, or the ``platform.report`` record's ``initDurationMs`` with ``LoggingConfig.LogFormat: JSON``). A worker sees exactly what Lambda would give it: the function's code and its layers
on ``sys.path`` (nothing else of the project), its template environment overlaid by the local
env file, the ``AWS_LAMBDA_*`` variables, a context whose remaining time counts down, and its
stdout/stderr going to ``<log_dir>/<LogicalId>.log`` as CloudWatch Logs.

A worker past the function's ``Timeout`` is killed and its environment discarded
(``Sandbox.Timedout``); ``ReservedConcurrentExecutions`` caps a function's concurrent
environments, beyond which an invocation is throttled (``TooManyRequestsException``).

Cold starts: a new environment is forked from a fork server (``lambda_worker.zygote``), one per
interpreter, layer path and import-time environment, shared by every host of the process, that
has the layers' heavy libraries (``PRELOAD``: pyarrow, Powertools, pydantic, psycopg, PyYAML)
imported once; the child then takes the function's environment, working directory and code
folder and imports the handler, as a fresh interpreter would. Only what the layer provides is
preloaded (never a function's own dependency, which would then import where Lambda fails), and
only with the function's own values of the variables those imports read; a function that differs
there, or ships its own copy of a preloaded package, gets a fresh interpreter.

Where the code comes from: the source folders (``CodeUri``/``ContentUri``, with the current
venv's packages as the dependencies, hence the current interpreter), or ``.aws-sam/build``
(``from_build``), where every function carries its own dependencies built for its Runtime, so
the Runtime's interpreter runs it when the machine has it, and a packaging mistake fails as on
AWS (``Runtime.ImportModuleError``).
"""
from __future__ import annotations

import atexit
import glob
import json
import os
import re
import select
import shutil
import signal
import socket
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
from typing import Any, BinaryIO, Callable

from etl_core.redaction import redact
from etl_local.asl.errors import TaskFailed
from etl_local.asl.tasks import LambdaFunctionFailed, LambdaResponse
from etl_local.lambda_worker import STATUS, LambdaContext, SystemLog, read_exactly, read_frame, write_frame
from etl_local.sam_template import REGION, FunctionDef

__all__ = ["LambdaContext", "LambdaHost", "InvocationRecord"]

WORKER = Path(__file__).with_name("lambda_worker.py")
#: Lambda's synchronous response limit (bytes): larger responses are an error, not a result.
RESPONSE_LIMIT_BYTES = 6_291_556
#: How long an environment may take to initialise (Lambda's is 10 s; generous for a loaded machine).
INIT_LIMIT_SECONDS = 60
#: The layer's heavy libraries a fork server imports once for all the functions using the layer
#: (module -> the requirement that puts it in the layer). Each one was checked for what it reads
#: from the environment while importing (ZYGOTE_ENVIRONMENT). boto3/botocore.session are left out:
#: they are the runtime's, not the layer's (Powertools imports only botocore's top package).
PRELOAD = {
    "pyarrow": "pyarrow", "pyarrow.parquet": "pyarrow", "pyarrow.compute": "pyarrow", "pyarrow.csv": "pyarrow",
    "pyarrow.fs": "pyarrow", "pyarrow.dataset": "pyarrow",
    "pydantic": "aws-lambda-powertools", "yaml": "pyyaml", "psycopg": "psycopg",
    "aws_lambda_powertools": "aws-lambda-powertools", "aws_lambda_powertools.utilities.typing": "aws-lambda-powertools",
    "aws_lambda_powertools.utilities.parser": "aws-lambda-powertools",
}
#: The variables a fork server is given from the function's environment, and so part of its key:
#: the interpreter's own (locale, time zone, search path for programs and libraries) and every one
#: the preload reads while importing. C libraries' reads (pyarrow's memory pool and jemalloc,
#: OpenSSL's) were found by tracing getenv(3) with an LD_PRELOAD shim; Python-level reads are
#: also recorded by the server itself at each start, and a function whose value differs from the
#: server's for any of them gets a fresh interpreter instead (``_Zygote.fits``).
ZYGOTE_ENVIRONMENT = (
    "PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME",
    "ARROW_DEFAULT_MEMORY_POOL", "ARROW_DEBUG_MEMORY_POOL", "ARROW_USER_SIMD_LEVEL", "JE_ARROW_MALLOC_CONF",
    "AZURE_LOG_LEVEL", "OPENSSL_CONF", "OPENSSL_ia32cap", "SSLKEYLOGFILE", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "PSYCOPG_IMPL", "PSYCOPG_WAIT_FUNC", "PYTHONTZPATH", "PYTHONUSERBASE", "PYTHONDOCS", "_PYTHON_PROJECT_BASE",
    "_PYTHON_SYSCONFIGDATA_NAME",
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_INITIALIZATION_TYPE", "POWERTOOLS_DEBUG", "POWERTOOLS_TRACE_MIDDLEWARES",
    "LOCPATH", "TZDIR",
)
#: Whole namespaces of the C libraries under the preload (Arrow, jemalloc/mimalloc/glibc malloc,
#: OpenSSL, Azure SDK, OpenMP, the dynamic loader, locales): a variable a future version reads
#: at import is in the server's key too, since a server cannot trace reads made in C.
ZYGOTE_ENVIRONMENT_PREFIXES = ("ARROW_", "JE_", "MALLOC_", "MIMALLOC_", "OPENSSL_", "SSL", "AZURE_", "OMP_", "LC_", "LD_",
                               "PYTHON")


def zygote_environment(env: dict[str, str]) -> dict[str, str]:
    """The part of a function's environment its fork server must have (and is keyed by)."""
    return {key: value for key, value in env.items()
            if key in ZYGOTE_ENVIRONMENT or key.startswith(ZYGOTE_ENVIRONMENT_PREFIXES)}
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
    """One execution environment: a process running ``lambda_worker.py`` for one function, started
    afresh (``spawn``) or forked from a fork server (``_Zygote.fork``)."""

    def __init__(self, process: subprocess.Popen[bytes] | _Forked, requests: BinaryIO, responses: BinaryIO) -> None:
        self.process = process
        self.requests = requests
        self.responses = responses
        self.cold = True
        self.exited = False

    @classmethod
    def spawn(cls, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> _Worker:
        """A new interpreter for the environment (no fork server fits the function)."""
        read_fd, write_fd = os.pipe()
        config = json.loads(command[-1])
        config["response_fd"] = write_fd
        command = [*command[:-1], json.dumps(config)]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
                command, stdin=subprocess.PIPE, stdout=out, stderr=out, pass_fds=(write_fd,),
                env=env, cwd=cwd, close_fds=True, start_new_session=True)
        os.close(write_fd)
        assert process.stdin is not None
        return cls(process, process.stdin, os.fdopen(read_fd, "rb", buffering=0))

    def send(self, request: dict[str, Any], body: bytes) -> None:
        fd = self.requests.fileno()
        write_frame(fd, json.dumps(request).encode())
        write_frame(fd, body)

    def started(self, timeout: float) -> bool:
        """Whether the environment is initialised and the handler started within ``timeout``
        (False also when the worker exited first: see ``exited``)."""
        ready, _, _ = select.select([self.responses], [], [], max(timeout, 0.0))
        if not ready:
            return False
        frame = read_frame(self.responses)
        self.exited = frame is None
        return frame == b"started"

    def receive(self, timeout: float) -> tuple[dict[str, Any], bytes] | None:
        """The response, or None when ``timeout`` passes first or the worker exited (``exited``)."""
        ready, _, _ = select.select([self.responses], [], [], max(timeout, 0.0))
        if not ready:
            return None
        meta = read_frame(self.responses)
        payload = read_frame(self.responses)
        if meta is None or payload is None:
            self.exited = True  # its end of the pipe closed: it is exiting, whether or not it is reaped yet
            return None
        return json.loads(meta), payload

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, kill: bool = False) -> None:
        if kill and self.alive():
            _kill_group(self.process.pid)
        try:
            self.requests.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            self.process.wait()
        self.responses.close()
        if isinstance(self.process, _Forked):
            self.process.close()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _Forked:
    """A forked environment as ``Popen`` shows a process (``pid``, ``poll``, ``wait``): its parent is
    the fork server, which writes the exit status to a pipe when it reaps it."""

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._status = os.fdopen(status_fd, "rb", buffering=0)

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._status], [], [], 0)[0]:
            self._collect()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._status], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"environment {self.pid}", timeout or 0)
            self._collect()
        assert self.returncode is not None
        return self.returncode

    def _collect(self) -> None:
        data = read_exactly(self._status, STATUS.size)
        # No status: the fork server itself is gone (killed); the environment, reparented, exits by itself.
        self.returncode = STATUS.unpack(data)[0] if data else -signal.SIGKILL

    def close(self) -> None:
        self._status.close()


class _Zygote:
    """A fork server (``lambda_worker.zygote``) for one interpreter, layer path, preload and
    import-time environment, shared by every host of this process (see ``_zygote_for``)."""

    def __init__(self, interpreter: str, path: list[str], preload: list[str], env: dict[str, str]) -> None:
        self.owner = os.getpid()
        self.env = env
        self.lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
            [interpreter, "-I", "-S", "-u", str(WORKER), "--zygote", str(theirs.fileno())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),), env=env, close_fds=True, start_new_session=True)
        theirs.close()
        self.control = ours
        ours.settimeout(INIT_LIMIT_SECONDS)
        try:
            ours.send(json.dumps({"path": path, "preload": preload}).encode())
            reply = ours.recv(_MESSAGE_LIMIT)
        except OSError:  # not ready within the init limit: the functions start fresh interpreters
            reply = b""
        ours.settimeout(None)
        report = json.loads(reply) if reply else {"error": "the fork server did not start"}
        if "error" in report:
            self.close()
            raise OSError(f"fork server for {path}: {report['error']}")
        self.read: list[str] = report["environment_read"]
        self.packages: list[str] = report["packages"]

    def fits(self, code_dir: Path, env: dict[str, str]) -> bool:
        """Whether forking gives the function what a fresh environment would: every variable the
        preload read has the function's value, and its code shadows none of the preloaded packages
        (Lambda puts the function's folder first, so its own copy of a package would win)."""
        if "*" in self.read or any(env.get(key) != self.env.get(key) for key in self.read):
            return False
        return not any((code_dir / name).exists() or (code_dir / f"{name}.py").exists()
                       or any(code_dir.glob(f"{name}.*.so")) for name in self.packages)

    def fork(self, config: dict[str, Any], env: dict[str, str], cwd: Path, log: Path) -> _Worker:
        requests_read, requests_write = os.pipe()
        responses_read, responses_write = os.pipe()
        status_read, status_write = os.pipe()
        log.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        message = json.dumps({"config": config, "env": env, "cwd": str(cwd)}).encode()
        try:
            with self.lock:
                socket.send_fds(self.control, [message], [requests_read, log_fd, responses_write, status_write])
                reply = self.control.recv(_MESSAGE_LIMIT)
        except OSError:
            reply = b""
        finally:
            for fd in (requests_read, log_fd, responses_write, status_write):
                os.close(fd)
        if not reply:
            for fd in (requests_write, responses_read, status_read):
                os.close(fd)
            raise OSError("the fork server is gone")
        return _Worker(_Forked(json.loads(reply)["pid"], status_read),
                       os.fdopen(requests_write, "wb", buffering=0), os.fdopen(responses_read, "rb", buffering=0))

    def close(self) -> None:
        """End the server (closing its control socket ends its loop; its environments exit with it)."""
        self.control.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            self.process.wait()


#: Fork servers by (interpreter, path, preload, import-time environment); None: none could start.
_ZYGOTES: dict[tuple[Any, ...], _Zygote | None] = {}
_ZYGOTES_LOCK = threading.Lock()
_MESSAGE_LIMIT = 1 << 20


def _zygote_for(interpreter: str, path: list[str], preload: list[str], env: dict[str, str]) -> _Zygote | None:
    """The process's fork server for this key, started on first use (its start imports the preload
    once, shared by every LocalRuntime of the process: the e2e tests' many runtimes in one pytest)."""
    key = (interpreter, tuple(path), tuple(preload), tuple(sorted(env.items())))
    with _ZYGOTES_LOCK:
        if key in _ZYGOTES and (_ZYGOTES[key] is None or _ZYGOTES[key].owner == os.getpid()):
            return _ZYGOTES[key]
        try:
            zygote: _Zygote | None = _Zygote(interpreter, path, preload, env)
        except OSError:
            zygote = None
        _ZYGOTES[key] = zygote
        return zygote


def _forget_zygote(zygote: _Zygote) -> None:
    with _ZYGOTES_LOCK:
        for key, value in list(_ZYGOTES.items()):
            if value is zygote:
                _ZYGOTES[key] = None


def stop_zygotes(folder: Path | None = None) -> None:
    """End this process's fork servers: all of them (at exit), or those whose path lies under
    ``folder`` (a test's own layers). Environments forked from a server exit with it, as they
    exit with any parent: an idle one is replaced by a new cold start on its next invocation."""
    def chosen(key: tuple[Any, ...]) -> bool:
        return folder is None or any(Path(entry).is_relative_to(folder) for entry in key[1])

    with _ZYGOTES_LOCK:
        keys = [key for key in _ZYGOTES if chosen(key)]
        zygotes = [z for z in (_ZYGOTES.pop(key) for key in keys) if z is not None and z.owner == os.getpid()]
    for zygote in zygotes:
        zygote.close()


atexit.register(stop_zygotes)


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
        fork_server: bool = True,
    ) -> None:
        self.functions = functions
        self.env_for = env_for
        self.log_dir = log_dir
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.from_build = from_build
        self.enforce_memory = enforce_memory
        self.fork_server = fork_server
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
            "log_format": fn.log_format, "system_log_level": fn.system_log_level,
        }
        env = self.environment(fn)
        # The working directory is the caller's (Lambda's is the code folder, /var/task): events name
        # local files relative to the project, as `sam local invoke` users expect of their paths.
        zygote = self._zygote(fn, env)
        if zygote is not None:
            try:
                return zygote.fork(config, env, Path.cwd(), self._log(fn))
            except OSError:
                _forget_zygote(zygote)  # the server died: the next cold start starts a new one
        command = [self.interpreter(fn), "-I", "-S", "-u", str(WORKER), json.dumps(config)]
        return _Worker.spawn(command, env, Path.cwd(), self._log(fn))

    def preload(self, fn: FunctionDef) -> list[str]:
        """The heavy libraries the function's layers provide (``PRELOAD``), for its fork server to
        import once: from the build, those present in a layer; from source, those the layer's
        requirements.txt names. Never a function's own dependency (DuckDB), which would then be
        importable where Lambda would fail."""
        if self.from_build:
            folders = [layer / "python" for layer in fn.layer_build_dirs]
            return [module for module in PRELOAD if any((folder / module.partition(".")[0]).is_dir() for folder in folders)]
        required: set[str] = set()
        for layer in fn.layer_dirs:
            if (layer / "requirements.txt").is_file():
                required |= {_requirement_name(line) for line in (layer / "requirements.txt").read_text().splitlines()}
        return [module for module, requirement in PRELOAD.items() if requirement in required]

    def _zygote(self, fn: FunctionDef, env: dict[str, str]) -> _Zygote | None:
        """The fork server this function's environments come from, or None when none fits it."""
        if not self.fork_server or self.enforce_memory:
            # --enforce-memory limits the address space from the start, while the libraries load:
            # a server's preload (pyarrow reserves over 1 GB of address space) would exceed it at once.
            return None
        path = self.search_path(fn)[1:]  # the function's path but its code folder
        zygote = _zygote_for(self.interpreter(fn), path, self.preload(fn), zygote_environment(env))
        return zygote if zygote is not None and zygote.fits(self.code_dir(fn), env) else None

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
        if answer is None and not worker.exited:
            return self._timed_out(fn, worker, request_id), False
        if answer is None:
            try:
                status = _exit_status(worker.process.wait(timeout=INIT_LIMIT_SECONDS))
            except subprocess.TimeoutExpired:  # closed its pipe but lives on: no status to report
                status = "signal: killed"
            message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
            self._append_log(fn, f"{message}\nRuntime.ExitError\n" + _system_log(fn).end(
                request_id, (ended - started) * 1000, fn.memory_size, 0, None, "error", "Runtime.ExitError"))
            return LambdaFunctionFailed({"errorType": "Runtime.ExitError", "errorMessage": message}), False
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

    def _timed_out(self, fn: FunctionDef, worker: _Worker, request_id: str) -> LambdaFunctionFailed:
        """Kill the environment and report the timeout as Lambda does (log lines, then the error). The
        report's duration is the function's Timeout, as Lambda's (``durationMs`` 5000.0, billed 5000,
        for a 5-second Timeout), not the moment the host got round to killing it."""
        peak_mb = _peak_memory_mb(worker.process.pid)
        worker.stop(kill=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
        self._append_log(fn, f"{stamp} {request_id} Task timed out after {fn.timeout:.2f} seconds\n\n"
                             + _system_log(fn).end(request_id, fn.timeout * 1000.0, fn.memory_size, peak_mb, None, "timeout"))
        return LambdaFunctionFailed({"errorType": "Sandbox.Timedout",
                                     "errorMessage": f"RequestId: {request_id} Error: Task timed out after {fn.timeout:.2f} seconds"})

    def value(self, name_or_arn: str, event: Any) -> Any:
        """Invoke and decode the JSON response (what `sam local invoke` prints)."""
        return self.invoke(name_or_arn, event).value()

    def retire(self, names: set[str]) -> None:
        """Stop the idle environments of these functions (logical ids) now: the caller knows
        nothing will invoke them again (etl_local.reachable). A busy one finishes its invocation
        and is kept; a later invocation would be a cold start, as after Lambda reclaims one."""
        _stop_idle({name: pool for name, pool in self._pools.items() if name in names})

    def close(self) -> None:
        """Stop every environment (idle ones at once; busy ones when their invocation ends)."""
        self._closed = True
        _stop_idle(self._pools)

    def __enter__(self) -> LambdaHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _system_log(fn: FunctionDef) -> SystemLog:
    """The function's system-log writer, for the invocations the host ends itself (timeout, exit)."""
    return SystemLog(fn.log_format, fn.system_log_level)


def _requirement_name(line: str) -> str:
    """The distribution a requirements.txt line names, normalised (``PyYAML==6`` -> ``pyyaml``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


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
