"""One Lambda execution environment: a process that imports one function and runs its invocations.

Started by ``lambda_host`` as ``python -I -S lambda_worker.py CONFIG_JSON`` so that nothing of
the host's ``sys.path`` (the project, its venv) is visible: the path is exactly the function's
code, its layers in Lambda's order, then the directories the configuration names (the runtime's
own packages), then the interpreter's standard library. This file uses the standard library
only, because it runs before any of that is on the path.

It speaks a framed protocol with the host: requests on stdin (fd 0), responses on the fd named
in the configuration; stdout and stderr are the function's log file, as CloudWatch Logs on
Lambda. It writes Lambda's system logs in the function's log format (``SystemLog``: START/END/REPORT
lines, or JSON ``platform.*`` records). Responses and errors are
marshalled as Lambda's Python runtime (awslambdaric) does: bytes are sent as they are, other
values as JSON, an exception as ``{errorMessage, errorType, requestId, stackTrace}``.
It exits when its stdin closes or its parent dies, so an environment never outlives its host.

``python -I -S lambda_worker.py --zygote FD`` is a fork server (``zygote``): the same start,
on the function's layers' path, with the layers' heavy libraries imported once; each new
environment is forked from it and then becomes the function's as above (``_become``).
"""
from __future__ import annotations

import decimal
import importlib
import json
import math
import os
import resource
import struct
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO

_LENGTH = struct.Struct(">I")


class LambdaContext:
    """The attributes and methods Lambda's Python runtime passes as ``context``."""

    def __init__(self, *, function_name: str, memory_limit_in_mb: int, timeout_seconds: float,
                 invoked_function_arn: str = "", aws_request_id: str = "", function_version: str = "$LATEST",
                 log_group_name: str = "", log_stream_name: str = "local", deadline: float | None = None) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = invoked_function_arn or f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = aws_request_id or _uuid()
        self.log_group_name = log_group_name or f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = deadline if deadline is not None else time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes (a pipe may return fewer per read), or None at end of stream."""
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO) -> bytes | None:
    """One length-prefixed frame, or None at end of stream."""
    head = read_exactly(stream, _LENGTH.size)
    if head is None:
        return None
    return read_exactly(stream, _LENGTH.unpack(head)[0])


def write_frame(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


class _Encoder(json.JSONEncoder):
    """awslambdaric's encoder: Decimals become numbers, everything else as ``json`` does."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return math.nan if o.is_nan() else float(o)
        return super().default(o)


def marshal(result: Any) -> bytes:
    """The response body: bytes as they are, other values as JSON (TypeError when not JSON)."""
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    return _Encoder().encode(result).encode()


def error_body(error_type: str, message: str, request_id: str, stack: list[str]) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def _log(text: str) -> None:
    if not text:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, text.encode())


def _max_memory_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux


def billed_ms(duration_ms: float, init_ms: float | None) -> int:
    """Lambda's billed duration: since 2025-08-01 a cold start's init is billed too, for on-demand
    invocations of ZIP functions on managed runtimes (these), rounded up to the millisecond."""
    return math.ceil(duration_ms + (init_ms or 0.0))


def report_line(request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int, init_ms: float | None) -> str:
    """CloudWatch's REPORT line (Init Duration only on a cold start)."""
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {billed_ms(duration_ms, init_ms)} ms\tMemory Size: {memory_mb} MB\t"
            f"Max Memory Used: {max_used_mb} MB\t")
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    return line + "\n"


#: SystemLogLevel's order (DEBUG shows the most). Lambda writes the records below at INFO, so
#: WARN hides them all; no record Lambda writes only at DEBUG is produced here.
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")


