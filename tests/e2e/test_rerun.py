"""Re-running a run through the local runtime: corrected data replaces the run's rows, unchanged data is skipped.

Real parts: PostgreSQL (the shared server), the lake folder, the handlers, the real template
and state machine. The raw data is a copy of the sample in the test's own folder (the sample
itself is never edited), changed as a data team would change a day's file after a fix.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from etl_core.lease import RunLease, lease_key
from etl_local.cli import _summary

REPO = Path(__file__).resolve().parents[2]
EXECUTION_INPUT = {"pipeline": "orders", "run_date": "2026-11-26"}
ROWS_ADDED = 10
CHANGED_ORDER = 100000


@pytest.fixture
def rerun_runtime(make_runtime, env_file: Path):
    """The runtime as `etl run` configures it (local.env.json), reading the copy of the raw data (conftest)."""
    return make_runtime(env_file=env_file)


def correct_the_day(raw: Path) -> None:
    """Add ten valid orders and change the quantity of one, in the 2026-11-26 orders file."""
    path = raw / "orders" / "2026-11-26" / "orders.csv"
    lines = path.read_text().splitlines()
    changed = [line.replace(",delivered,4,", ",delivered,9,") if line.startswith(f"{CHANGED_ORDER},") else line for line in lines]
    assert changed != lines, "the sample's first order changed shape; pick another row to correct"
    added = [f"{200000 + i},386,2026-11-26 10:{i:02d}:00,placed,{i + 1},10.00" for i in range(ROWS_ADDED)]
    path.write_text("\n".join([*changed, *added]) + "\n")


def valid_rows(home: Path) -> pa.Table:
    """The run's valid rows as Validate published them, without the pipeline's own columns."""
    table = pq.read_table(home / "lake" / "staging" / "orders" / "2026-11-26" / "valid")
    return table.select([n for n in table.column_names if not n.startswith("_")])


def lake_rows(home: Path) -> pa.Table:
    return pq.read_table(home / "lake" / "processed" / "orders")


def warehouse(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def published_files(home: Path) -> dict[str, int]:
    lake = home / "lake"
    return {str(p.relative_to(lake)): p.stat().st_mtime_ns for p in sorted(lake.glob("processed/**/*.parquet"))}


def test_a_corrected_rerun_replaces_the_runs_rows_and_an_unchanged_one_skips(rerun_runtime, raw_copy: Path, warehouse_dsn: str) -> None:
    runtime = rerun_runtime
    first = runtime.run(EXECUTION_INPUT, name="first")
    assert first.status == "SUCCEEDED", (first.error, first.cause)

    correct_the_day(raw_copy)
    second = runtime.run(EXECUTION_INPUT, name="corrected")
    assert second.status == "SUCCEEDED", (second.error, second.cause)
    counts = second.output["counts"]
    assert counts["valid"] == first.output["counts"]["valid"] + ROWS_ADDED
    aggregate = pq.read_table(runtime.home / "lake" / "aggregated" / "orders_daily_revenue")
    assert counts["loaded"] == {"processed": counts["valid"], "daily_revenue": aggregate.num_rows, "warehouse": counts["valid"]}
    assert second.output["loads"] == {"processed": "loaded", "daily_revenue": "loaded", "warehouse": "loaded"}

    # The lake and PostgreSQL hold exactly the corrected rows: each order once, with its new values.
    expected = valid_rows(runtime.home).sort_by("order_id")
    lake = lake_rows(runtime.home).sort_by("order_id")
    assert lake.column("order_id").equals(expected.column("order_id"))
    assert lake.column("quantity").equals(expected.column("quantity"))
    assert lake.filter(pc.equal(lake.column("order_id"), CHANGED_ORDER)).column("quantity").to_pylist() == [9]
    held = warehouse(warehouse_dsn, "SELECT order_id, quantity FROM analytics.orders ORDER BY order_id")
    assert held == list(zip(expected.column("order_id").to_pylist(), expected.column("quantity").to_pylist()))
    assert sum(aggregate.column("orders").to_pylist()) == counts["valid"]

    before = published_files(runtime.home)
    versions = warehouse(warehouse_dsn, "SELECT order_id, xmin::text FROM analytics.orders ORDER BY order_id")
    third = runtime.run(EXECUTION_INPUT, name="unchanged")
    assert third.status == "SUCCEEDED", (third.error, third.cause)
    assert third.output["loads"] == {target: "skipped: unchanged" for target in ("processed", "daily_revenue", "warehouse")}
    assert third.output["counts"]["loaded"] == counts["loaded"]
    assert published_files(runtime.home) == before  # not one lake file rewritten
    assert warehouse(warehouse_dsn, "SELECT order_id, xmin::text FROM analytics.orders ORDER BY order_id") == versions
    summary = _summary(third)
    assert f"processed={counts['valid']} (skipped: unchanged)" in summary
    assert f"warehouse={counts['valid']} (skipped: unchanged)" in summary


def test_a_rerun_that_drops_rows_removes_them_from_every_target(rerun_runtime, raw_copy: Path, warehouse_dsn: str) -> None:
    runtime = rerun_runtime
    assert runtime.run(EXECUTION_INPUT, name="first").status == "SUCCEEDED"
    path = raw_copy / "orders" / "2026-11-26" / "orders.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-100]) + "\n")  # the last 100 orders were loaded by mistake

    second = runtime.run(EXECUTION_INPUT, name="fewer")
    assert second.status == "SUCCEEDED", (second.error, second.cause)
    expected = valid_rows(runtime.home).column("order_id").to_pylist()
    assert second.output["counts"]["loaded"]["processed"] == len(expected)
    assert sorted(lake_rows(runtime.home).column("order_id").to_pylist()) == sorted(expected)
    assert [r[0] for r in warehouse(warehouse_dsn, "SELECT order_id FROM analytics.orders ORDER BY order_id")] == sorted(expected)


# --- one execution per (pipeline, run) at a time ----------------------------------------------


def test_an_execution_of_a_held_run_waits_then_fails_without_touching_it(rerun_runtime) -> None:
    """Emulated: DynamoDB (moto's backend behind the runtime's endpoint) holds the lease."""
    runtime = rerun_runtime
    api = runtime.dynamodb.endpoint.client()
    other = "arn:aws:states:us-east-1:123456789012:execution:EtlStateMachine:other"
    RunLease("IdempotencyTable", "orders", "2026-11-26", other, api=api).hold()

    blocked = runtime.run(EXECUTION_INPUT, name="blocked")
    assert blocked.status == "FAILED" and blocked.error == "RunInProgress"
    assert f"is being processed by execution {other}" in blocked.cause
    plans = [e for e in blocked.history if e["type"] == "LambdaFunctionScheduled" and "PlanFunction" in json.dumps(e)]
    assert len(plans) == 7  # the first attempt and Plan's 6 retries with back-off
    assert not (runtime.home / "lake" / "staging" / "orders" / "2026-11-26").exists()  # nothing of the run touched
    assert lease_holder(api) == other  # the failure path releases only its own lease

    RunLease("IdempotencyTable", "orders", "2026-11-26", other, api=api).release()
    done = runtime.run(EXECUTION_INPUT, name="after")
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert lease_holder(api) is None  # Finalize gave it up


def test_a_failed_execution_releases_its_lease(make_runtime, tmp_path: Path) -> None:
    runtime = make_runtime(faults={"ValidateFunction": ["TargetError"]})
    failed = runtime.run(EXECUTION_INPUT, name="failed")
    assert failed.status == "FAILED" and failed.error == "TargetError"
    assert lease_holder(runtime.dynamodb.endpoint.client()) is None
    assert "ReleaseRunLease" in [e["stateEnteredEventDetails"]["name"] for e in failed.history if e["type"].endswith("StateEntered")]


def lease_holder(api) -> str | None:
    item = api.get_item(TableName="IdempotencyTable", Key={"id": {"S": lease_key("orders", "2026-11-26")}}, ConsistentRead=True).get("Item")
    return item["owner"]["S"] if item else None


def test_two_concurrent_etl_processes_of_one_run_leave_exact_targets(tmp_path: Path, warehouse_dsn: str) -> None:
    """Two `etl run` processes of one run on one home: each SUCCEEDED in turn, or the second FAILED
    with RunInProgress after its bounded wait; the targets hold the run's rows exactly once."""
    home = tmp_path / "etl-home"
    command = [sys.executable, "-m", "etl_local.cli", "--home", str(home), "--virtual-clock", "--warehouse-dsn", warehouse_dsn,
               "run", "--input", "events/execution-happy-path.json", "--quiet", "--name"]
    processes = [subprocess.Popen([*command, name], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name in ("one", "two")]
    for process in processes:
        process.wait(timeout=900)
    records = [json.loads((home / "executions" / f"{name}.json").read_text())["execution"] for name in ("one", "two")]
    outcomes = sorted((r["status"], r.get("error")) for r in records)
    assert outcomes in ([("SUCCEEDED", None), ("SUCCEEDED", None)], [("FAILED", "RunInProgress"), ("SUCCEEDED", None)]), outcomes
    valid = json.loads(next(r for r in records if r["status"] == "SUCCEEDED")["output"])["counts"]["valid"]
    assert lake_rows(home).num_rows == valid
    assert warehouse(warehouse_dsn, "SELECT count(*), count(DISTINCT order_id) FROM analytics.orders") == [(valid, valid)]
