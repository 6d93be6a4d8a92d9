"""`etl rightsize`: the architecture's right-sizing rules applied to what the functions and jobs used.

Rules (architecture overview, "Resource Right-Sizing"):

- Lambda memory: peak memory use above 80% of MemorySize -> x1.5, at most Lambda's maximum
  (10,240 MB today; the overview's 3,008 MB was the limit when it was written); below 30% ->
  x0.8, at least 128 MB; otherwise unchanged.
- Glue workers: a job run longer than 300 s -> x1.5 workers, at most a cap (10 by default, as
  in the overview); shorter than 60 s -> x0.8, at least 2; otherwise unchanged.

Measurements: locally, the ``REPORT`` lines of ``<home>/logs/<Function>.log`` and the Glue
task durations in the stored executions' histories; on AWS (``--stack``), CloudWatch Logs
Insights over each function's invocation reports (``REPORT`` lines or, with the JSON log
format the template sets, ``platform.report`` records) and the Glue job's ``GetJobRuns``. The result
is a table and the ``--parameter-overrides`` for ``sam deploy`` (every function's memory and
the Glue workers are template parameters: ``<LogicalId>MemorySize``, ``GlueNumberOfWorkers``).
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from etl_local.telemetry import read_lines, report_lines

LAMBDA_MIN_MB = 128
LAMBDA_MAX_MB = 10240
GLUE_MIN_WORKERS = 2
GLUE_WORKERS_PARAMETER = "GlueNumberOfWorkers"


def memory_parameter(logical_id: str) -> str:
    return f"{logical_id}MemorySize"


@dataclass(frozen=True)
class Suggestion:
    resource: str
    parameter: str
    current: int
    suggested: int
    observed: str
    why: str
    unit: str = "MB"


def _round(value: float) -> int:
    return int(value + 0.5)


def suggest_memory(resource: str, current: int, peak_used_mb: int | None, invocations: int, p95_ms: float | None) -> Suggestion:
    """The memory rule on the peak ``Max Memory Used`` of the observed invocations."""
    parameter = memory_parameter(resource)
    if not invocations or peak_used_mb is None:
        return Suggestion(resource, parameter, current, current, "no invocations", "nothing measured: keep")
    percent = 100.0 * peak_used_mb / current
    observed = f"peak {peak_used_mb} MB ({percent:.0f}%) of {invocations} invocation(s)" + (f", p95 {p95_ms:.0f} ms" if p95_ms is not None else "")
    if percent > 80:
        suggested = min(LAMBDA_MAX_MB, _round(current * 1.5))
        return Suggestion(resource, parameter, current, suggested, observed, f"use {percent:.0f}% > 80%: x1.5 (max {LAMBDA_MAX_MB} MB)")
    if percent < 30:
        suggested = max(LAMBDA_MIN_MB, _round(current * 0.8))
        return Suggestion(resource, parameter, current, suggested, observed, f"use {percent:.0f}% < 30%: x0.8 (min {LAMBDA_MIN_MB} MB)")
    return Suggestion(resource, parameter, current, current, observed, f"use {percent:.0f}% within 30-80%: keep")


def suggest_workers(resource: str, current: int, run_seconds: list[float], cap: int) -> Suggestion:
    """The Glue rule on the longest observed job run."""
    if not run_seconds:
        return Suggestion(resource, GLUE_WORKERS_PARAMETER, current, current, "no job runs", "nothing measured: keep", "workers")
    longest = max(run_seconds)
    observed = f"longest {longest:.0f} s of {len(run_seconds)} run(s)"
    if longest > 300:
        suggested = max(current, min(cap, _round(current * 1.5)))  # never down, even above the cap
        return Suggestion(resource, GLUE_WORKERS_PARAMETER, current, suggested, observed, f"run {longest:.0f} s > 300 s: x1.5 (cap {cap})", "workers")
    if longest < 60:
        suggested = max(GLUE_MIN_WORKERS, _round(current * 0.8))
        return Suggestion(resource, GLUE_WORKERS_PARAMETER, current, suggested, observed, f"run {longest:.0f} s < 60 s: x0.8 (min {GLUE_MIN_WORKERS})", "workers")
    return Suggestion(resource, GLUE_WORKERS_PARAMETER, current, current, observed, f"run {longest:.0f} s within 60-300 s: keep", "workers")


# --- measurements, locally ---------------------------------------------------------------------
def local_suggestions(functions: dict[str, int], glue_workers: int, log_dir: Path, executions: list[dict[str, Any]], cap: int) -> list[Suggestion]:
    """``functions``: logical id -> current MemorySize; ``executions``: stored records (with ``events``)."""
    found = []
    for logical_id, current in sorted(functions.items()):
        reports = list(report_lines(read_lines(log_dir / f"{logical_id}.log")))
        peak = max((r.max_memory_used_mb for r in reports), default=None)
        durations = sorted(r.duration_ms for r in reports)
        p95 = durations[min(len(durations) - 1, int(0.95 * len(durations)))] if durations else None
        found.append(suggest_memory(logical_id, current, peak, len(reports), p95))
    found.append(suggest_workers("GlueJob", glue_workers, glue_run_seconds(executions), cap))
    return found


def glue_run_seconds(executions: list[dict[str, Any]]) -> list[float]:
    """Durations of the ``glue:startJobRun.sync`` tasks (TaskStarted -> TaskSucceeded) in stored histories."""
    runs = []
    for record in executions:
        started: dict[int, dt.datetime] = {}
        for event in record.get("events", []):
            details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
            if details.get("resourceType") != "glue" or not str(details.get("resource", "")).startswith("startJobRun"):
                continue
            moment = dt.datetime.fromisoformat(event["timestamp"])
            if event["type"] == "TaskStarted":
                started[event["id"]] = moment
            elif event["type"] == "TaskSucceeded" and started:
                runs.append((moment - started.pop(max(started))).total_seconds())
    return runs


# --- measurements, on AWS ------------------------------------------------------------------------
# One Logs Insights query per log format, both answering peakUsedMB, p95DurationMs, invocations.
# Text: Lambda's REPORT line (Insights discovers @type and @duration in ms on it); the memory is
# parsed from the line itself, in the MB it is printed in, so no unit conversion of the
# discovered @maxMemoryUsed is assumed. JSON: the platform.report system-log record, whose JSON
# keys Insights flattens with dots (record.metrics.maxMemoryUsedMB, in MB; durationMs in ms).
TEXT_REPORT_QUERY = """filter @type = "REPORT"
| parse @message "Max Memory Used: * MB" as usedMB
| stats max(usedMB) as peakUsedMB, pct(@duration, 95) as p95DurationMs, count(*) as invocations"""
JSON_REPORT_QUERY = """filter type = "platform.report"
| stats max(record.metrics.maxMemoryUsedMB) as peakUsedMB, pct(record.metrics.durationMs, 95) as p95DurationMs, count(*) as invocations"""


def report_query(logging_config: dict[str, Any] | None) -> str:
    """The query for a function's ``LoggingConfig`` (GetFunctionConfiguration; Text when absent).

    A window that spans a change of format sees only the current format's reports.
    """
    return JSON_REPORT_QUERY if (logging_config or {}).get("LogFormat") == "JSON" else TEXT_REPORT_QUERY


def aws_suggestions(session: Any, stack: str, cap: int, days: int = 14, sleep: Callable[[float], None] = time.sleep) -> list[Suggestion]:
    """The same rules over a deployed stack: its parameters, its functions' REPORT records, its Glue job's runs."""
    cloudformation = session.client("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue")) for p in described.get("Parameters", [])}
    resources = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        resources += page["StackResourceSummaries"]
    lambda_client, logs, glue = session.client("lambda"), session.client("logs"), session.client("glue")
    end = int(time.time())
    found = []
    for resource in sorted(resources, key=lambda r: r["LogicalResourceId"]):
        logical_id, physical = resource["LogicalResourceId"], resource["PhysicalResourceId"]
        if resource["ResourceType"] == "AWS::Lambda::Function" and memory_parameter(logical_id) in parameters:
            config = lambda_client.get_function_configuration(FunctionName=physical)
            logging = config.get("LoggingConfig") or {}
            log_group = logging.get("LogGroup") or f"/aws/lambda/{physical}"
            row = _insights(logs, log_group, report_query(logging), end - days * 86400, end, sleep)
            current = int(parameters[memory_parameter(logical_id)])
            found.append(suggest_memory(logical_id, current, _int(row.get("peakUsedMB")), _int(row.get("invocations")) or 0,
                                        _float(row.get("p95DurationMs"))))
        elif resource["ResourceType"] == "AWS::Glue::Job" and GLUE_WORKERS_PARAMETER in parameters:
            runs = [run["ExecutionTime"] for page in glue.get_paginator("get_job_runs").paginate(JobName=physical)
                    for run in page["JobRuns"] if run.get("JobRunState") == "SUCCEEDED" and run.get("ExecutionTime")]
            found.append(suggest_workers(logical_id, int(parameters[GLUE_WORKERS_PARAMETER]), [float(s) for s in runs], cap))
    return found


class InsightsQueryFailed(Exception):
    """A Logs Insights query that did not complete (Failed, Cancelled, Timeout)."""


def _insights(logs: Any, log_group: str, query: str, start: int, end: int, sleep: Callable[[float], None]) -> dict[str, str]:
    query_id = logs.start_query(logGroupName=log_group, startTime=start, endTime=end, queryString=query)["queryId"]
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] in ("Complete", "Failed", "Cancelled", "Timeout"):
            break
        sleep(1)
    if answer["status"] != "Complete":
        raise InsightsQueryFailed(f"the Logs Insights query on {log_group} ended {answer['status']}: nothing could be measured")
    if not answer["results"]:
        return {}
    return {cell["field"]: cell["value"] for cell in answer["results"][0]}


def _int(value: str | None) -> int | None:
    return None if value in (None, "") else _round(float(value))


def _float(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


# --- output ------------------------------------------------------------------------------------
def render(suggestions: list[Suggestion]) -> str:
    rows = [("resource", "current", "observed", "suggested", "why")]
    rows += [(s.resource, f"{s.current} {s.unit}", s.observed, f"{s.suggested} {s.unit}", s.why) for s in suggestions]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    changed = [s for s in suggestions if s.suggested != s.current]
    if changed:
        overrides = " ".join(f"{s.parameter}={s.suggested}" for s in changed)
        lines += ["", f"sam deploy --parameter-overrides {overrides}"]
    else:
        lines += ["", "nothing to change"]
    return "\n".join(lines)
