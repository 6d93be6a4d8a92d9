"""A large first load into PostgreSQL, split over several connections (etl_core.load.postgres_first_load),
on a real server: the same table as one connection makes, never part of one, nothing left behind.

``PARALLEL_ROWS`` is lowered so that a few thousand rows take the path that millions take.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable, Iterator

import psycopg
import pyarrow as pa
import pytest

from etl_core.errors import TargetError, TransientError
from etl_core.load import postgres_first_load
from etl_core.load.postgres import upsert
from etl_core.load.rows import Rows
from etl_core.settings import Settings
from etl_core.spec import PostgresTarget

RUN = "2026-11-26"
N = 6_000
ROWS = pa.table({
    "id": pa.array(range(N), pa.int64()),
    "note": pa.array([f"note {i}" for i in range(N)]),
    "amount": pa.array(range(N), pa.int32()),
})


def settings_for(dsn: str, connections: int) -> Settings:
    return dataclasses.replace(Settings.from_env(), warehouse_dsn=dsn, warehouse_secret_arn="", warehouse_copy_connections=connections)


def target(table: str) -> PostgresTarget:
    return PostgresTarget(name="wh", type="postgres", table=table, key=["id"])


def fetch(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def loading_tables(dsn: str) -> list[tuple]:
    return fetch(dsn, "SELECT relname FROM pg_class WHERE relname LIKE 'etl_loading_%'")


@pytest.fixture(autouse=True)
def parallel_from_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_first_load, "PARALLEL_ROWS", 1)


def in_batches(table: pa.Table, rows: int, pause: Callable[[int], None] | None = None) -> Rows:
    """The table's rows stamped with the run (as the run's validated rows are), in batches of
    ``rows``, calling ``pause(i)`` before batch i."""
    table = table.append_column("etl_run_id", pa.array([RUN] * table.num_rows))

    def read(columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate((table.select(columns) if columns else table).to_batches(rows)):
            if pause:
                pause(i)
            yield batch
    return Rows(table.schema, table.num_rows, read, stamped=RUN)


_DEFINITION = """
SELECT a.attnum, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""
_KEY = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s)"


def test_two_connections_make_the_table_one_connection_makes(warehouse_dsn: str) -> None:
    """Same definition, key (named for the target), rows and run column; the count is what the
    COPYs stored; the loading table is gone."""
    assert upsert(ROWS, target("analytics.one"), settings_for(warehouse_dsn, 1), RUN) == N
    assert upsert(ROWS, target("analytics.two"), settings_for(warehouse_dsn, 2), RUN) == N
    for query in (_DEFINITION, _KEY):
        one = fetch(warehouse_dsn, query.replace("%s", "'analytics.one'"))
        two = fetch(warehouse_dsn, query.replace("%s", "'analytics.two'"))
        assert [row[1:] for row in one] == [row[1:] for row in two] if query is _KEY else one == two
    assert fetch(warehouse_dsn, _KEY.replace("%s", "'analytics.two'")) == [("two_pkey", "PRIMARY KEY (id)")]
    everything = "SELECT * FROM analytics.{} ORDER BY id"
    assert fetch(warehouse_dsn, everything.format("one")) == fetch(warehouse_dsn, everything.format("two"))
    assert loading_tables(warehouse_dsn) == []


