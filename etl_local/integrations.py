"""Step Functions service integrations served on this machine.

SQS and SNS write every message to inspectable JSON-lines files (one per queue or
topic), which is what a developer wants to look at after a failed local run; the Glue
integration runs the template's Glue script on local Spark, as a separate process like a
real job run, and answers in GetJobRun's shape.
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

from etl_local.asl import TaskContext, TaskFailed
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


class LocalGlue:
    """``glue:startJobRun.sync``: run the job's script with local pyspark and wait for it."""

    def __init__(self, jobs: dict[str, GlueJobDef], log_dir: Path, env: dict[str, str]) -> None:
        self.jobs = jobs
        self.log_dir = log_dir
        self.env = env

    def start_job_run_sync(self, parameters: dict, ctx: TaskContext) -> dict:
        name = parameters.get("JobName")
        job = self.jobs.get(name)
        if job is None:
            raise TaskFailed("Glue.EntityNotFoundException", f"Job {name!r} is not declared in the template (known: {', '.join(self.jobs)})")
        run_id = "jr_" + uuid.uuid4().hex
        arguments = {**job.default_arguments, **(parameters.get("Arguments") or {}), "--JOB_NAME": name, "--JOB_RUN_ID": run_id}
        argv = [sys.executable, str(job.script)]
        for key, value in arguments.items():
            argv += [key, str(value)]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"glue-{name}-{run_id}.log"
        started = dt.datetime.now(dt.timezone.utc)
        with log_path.open("wb") as log:
            done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, check=False)
        run: dict[str, Any] = {
            "Id": run_id,
            "JobName": name,
            "Arguments": arguments,
            "StartedOn": started.isoformat(),
            "CompletedOn": dt.datetime.now(dt.timezone.utc).isoformat(),
            "JobRunState": "SUCCEEDED" if done.returncode == 0 else "FAILED",
            "GlueVersion": "5.0",
            "LogGroupName": str(log_path),
        }
        if done.returncode != 0:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            run["ErrorMessage"] = " | ".join(tail)
            raise TaskFailed("States.TaskFailed", json.dumps(run))
        return run
