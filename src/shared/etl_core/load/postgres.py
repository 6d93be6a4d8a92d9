"""PostgreSQL target (RDS, or the embedded server locally): COPY into staging, then MERGE.

Everything happens in one transaction: the rows stream batch by batch into a temporary
staging table by COPY (fast, and values never pass through SQL text), then the shared MERGE
(etl_core.load.warehouse_sql) applies them on the key and the run's rows that are no longer
in it are deleted, so a crash leaves the table as it was and a re-run leaves exactly the
run's new rows, never duplicates. The count returned is read back from the table in the
same transaction: the rows it holds for the run. The table's unique
constraint on the key is required: it is what makes PostgreSQL itself refuse two rows with
one key (MERGE raises a cardinality or unique violation), instead of loading both.
"""
from __future__ import annotations

import io

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.copy import QueuedLibpqWriter

from etl_core import redaction
from etl_core.aws import rds_conninfo
from etl_core.errors import TargetError, TransientError
from etl_core.load.keys import require_columns
from etl_core.load.rows import Rows
from etl_core.load.warehouse_sql import STAGING_TABLE, quote_ident, quote_table, warehouse_load
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


def conninfo(settings: Settings) -> str:
    """A DSN from WAREHOUSE_DSN, or built from the Secrets Manager secret (RDS's JSON shape)."""
    if settings.warehouse_dsn:
        redaction.register_dsn(settings.warehouse_dsn)
        return settings.warehouse_dsn
    if settings.warehouse_secret_arn:
        return rds_conninfo(settings.warehouse_secret_arn)
    raise TargetError("a postgres target needs WAREHOUSE_DSN or WAREHOUSE_SECRET_ARN in the load function's environment")


def _copy_rows(cur: psycopg.Cursor, rows: Rows | pa.Table) -> None:
    """Stream the rows as CSV into the staging table, one record batch at a time.

    The queued writer sends on its own thread (its queue is bounded), so reading and encoding
    the next batch overlaps PostgreSQL parsing the last one.
    """
    rows = Rows.of(rows)
    statement = f"COPY {quote_ident(STAGING_TABLE)} ({', '.join(quote_ident(c) for c in rows.column_names)}) FROM STDIN (FORMAT csv)"
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        for batch in rows.batches():
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, write_options=options)
            copy.write(buffer.getvalue())


def upsert(rows: Rows | pa.Table, target: PostgresTarget, settings: Settings, run_id: str) -> int:
    """Replace run ``run_id``'s rows of the table by ``rows``; the rows the table then holds for the run."""
    rows = Rows.of(rows, run_id)
    require_columns(rows, target.key, target.name)
    statements = warehouse_load(target.table, rows.schema, target.key, "postgres", run_id)
    try:
        with psycopg.connect(conninfo(settings), connect_timeout=10) as conn, conn.cursor() as cur:
            for statement in statements.prepare:
                cur.execute(statement)
            cur.execute(_HAS_UNIQUE_KEY, {"table": quote_table(target.table), "key": target.key})
            if not cur.fetchone()[0]:
                raise TargetError(f"target {target.name!r}: table {target.table} has no unique constraint on {target.key}")
            _copy_rows(cur, rows)
            cur.execute(statements.merge)
            cur.execute(statements.prune)
            held = cur.execute(statements.count).fetchone()[0]
            cur.execute(statements.cleanup)
            return held
    except psycopg.OperationalError as exc:
        raise TransientError(f"target {target.name!r}: cannot reach PostgreSQL: {exc}") from exc
    except psycopg.errors.CardinalityViolation as exc:  # a staged key matching an existing row twice
        raise TargetError(f"target {target.name!r}: table {target.table}: duplicate keys within one load: {exc}") from exc
    except psycopg.Error as exc:
        raise TargetError(f"target {target.name!r}: table {target.table}: {exc}") from exc