class SystemLog:
    """What Lambda writes to a function's log about each invocation (its system logs), by the
    function's ``LoggingConfig``: with ``LogFormat: Text`` (or none) the ``START``/``END``/``REPORT``
    lines; with ``JSON`` one JSON record per line in the Telemetry API's event shape
    (``{"time", "type", "record"}``): ``platform.initStart`` before a cold start's init,
    ``platform.start``, then ``platform.report`` with the metrics and the invocation's status
    (``success``, ``error`` with ``errorType``, or ``timeout``), and no END. ``SystemLogLevel``
    (JSON only) WARN hides them, since Lambda writes them at INFO. Used by the worker and, for the
    invocations it ends itself (timeout, exit), by the host."""

    def __init__(self, log_format: str = "Text", system_log_level: str = "INFO") -> None:
        self.json = log_format == "JSON"
        self.shown = not self.json or SYSTEM_LOG_LEVELS.index(system_log_level) <= SYSTEM_LOG_LEVELS.index("INFO")

    def init_start(self, function_name: str, memory_mb: int) -> str:
        """Before a new environment's init (JSON only: the Text format has no line for it here)."""
        return self._record("platform.initStart", {
            "initializationType": "on-demand", "phase": "init", "functionName": function_name,
            "functionVersion": "$LATEST", "instanceMaxMemory": memory_mb * 1024 * 1024}) if self.json else ""

    def start(self, request_id: str, function_arn: str) -> str:
        if self.json:
            return self._record("platform.start", {"requestId": request_id, "functionArn": function_arn, "version": "$LATEST"})
        return f"START RequestId: {request_id} Version: $LATEST\n"

    def end(self, request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int, init_ms: float | None,
            status: str = "success", error_type: str | None = None) -> str:
        """The invocation's END and REPORT lines, or its ``platform.report`` record."""
        if not self.json:
            return f"END RequestId: {request_id}\n" + report_line(request_id, duration_ms, memory_mb, max_used_mb, init_ms)
        metrics: dict[str, Any] = {"durationMs": round(duration_ms, 3), "billedDurationMs": billed_ms(duration_ms, init_ms),
                                   "memorySizeMB": memory_mb, "maxMemoryUsedMB": max_used_mb}
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        record: dict[str, Any] = {"requestId": request_id, "metrics": metrics, "status": status}
        if error_type:
            record["errorType"] = error_type
        return self._record("platform.report", record)

    def _record(self, event_type: str, record: dict[str, Any]) -> str:
        if not self.shown:
            return ""
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        return json.dumps({"time": stamp, "type": event_type, "record": record}, separators=(",", ":")) + "\n"


def _watch_parent(parent: int) -> None:
    """Exit as soon as the host is gone (even mid-invocation): no orphan environments."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


class Environment:
    """The function as one Lambda execution environment holds it: initialised once, invoked many times."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.handler: Any = None
        self.init_error: tuple[str, str, list[str]] | None = None
        self.out_of_memory = False
        started = time.perf_counter()
        self._init()
        self.init_ms: float | None = (time.perf_counter() - started) * 1000

    def _init(self) -> None:
        module_name, _, function_name = self.config["handler"].rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            self.init_error = ("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", [])
            return
        except SyntaxError as exc:
            self.init_error = ("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", [])
            return
        except Exception as exc:  # noqa: BLE001 - an init failure is reported like Lambda reports it
            stack = traceback.format_list(_own_frames(exc))
            self.init_error = (type(exc).__name__, str(exc), stack)
            return
        self.handler = getattr(module, function_name, None)
        if self.handler is None:
            self.init_error = ("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'", [])

    def invoke(self, request: dict[str, Any], body: bytes) -> tuple[bool, bytes, str]:
        """Run one invocation: (whether it failed, the response or error body, the error's log lines).

        The error's log lines are not written here but handed to the host, which writes them
        to the function's log through its redaction: an error message or traceback may hold
        a secret (a DSN echoed by a driver), and no secret may reach a log a person reads."""
        request_id = request["request_id"]
        if self.init_error is not None:
            error_type, message, stack = self.init_error
            return True, json.dumps(error_body(error_type, message, request_id, stack)).encode(), _error_lines(error_type, message, stack)
        try:
            event = json.loads(body) if body else {}
        except ValueError as exc:
            message = f"Unable to unmarshal input: {exc}"
            return (True, json.dumps(error_body("Runtime.UnmarshalError", message, request_id, [])).encode(),
                    _error_lines("Runtime.UnmarshalError", message, []))
        config = self.config
        context = LambdaContext(
            function_name=config["function_name"], memory_limit_in_mb=config["memory_size"],
            timeout_seconds=config["timeout"], invoked_function_arn=config["arn"], aws_request_id=request_id,
            log_stream_name=config["log_stream"], deadline=time.monotonic() + request["remaining_ms"] / 1000)
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        try:
            result = self.handler(event, context)
        except MemoryError:  # past MemorySize (--enforce-memory): Lambda kills the environment
            self.out_of_memory = True
            message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
            return True, json.dumps({"errorType": "Runtime.OutOfMemory", "errorMessage": message}).encode(), ""
        except Exception as exc:  # noqa: BLE001 - an unhandled error is the function's response
            stack = traceback.format_list(_own_frames(exc))
            return (True, json.dumps(error_body(type(exc).__name__, str(exc), request_id, stack)).encode(),
                    _error_lines(type(exc).__name__, str(exc), stack))
        try:
            return False, marshal(result), ""
        except (TypeError, ValueError) as exc:
            message = f"Unable to marshal response: {exc}"
            return (True, json.dumps(error_body("Runtime.MarshalError", message, request_id, [])).encode(),
                    _error_lines("Runtime.MarshalError", message, []))


