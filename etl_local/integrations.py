"""Step Functions service integrations served on this machine.

SQS and SNS write every message to inspectable JSON-lines files (one per queue or
topic), which is what a developer wants to look at after a failed local run; the Glue
and EMR Serverless integrations run the job's script on local Spark, as a separate process
like a real job run, and answer in their GetJobRun shapes; DynamoDB's item APIs work on
one JSON file per table. Every handler has the TaskRegistry signature
``handler(parameters, ctx) -> result`` and reports API errors as ``TaskFailed``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from etl_local.asl import TaskContext, TaskFailed
from etl_local.asl.storage import LocalBuckets, NoSuchKey, UnknownBucket
from etl_local.sam_template import GlueJobDef

_APPEND_LOCK = threading.Lock()


def _append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _APPEND_LOCK, path.open("a") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")


def read_messages(path: Path) -> list[dict]:
    """Every message a local queue or topic received, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class LocalMessaging:
    """``sqs:sendMessage`` and ``sns:publish`` into ``<root>/sqs/<queue>.jsonl`` / ``<root>/sns/<topic>.jsonl``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def queue_file(self, queue_url: str) -> Path:
        return self.root / "sqs" / f"{queue_url.rstrip('/').rsplit('/', 1)[-1]}.jsonl"

    def topic_file(self, topic_arn: str) -> Path:
        return self.root / "sns" / f"{topic_arn.rsplit(':', 1)[-1]}.jsonl"

    def send_message(self, parameters: dict, ctx: TaskContext) -> dict:
        if "QueueUrl" not in parameters or "MessageBody" not in parameters:
            raise TaskFailed("SQS.MissingParameterException", "sqs:sendMessage needs QueueUrl and MessageBody")
        body = parameters["MessageBody"]
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        message_id = str(uuid.uuid4())
        _append(self.queue_file(parameters["QueueUrl"]), {"MessageId": message_id, "Body": text, "SentTimestamp": ctx.clock.now().isoformat()})
        return {"MessageId": message_id, "MD5OfMessageBody": _md5(text)}

    def publish(self, parameters: dict, ctx: TaskContext) -> dict:
        if "Message" not in parameters or not ({"TopicArn", "TargetArn", "PhoneNumber"} & parameters.keys()):
            raise TaskFailed("SNS.InvalidParameterException", "sns:publish needs Message and TopicArn")
        message = parameters["Message"]
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        message_id = str(uuid.uuid4())
        target = parameters.get("TopicArn") or parameters.get("TargetArn") or parameters["PhoneNumber"]
        _append(self.topic_file(target), {"MessageId": message_id, "Subject": parameters.get("Subject"), "Message": text, "Timestamp": ctx.clock.now().isoformat()})
        return {"MessageId": message_id}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SQS's checksum, not security


def run_script(argv: list[str], log_path: Path, env: dict[str, str]) -> tuple[bool, str]:
    """Run a job script as its own process, output to ``log_path``; (succeeded, last log lines).

    A separate process like a real Glue or EMR job run: the script gets its own Spark session
    and environment, and a crash cannot take the runtime down with it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, check=False)
    if done.returncode == 0:
        return True, ""
    return False, " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-5:])


class LocalGlue:
    """``glue:startJobRun.sync``: run the job's script with local pyspark and wait for it."""

    def __init__(self, jobs: dict[str, GlueJobDef], log_dir: Path, env: dict[str, str]) -> None:
        self.jobs = jobs
        self.log_dir = log_dir
        self.env = env

    def _job(self, parameters: dict) -> GlueJobDef:
        name = parameters.get("JobName")
        job = self.jobs.get(name)
        if job is None:
            raise TaskFailed("Glue.EntityNotFoundException", f"Job {name!r} is not declared in the template (known: {', '.join(self.jobs)})")
        return job

    def get_job(self, parameters: dict, ctx: TaskContext) -> dict:
        """``aws-sdk:glue:getJob``: the job as the template declares it, its script a local path."""
        job = self._job(parameters)
        command = {"Name": "glueetl", "ScriptLocation": str(job.script), "PythonVersion": "3"}
        return {"Job": {"Name": job.name, "Command": command, "DefaultArguments": job.default_arguments, "GlueVersion": "5.0"}}

    def start_job_run_sync(self, parameters: dict, ctx: TaskContext) -> dict:
        job = self._job(parameters)
        name = job.name
        run_id = "jr_" + uuid.uuid4().hex
        arguments = {**job.default_arguments, **(parameters.get("Arguments") or {}), "--JOB_NAME": name, "--JOB_RUN_ID": run_id}
        argv = [sys.executable, str(job.script)]
        for key, value in arguments.items():
            argv += [key, str(value)]
        log_path = self.log_dir / f"glue-{name}-{run_id}.log"
        started = dt.datetime.now(dt.timezone.utc)
        succeeded, tail = run_script(argv, log_path, self.env)
        run: dict[str, Any] = {
            "Id": run_id,
            "JobName": name,
            "Arguments": arguments,
            "StartedOn": started.isoformat(),
            "CompletedOn": dt.datetime.now(dt.timezone.utc).isoformat(),
            "JobRunState": "SUCCEEDED" if succeeded else "FAILED",
            "GlueVersion": "5.0",
            "LogGroupName": str(log_path),
        }
        if not succeeded:
            run["ErrorMessage"] = tail
            raise TaskFailed("States.TaskFailed", json.dumps(run))
        return run


