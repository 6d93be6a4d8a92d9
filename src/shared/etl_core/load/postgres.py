"""PostgreSQL target (RDS, or the embedded server locally): the run's rows replaced by COPY.

Everything happens in one transaction (a large first load: in one as far as readers can
tell, see step 1), so a crash leaves the table as it was and a re-run leaves exactly the
run's new rows, never duplicates:

1. a table that does not exist yet is created without its key, the rows stream into it by
   COPY, and then its primary key is added: PostgreSQL builds the index once, by sorting,
   instead of inserting into it row by row (at scale 1, 6 million rows, that halves the load).
   The COPY is a ``FREEZE`` one (allowed: the table is new in this transaction): its rows are
   stored already frozen and its pages marked all-visible, so the first reads after the load
   do not each set hint bits on every page and write it again, and autovacuum, which a table
   of 6 million inserted rows starts at once, has no page left to visit (scale 1, after the
   load: the first count 0.39 -> 0.25 s, VACUUM 0.66 -> 0.00 s, the server's CPU for both
   counts, VACUUM and a checkpoint 2.0 -> 1.05 s; the COPY itself costs no more).
   A first load of a million rows or more is instead spread over several connections, one
   COPY (one server process) each, under a loading name the table takes only once it is
   complete and keyed (etl_core.load.postgres_first_load: atomic for readers, not FREEZE).
   When every row carries this run's id because ``Rows`` stamped it, the run column is not
   sent at all: the table is created without it, and it is added after the COPY with the
   run id as its default, which PostgreSQL keeps once in the catalog as the value of every
   row already there (a "fast default", PostgreSQL 11+), then the default is dropped. The
   table reads, and ends defined, exactly as if the column had been copied, for 6 million
   fewer values to encode, send, parse and store (scale 1, quiet machine, 4 interleaved pairs:
   COPY 10.8 -> 9.6 s, its server CPU 7.96 -> 7.27 s, client CPU 4.33 -> 3.88 s, table
   980 -> 930 MB);
2. into an existing table: the run's rows are deleted (a re-run replaces them all), and the
   rows stream batch by batch straight into the table by COPY (values never pass through
   SQL text, and no second copy is made);
3. only if that COPY hits a key held by another run's row (a row that moved between runs)
   is it rolled back to a savepoint, and the rows go the slow way: COPY into a temporary
   staging table, then the shared MERGE (etl_core.load.warehouse_sql), which updates the
   other run's row in place, as every load did before;
4. the count returned is read back from the table in the same transaction: the rows it
   holds for the run (for a table this load created, with every row stamped with the run,
   the rows its COPY stored, as PostgreSQL reports them).

Every COPY sends PostgreSQL's binary format (encoded by pgpq: about a third less server time
than parsing CSV) when every column's type reads exactly the bytes pgpq sends, and CSV
otherwise (etl_core.load.binary_copy says when, and why binary must be gated).

The table's unique constraint on the key is required: it is what makes PostgreSQL itself
refuse two rows with one key (COPY raises a unique violation, MERGE a cardinality or unique
violation), instead of loading both.
"""
from __future__ import annotations

import psycopg
import pyarrow as pa

from etl_core import redaction
from etl_core.aws import rds_conninfo
from etl_core.errors import TargetError, TransientError
from etl_core.load.binary_copy import EncodeError
from etl_core.load.keys import require_columns
from etl_core.load.postgres_copy import copy_rows
from etl_core.load.postgres_first_load import first_load
from etl_core.load.rows import RUN_COLUMN, Rows
from etl_core.load.warehouse_sql import WarehouseLoad, quote_ident, quote_table, warehouse_load
from etl_core.settings import Settings
from etl_core.spec.targets import PostgresTarget

#: Is there a unique index whose key columns are exactly these (what ON CONFLICT would infer)?
_HAS_UNIQUE_KEY = """
SELECT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = to_regclass(%(table)s) AND i.indisunique AND i.indpred IS NULL
      AND i.indnkeyatts = cardinality(%(key)s::text[])
      AND NOT EXISTS (
          SELECT 1 FROM unnest(i.indkey[0:i.indnkeyatts - 1]) AS k(attnum)
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE a.attname IS NULL OR NOT a.attname::text = ANY (%(key)s::text[])
      )
)"""

