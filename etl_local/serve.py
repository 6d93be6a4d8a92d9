"""`etl serve`: the Step Functions API, Lambda's Invoke API and the execution graph on one port.

    POST /                                        X-Amz-Target: AWSStepFunctions.<Operation> (AWS JSON 1.0)
    POST /2015-03-31/functions/{name}/invocations  Lambda Invoke (RequestResponse, Event, DryRun)
    GET  /                                        executions (status, start, duration)
    GET  /executions/{name}                       the execution's graph, state details and events
    GET  /executions/{name}/fragment              what that page refreshes while the execution runs

The standard library's ThreadingHTTPServer serves each request in its own thread; executions
run in their own threads too (serve_executions), so a long run never blocks a client.
"""
from __future__ import annotations

import json
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from etl_local.graph import live_fragment, render_list, render_page
from etl_local.mock_config import MockConfig
from etl_local.runtime import LocalRuntime
from etl_local.serve_errors import ApiError
from etl_local.serve_lambda import invoke
from etl_local.serve_sfn import StepFunctionsApi, load_saved_definition

TARGET_PREFIX = "AWSStepFunctions."
LAMBDA_PREFIX = "/2015-03-31/functions/"
JSON_10 = "application/x-amz-json-1.0"


def definition_for(api: StepFunctionsApi | None, runtime: LocalRuntime, state_machine_arn: str) -> dict[str, Any]:
    """The definition an execution ran: a registered machine's, a saved one's, else the template's."""
    name = state_machine_arn.rsplit(":", 1)[-1]
    if api is not None and state_machine_arn in api.machines:
        return json.loads(api.machines[state_machine_arn].definition)
    saved = load_saved_definition(runtime.home, name)  # type: ignore[arg-type]
    if saved is not None:
        return json.loads(saved)
    return runtime.state_machine(name).definition


class Handler(BaseHTTPRequestHandler):
    server: "EtlServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:
            sys.stderr.write(f"etl serve: {self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- APIs -----------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        body = self._body()
        if path.startswith(LAMBDA_PREFIX) and path.endswith("/invocations"):
            name = unquote(path[len(LAMBDA_PREFIX):-len("/invocations")])
            headers = {key.lower(): value for key, value in self.headers.items()}
            response = invoke(self.server.runtime, name, body, headers)
            content_type = response.headers.pop("Content-Type", "application/json")
            self._send(response.status, response.body, content_type, response.headers)
            return
        target = self.headers.get("X-Amz-Target") or ""
        if not target.startswith(TARGET_PREFIX):
            self._api_error(ApiError("UnknownOperationException", f"Unknown X-Amz-Target {target!r}: expected "
                                     f"{TARGET_PREFIX}<Operation>", 400))
            return
        try:
            params = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            self._api_error(ApiError("SerializationException", f"The request body is not JSON: {exc.msg}"))
            return
        try:
            if not isinstance(params, dict):
                raise ApiError("SerializationException", "The request body must be a JSON object")
            answer = self.server.api.call(target[len(TARGET_PREFIX):], params)
        except ApiError as exc:
            self._api_error(exc)
            return
        except Exception as exc:  # noqa: BLE001 - a bug must answer 500, not hang the client
            self._api_error(ApiError("InternalFailure", f"{type(exc).__name__}: {exc}", 500))
            return
        self._send(200, json.dumps(answer, default=str).encode(), JSON_10)

    def _api_error(self, error: ApiError) -> None:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        self._send(error.status, body, JSON_10, {"x-amzn-ErrorType": error.code})

    # -- pages ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        try:
            self._get(unquote(urlsplit(self.path).path))
        except Exception as exc:  # noqa: BLE001 - one page failing must not print a trace or stop the server
            self._send(500, f"etl serve could not render {self.path}: {type(exc).__name__}: {exc}".encode(),
                       "text/plain; charset=utf-8")

    def _get(self, path: str) -> None:
        runtime = self.server.runtime
        if path in ("/", "/executions"):
            self._send(200, render_list(runtime.store.list()).encode(), "text/html; charset=utf-8")
            return
        if path.startswith("/executions/"):
            name, _, rest = path[len("/executions/"):].partition("/")
            try:
                record = runtime.store.load(name)
            except KeyError:
                self._send(404, f"no execution {name!r}".encode(), "text/plain; charset=utf-8")
                return
            description, events = record["execution"], record["events"]
            definition = definition_for(self.server.api, runtime, description["stateMachineArn"])
            if rest == "fragment":
                answer = {"status": description["status"], "html": live_fragment(description, definition, events)}
                self._send(200, json.dumps(answer).encode(), "application/json")
            else:
                self._send(200, render_page(description, definition, events).encode(), "text/html; charset=utf-8")
            return
        if path == "/health":
            self._send(200, b'{"status":"ok"}', "application/json")
            return
        self._send(int(HTTPStatus.NOT_FOUND), b"not found", "text/plain")


class EtlServer(ThreadingHTTPServer):
    """The HTTP server, holding the runtime and the Step Functions API it serves."""

    daemon_threads = True

    def __init__(self, runtime: LocalRuntime, host: str = "127.0.0.1", port: int = 8083,
                 mock_config: MockConfig | None = None, verbose: bool = False) -> None:
        self.runtime = runtime
        self.api = StepFunctionsApi(runtime, mock_config)
        self.verbose = verbose
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_background(self) -> threading.Thread:
        """Serve from a thread (tests, embedding); stop with ``close()``."""
        thread = threading.Thread(target=self.serve_forever, name="etl-serve", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop serving, abort running executions, release the port."""
        self.shutdown()
        self.api.runner.stop_all()
        self.server_close()