class LocalEmrServerless:
    """``emr-serverless:startJobRun.sync``: run ``JobDriver.SparkSubmit.EntryPoint`` with local pyspark.

    The entry point is an ``s3://`` URI (read through the runtime's buckets) or a path relative
    to the project. ``EntryPointArguments`` become the script's arguments and
    ``SparkSubmitParameters`` go to pyspark through ``PYSPARK_SUBMIT_ARGS``, as spark-submit
    would apply them. The result is GetJobRun's ``{"JobRun": {...}}`` with State SUCCESS;
    a failed run is ``States.TaskFailed`` whose cause is that JobRun (State FAILED).
    """

    def __init__(self, root: Path, buckets: LocalBuckets, log_dir: Path, env: dict[str, str]) -> None:
        self.root = root
        self.buckets = buckets
        self.log_dir = log_dir
        self.env = env

    def start_job_run_sync(self, parameters: dict, ctx: TaskContext) -> dict:
        application = parameters.get("ApplicationId")
        driver = (parameters.get("JobDriver") or {}).get("SparkSubmit") or {}
        if not application or not isinstance(driver.get("EntryPoint"), str):
            raise TaskFailed("EMRServerless.ValidationException",
                             "emr-serverless:startJobRun needs ApplicationId and JobDriver.SparkSubmit.EntryPoint")
        script = self._entry_point(driver["EntryPoint"])
        run_id = uuid.uuid4().hex[:16]
        region, account = ctx.context_object["Execution"]["Id"].split(":")[3:5]
        env = dict(self.env)
        if driver.get("SparkSubmitParameters"):
            env["PYSPARK_SUBMIT_ARGS"] = f"{driver['SparkSubmitParameters']} pyspark-shell"
        started = dt.datetime.now(dt.timezone.utc)
        log_path = self.log_dir / f"emr-serverless-{application}-{run_id}.log"
        argv = [sys.executable, str(script), *(str(a) for a in driver.get("EntryPointArguments", []))]
        succeeded, tail = run_script(argv, log_path, env)
        finished = dt.datetime.now(dt.timezone.utc)
        run: dict[str, Any] = {
            "ApplicationId": application,
            "JobRunId": run_id,
            "Arn": f"arn:aws:emr-serverless:{region}:{account}:/applications/{application}/jobruns/{run_id}",
            "Name": parameters.get("Name", run_id),
            "CreatedBy": parameters.get("ExecutionRoleArn", ""),
            "CreatedAt": started.isoformat(),
            "UpdatedAt": finished.isoformat(),
            "ExecutionRole": parameters.get("ExecutionRoleArn", ""),
            "State": "SUCCESS" if succeeded else "FAILED",
            "StateDetails": "" if succeeded else tail,
            "ReleaseLabel": "local-pyspark",
            "JobDriver": parameters["JobDriver"],
            "TotalExecutionDurationSeconds": int((finished - started).total_seconds()),
        }
        if not succeeded:
            raise TaskFailed("States.TaskFailed", json.dumps({"JobRun": run}))
        return {"JobRun": run}

    def _entry_point(self, entry_point: str) -> Path:
        if entry_point.startswith("s3://"):
            bucket, _, key = entry_point[len("s3://"):].partition("/")
            try:
                path = self.buckets.path(bucket, key)
            except (UnknownBucket, NoSuchKey) as missing:
                raise TaskFailed("EMRServerless.ValidationException", f"EntryPoint {entry_point}: {missing.args[0]}") from None
        else:
            path = self.root / entry_point
        if not path.is_file():
            raise TaskFailed("EMRServerless.ValidationException", f"EntryPoint {entry_point} does not exist (local file {path})")
        return path


