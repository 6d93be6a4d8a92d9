"""The EMF metrics a real local run writes to its function logs, checked against the run's own counts.

Real parts: the template, state machine, handlers, Powertools Metrics, PostgreSQL. The logs
are read as CloudWatch would read them (etl_local.telemetry), so these are the metrics AWS
would file for the same run.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from etl_local.runtime import LocalRuntime
from etl_local.telemetry import MetricDatum, emf_metrics, read_lines

REPO = Path(__file__).resolve().parents[2]
CUSTOM = {"RecordsProcessed", "ProcessingTime", "QuarantinedRecords", "QuarantineRatio", "LoadedRecords", "SkippedLoads", "Failures"}


def execution_input(name: str) -> dict:
    return json.loads((REPO / "events" / name).read_text())


def metrics_of(runtime: LocalRuntime) -> list[MetricDatum]:
    return [m for log in sorted((runtime.home / "logs").glob("*.log")) for m in emf_metrics(read_lines(log)) if m.name in CUSTOM]


@pytest.fixture
def runtime(make_runtime, monkeypatch: pytest.MonkeyPatch) -> LocalRuntime:
    monkeypatch.chdir(REPO)
    return make_runtime()


def test_emf_metrics_equal_the_runs_counts(runtime: LocalRuntime) -> None:
    result = runtime.run(execution_input("execution-happy-path.json"), name="metrics")
    assert result.status == "SUCCEEDED", result.cause
    counts = result.output["counts"]
    metrics = metrics_of(runtime)

    assert {m.namespace for m in metrics} == {"SfnEtl"}  # the template's MetricsNamespace default
    for m in metrics:
        assert m.dimensions["pipeline"] == "orders" and m.dimensions["service"].startswith("etl-")
        extra = set(m.dimensions) - {"service", "pipeline", "stage"}
        assert extra == ({"target"} if m.name in ("LoadedRecords", "SkippedLoads") else set()), m
    by = defaultdict(list)
    for m in metrics:
        by[(m.name, m.dimensions["stage"])].append(m)

    assert [m.value for m in by[("QuarantinedRecords", "validate")]] == [counts["quarantined"]]
    assert [m.value for m in by[("QuarantineRatio", "validate")]] == [pytest.approx(100 * counts["quarantined"] / counts["extracted"])]
    assert {m.dimensions["target"]: m.value for m in by[("LoadedRecords", "load")]} == counts["loaded"]
    assert sum(m.value for m in by[("RecordsProcessed", "extract")]) >= counts["extracted"]  # every source, the driving one included
    assert [m.value for m in by[("RecordsProcessed", "load")]] == list(counts["loaded"].values())
    for stage in ("plan", "extract", "transform", "validate", "load", "finalize"):
        timings = by[("ProcessingTime", stage)]
        assert timings and all(m.unit == "Milliseconds" and m.value > 0 for m in timings), stage
    assert not by[("Failures", "extract")] and not by[("SkippedLoads", "load")]

    # The same run again: idempotency replays every load, and each is counted as skipped.
    again = runtime.run(execution_input("execution-happy-path.json"), name="metrics-again")
    assert again.status == "SUCCEEDED", again.cause
    skipped = [m for m in metrics_of(runtime) if m.name == "SkippedLoads"]
    assert sorted(m.dimensions["target"] for m in skipped) == sorted(counts["loaded"])


def test_a_failing_stage_emits_failures_with_its_error_type_and_logs_the_correlation_id(runtime: LocalRuntime) -> None:
    result = runtime.run(execution_input("execution-failing-source.json"), name="metrics-failing")
    assert result.status == "FAILED" and result.error == "SourceNotFound"
    failures = [m for m in metrics_of(runtime) if m.name == "Failures"]
    assert failures and all(m.dimensions["stage"] == "extract" and m.dimensions["error_type"] == "SourceNotFound" for m in failures)
    handled = [m for m in emf_metrics(read_lines(runtime.home / "logs" / "ErrorHandlerFunction.log")) if m.name in CUSTOM]
    assert handled, "the error handler ran and published its metrics"
    assert {m.dimensions["pipeline"] for m in handled} == {"orders"}, "the failed execution's pipeline, from its input"

    logged = [json.loads(line) for line in read_lines(runtime.home / "logs" / "ExtractFunction.log") if line.startswith('{"level"')]
    errors = [entry for entry in logged if entry["level"] == "ERROR"]
    assert errors, "the failure is logged before it propagates"
    assert all(entry["correlation_id"] == result.execution_arn and entry["error_type"] == "SourceNotFound" for entry in errors)
    assert all("Traceback" in entry["exception"] for entry in errors)
