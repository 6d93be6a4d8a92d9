"""Lambda's Invoke API on `etl serve`, as `sam local start-lambda` offers it.

``POST /2015-03-31/functions/{name}/invocations`` reaches the template's functions through
the runtime's Lambda host. ``X-Amz-Invocation-Type``: RequestResponse (default) answers 200
with the function's result, or with Lambda's error payload and ``X-Amz-Function-Error:
Unhandled``; Event answers 202 and runs the function in the background; DryRun answers 204.
``X-Amz-Log-Type: Tail`` adds ``X-Amz-Log-Result``: the last 4 KB the invocation wrote to the
function's log, base64-encoded.
"""
from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl_local.asl.errors import TaskFailed
from etl_local.asl.tasks import LambdaFunctionFailed
from etl_local.runtime import LocalRuntime
from etl_local.sam_template import function_arn

LOG_TAIL_BYTES = 4096


@dataclass
class LambdaResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: str, message: str) -> LambdaResponse:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return LambdaResponse(status, body, {"x-amzn-ErrorType": code, "Content-Type": "application/json"})


def _log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _log_tail(path: Path, since: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as log:
        log.seek(max(since, path.stat().st_size - LOG_TAIL_BYTES))
        return base64.b64encode(log.read()[-LOG_TAIL_BYTES:]).decode()


def invoke(runtime: LocalRuntime, name: str, payload: bytes, headers: dict[str, str]) -> LambdaResponse:
    """Answer one Invoke request for function ``name`` (logical id or ARN)."""
    try:
        fn = runtime.host.resolve(name)
    except KeyError:
        return _error(404, "ResourceNotFoundException", f"Function not found: {function_arn(name.rsplit(':', 1)[-1])}")
    kind = headers.get("x-amz-invocation-type") or "RequestResponse"
    if kind not in ("RequestResponse", "Event", "DryRun"):
        return _error(400, "InvalidParameterValueException", f"Unsupported invocation type: {kind}")
    try:
        event: Any = json.loads(payload) if payload.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _error(400, "InvalidRequestContentException", f"Could not parse request body into json: {exc}")
    common = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": str(uuid.uuid4())}
    if kind == "DryRun":
        return LambdaResponse(204, b"", common)
    if kind == "Event":
        threading.Thread(target=_quietly, args=(runtime, fn.logical_id, event), daemon=True).start()
        return LambdaResponse(202, b"", common)
    log = runtime.home / "logs" / f"{fn.logical_id}.log"
    before = _log_size(log)
    headers_out = {**common, "Content-Type": "application/json"}
    try:  # the worker's response bytes as they are (bytes, JSON) and its error body as Lambda's
        body = runtime.host.invoke(fn.logical_id, event).payload
    except LambdaFunctionFailed as failed:
        body = json.dumps(failed.body).encode()
        headers_out["X-Amz-Function-Error"] = "Unhandled"
    except TaskFailed as throttled:
        return _error(429, "TooManyRequestsException", throttled.cause or "Rate Exceeded.")
    if (headers.get("x-amz-log-type") or "").lower() == "tail":
        headers_out["X-Amz-Log-Result"] = _log_tail(log, before)
    return LambdaResponse(200, body, headers_out)


def _quietly(runtime: LocalRuntime, function: str, event: Any) -> None:
    """An Event invocation: the caller does not wait, and an error stays in the function's log."""
    try:
        runtime.invoke(function, event)
    except Exception:  # noqa: BLE001 - Lambda drops it too (no DLQ configured locally)
        pass
