"""The PostgreSQL target on a real server: the run's rows replaced by COPY (MERGE when another run holds a key), in one transaction, quoted identifiers."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from etl_core.errors import TargetError, TransientError
from etl_core.load.postgres import upsert
from etl_core.settings import Settings
from etl_core.spec import PostgresTarget


def settings_for(dsn: str) -> Settings:
    """The load function's settings with only the warehouse DSN given."""
    return dataclasses.replace(Settings.from_env(), warehouse_dsn=dsn, warehouse_secret_arn="")


ROWS = pa.table(
    {
        "order_id": pa.array([1, 2, 3], pa.int64()),
        "note": ["plain", 'quote " and, comma', None],
        "empty": ["", "x", ""],
        "amount": pa.array([Decimal("1.50"), Decimal("2.25"), None], pa.decimal128(18, 2)),
        "day": pa.array([dt.date(2026, 11, 26)] * 3, pa.date32()),
        "at": pa.array([dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)] * 3, pa.timestamp("us", tz="UTC")),
        "ok": [True, False, None],
    }
)
TARGET = PostgresTarget(name="wh", type="postgres", table="analytics.orders", key=["order_id"])
RUN = "2026-11-26"


def fetch(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def test_values_round_trip_exactly(warehouse_dsn: str) -> None:
    assert upsert(ROWS, TARGET, settings_for(warehouse_dsn), RUN) == 3
    rows = fetch(warehouse_dsn, "SELECT order_id, note, empty, amount, day, at, ok FROM analytics.orders ORDER BY order_id")
    assert rows[1][1] == 'quote " and, comma'
    assert rows[0][2] == "" and rows[2][1] is None  # empty string and NULL stay distinct
    assert rows[0][3] == Decimal("1.50") and rows[2][3] is None
    assert rows[0][4] == dt.date(2026, 11, 26)
    assert rows[0][5] == dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)
    assert [r[6] for r in rows] == [True, False, None]


def test_rerun_upserts_instead_of_duplicating(warehouse_dsn: str) -> None:
    settings = settings_for(warehouse_dsn)
    upsert(ROWS, TARGET, settings, RUN)
    changed = ROWS.set_column(1, "note", pa.array(["new", "new", "new"]))
    upsert(changed, TARGET, settings, RUN)
    assert fetch(warehouse_dsn, "SELECT count(*), min(note), max(note) FROM analytics.orders") == [(3, "new", "new")]


def test_identifiers_are_quoted_not_interpolated(warehouse_dsn: str) -> None:
    hostile = pa.table({"order_id": [1], 'x"; DROP TABLE t; --': ["v"]})
    upsert(hostile, PostgresTarget(name="wh", type="postgres", table="public.weird", key=["order_id"]), settings_for(warehouse_dsn), RUN)
    columns = [r[0] for r in fetch(warehouse_dsn, "SELECT column_name FROM information_schema.columns WHERE table_name = 'weird' ORDER BY ordinal_position")]
    assert columns == ["order_id", 'x"; DROP TABLE t; --', "etl_run_id"]


def test_failure_mid_load_leaves_the_table_unchanged(warehouse_dsn: str) -> None:
    settings = settings_for(warehouse_dsn)
    upsert(ROWS, TARGET, settings, RUN)
    duplicate_keys = pa.concat_tables([ROWS, ROWS])  # MERGE cannot touch a row twice: the statement fails
    with pytest.raises(TargetError, match="target 'wh': table analytics.orders: duplicate keys within one load"):
        upsert(duplicate_keys.set_column(1, "note", pa.array(["changed"] * 6)), TARGET, settings, RUN)
    assert fetch(warehouse_dsn, "SELECT count(*) FROM analytics.orders WHERE note = 'changed'") == [(0,)]


