"""The first load into a PostgreSQL table that does not exist yet: created without its key,
filled by COPY, keyed last (step 1 of etl_core.load.postgres), on one connection or several.

One connection (fewer than ``PARALLEL_ROWS`` rows, or ``warehouse_copy_connections`` 1): the
table is created, filled by ``COPY ... FREEZE`` and keyed in the load's one transaction.

Several connections: PostgreSQL runs each COPY in one server process, on one core, and at
scale 1 (6 million rows) that process is what a first load waits for: the client reads and
encodes in a third of the time the server takes to store the rows, and the database's other
cores sit idle. Measured at scale 1 on a 2-core machine where client, server and the lake
branch share both cores: the load alone 16.6 and 20.8 s on one connection against 13.8 and
14.7 s on two; in the whole pipeline (``bench/bench_pipeline.py --contenders project``, 3
interleaved pairs, load 1.5-2.2) Load 20.3-21.7 s against 18.4-19.1 s, the cores then 88%
busy instead of 73-77%. A COPY cannot be shared between connections, and a transaction cannot
span them, so the table is filled before it exists under its name:

1. a loading table (``etl_loading_<digest>``, in the target's schema, named after the target
   and the run) is dropped if an attempt that died left it behind, then created without its
   key and committed, so every connection can write to it;
2. each of the connections COPYs the batches it takes from one shared reader (each batch goes
   to exactly one), and commits;
3. one transaction stamps the run column, renames the loading table to the target and adds the
   target's primary key (named as PostgreSQL names it for the target): readers see no table,
   then the whole one, never part of it;
4. any failure drops the loading table; two first loads racing for one target both finish
   their loading tables, and the second rename fails (``TransientError``: its retry finds the
   table and replaces its run's rows there).

What it gives up: ``FREEZE`` needs the table created in the COPY's own transaction, so these
rows are stored unfrozen, and the first VACUUM (autovacuum starts one after a large load)
visits their pages, as it does after any load into an existing table (scale 1: 0.8 s of
VACUUM after the load instead of none).
"""
from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import psycopg
import pyarrow as pa

from etl_core.errors import TargetError, TransientError
from etl_core.load.postgres_copy import copy_rows
from etl_core.load.rows import RUN_COLUMN, Rows
from etl_core.load.warehouse_sql import WarehouseLoad, quote_ident, quote_table, warehouse_load
from etl_core.spec.targets import PostgresTarget

#: A first load of fewer rows uses one connection: another one costs a connection set-up and
#: a commit, and gives up FREEZE, for a COPY that takes well under a second anyway.
PARALLEL_ROWS = 1_000_000


class _SharedBatches:
    """One reader's batches handed out to several COPY threads, each batch to exactly one."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._lock = threading.Lock()
        self._stopped = False

    def __iter__(self) -> "_SharedBatches":
        return self

    def __next__(self) -> pa.RecordBatch:
        with self._lock:  # a generator may not be resumed by two threads at once
            if self._stopped:
                raise StopIteration
            return next(self._batches)

    def stop(self) -> None:
        """No more batches for anyone (one COPY failed: the others end early, their work is dropped)."""
        self._stopped = True


def _created_meanwhile(target: PostgresTarget) -> TransientError:
    return TransientError(f"target {target.name!r}: table {target.table} was created by another load meanwhile")


def _duplicate_keys(target: PostgresTarget, exc: Exception) -> TargetError:
    return TargetError(f"target {target.name!r}: table {target.table}: duplicate keys within one load: {exc}")


def first_load(conn: psycopg.Connection, dsn: str, rows: Rows, statements: WarehouseLoad, target: PostgresTarget,
               run_id: str, connections: int) -> int | None:
    """Create and fill the table (``conn`` is connected to ``dsn``, in the transaction that found
    it missing); the rows the table holds for the run, or None if they must be counted.

    Rows that Rows stamped with this run (every row the same run id) leave the new table holding
    for the run exactly the rows its COPY stored: that count is returned (counting them again
    would scan the whole new table, 1.4-2.0 s at scale 1). None: rows that brought their own run
    column, to be counted in ``conn``'s open transaction."""
    stamp_later = rows.stamped == run_id and bool(statements.stamp_run)  # every row's run column is run_id, and it is last
    columns = [c for c in rows.column_names if c != RUN_COLUMN] if stamp_later else None
    if connections > 1 and rows.num_rows >= PARALLEL_ROWS:
        conn.commit()  # the existence check's transaction: the loading table is committed on its own
        copied = _in_parallel(conn, dsn, rows, statements, target, run_id, stamp_later, columns, connections)
    else:
        copied = _in_one_transaction(conn.cursor(), rows, statements, target, stamp_later, columns)
    return copied if rows.stamped == run_id else None