def _own_frames(exc: BaseException) -> traceback.StackSummary:
    """The exception's traceback without the worker's own frame (Lambda shows the function's only)."""
    return traceback.StackSummary.from_list(traceback.extract_tb(exc.__traceback__)[1:])


def _error_lines(error_type: str, message: str, stack: list[str]) -> str:
    """What Lambda's Python runtime logs for an error: ``[ERROR] type: message`` and the traceback."""
    return f"[ERROR] {error_type}: {message}\nTraceback (most recent call last):\n" + "".join(stack)


def main(config_text: str) -> None:
    """A fresh environment: the function's path in front of the standard library, then serve."""
    config = json.loads(config_text)
    sys.path[:0] = config["path"]
    serve(config)


def serve(config: dict[str, Any]) -> None:
    """Run the function's invocations as they arrive on stdin, until it closes."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    if config.get("memory_limit_bytes"):
        resource.setrlimit(resource.RLIMIT_AS, (config["memory_limit_bytes"], config["memory_limit_bytes"]))
    requests, responses = sys.stdin.buffer, config["response_fd"]
    system_log = SystemLog(config.get("log_format", "Text"), config.get("system_log_level", "INFO"))
    environment: Environment | None = None
    pools = _IdlePools()
    while True:
        header = read_frame(requests)
        body = read_frame(requests)
        if header is None or body is None:
            return
        request = json.loads(header)
        started = time.perf_counter()
        cold = environment is None
        if environment is None:
            _log(system_log.init_start(config["function_name"], config["memory_size"]))
            environment = Environment(config)
        write_frame(responses, b"started")  # the function's Timeout counts from here, not from init
        _log(system_log.start(request["request_id"], config["arn"]))
        pools.restore()
        invoke_started = time.perf_counter()
        failed, payload, error_lines = environment.invoke(request, body)
        duration_ms = (time.perf_counter() - invoke_started) * 1000
        init_ms = environment.init_ms if cold else None
        sys.stdout.flush()
        sys.stderr.flush()  # the function's own output is in the log before the host appends the tail
        exiting = environment.init_error is not None or environment.out_of_memory
        # A function's error is the runtime's answer, an invocation that succeeded for the platform
        # (status success); an init that failed or memory exceeded ends the environment (error).
        error_type = ("Runtime.OutOfMemory" if environment.out_of_memory
                      else environment.init_error[0] if environment.init_error is not None else None)
        # The host appends the tail (error lines, END, REPORT) to the log through its redaction.
        tail = error_lines + system_log.end(request["request_id"], duration_ms, config["memory_size"], _max_memory_mb(),
                                            init_ms, "error" if error_type else "success", error_type)
        meta = {"failed": failed, "exiting": exiting, "duration_ms": duration_ms, "init_ms": init_ms, "log": tail,
                "worker_ms": (time.perf_counter() - started) * 1000, "max_memory_mb": _max_memory_mb()}
        write_frame(responses, json.dumps(meta).encode())
        write_frame(responses, payload)
        if exiting:
            return  # Lambda discards an environment whose init failed; the next invocation starts afresh
        _release_idle_memory(pools)


def _release_idle_memory(pools: _IdlePools) -> None:
    """Return the pages the allocators hold free to the system while the environment waits.

    Lambda's environments each have memory of their own; here every warm environment of a run
    shares the machine's, and Arrow's allocator (mimalloc) keeps what a stage freed for reuse:
    an Extract environment idled at about 370 MB RSS through the rest of a scale-1 run, 165 MB
    once released. Releasing changes nothing the function sees but page faults when it next
    allocates; Max Memory Used is the process's peak, which this does not lower. Only libraries
    the function has imported are asked: importing one here would cost what it releases.

    What a thread freed, mimalloc hands back when that thread next calls into it or exits, and
    Arrow's pool threads sleep until the next invocation: so the pools are first shrunk to one
    thread each, the others exit (``_IdlePools``), and then the pool is asked to release.

    Arrow's jemalloc pool (``ARROW_DEFAULT_MEMORY_POOL=jemalloc``, the template's on x86_64) ignores the
    request: it purges from a background thread, which jemalloc does not restart in a forked
    child, so such an environment keeps its free pages for its next invocation to reuse."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pools.shrink(pyarrow)
        pyarrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        import ctypes  # here, not at the top: the function's own modules stay as Lambda's runtime leaves them

        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
            pass


