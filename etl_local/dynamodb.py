"""The local stand-in for DynamoDB: moto's DynamoDB behind an HTTP endpoint, its tables kept in the home folder.

The handlers use DynamoDB exactly as on AWS (Powertools' DynamoDBPersistenceLayer for load
idempotency, conditional writes for the run lease) through boto3, which honours
``AWS_ENDPOINT_URL_DYNAMODB``: locally that names this endpoint, so no local-only code ships
in the deployed layer.

moto keeps its tables in this process's memory. Two `etl` processes of one home must see
each other's writes (two concurrent runs contend for one lease), and a later process must
see what an earlier one wrote (a re-run skips loads recorded by the previous run). So every
request runs under an exclusive lock on ``<folder>/tables.lock`` (``flock``, which the
kernel releases if the process dies): the tables are loaded from ``<folder>/tables.pickle``
if another process (or another home in this process) wrote them since, the request runs
against moto's backend, and the tables are written back (a temporary file, then a rename)
if the request may have changed them. Conditional writes are therefore atomic across
processes, as DynamoDB's are.

The endpoint answers as a separate AWS account (``LOCAL_ACCOUNT``) of moto's backend, so
tests that run their own moto server in the same process keep their tables apart.

The state machine's own ``dynamodb:*`` tasks are served by the same endpoint
(``DynamoDBTasks``), so a task and a handler see one table, as on AWS.
"""
from __future__ import annotations

import fcntl
import logging
import os
import pickle
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from etl_local.asl import TaskContext, TaskFailed

#: moto's account for the local endpoint's tables (moto honours the ``x-moto-account-id`` header).
LOCAL_ACCOUNT = "000000000000"

#: DynamoDB actions that change nothing: their requests need not write the tables back.
_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ListTables", "DescribeTimeToLive",
          "DescribeContinuousBackups", "ListTagsOfResource", "TransactGetItems", "DescribeEndpoints"}

#: One backend per process: which folder's tables it holds now, and the file state they came from.
_BACKEND_LOCK = threading.RLock()
_loaded: tuple[Path, tuple[int, int, int]] | None = None


def _backends() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[LOCAL_ACCOUNT]


def _signature(path: Path) -> tuple[int, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0, 0, 0)
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class TableFolder:
    """The tables of one home folder, shared by every process using it (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state = self.folder / "tables.pickle"
        self.lock_file = self.folder / "tables.lock"

    @contextmanager
    def session(self, writes: bool = True) -> Iterator[None]:
        """Hold the folder's lock with its tables in moto's backend; save them afterwards if ``writes``."""
        global _loaded
        with _BACKEND_LOCK, self.lock_file.open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = _signature(self.state)
                if _loaded != (self.folder, current):
                    self._load()
                    _loaded = (self.folder, current)
                yield
                if writes:
                    self._save()
                    _loaded = (self.folder, _signature(self.state))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> None:
        # nosec B301: the local runtime's own state file, written only by _save under the user's --home folder.
        tables: dict[str, dict] = pickle.loads(self.state.read_bytes()) if self.state.exists() else {}  # nosec B301
        backends = _backends()
        for region in list(backends.keys()):
            backends[region].tables.clear()
        for region, region_tables in tables.items():
            backends[region].tables.update(region_tables)

    def _save(self) -> None:
        backends = _backends()
        tables = {region: dict(backends[region].tables) for region in list(backends.keys()) if backends[region].tables}
        temporary = self.state.with_name(f"{self.state.name}.tmp-{os.getpid()}")
        with temporary.open("wb") as out:
            pickle.dump(tables, out)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.state)


def _action(environ: dict) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target.rpartition(".")[2]


class _LockedApp:
    """moto's DynamoDB WSGI app, each request inside a ``TableFolder`` session, as ``LOCAL_ACCOUNT``."""

    def __init__(self, tables: TableFolder) -> None:
        from moto.server import create_backend_app

        self.tables = tables
        self.app = create_backend_app("dynamodb")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = LOCAL_ACCOUNT
        with self.tables.session(writes=_action(environ) not in _READS):
            return [b"".join(self.app(environ, start_response))]  # the body is made while the lock is held


