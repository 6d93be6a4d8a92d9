"""An incremental RDS source through the real state machine: the watermark advances only when
the whole run succeeded (the Finalize step), so a failed run re-reads the same rows next time.

Real parts: PostgreSQL (pgserver) as both the source database and the warehouse, the
template's state machine and handlers, Parquet files. Nothing AWS-side is emulated.
"""
from __future__ import annotations

import json
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]

SPEC = """
pipeline: accounts
sources:
  - name: accounts
    type: postgres
    query: "SELECT id, balance, updated_at FROM app.accounts"
    watermark_column: updated_at
    key_column: id
    columns: {id: int64, balance: 'decimal(18,2)', updated_at: timestamp}
transform: {sql: accounts.sql}
targets:
  - {name: warehouse, type: postgres, table: analytics.accounts, key: [id]}
"""
SQL = "SELECT id, balance, updated_at, _origin FROM accounts"


def test_watermark_advances_only_after_a_successful_run(make_runtime, warehouse_dsn: str, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "accounts.yaml").write_text(SPEC)
    (specs / "accounts.sql").write_text(SQL)
    env = json.loads((REPO / "local.env.json").read_text())
    env["Parameters"]["PIPELINES_URI"] = str(specs)
    env["ExtractFunction"] = {"SOURCE_DSN": warehouse_dsn}
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(env))
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE SCHEMA app; CREATE TABLE app.accounts (id bigint primary key, balance numeric(18,2), updated_at timestamptz)")
        conn.execute("INSERT INTO app.accounts SELECT g, g * 10, timestamptz '2026-11-26 00:00+00' + g * interval '1 minute' FROM generate_series(1, 50) g")

    first = make_runtime(env_file=env_file).run({"pipeline": "accounts", "run_id": "r1"})
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    assert first.output["counts"]["extracted"] == 50 and first.output["source_state"]["committed"] == ["accounts"]

    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("INSERT INTO app.accounts SELECT g, g, timestamptz '2026-11-27 00:00+00' + g * interval '1 minute' FROM generate_series(51, 60) g")
    failing = make_runtime(env_file=env_file, faults={"LoadFunction": ["TargetError"]})
    assert failing.run({"pipeline": "accounts", "run_id": "r2"}).status == "FAILED"

    retry = make_runtime(env_file=env_file).run({"pipeline": "accounts", "run_id": "r3"})
    assert retry.status == "SUCCEEDED", (retry.error, retry.cause)
    assert retry.output["counts"]["extracted"] == 10  # the failed run did not move the mark
    nothing_new = make_runtime(env_file=env_file).run({"pipeline": "accounts", "run_id": "r4"})
    assert nothing_new.output["counts"]["extracted"] == 0
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.accounts").fetchone()[0] == 60