def test_the_connections_copy_at_once(warehouse_dsn: str) -> None:
    """While one connection's COPY waits for its second batch, the other connection's COPY is
    running too (seen by the server); every row is stored once. (Which connection takes which
    batch is the server's pace: _SharedBatches hands each batch to whichever asks first.)"""
    def pause(i: int) -> None:
        if i != 1:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the other COPY has started and waits for a batch
            copying = fetch(warehouse_dsn, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %etl_loading_%'")
            if copying == [(2,)]:
                return
            time.sleep(0.02)
        raise AssertionError("the second COPY never started")

    assert upsert(in_batches(ROWS, 500, pause), target("analytics.shared"), settings_for(warehouse_dsn, 2), RUN) == N
    assert fetch(warehouse_dsn, "SELECT count(*), count(DISTINCT id) FROM analytics.shared") == [(N, N)]


def test_shared_batches_go_each_to_one_taker_and_stop_for_all() -> None:
    """Two takers that each wait for the other after every batch (as COPYs do whose server is
    busy) both get batches, every batch once; after ``stop`` neither gets another."""
    shared = postgres_first_load._SharedBatches(iter(ROWS.to_batches(100)))
    both = threading.Barrier(2, timeout=30)
    taken: dict[str, list[int]] = {"a": [], "b": []}

    def take(name: str) -> None:
        for batch in shared:
            taken[name].append(batch.column("id")[0].as_py())
            if len(taken[name]) == 10:
                shared.stop()
            try:
                both.wait()
            except threading.BrokenBarrierError:
                return
        both.abort()  # no more batches: the other taker need not wait for this one

    threads = [threading.Thread(target=take, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    firsts = sorted(taken["a"] + taken["b"])
    assert len(taken["a"]) >= 9 and len(taken["b"]) >= 9
    assert firsts == list(range(0, 100 * len(firsts), 100))  # each batch once, none after the stop


def test_duplicate_keys_leave_neither_table(warehouse_dsn: str) -> None:
    twice = pa.concat_tables([ROWS, ROWS.slice(0, 1)])
    with pytest.raises(TargetError, match="target 'wh': table analytics.dup: duplicate keys within one load"):
        upsert(twice, target("analytics.dup"), settings_for(warehouse_dsn, 2), RUN)
    assert fetch(warehouse_dsn, "SELECT to_regclass('analytics.dup') IS NULL") == [(True,)]
    assert loading_tables(warehouse_dsn) == []


def test_a_failed_read_stops_every_copy_and_leaves_nothing(warehouse_dsn: str) -> None:
    """One batch cannot be read (a damaged staged object): the error is the load's, the other
    connection stops taking batches, and neither table is left."""
    def pause(i: int) -> None:
        if i == 5:
            raise pa.ArrowInvalid("damaged row group")

    with pytest.raises(TargetError, match="target 'wh': table analytics.damaged: .*damaged row group"):
        upsert(in_batches(ROWS, 100, pause), target("analytics.damaged"), settings_for(warehouse_dsn, 2), RUN)
    assert fetch(warehouse_dsn, "SELECT to_regclass('analytics.damaged') IS NULL") == [(True,)]
    assert loading_tables(warehouse_dsn) == []


def test_what_a_dead_attempt_left_is_dropped_by_the_next(warehouse_dsn: str) -> None:
    """An attempt killed between its COPYs and its rename leaves its loading table (committed
    rows under another name); the retry, with the same target and run, drops it and loads afresh."""
    left = postgres_first_load.loading_table(target("analytics.retried"), RUN)
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        conn.execute(f"CREATE TABLE {left} (id bigint, note text, amount integer)")
        conn.execute(f"INSERT INTO {left} VALUES (-1, 'stale', 0)")
    assert upsert(ROWS, target("analytics.retried"), settings_for(warehouse_dsn, 2), RUN) == N
    assert fetch(warehouse_dsn, "SELECT count(*), min(id) FROM analytics.retried") == [(N, 0)]
    assert loading_tables(warehouse_dsn) == []


def test_a_table_created_meanwhile_is_transient_and_the_retry_replaces_the_run(warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another load creates the target while this one COPYs: the rename fails as a transient
    error (nothing of this attempt is left), and the retry replaces the run's rows in that table."""
    copy_over = postgres_first_load._copy_over

    def another_load_meanwhile(*args, **kwargs) -> int:
        copied = copy_over(*args, **kwargs)
        upsert(ROWS.slice(0, 10), target("analytics.raced"), settings_for(warehouse_dsn, 1), "other-run")
        return copied

    monkeypatch.setattr(postgres_first_load, "_copy_over", another_load_meanwhile)
    moved = ROWS.slice(10)
    with pytest.raises(TransientError, match="table analytics.raced was created by another load meanwhile"):
        upsert(moved, target("analytics.raced"), settings_for(warehouse_dsn, 2), RUN)
    assert loading_tables(warehouse_dsn) == []
    monkeypatch.undo()
    assert upsert(moved, target("analytics.raced"), settings_for(warehouse_dsn, 2), RUN) == N - 10
    assert fetch(warehouse_dsn, "SELECT etl_run_id, count(*) FROM analytics.raced GROUP BY 1 ORDER BY 1") == [
        (RUN, N - 10), ("other-run", 10)]