_EXISTS = "SELECT to_regclass(%s) IS NOT NULL"
#: Does the table have the column naming each row's run (tables made before it existed lack it)?
_HAS_COLUMN = """
SELECT EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = to_regclass(%(table)s) AND attname = %(column)s AND attnum > 0 AND NOT attisdropped)
"""
_SAVEPOINT = "etl_direct_copy"


def conninfo(settings: Settings) -> str:
    """A DSN from WAREHOUSE_DSN, or built from the Secrets Manager secret (RDS's JSON shape)."""
    if settings.warehouse_dsn:
        redaction.register_dsn(settings.warehouse_dsn)
        return settings.warehouse_dsn
    if settings.warehouse_secret_arn:
        return rds_conninfo(settings.warehouse_secret_arn)
    raise TargetError("a postgres target needs WAREHOUSE_DSN or WAREHOUSE_SECRET_ARN in the load function's environment")


def _replace_run(cur: psycopg.Cursor, rows: Rows, statements: WarehouseLoad, target: PostgresTarget) -> None:
    """Steps 2-3 of the module docstring."""
    table = quote_table(target.table)
    cur.execute(statements.delete_run)
    cur.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        copy_rows(cur, rows, table)
    except psycopg.errors.UniqueViolation:
        cur.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        _merge(cur, rows, statements, target)
    else:
        cur.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")


def _merge(cur: psycopg.Cursor, rows: Rows, statements: WarehouseLoad, target: PostgresTarget) -> None:
    """Step 3: the run's rows are already deleted, so a key the MERGE meets twice, or inserts
    twice, is a key the rows themselves repeat."""
    cur.execute(statements.stage)
    copy_rows(cur, rows)
    try:
        cur.execute(statements.merge)
    except (psycopg.errors.CardinalityViolation, psycopg.errors.UniqueViolation) as exc:
        raise TargetError(f"target {target.name!r}: table {target.table}: duplicate keys within one load: {exc}") from exc
    cur.execute(statements.cleanup)


def upsert(rows: Rows | pa.Table, target: PostgresTarget, settings: Settings, run_id: str) -> int:
    """Replace run ``run_id``'s rows of the table by ``rows``; the rows the table then holds for the run."""
    rows = Rows.of(rows, run_id)
    require_columns(rows, target.key, target.name)
    statements = warehouse_load(target.table, rows.schema, target.key, "postgres", run_id)
    table = quote_table(target.table)
    dsn = conninfo(settings)
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn, conn.cursor() as cur:
            if not cur.execute(_EXISTS, (table,)).fetchone()[0]:
                copied = first_load(conn, dsn, rows, statements, target, run_id, settings.warehouse_copy_connections)
                if copied is not None:
                    return copied
            else:
                cur.execute(_HAS_UNIQUE_KEY, {"table": table, "key": target.key})
                if not cur.fetchone()[0]:
                    raise TargetError(f"target {target.name!r}: table {target.table} has no unique constraint on {target.key}")
                if not cur.execute(_HAS_COLUMN, {"table": table, "column": RUN_COLUMN}).fetchone()[0]:
                    raise TargetError(
                        f"target {target.name!r}: table {target.table} has no {RUN_COLUMN} column (it was created before loads "
                        f"recorded their run); add it with: ALTER TABLE {table} ADD COLUMN {quote_ident(RUN_COLUMN)} text "
                        "(its existing rows then belong to no run, and a load replaces only its own run's rows)")
                _replace_run(cur, rows, statements, target)
            return cur.execute(statements.count).fetchone()[0]
    except psycopg.OperationalError as exc:
        raise TransientError(f"target {target.name!r}: cannot reach PostgreSQL: {exc}") from exc
    except (psycopg.Error, EncodeError, pa.ArrowException) as exc:  # Arrow's: rows that cannot be read (a damaged object)
        raise TargetError(f"target {target.name!r}: table {target.table}: {exc}") from exc