class _IdlePools:
    """Arrow's CPU and I/O thread pools, shrunk to one thread each while the environment waits and
    set back to their sizes when the next invocation starts (its tasks start threads again).

    Measured at scale 10 (one run each, the bench's process tree at its peak, during Load): the
    idle Validate environment 106 -> 76 MB PSS, the tree 1,042 -> 1,004 MB. Nothing is shrunk when no thread
    beyond an idle environment's runs, so an invocation that never used the pools pays nothing."""

    #: Threads an idle environment runs beside Python's own: a fresh interpreter importing
    #: pyarrow starts one (jemalloc's background thread); a forked environment, none.
    IDLE_THREADS = 1
    #: How long the release waits at most for the surplus threads to exit (woken, they exit
    #: within a millisecond or two); one that exits later still exits, the pool being shrunk.
    EXIT_SECONDS = 0.05

    def __init__(self) -> None:
        self.sizes: tuple[int, int] | None = None

    def shrink(self, pyarrow: Any) -> None:
        threads = _native_threads()
        if self.sizes is not None or threads is None or threads <= self.IDLE_THREADS:
            return
        self.sizes = (pyarrow.cpu_count(), pyarrow.io_thread_count())
        pyarrow.set_cpu_count(1)
        pyarrow.set_io_thread_count(1)
        deadline, unchanged = time.monotonic() + self.EXIT_SECONDS, 0
        while unchanged < 5 and time.monotonic() < deadline:  # until five polls in a row see none leave
            time.sleep(0.001)
            now = _native_threads() or 0
            unchanged, threads = (unchanged + 1 if now >= threads else 0), now

    def restore(self) -> None:
        if self.sizes is not None:
            pyarrow = sys.modules["pyarrow"]
            pyarrow.set_cpu_count(self.sizes[0])
            pyarrow.set_io_thread_count(self.sizes[1])
            self.sizes = None


def _native_threads() -> int | None:
    """The process's threads that Python's ``threading`` does not know (Arrow's, DuckDB's), or None
    where ``/proc`` does not list them."""
    try:
        return len(os.listdir("/proc/self/task")) - threading.active_count()
    except OSError:
        return None


# --- the fork server ------------------------------------------------------------------------
#: The largest control message (a fork request carries the function's whole environment).
_MESSAGE_LIMIT = 1 << 20
STATUS = struct.Struct(">i")


class _ReadKeys(os._Environ):  # type: ignore[misc,name-defined]
    """``os.environ`` that notes which variables are read (the preload's, to compare with a function's)."""

    def __init__(self, environ: Any, seen: set[str]) -> None:
        super().__init__(environ._data, environ.encodekey, environ.decodekey, environ.encodevalue, environ.decodevalue)
        self.seen = seen

    def __getitem__(self, key: str) -> str:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)

    def __iter__(self) -> Any:
        self.seen.add("*")  # the whole environment was read: no function differing in anything fits
        return super().__iter__()


def _preload(modules: list[str]) -> dict[str, Any]:
    """Import ``modules`` (the layers' heavy libraries), noting the variables read while importing
    and every top-level module they loaded, the standard library's included: a function whose code
    folder holds one of those names would import its own on Lambda, so it may not fork from here."""
    seen: set[str] = set()
    before = set(sys.modules)
    environ, os.environ = os.environ, _ReadKeys(os.environ, seen)
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        os.environ = environ
    loaded = sorted({name.partition(".")[0] for name in set(sys.modules) - before})
    return {"environment_read": sorted(seen), "packages": loaded}


