"""Recovery end to end: redrive after fixing the cause, and a process killed mid-load then redriven.

Real parts: the template's state machine and handlers, PostgreSQL (pgserver), Parquet files,
a real `etl` process killed with SIGKILL. Nothing AWS-side is emulated here.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]



def assert_exact_targets(result, home: Path, warehouse_dsn: str) -> None:
    """The execution succeeded and every target holds exactly the run's valid rows, once."""
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    valid = result.output["counts"]["valid"]
    groups = pq.read_table(home / "lake" / "aggregated" / "orders_daily_revenue").num_rows
    assert result.output["counts"]["loaded"] == {"processed": valid, "daily_revenue": groups, "warehouse": valid}
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT order_id) FROM analytics.orders").fetchone() == (valid, valid)
    assert pq.read_table(home / "lake" / "processed" / "orders").num_rows == valid


def entered(result) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]


def test_redrive_resumes_at_the_failed_stage_once_the_source_exists(make_runtime, env_file: Path, raw_copy: Path) -> None:
    runtime = make_runtime(env_file=env_file)
    failed = runtime.run({"pipeline": "orders", "run_date": "2026-11-01"}, name="late-data")
    assert failed.status == "FAILED" and failed.error == "SourceNotFound"

    (raw_copy / "orders" / "2026-11-01").mkdir()
    shutil.copy(raw_copy / "orders" / "2026-11-26" / "orders.csv", raw_copy / "orders" / "2026-11-01" / "orders.csv")
    redriven = runtime.redrive("late-data")

    assert redriven.status == "SUCCEEDED", (redriven.error, redriven.cause)
    assert redriven.execution_arn == failed.execution_arn and redriven.redrive_count == 1
    types = [e["type"] for e in redriven.history]
    assert "ExecutionRedriven" in types
    assert entered(redriven).count("Plan") == 1  # completed states are not re-run
    redriven_part = types[types.index("ExecutionRedriven"):]
    assert redriven_part[1] == "MapStateEntered"  # resumed at ExtractSources
    counts = redriven.output["counts"]
    assert counts["extracted"] == counts["valid"] + counts["quarantined"]
    assert runtime.store.load("late-data")["execution"]["status"] == "SUCCEEDED"


def test_redrive_refuses_a_succeeded_execution_and_an_unknown_state(make_runtime) -> None:
    runtime = make_runtime()
    runtime.run({"pipeline": "orders", "run_date": "2026-11-26"}, name="fine")
    with pytest.raises(ValueError, match="SUCCEEDED: there is nothing to redrive"):
        runtime.redrive("fine")
    runtime.run({"pipeline": "orders", "run_date": "2026-11-01"}, name="broken")
    with pytest.raises(ValueError, match="state 'LoadTargets' was never entered"):
        runtime.redrive("broken", from_state="LoadTargets")


def test_sigkill_during_load_then_redrive_leaves_exact_rows(make_runtime, warehouse_dsn: str, tmp_path: Path) -> None:
    home = tmp_path / "etl-home"
    command = [
        sys.executable, "-m", "etl_local.cli", "--home", str(home), "--virtual-clock", "--warehouse-dsn", warehouse_dsn,
        "--fail", "LoadFunction=pass,pass,hang", "run", "--name", "killed", "--quiet",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = home / "executions" / "killed.events.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        events = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
        loads = [e for e in events if e["type"] == "LambdaFunctionStarted" and any(
            p["type"] == "LambdaFunctionScheduled" and "LoadFunction" in p["lambdaFunctionScheduledEventDetails"]["resource"]
            and p["id"] == e["previousEventId"] for p in events)]
        if len(loads) == 3:
            break
        assert process.poll() is None, "the run ended before the hung load"
        time.sleep(0.1)
    else:
        pytest.fail("the third load never started")
    time.sleep(0.3)
    runtime = make_runtime()
    with pytest.raises(ValueError, match=f"'killed' is still running in process {process.pid}"):
        runtime.redrive("killed")  # two processes must never run one execution
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with journal.open("a") as torn:
        torn.write('{"id": 999, "type": "LambdaFunctionSuc')  # as if killed in the middle of writing an event

    assert runtime.home == home
    with pytest.warns(UserWarning, match="torn"):
        assert runtime.store.load("killed")["execution"]["status"] == "RUNNING"
    with pytest.warns(UserWarning, match="torn"):
        result = runtime.redrive("killed")

    assert_exact_targets(result, home, warehouse_dsn)
    assert entered(result).count("Plan") == 1 and entered(result).count("Validate") == 1


def started_invocations(journal: Path, function: str) -> int:
    """How many invocations of ``function`` the execution's journal shows started."""
    events = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    scheduled = {e["id"] for e in events if e["type"] == "LambdaFunctionScheduled"
                 and function in e["lambdaFunctionScheduledEventDetails"]["resource"]}
    return sum(1 for e in events if e["type"] == "LambdaFunctionStarted" and e["previousEventId"] in scheduled)


@pytest.mark.parametrize("function", ["PlanFunction", "ExtractFunction", "TransformFunction", "ValidateFunction",
                                      "FinalizeFunction"])
def test_sigkill_in_any_stage_then_redrive_leaves_exact_rows(make_runtime, warehouse_dsn: str, tmp_path: Path,
                                                             function: str) -> None:
    """The run's process group is killed while a stage's function runs (it hangs there, so the
    kill cannot miss the stage); a redrive finishes the execution with exactly the run's rows.
    (Load, killed between targets, is the test above.)"""
    home = tmp_path / "etl-home"
    command = [
        sys.executable, "-m", "etl_local.cli", "--home", str(home), "--virtual-clock", "--warehouse-dsn", warehouse_dsn,
        "--fail", f"{function}=hang", "run", "--name", "killed", "--quiet",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = home / "executions" / "killed.events.jsonl"
    deadline = time.monotonic() + 120
    while not started_invocations(journal, function):
        assert process.poll() is None, f"the run ended before {function} started"
        assert time.monotonic() < deadline, f"{function} never started"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    runtime = make_runtime()
    result = runtime.redrive("killed")

    assert_exact_targets(result, home, warehouse_dsn)
    assert entered(result).count("Plan") == (2 if function == "PlanFunction" else 1)  # a completed Plan is not re-run