class DynamoDBEndpoint:
    """The endpoint for one home folder: started on first use, on 127.0.0.1, for this process's life."""

    def __init__(self, folder: Path, tables: dict[str, dict[str, Any]] | None = None) -> None:
        self.tables = TableFolder(folder)
        #: Tables made when the endpoint starts: name -> KeySchema and AttributeDefinitions.
        self.definitions = tables or {}
        self._server: Any = None
        self._started = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The endpoint URL (``AWS_ENDPOINT_URL_DYNAMODB``), starting the server if needed."""
        with self._started:
            if self._server is None:
                from werkzeug.serving import make_server

                logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
                self._server = make_server("127.0.0.1", 0, _LockedApp(self.tables), threaded=True)
                threading.Thread(target=self._server.serve_forever, name="local-dynamodb", daemon=True).start()
                self._create(self.definitions)
            return f"http://127.0.0.1:{self._server.server_port}"

    def client(self, region: str = "us-east-1") -> Any:
        return self._client(self.endpoint, region)

    @staticmethod
    def _client(endpoint: str, region: str = "us-east-1") -> Any:
        import boto3

        return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region,
                            aws_access_key_id="local", aws_secret_access_key="local")

    def _create(self, tables: dict[str, dict[str, Any]], region: str = "us-east-1") -> None:
        """Create the tables that do not exist yet: name -> the template's KeySchema and
        AttributeDefinitions (billing is on demand; the rest of a template table is AWS's business)."""
        api = self._client(f"http://127.0.0.1:{self._server.server_port}", region)
        existing = set(api.list_tables()["TableNames"])
        for name, definition in tables.items():
            if name in existing:
                continue
            try:
                api.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **definition)
            except api.exceptions.ResourceInUseException:
                pass  # another process made it meanwhile

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class DynamoDBError(TaskFailed):
    """A DynamoDB API error as Step Functions reports it: ``DynamoDB.<Code>`` and the SDK's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"DynamoDB.{code}", f"{message} (Service: AmazonDynamoDBv2; Status Code: 400; "
                                              f"Error Code: {code}; Request ID: {uuid.uuid4()}; Proxy: null)")


class DynamoDBTasks:
    """``dynamodb:putItem|getItem|deleteItem|updateItem`` tasks, sent to the local endpoint.

    The Parameters are the API's request, so they go to boto3 as they are, and moto's backend
    evaluates keys, condition and update expressions as DynamoDB does. The result is the API
    response without its metadata (``{"Item": ...}``, ``{"Attributes": ...}``, ``{}``); an
    API error is ``DynamoDB.<Code>`` with DynamoDB's message.
    """

    ACTIONS = {"putItem": "put_item", "getItem": "get_item", "deleteItem": "delete_item", "updateItem": "update_item"}

    def __init__(self, endpoint: DynamoDBEndpoint) -> None:
        self.endpoint = endpoint

    def handler(self, action: str) -> Callable[[dict, TaskContext], dict]:
        """The TaskRegistry handler of ``arn:aws:states:::dynamodb:<action>``."""
        method = self.ACTIONS[action]

        def call(parameters: dict, ctx: TaskContext) -> dict:
            from botocore.exceptions import ClientError, ParamValidationError

            try:
                response = getattr(self.endpoint.client(), method)(**parameters)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = error.get("Code", "")
                raise DynamoDBError(code if code and not code.isdigit() else "InternalServerError", error.get("Message", str(exc))) from None
            except ParamValidationError as exc:
                raise DynamoDBError("ValidationException", str(exc)) from None
            response.pop("ResponseMetadata", None)
            if parameters.get("ReturnConsumedCapacity", "NONE") == "NONE":
                response.pop("ConsumedCapacity", None)  # moto adds it unasked; DynamoDB does not
            return response

        return call

    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table (for tests and inspection)."""
        pages = self.endpoint.client().get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        return [item for page in pages for item in page.get("Items", [])]
