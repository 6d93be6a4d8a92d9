"""``unique ... against_target``: keys the warehouse already holds, looked up in a real PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_core import storage
from etl_core.errors import TargetError, TransientError
from etl_core.layout import RunLayout
from etl_core.quality import validate_run
from etl_core.settings import Settings
from etl_core.spec import parse_spec

SPEC = """
pipeline: demo
sources: [{name: s, type: s3, uri: x, format: csv, columns: {id: int64}}]
transform: {sql: demo.sql}
quality: {max_quarantine_ratio: 1, rules: [{check: unique, columns: [order_id, day], against_target: warehouse}]}
targets: [{name: warehouse, type: postgres, table: analytics.orders, key: [order_id, day]}]
"""

ROWS = pa.table({
    "order_id": pa.array([1, 2, 3, 3], pa.int64()),
    "day": pa.array(["2026-11-26"] * 4).cast(pa.date32()),
    "_origin": ["f:1", "f:2", "f:3", "f:4"],
})


def run(tmp_path: Path, dsn: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    layout = RunLayout(str(tmp_path), "demo", "2026-11-26")
    storage.write_parquet(storage.join(layout.transformed, "part-0.parquet"), ROWS)
    extracted = [{"source": "s", "rows_read": 4, "rows_staged": 4, "rows_rejected": 0}]
    result = validate_run(parse_spec(SPEC, "demo.yaml"), layout, extracted, settings=Settings.from_env())
    reasons = {r["_origin"]: r["_reasons"] for r in pq.read_table(layout.quarantine("validate")).to_pylist()}
    return result, reasons


def test_keys_loaded_by_other_runs_are_quarantined_this_runs_own_are_not(tmp_path: Path, warehouse_dsn: str, monkeypatch) -> None:
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.execute("CREATE TABLE analytics.orders (order_id bigint, day date, etl_run_id text, PRIMARY KEY (order_id, day))")
        conn.execute("INSERT INTO analytics.orders VALUES (1, '2026-11-26', '2026-11-25'), (2, '2026-11-26', '2026-11-26'), (3, '2026-11-25', 'x')")
    result, reasons = run(tmp_path, warehouse_dsn, monkeypatch)
    assert reasons == {
        "f:1": "unique(order_id,day): (1, 2026-11-26) already in target warehouse [quarantine]",  # loaded by another run
        "f:4": "unique(order_id,day): (3, 2026-11-26) repeats f:3 [quarantine]",
    }  # key 2 was loaded by this very run (a re-run or redrive): not a conflict
    assert (result.valid, result.quarantined) == (2, 2)


def test_a_table_not_created_yet_holds_no_keys(tmp_path: Path, warehouse_dsn: str, monkeypatch) -> None:
    result, reasons = run(tmp_path, warehouse_dsn, monkeypatch)
    assert list(reasons) == ["f:4"] and result.valid == 3


def test_a_table_without_the_key_column_is_named(tmp_path: Path, warehouse_dsn: str, monkeypatch) -> None:
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.execute("CREATE TABLE analytics.orders (order_id bigint)")
    with pytest.raises(TargetError, match=r"rule unique\(order_id,day\): table analytics.orders of target 'warehouse' has no column 'day'"):
        run(tmp_path, warehouse_dsn, monkeypatch)


def test_an_unreachable_warehouse_is_transient(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(TransientError, match=r"rule unique\(order_id,day\): cannot reach PostgreSQL for target 'warehouse'"):
        run(tmp_path, "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1", monkeypatch)


def test_no_warehouse_configuration_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WAREHOUSE_SECRET_ARN", raising=False)
    with pytest.raises(TargetError, match=r"rule unique\(order_id,day\): cannot look up target 'warehouse': .*WAREHOUSE_DSN.*\(Validate needs it too\)"):
        run(tmp_path, "", monkeypatch)