def zygote(control_fd: int) -> None:
    """A fork server: an interpreter on the layers' path with their heavy libraries imported once,
    from which each new execution environment of a function using those layers is forked.

    The host sends the setup (``path``, ``preload``) and then fork requests, each with the
    function's configuration, environment and working directory, and four descriptors: the
    requests pipe (its stdin), the log (stdout and stderr), the responses pipe and a status pipe
    on which this process writes the child's exit status when it reaps it (the host is not the
    child's parent and cannot wait for it). Single-threaded: fork copies only the calling thread.
    """
    import gc
    import select
    import signal
    import socket
    import warnings

    # jemalloc's background thread (pyarrow) is fork-safe: jemalloc's at-fork handlers reset it in the child.
    warnings.filterwarnings("ignore", ".*multi-threaded.*fork", DeprecationWarning)
    control = socket.socket(fileno=control_fd)
    _name_process("etl-fork-server")
    setup = json.loads(control.recv(_MESSAGE_LIMIT))
    sys.path[:0] = setup["path"]
    try:
        report: dict[str, Any] = _preload(setup["preload"])
    except BaseException as exc:  # noqa: BLE001 - the host runs the functions without a fork server
        report = {"error": f"{type(exc).__name__}: {exc}"}
    control.send(json.dumps(report).encode())
    if "error" in report:
        return
    # What the preload created is moved out of the collector's reach: a collection in an
    # environment would otherwise write to the header of every preloaded object and so copy the
    # pages it shares with this server (with pyarrow and PyYAML alone about 7 MB per environment;
    # at scale 1 the bench's process tree peaked at 974 -> 916 MB). The cost: a cycle among those
    # objects that a function breaks is never collected, in an environment that lives minutes.
    gc.collect()
    gc.freeze()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}  # pid -> the write end of its status pipe
    parent = os.getppid()
    while os.getppid() == parent:
        ready, _, _ = select.select([control, wake_read], [], [], 0.5)
        if wake_read in ready:
            os.read(wake_read, 4096)
        _reap(children)
        if control not in ready:
            continue
        message, fds, _, _ = socket.recv_fds(control, _MESSAGE_LIMIT, 4)
        if not message:
            return  # the host closed the server (or exited)
        request = json.loads(message)
        session_read, session_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(session_read)
                # Its own session, as a fresh environment has (Popen's start_new_session): its own
                # process group, which the host kills, and, under the kernel's autogroup scheduling,
                # its own CPU share, so one environment's threads do not take another's (in the
                # server's session every forked environment shared one share).
                os.setsid()
                os.close(session_write)
                _become(request, fds, [control.fileno(), wake_read, wake_write, *children.values()])
                code = 0
            except SystemExit as exc:  # the exit status a fresh interpreter would give (the host reports it)
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
                if not isinstance(exc.code, (int, type(None))):
                    print(exc.code, file=sys.stderr)
            except BaseException:  # noqa: BLE001 - in the function's log, as an interpreter would show it
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(session_write)
        os.read(session_read, 1)  # end of file once the child leads its session (or has died): the host may kill the group
        os.close(session_read)
        for fd in fds[:3]:
            os.close(fd)
        children[pid] = fds[3]
        control.send(json.dumps({"pid": pid}).encode())


def _name_process(name: str) -> None:
    """Name the process for ``top`` and ``ps -o comm`` (a forked environment keeps the server's
    command line in ``ps -o args``): the function's name, or ``etl-fork-server``."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass


def _reap(children: dict[int, int]) -> None:
    """Collect exited children and tell the host each one's exit status (as Popen.returncode)."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = children.pop(pid, None)
        if fd is not None:
            try:
                os.write(fd, STATUS.pack(os.waitstatus_to_exitcode(status)))
            except OSError:
                pass
            os.close(fd)


def _become(request: dict[str, Any], fds: list[int], inherited: list[int]) -> None:
    """In the forked child: turn the fork server into the function's execution environment."""
    import signal

    requests, log, responses, status = fds
    for fd in (*inherited, status):
        os.close(fd)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(requests, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(requests)
    os.close(log)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    config = request["config"]
    config["response_fd"] = responses
    _name_process(config["function_name"])
    # The fork server's path is the function's minus its code folder, which goes first.
    sys.path.insert(0, config["path"][0])
    importlib.invalidate_caches()
    serve(config)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    else:
        main(sys.argv[1])
