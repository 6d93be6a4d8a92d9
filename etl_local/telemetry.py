"""Reading what the functions wrote to their logs, as CloudWatch would read it.

Two kinds of line matter: Embedded Metric Format blobs (Powertools' metrics, which CloudWatch
turns into metrics) and Lambda's invocation reports (duration and memory of each invocation,
which `etl rightsize` reads: a ``REPORT`` line in the Text log format, a ``platform.report``
record in the JSON one). Both are parsed here, from ``<home>/logs/<Function>.log``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator


@dataclass(frozen=True)
class MetricDatum:
    """One metric value of one EMF blob, with the dimensions CloudWatch files it under."""

    namespace: str
    name: str
    unit: str
    value: float
    dimensions: dict[str, str]


def emf_metrics(lines: Iterable[str]) -> Iterator[MetricDatum]:
    """Every metric value in the EMF blobs among ``lines`` (other lines are skipped).

    A blob declares its metrics and dimension sets under ``_aws.CloudWatchMetrics``; the
    values and dimension values are top-level keys. A metric is filed once per dimension set.
    """
    for line in lines:
        if '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
        except json.JSONDecodeError:
            continue
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for definition in directive.get("Metrics", []):
                values = blob.get(definition["Name"])
                for value in values if isinstance(values, list) else [values]:
                    for dimension_set in directive.get("Dimensions", []):
                        yield MetricDatum(
                            namespace=directive["Namespace"],
                            name=definition["Name"],
                            unit=definition.get("Unit", "None"),
                            value=float(value),
                            dimensions={key: str(blob[key]) for key in dimension_set},
                        )


REPORT = re.compile(
    r"^REPORT RequestId: (?P<request_id>\S+)\tDuration: (?P<duration>[\d.]+) ms\tBilled Duration: (?P<billed>\d+) ms\t"
    r"Memory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<used>\d+) MB\t(?:Init Duration: (?P<init>[\d.]+) ms\t)?"
)


@dataclass(frozen=True)
class Report:
    """What Lambda measured of one invocation: a ``REPORT`` line or a ``platform.report`` record."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_used_mb: int
    init_ms: float | None


def report_lines(lines: Iterable[str]) -> Iterator[Report]:
    """The invocation reports among ``lines``, in either of CloudWatch's formats (others are skipped).

    A function whose ``LoggingConfig.LogFormat`` is ``Text`` gets the tab-separated ``REPORT``
    line; ``JSON`` gets a ``platform.report`` system-log record (Lambda's Telemetry API event
    shape): ``{"time", "type": "platform.report", "record": {"requestId", "metrics":
    {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"?},
    "status"}}``, ``initDurationMs`` only on a cold start.
    """
    for line in lines:
        if match := REPORT.match(line):
            yield Report(
                request_id=match["request_id"],
                duration_ms=float(match["duration"]),
                billed_ms=int(match["billed"]),
                memory_mb=int(match["memory"]),
                max_memory_used_mb=int(match["used"]),
                init_ms=float(match["init"]) if match["init"] else None,
            )
        elif '"platform.report"' in line and (report := _platform_report(line)) is not None:
            yield report


def _platform_report(line: str) -> Report | None:
    try:
        event = json.loads(line)
        if event.get("type") != "platform.report":
            return None
        record = event["record"]
        metrics = record["metrics"]
        return Report(
            request_id=str(record["requestId"]),
            duration_ms=float(metrics["durationMs"]),
            billed_ms=int(metrics["billedDurationMs"]),
            memory_mb=int(metrics["memorySizeMB"]),
            max_memory_used_mb=int(metrics["maxMemoryUsedMB"]),
            init_ms=float(metrics["initDurationMs"]) if metrics.get("initDurationMs") is not None else None,
        )
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return None  # a log message that merely mentions platform.report


def read_lines(path: Path) -> list[str]:
    """A log file's lines (none when the function never ran)."""
    return path.read_text(errors="replace").splitlines() if path.exists() else []
