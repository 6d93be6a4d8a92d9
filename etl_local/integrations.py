"""Step Functions service integrations served on this machine.

SQS and SNS write every message to inspectable JSON-lines files (one per queue or
topic), which is what a developer wants to look at after a failed local run; the Glue
and EMR Serverless integrations run the job's script on local Spark, as a separate process
like a real job run, and answer in their GetJobRun shapes (DynamoDB's item APIs are served
by etl_local.dynamodb). Every handler has the TaskRegistry signature
``handler(parameters, ctx) -> result`` and reports API errors as ``TaskFailed``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from etl_core.redaction import redact_data
from etl_local.asl import TaskContext, TaskFailed
from etl_local.asl.storage import LocalBuckets, NoSuchKey, UnknownBucket
from etl_local.sam_template import GlueJobDef

_APPEND_LOCK = threading.Lock()


def _append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _APPEND_LOCK, path.open("a") as out:
        out.write(json.dumps(redact_data(record), sort_keys=True) + "\n")


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
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()  # SQS's checksum, not security


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