def test_a_first_load_leaves_the_table_with_its_primary_key(warehouse_dsn: str) -> None:
    """The key is added after the COPY (one index build), and is there after the load."""
    upsert(ROWS, TARGET, settings_for(warehouse_dsn), RUN)
    assert fetch(warehouse_dsn, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                                "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = 'analytics.orders'::regclass "
                                "AND i.indisprimary") == [("order_id",)]


def test_a_first_load_returns_what_its_copy_stored_unless_rows_bring_their_run(warehouse_dsn: str) -> None:
    """A first load of rows Rows stamped returns the rows its COPY stored; rows that bring their
    own run column are loaded as they are, and the rows the table holds for the run are counted."""
    own = ROWS.append_column("etl_run_id", pa.array([RUN, RUN, "other"]))
    assert upsert(ROWS, TARGET, settings_for(warehouse_dsn), "stamped") == 3
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("DROP TABLE analytics.orders")
    assert upsert(own, TARGET, settings_for(warehouse_dsn), RUN) == 2
    assert fetch(warehouse_dsn, "SELECT order_id, etl_run_id FROM analytics.orders ORDER BY 1") == [
        (1, RUN), (2, RUN), (3, "other")]


_DEFINITION = """
SELECT a.attnum, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""


def test_a_first_load_adds_the_run_column_after_its_copy_and_reads_as_if_copied(warehouse_dsn: str) -> None:
    """Rows Rows stamps are copied without their run column, which is added afterwards with the
    run id as every row's value: the table ends defined, keyed and read exactly as a first load
    that copies the column (rows that bring their own run column), and later runs replace or
    add rows in it as in any other."""
    settings = settings_for(warehouse_dsn)
    copied = PostgresTarget(name="wh", type="postgres", table="analytics.copied", key=["order_id"])
    assert upsert(ROWS, TARGET, settings, RUN) == 3
    assert upsert(ROWS.append_column("etl_run_id", pa.array([RUN] * 3)), copied, settings, RUN) == 3
    definition = fetch(warehouse_dsn, _DEFINITION.replace("%s", "'analytics.orders'"))
    assert definition == fetch(warehouse_dsn, _DEFINITION.replace("%s", "'analytics.copied'"))
    assert definition[-1] == (8, "etl_run_id", "text", False, False)  # last, and no default left behind
    assert fetch(warehouse_dsn, "SELECT attmissingval::text FROM pg_attribute WHERE attrelid = 'analytics.orders'::regclass "
                                "AND attname = 'etl_run_id'") == [("{2026-11-26}",)]  # kept once, not in each row
    everything = "SELECT *, etl_run_id = '2026-11-26' FROM analytics.{} ORDER BY order_id"
    assert fetch(warehouse_dsn, everything.format("orders")) == fetch(warehouse_dsn, everything.format("copied"))

    new = ROWS.slice(0, 1).set_column(0, "order_id", pa.array([4], pa.int64()))
    assert upsert(new, TARGET, settings, "run-b") == 1
    assert upsert(ROWS.slice(0, 2), TARGET, settings, RUN) == 2  # re-run: the run's rows found by their run id
    assert fetch(warehouse_dsn, "SELECT order_id, etl_run_id FROM analytics.orders ORDER BY order_id") == [
        (1, RUN), (2, RUN), (4, "run-b")]


def test_a_first_load_leaves_no_page_for_vacuum_to_visit(warehouse_dsn: str) -> None:
    """COPY FREEZE: the first load's rows are stored frozen and their pages all-visible, so a
    VACUUM (autovacuum starts one after a large load) skips every page."""
    many = pa.table({"order_id": pa.array(range(20_000), pa.int64()), "note": ["a note"] * 20_000})
    upsert(many, TARGET, settings_for(warehouse_dsn), RUN)
    notices: list[str] = []
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute("VACUUM (VERBOSE) analytics.orders")
    pages = re.search(r"pages: (\d+) removed, (\d+) remain, (\d+) scanned", "\n".join(notices))
    removed, remain, scanned = (int(n) for n in pages.groups())
    assert remain > 0 and scanned <= removed, pages.group(0)  # only empty pages the COPY's extension left at the end


def test_a_key_another_run_holds_moves_to_this_run(warehouse_dsn: str) -> None:
    """The direct COPY meets another run's key: rolled back to its savepoint, the rows MERGE,
    updating that row in place; the other run keeps its other rows, nothing is duplicated."""
    settings = settings_for(warehouse_dsn)
    assert upsert(ROWS, TARGET, settings, "run-a") == 3
    moved = ROWS.slice(2, 1).set_column(1, "note", pa.array(["moved"]))
    new = moved.set_column(0, "order_id", pa.array([4], pa.int64())).set_column(1, "note", pa.array(["new"]))
    assert upsert(pa.concat_tables([moved, new]), TARGET, settings, "run-b") == 2
    assert fetch(warehouse_dsn, "SELECT order_id, note, etl_run_id FROM analytics.orders ORDER BY order_id") == [
        (1, "plain", "run-a"), (2, 'quote " and, comma', "run-a"), (3, "moved", "run-b"), (4, "new", "run-b")
    ]
    assert upsert(ROWS, TARGET, settings, "run-a") == 3  # run a again, unchanged: key 3 moves back
    assert fetch(warehouse_dsn, "SELECT order_id, etl_run_id FROM analytics.orders ORDER BY order_id") == [
        (1, "run-a"), (2, "run-a"), (3, "run-a"), (4, "run-b")
    ]
    assert fetch(warehouse_dsn, "SELECT count(*) FROM pg_class WHERE relname = 'etl_staging'") == [(0,)]


def test_existing_table_without_key_constraint_is_a_clear_error(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE TABLE public.nokey (order_id bigint, note text)")
    with pytest.raises(TargetError, match=r"has no unique constraint on \['order_id'\]"):
        upsert(ROWS.select(["order_id", "note"]), PostgresTarget(name="wh", type="postgres", table="public.nokey", key=["order_id"]), settings_for(warehouse_dsn), RUN)


def test_a_table_made_before_loads_recorded_their_run_is_named_with_its_fix(warehouse_dsn: str) -> None:
    """A table created before the ``etl_run_id`` column existed: the error names the table and the
    statement that fixes it; once it has run, the load replaces the run's rows and keeps the old ones."""
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE SCHEMA analytics; CREATE TABLE analytics.orders (order_id bigint PRIMARY KEY, note text)")
        conn.execute("INSERT INTO analytics.orders VALUES (1, 'old'), (9, 'kept')")
    rows = ROWS.select(["order_id", "note"])
    with pytest.raises(TargetError, match=r"table analytics\.orders has no etl_run_id column") as raised:
        upsert(rows, TARGET, settings_for(warehouse_dsn), RUN)
    fix = str(raised.value).split("add it with: ", 1)[1].split(" (", 1)[0]
    assert fix == 'ALTER TABLE "analytics"."orders" ADD COLUMN "etl_run_id" text'
    assert fetch(warehouse_dsn, "SELECT count(*) FROM analytics.orders") == [(2,)]  # nothing was written

    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute(fix)
    assert upsert(rows, TARGET, settings_for(warehouse_dsn), RUN) == 3
    assert fetch(warehouse_dsn, "SELECT order_id, note, etl_run_id FROM analytics.orders ORDER BY order_id") == [
        (1, "plain", RUN), (2, 'quote " and, comma', RUN), (3, None, RUN), (9, "kept", None)]


def test_unreachable_server_is_transient() -> None:
    with pytest.raises(TransientError, match="cannot reach PostgreSQL"):
        upsert(ROWS, TARGET, settings_for("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"), RUN)


def test_missing_configuration_is_named() -> None:
    with pytest.raises(TargetError, match="needs WAREHOUSE_DSN or WAREHOUSE_SECRET_ARN"):
        upsert(ROWS, TARGET, settings_for(""), RUN)
