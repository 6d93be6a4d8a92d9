"""A spec mistake is refused at Plan, before any data moves: the bundled sample pipeline with
one misspelled aggregate column, run through the real local runtime against the real
embedded PostgreSQL; and `etl check` reports the same without running anything."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "src" / "shared" / "pipelines"
MISSPELLED = "'amont' not in the transform's output"


def misspelled_pipelines(folder: Path) -> Path:
    folder.mkdir(parents=True)
    spec = (PIPELINES / "orders.yaml").read_text()
    assert "{column: amount, function: sum, name: revenue}" in spec
    (folder / "orders.yaml").write_text(spec.replace("{column: amount, function: sum", "{column: amont, function: sum"))
    (folder / "orders.sql").write_text((PIPELINES / "orders.sql").read_text())
    return folder


def test_a_misspelled_aggregate_column_fails_at_plan_and_nothing_is_written(make_runtime, warehouse_dsn: str, tmp_path: Path) -> None:
    pipelines = misspelled_pipelines(tmp_path / "pipelines")
    env = json.loads((REPO / "local.env.json").read_text())
    env["Parameters"].update({"PIPELINES_URI": str(pipelines), "RECOVERY_DELAY_SECONDS": "0"})
    (tmp_path / "env.json").write_text(json.dumps(env))
    runtime = make_runtime(env_file=tmp_path / "env.json")

    result = runtime.run(json.loads((REPO / "events" / "execution-happy-path.json").read_text()))

    assert (result.status, result.error) == ("FAILED", "SpecError"), (result.error, result.cause)
    assert f"orders.yaml: targets[1].aggregates[1].column: {MISSPELLED}" in result.cause
    entered = [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]
    assert "Plan" in entered and "ExtractSources" not in entered and "LoadTargets" not in entered
    lake = runtime.home / "lake"
    assert not lake.exists() or not [p for p in lake.rglob("*") if p.is_file()]
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT to_regclass('analytics.orders')").fetchone() == (None,)


def test_etl_check_names_the_field_and_writes_nothing(tmp_path: Path) -> None:
    pipelines = misspelled_pipelines(tmp_path / "pipelines")
    before = sorted(p for p in tmp_path.rglob("*"))
    bad = subprocess.run([sys.executable, "-m", "etl_local.cli", "check", "orders", "--pipelines", str(pipelines)],
                         cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "orders.yaml: targets[1].aggregates[1].column: " + MISSPELLED in bad.stderr
    assert "Traceback" not in bad.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before

    good = subprocess.run([sys.executable, "-m", "etl_local.cli", "check", "orders"], cwd=REPO, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "orders: OK" in good.stdout and "amount" in good.stdout and "decimal128(18, 2)" in good.stdout


INFERRED = """\
pipeline: shop
sources:
  - {name: orders, type: s3, uri: "{raw_uri}/orders.csv", format: csv}
transform: {sql: shop.sql}
quality:
  rules: [{check: not_null, column: customer}]
targets:
  - {name: processed, type: lake_parquet, uri: "{lake_uri}/processed/shop"}
"""


def test_a_source_with_inferred_columns_is_checked_after_extract_before_transform_writes(make_runtime, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "orders.csv").write_text("order_id,customer_id\n1,10\n2,11\n")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "shop.yaml").write_text(INFERRED)
    (tmp_path / "pipelines" / "shop.sql").write_text("SELECT order_id, customer_id, _origin FROM orders")
    env = {"Parameters": {"LAKE_URI": "${ETL_HOME}/lake", "RAW_URI": str(tmp_path / "raw"), "PIPELINES_URI": str(tmp_path / "pipelines"),
                          "POWERTOOLS_TRACE_DISABLED": "true", "RECOVERY_DELAY_SECONDS": "0",
                          # the run lease and idempotency records live in the runtime's local DynamoDB (as local.env.json says)
                          "AWS_ENDPOINT_URL_DYNAMODB": "${ETL_DYNAMODB_ENDPOINT}", "AWS_ACCESS_KEY_ID": "local",
                          "AWS_SECRET_ACCESS_KEY": "local"}}
    (tmp_path / "env.json").write_text(json.dumps(env))
    runtime = make_runtime(env_file=tmp_path / "env.json")

    result = runtime.run({"pipeline": "shop", "run_date": "2026-11-26"})

    assert (result.status, result.error) == ("FAILED", "SpecError"), (result.error, result.cause)
    assert "shop.yaml: quality.rules[0].column: 'customer' not in the transform's output" in result.cause
    run = runtime.home / "lake" / "staging" / "shop" / "2026-11-26"
    assert (run / "sources" / "orders").exists()  # Extract ran: the columns were known only then
    assert not (run / "transformed").exists() or not any((run / "transformed").rglob("*.parquet"))
    assert not (runtime.home / "lake" / "processed").exists()
