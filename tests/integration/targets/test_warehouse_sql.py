"""The warehouse SQL shared by the PostgreSQL and Redshift loaders, run on a real PostgreSQL 16.

The Redshift batch is these statements around a Redshift COPY; here the same statements
(Redshift's column types included) run with PostgreSQL's COPY in between, so the MERGE that
Redshift receives is the MERGE proven here.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from etl_core.errors import SpecError, TargetError
from etl_core.load.postgres import upsert
from etl_core.load.postgres_copy import copy_rows
from etl_core.load.rows import Rows
from etl_core.load.warehouse_sql import quote_ident, warehouse_load
from etl_core.settings import Settings
from etl_core.spec import parse_spec
from etl_core.spec.targets import PostgresTarget

ROWS = pa.table(
    {
        "order_id": pa.array([1, 2], pa.int64()),
        "note": ["a", "it's \"quoted\""],
        "amount": pa.array([Decimal("1.50"), None], pa.decimal128(18, 2)),
        "at": pa.array([dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)] * 2, pa.timestamp("us", tz="UTC")),
    }
)


RUN = "2026-11-26"


def settings_for(dsn: str) -> Settings:
    """The load function's settings with only the warehouse DSN given."""
    return dataclasses.replace(Settings.from_env(), warehouse_dsn=dsn, warehouse_secret_arn="")