def _unkeyed(statements: WarehouseLoad, stamp_later: bool) -> tuple[list[str], list[str]]:
    """The statements creating the table without its key, and those stamping its run column after the COPY."""
    return (statements.create_unstamped, statements.stamp_run) if stamp_later else (statements.create_unkeyed, [])


def _add_key(db: psycopg.Connection | psycopg.Cursor, statements: WarehouseLoad, target: PostgresTarget) -> None:
    try:
        db.execute(statements.add_key)
    except psycopg.errors.UniqueViolation as exc:
        raise _duplicate_keys(target, exc) from exc


def _in_one_transaction(cur: psycopg.Cursor, rows: Rows, statements: WarehouseLoad, target: PostgresTarget,
                        stamp_later: bool, columns: list[str] | None) -> int:
    create, stamp = _unkeyed(statements, stamp_later)
    try:
        for statement in create:
            cur.execute(statement)
    except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation) as exc:  # pg_class/pg_type's unique index
        raise _created_meanwhile(target) from exc
    copied = copy_rows(cur, rows, quote_table(target.table), freeze=True, columns=columns)
    for statement in stamp:
        cur.execute(statement)
    _add_key(cur, statements, target)
    return copied


def loading_table(target: PostgresTarget, run_id: str) -> str:
    """The loading table's name (``schema.etl_loading_<digest>``, unquoted) for this target and run:
    the same for every attempt of the run, so a retry finds and drops what a dead attempt left."""
    digest = hashlib.sha256(f"{target.table}\0{run_id}".encode()).hexdigest()[:16]
    schema, _, _ = target.table.rpartition(".")
    return f"{schema}.etl_loading_{digest}" if schema else f"etl_loading_{digest}"


def _in_parallel(conn: psycopg.Connection, dsn: str, rows: Rows, statements: WarehouseLoad, target: PostgresTarget, run_id: str,
                 stamp_later: bool, columns: list[str] | None, connections: int) -> int:
    """Steps 1-4 of the module docstring; the rows the COPYs stored."""
    name = loading_table(target, run_id)
    create, stamp = _unkeyed(warehouse_load(name, rows.schema, target.key, "postgres", run_id), stamp_later)
    table = quote_table(name)
    try:
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in create:
                conn.execute(statement)
        copied = _copy_over(dsn, rows, table, columns, connections)
        with conn.transaction():
            for statement in stamp:
                conn.execute(statement)
            try:
                conn.execute(f"ALTER TABLE {table} RENAME TO {quote_ident(target.table.rpartition('.')[2])}")
            except psycopg.errors.DuplicateTable as exc:
                raise _created_meanwhile(target) from exc
            _add_key(conn, statements, target)
    except BaseException:
        _drop(conn, table)
        raise
    return copied


def _copy_over(dsn: str, rows: Rows, table: str, columns: list[str] | None, connections: int) -> int:
    """COPY the rows into ``table`` over ``connections`` connections, each committing its share."""
    shared = _SharedBatches(rows.batches(columns))
    share = Rows(rows.schema, rows.num_rows, lambda _columns: shared, rows.stamped)

    def copy_share() -> int:
        try:
            with psycopg.connect(dsn, connect_timeout=10) as conn, conn.cursor() as cur:
                return copy_rows(cur, share, table, columns=columns)
        except BaseException:
            shared.stop()
            raise

    with ThreadPoolExecutor(max_workers=connections, thread_name_prefix="etl-copy") as pool:
        copies = [pool.submit(copy_share) for _ in range(connections)]
        return sum(copy.result() for copy in copies)


def _drop(conn: psycopg.Connection, table: str) -> None:
    """Drop the loading table after a failure (best effort: the next attempt drops it anyway)."""
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    except psycopg.Error:
        pass