# -- DynamoDB -----------------------------------------------------------------------------------
class DynamoDBError(TaskFailed):
    """A DynamoDB API error as Step Functions reports it: ``DynamoDB.<Code>`` and the SDK's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"DynamoDB.{code}", f"{message} (Service: AmazonDynamoDBv2; Status Code: 400; "
                                              f"Error Code: {code}; Request ID: {uuid.uuid4()}; Proxy: null)")


def _validation(message: str) -> DynamoDBError:
    return DynamoDBError("ValidationException", message)


_EXPRESSION_TOKEN = re.compile(r"\s*(?:(:[A-Za-z0-9_]+)|(#?[A-Za-z_][A-Za-z0-9_]*(?:\.#?[A-Za-z_][A-Za-z0-9_]*)*)"
                               r"|(<>|<=|>=|[=<>(),+\-]))")
_COMPARATORS = {"=", "<>", "<", "<=", ">", ">="}


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _EXPRESSION_TOKEN.match(text, position)
        if match is None:
            raise _validation(f"Invalid expression: syntax error near {text[position:position + 20]!r}")
        tokens.append(next(group for group in match.groups() if group is not None))
        position = match.end()
    return tokens


class _Expression:
    """One DynamoDB expression (condition or update) over an item in DynamoDB's typed JSON.

    Conditions: comparisons (= <> < <= > >=), attribute_exists / attribute_not_exists /
    begins_with, AND, OR, NOT and parentheses. Updates: ``SET path = operand [+|- operand]``
    (operands may be ``if_not_exists(path, operand)``) and ``REMOVE path, ...``.
    Names come from ExpressionAttributeNames (``#n``), values from ExpressionAttributeValues (``:v``).
    """

    def __init__(self, text: str, names: dict[str, str], values: dict[str, Any]) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.names = names
        self.values = values

    # -- token helpers ---------------------------------------------------------------------
    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token.upper() != expected.upper()):
            raise _validation(f"Invalid expression: expected {expected or 'more'} at token {self.position + 1}")
        self.position += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.upper() == word:
            self.position += 1
            return True
        return False

    def _path(self, token: str) -> list[str]:
        parts = []
        for part in token.split("."):
            if part.startswith("#"):
                if part not in self.names:
                    raise _validation(f"An expression attribute name used in the document path is not defined; attribute name: {part}")
                part = self.names[part]
            parts.append(part)
        return parts

    def _value(self, token: str) -> Any:
        if token not in self.values:
            raise _validation(f"An expression attribute value used in expression is not defined; attribute value: {token}")
        return self.values[token]

    def _done(self) -> None:
        if self._peek() is not None:
            raise _validation(f"Invalid expression: unexpected token {self._peek()!r}")

    # -- conditions ------------------------------------------------------------------------
    def condition(self, item: dict[str, Any]) -> bool:
        result = self._or(item)
        self._done()
        return result

    def _or(self, item: dict[str, Any]) -> bool:
        result = self._and(item)
        while self._keyword("OR"):
            right = self._and(item)
            result = result or right
        return result

    def _and(self, item: dict[str, Any]) -> bool:
        result = self._not(item)
        while self._keyword("AND"):
            right = self._not(item)
            result = result and right
        return result

    def _not(self, item: dict[str, Any]) -> bool:
        if self._keyword("NOT"):
            return not self._not(item)
        if self._peek() == "(":
            self._take("(")
            result = self._or(item)
            self._take(")")
            return result
        token = self._take()
        function = token.lower()
        if function in ("attribute_exists", "attribute_not_exists", "begins_with") and self._peek() == "(":
            self._take("(")
            path = self._path(self._take())
            found = _lookup(item, path)
            if function == "begins_with":
                self._take(",")
                prefix = self._operand(item)
                self._take(")")
                return (found is not None and prefix is not None and "S" in found and "S" in prefix
                        and found["S"].startswith(prefix["S"]))
            self._take(")")
            return (found is not None) == (function == "attribute_exists")
        self.position -= 1
        left = self._operand(item)
        operator = self._take()
        if operator not in _COMPARATORS:
            raise _validation(f"Invalid expression: expected a comparator, got {operator!r}")
        return _compare(left, operator, self._operand(item))

    def _operand(self, item: dict[str, Any]) -> Any:
        token = self._take()
        if token.startswith(":"):
            return self._value(token)
        if token.lower() == "if_not_exists" and self._peek() == "(":
            self._take("(")
            found = _lookup(item, self._path(self._take()))
            self._take(",")
            fallback = self._operand(item)
            self._take(")")
            return fallback if found is None else found
        return _lookup(item, self._path(token))

    # -- updates ---------------------------------------------------------------------------
    def update(self, item: dict[str, Any]) -> None:
        """Apply SET/REMOVE clauses to ``item`` in place (operands read the item before the update)."""
        before = json.loads(json.dumps(item))
        while self._peek() is not None:
            clause = self._take().upper()
            if clause == "SET":
                self._set(item, before)
            elif clause == "REMOVE":
                self._remove(item)
            else:
                raise _validation(f"Invalid UpdateExpression: the local runtime supports SET and REMOVE, got {clause}")

    def _set(self, item: dict[str, Any], before: dict[str, Any]) -> None:
        while True:
            path = self._path(self._take())
            self._take("=")
            value = self._operand(before)
            if self._peek() in ("+", "-"):
                sign = self._take()
                value = _arithmetic(value, sign, self._operand(before))
            if value is None:
                raise _validation("The provided expression refers to an attribute that does not exist in the item")
            _assign(item, path, value)
            if self._peek() != ",":
                return
            self._take(",")

    def _remove(self, item: dict[str, Any]) -> None:
        while True:
            *parents, last = self._path(self._take())
            target = _lookup(item, parents) if parents else {"M": item}
            if target is not None and "M" in target:
                target["M"].pop(last, None)
            if self._peek() != ",":
                return
            self._take(",")


def _lookup(item: dict[str, Any], path: list[str]) -> Any:
    value: Any = {"M": item}
    for part in path:
        if not isinstance(value, dict) or "M" not in value or part not in value["M"]:
            return None
        value = value["M"][part]
    return value


def _assign(item: dict[str, Any], path: list[str], value: Any) -> None:
    *parents, last = path
    target = item
    for part in parents:
        nested = target.get(part)
        if not isinstance(nested, dict) or "M" not in nested:
            raise _validation("The document path provided in the update expression is invalid for update")
        target = nested["M"]
    target[last] = value


def _number(value: Any) -> Decimal | None:
    return Decimal(value["N"]) if isinstance(value, dict) and "N" in value else None


def _arithmetic(left: Any, sign: str, right: Any) -> dict[str, str]:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        raise _validation("An operand in the update expression has an incorrect data type")
    result = a + b if sign == "+" else a - b
    return {"N": str(result.normalize()) if result != result.to_integral() else str(result.to_integral())}


def _compare(left: Any, operator: str, right: Any) -> bool:
    """DynamoDB comparison of typed values: different types are never equal, never ordered."""
    if left is None or right is None:
        return operator == "<>" and (left is None) != (right is None)
    a, b = _number(left), _number(right)
    if a is None or b is None:
        if left.keys() != right.keys():
            return operator == "<>"
        (kind,) = left.keys()
        a, b = left[kind], right[kind]
        if operator not in ("=", "<>") and kind not in ("S", "B"):
            return False
    return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]


class LocalDynamoDB:
    """``dynamodb:putItem|getItem|deleteItem|updateItem`` on tables kept as JSON files.

    One file per table, ``<root>/<TableName>.json`` = ``{"Items": [...]}`` with items in
    DynamoDB's typed JSON (``{"id": {"S": "a"}, "n": {"N": "1"}}``). The tables and their key
    attributes are the template's ``AWS::DynamoDB::Table`` resources. Results are the API
    responses (``{"Item": ...}``, ``{"Attributes": ...}``); errors are ``DynamoDB.<Code>``.
    """

    def __init__(self, root: Path, key_schemas: dict[str, list[str]]) -> None:
        self.root = root
        self.key_schemas = key_schemas
        self._lock = threading.Lock()

    # -- the four APIs ---------------------------------------------------------------------
    def put_item(self, parameters: dict, ctx: TaskContext) -> dict:
        table, keys = self._table(parameters)
        item = parameters.get("Item")
        if not isinstance(item, dict):
            raise _validation("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
        identity = self._identity(keys, item)
        with self._lock:
            items = self._load(table)
            old = items.get(identity)
            self._check_condition(parameters, old)
            items[identity] = item
            self._save(table, items)
        return self._returning(parameters, old, None, ("NONE", "ALL_OLD"))

    def get_item(self, parameters: dict, ctx: TaskContext) -> dict:
        table, keys = self._table(parameters)
        identity = self._identity(keys, self._key(parameters, keys))
        with self._lock:
            item = self._load(table).get(identity)
        return {} if item is None else {"Item": item}

    def delete_item(self, parameters: dict, ctx: TaskContext) -> dict:
        table, keys = self._table(parameters)
        identity = self._identity(keys, self._key(parameters, keys))
        with self._lock:
            items = self._load(table)
            old = items.get(identity)
            self._check_condition(parameters, old)
            if old is not None:
                del items[identity]
                self._save(table, items)
        return self._returning(parameters, old, None, ("NONE", "ALL_OLD"))

    def update_item(self, parameters: dict, ctx: TaskContext) -> dict:
        table, keys = self._table(parameters)
        key = self._key(parameters, keys)
        identity = self._identity(keys, key)
        with self._lock:
            items = self._load(table)
            old = items.get(identity)
            self._check_condition(parameters, old)
            new = json.loads(json.dumps(old if old is not None else key))
            if parameters.get("UpdateExpression"):
                self._expression(parameters, "UpdateExpression").update(new)
            if any(new.get(name) != key[name] for name in keys):
                raise _validation("One or more parameter values were invalid: Cannot update attribute "
                                  f"{', '.join(keys)}. This attribute is part of the key")
            items[identity] = new
            self._save(table, items)
        return self._returning(parameters, old, new, ("NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"))

    # -- helpers -----------------------------------------------------------------------------
    def _table(self, parameters: dict) -> tuple[str, list[str]]:
        table = parameters.get("TableName")
        if not isinstance(table, str) or table not in self.key_schemas:
            known = ", ".join(sorted(self.key_schemas)) or "none"
            raise DynamoDBError("ResourceNotFoundException",
                                f"Requested resource not found: Table: {table} not found (local tables: {known})")
        return table, self.key_schemas[table]

    @staticmethod
    def _key(parameters: dict, keys: list[str]) -> dict[str, Any]:
        key = parameters.get("Key")
        if not isinstance(key, dict) or set(key) != set(keys):
            raise _validation("The provided key element does not match the schema")
        return key

    @staticmethod
    def _identity(keys: list[str], item: dict[str, Any]) -> str:
        if any(name not in item for name in keys):
            raise _validation(f"One of the required keys was not given a value (key attributes: {', '.join(keys)})")
        return json.dumps([item[name] for name in keys], sort_keys=True)

    @staticmethod
    def _expression(parameters: dict, field: str) -> _Expression:
        return _Expression(parameters[field], parameters.get("ExpressionAttributeNames") or {},
                           parameters.get("ExpressionAttributeValues") or {})

    def _check_condition(self, parameters: dict, current: dict[str, Any] | None) -> None:
        if parameters.get("ConditionExpression") and not self._expression(parameters, "ConditionExpression").condition(current or {}):
            raise DynamoDBError("ConditionalCheckFailedException", "The conditional request failed")

    @staticmethod
    def _returning(parameters: dict, old: dict | None, new: dict | None, allowed: tuple[str, ...]) -> dict:
        wanted = parameters.get("ReturnValues", "NONE")
        if wanted not in allowed:
            raise _validation(f"ReturnValues can only be {', '.join(allowed)} for this operation, got {wanted}")
        if wanted == "NONE":
            return {}
        chosen = old if wanted.endswith("_OLD") else new
        if chosen is None:
            return {}
        if wanted.startswith("UPDATED"):
            before, after = old or {}, new or {}
            chosen = {name: value for name, value in chosen.items() if before.get(name) != after.get(name)}
        return {"Attributes": chosen}

    def _path(self, table: str) -> Path:
        return self.root / f"{table}.json"

    def _load(self, table: str) -> dict[str, dict[str, Any]]:
        path = self._path(table)
        if not path.exists():
            return {}
        keys = self.key_schemas[table]
        return {self._identity(keys, item): item for item in json.loads(path.read_text())["Items"]}

    def _save(self, table: str, items: dict[str, dict[str, Any]]) -> None:
        path = self._path(table)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"Items": list(items.values())}, indent=1))
        temporary.replace(path)

    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table (for tests and inspection)."""
        with self._lock:
            return list(self._load(table).values())