def fetch(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def run_load(dsn: str, rows: pa.Table, table: str, key: list[str], dialect: str, run: str = RUN) -> int:
    """The shared statements in order, PostgreSQL's COPY where Redshift would COPY from S3; the count."""
    rows = Rows.of(rows, run)
    load = warehouse_load(table, rows.schema, key, dialect, run)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for statement in load.prepare:
            cur.execute(statement)
        copy_rows(cur, rows)
        cur.execute(load.merge)
        cur.execute(load.prune)
        held = cur.execute(load.count).fetchone()[0]
        cur.execute(load.cleanup)
        return held


def test_the_redshift_statements_merge_on_postgresql(warehouse_dsn: str) -> None:
    run_load(warehouse_dsn, ROWS, "analytics.orders", ["order_id"], "redshift")
    changed = pa.table({**{c: ROWS.column(c) for c in ROWS.column_names}, "note": pa.array(["b", "c"])})
    run_load(warehouse_dsn, changed, "analytics.orders", ["order_id"], "redshift")
    other_run = ROWS.slice(0, 1).set_column(0, "order_id", pa.array([3], pa.int64()))
    assert run_load(warehouse_dsn, other_run, "analytics.orders", ["order_id"], "redshift", run="2026-11-27") == 1
    assert fetch(warehouse_dsn, "SELECT order_id, note, amount FROM analytics.orders ORDER BY order_id") == [
        (1, "b", Decimal("1.50")), (2, "c", None), (3, "a", Decimal("1.50"))
    ]
    types = fetch(warehouse_dsn, "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
                                 "WHERE table_name = 'orders' ORDER BY ordinal_position")
    assert types == [("order_id", "bigint", None), ("note", "character varying", 65535),
                     ("amount", "numeric", None), ("at", "timestamp with time zone", None),
                     ("etl_run_id", "character varying", 65535)]
    # The staging table was dropped inside the transaction, not left to the session's end.
    assert fetch(warehouse_dsn, "SELECT count(*) FROM pg_class WHERE relname = 'etl_staging'") == [(0,)]


def test_a_corrected_rerun_replaces_exactly_the_runs_rows(warehouse_dsn: str) -> None:
    """Rows the corrected run no longer has are deleted, changed ones updated, new ones added;
    another run's rows stay; the count is what the table holds for the run."""
    first = pa.table({"order_id": pa.array([1, 2, 3], pa.int64()), "note": ["a", "b", "c"]})
    assert run_load(warehouse_dsn, first, "analytics.orders", ["order_id"], "postgres") == 3
    assert run_load(warehouse_dsn, first.slice(0, 1).set_column(0, "order_id", pa.array([9], pa.int64())),
                    "analytics.orders", ["order_id"], "postgres", run="other") == 1
    corrected = pa.table({"order_id": pa.array([2, 3, 4], pa.int64()), "note": ["b", "C", "d"]})
    assert run_load(warehouse_dsn, corrected, "analytics.orders", ["order_id"], "postgres") == 3
    assert fetch(warehouse_dsn, "SELECT order_id, note, etl_run_id FROM analytics.orders ORDER BY order_id") == [
        (2, "b", RUN), (3, "C", RUN), (4, "d", RUN), (9, "a", "other")
    ]
    assert run_load(warehouse_dsn, corrected.slice(0, 0), "analytics.orders", ["order_id"], "postgres") == 0
    assert fetch(warehouse_dsn, "SELECT order_id FROM analytics.orders") == [(9,)]


def test_a_run_id_is_written_into_sql_only_when_plain() -> None:
    with pytest.raises(TargetError, match="cannot be written into SQL"):
        warehouse_load("t", pa.schema([("id", pa.int64()), ("etl_run_id", pa.string())]), ["id"], "postgres", "x'; DROP TABLE t; --")


def test_the_run_column_is_added_after_a_copy_only_on_postgresql_and_when_it_comes_last() -> None:
    """``stamp_run`` relies on PostgreSQL's fast default, and adds the column at the end: only
    where that is where ``create_unkeyed`` puts it, and with the statements this test names."""
    last = pa.schema([("id", pa.int64()), ("etl_run_id", pa.string())])
    statements = warehouse_load("s.t", last, ["id"], "postgres", RUN)
    assert statements.create_unstamped == ['CREATE SCHEMA IF NOT EXISTS "s"', 'CREATE TABLE "s"."t" ("id" bigint)']
    assert statements.stamp_run == ['ALTER TABLE "s"."t" ADD COLUMN "etl_run_id" text DEFAULT \'2026-11-26\'',
                                    'ALTER TABLE "s"."t" ALTER COLUMN "etl_run_id" DROP DEFAULT']
    first = pa.schema([("etl_run_id", pa.string()), ("id", pa.int64())])
    for schema, dialect in ((first, "postgres"), (last, "redshift")):
        statements = warehouse_load("s.t", schema, ["id"], dialect, RUN)
        assert statements.create_unstamped == [] and statements.stamp_run == []


def test_hostile_table_and_column_names_stay_identifiers(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE TABLE victim (id int)")
    schema, table = 'sch"ema; DROP TABLE victim; --', "t'); DROP TABLE victim; --"
    columns = ['id"; DROP TABLE victim; --', "50% %s %(x)s {}", "it's", "Mixed Case"]
    rows = pa.table({columns[0]: [1, 2], columns[1]: ["%s", "'; DROP TABLE victim; --"], columns[2]: ["a", "b"], columns[3]: [True, None]})
    target = PostgresTarget.model_construct(name="wh", type="postgres", table=f"{schema}.{table}", key=[columns[0]])
    upsert(rows, target, settings_for(warehouse_dsn), RUN)
    upsert(rows, target, settings_for(warehouse_dsn), RUN)  # the re-run merges on the hostile key column
    assert fetch(warehouse_dsn, "SELECT count(*) FROM victim") == [(0,)]
    found = fetch(warehouse_dsn, "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                                 "ORDER BY ordinal_position", (schema, table))
    assert [c for (c,) in found] == [*columns, "etl_run_id"]
    values = fetch(warehouse_dsn, f"SELECT * FROM {quote_ident(schema)}.{quote_ident(table)} ORDER BY 1")
    assert values == [(1, "%s", "a", True, RUN), (2, "'; DROP TABLE victim; --", "b", None, RUN)]


def test_the_spec_accepts_plain_table_names_only() -> None:
    with pytest.raises(SpecError, match=r"targets\[0\]\.postgres\.table: String should match pattern"):
        parse_spec("pipeline: p\nsources: [{name: s, type: s3, uri: x, format: csv, columns: {id: int64}}]\ntransform: {sql: p.sql}\n"
                   "targets: [{name: wh, type: postgres, table: 'x; DROP TABLE y', key: [id]}]\n", "p.yaml")


def test_nul_in_a_name_is_refused() -> None:
    with pytest.raises(TargetError, match="contains a NUL"):
        quote_ident("a\x00b")


def test_a_table_of_key_columns_only_still_merges(warehouse_dsn: str) -> None:
    keys = pa.table({"a": [1, 2], "b": ["x", "y"]})
    run_load(warehouse_dsn, keys, "pairs", ["a", "b"], "postgres")
    run_load(warehouse_dsn, keys, "pairs", ["a", "b"], "postgres")
    assert fetch(warehouse_dsn, "SELECT a, b FROM pairs ORDER BY a") == [(1, "x"), (2, "y")]


def test_duplicate_keys_in_a_first_load_fail_and_leave_nothing(warehouse_dsn: str) -> None:
    twice = pa.concat_tables([ROWS, ROWS])
    target = PostgresTarget(name="wh", type="postgres", table="analytics.orders", key=["order_id"])
    # A first load creates the table, COPYs, then adds the key: the index build is what refuses the repeated key.
    with pytest.raises(TargetError, match=r"target 'wh': table analytics.orders: duplicate keys within one load: [\s\S]*"
                                          r"Key \(order_id\)=\(1\) is duplicated"):
        upsert(twice, target, settings_for(warehouse_dsn), RUN)
    assert fetch(warehouse_dsn, "SELECT to_regclass('analytics.orders') IS NULL") == [(True,)]  # even CREATE TABLE rolled back


def test_a_unique_index_on_the_key_is_accepted_in_any_column_order(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE TABLE pairs (a bigint, b text, v text, etl_run_id text)")
        conn.execute("CREATE UNIQUE INDEX pairs_ba ON pairs (b, a) INCLUDE (v)")
    rows = pa.table({"a": [1], "b": ["x"], "v": ["new"]})
    upsert(rows, PostgresTarget(name="wh", type="postgres", table="pairs", key=["a", "b"]), settings_for(warehouse_dsn), RUN)
    assert fetch(warehouse_dsn, "SELECT a, b, v FROM pairs") == [(1, "x", "new")]


@pytest.mark.parametrize("index", ["CREATE UNIQUE INDEX ON t (a, b)", "CREATE UNIQUE INDEX ON t (a) WHERE a > 0", "CREATE INDEX ON t (a)"])
def test_an_index_that_does_not_make_the_key_unique_is_refused(warehouse_dsn: str, index: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE TABLE t (a bigint, b text)")
        conn.execute(index)
    with pytest.raises(TargetError, match=r"has no unique constraint on \['a'\]"):
        upsert(pa.table({"a": [1], "b": ["x"]}), PostgresTarget(name="wh", type="postgres", table="t", key=["a"]), settings_for(warehouse_dsn), RUN)
