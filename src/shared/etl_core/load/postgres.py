"""PostgreSQL target (RDS, or the embedded server locally): COPY into staging, then upsert.

Everything happens in one transaction: the rows land in a temporary table by COPY (fast),
then ``INSERT ... ON CONFLICT (key) DO UPDATE`` merges them, so a crash leaves the table as
it was and a re-run replaces the same keys instead of duplicating them. Identifiers are
quoted with psycopg.sql and values travel through COPY, never through SQL text.
"""
from __future__ import annotations

import io

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from etl_core.errors import TargetError, TransientError
from etl_core.settings import Settings
from etl_core.spec import PostgresTarget


def pg_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_int32(arrow_type) or pa.types.is_int16(arrow_type):
        return "integer"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"numeric({arrow_type.precision},{arrow_type.scale})"
    return "text"


def conninfo(settings: Settings) -> str:
    """A DSN from WAREHOUSE_DSN, or built from the Secrets Manager secret (RDS's JSON shape)."""
    if settings.warehouse_dsn:
        return settings.warehouse_dsn
    if settings.warehouse_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(settings.warehouse_secret_arn, transform="json", max_age=300)
        return psycopg.conninfo.make_conninfo(
            host=secret["host"],
            port=secret.get("port", 5432),
            dbname=secret.get("dbname", "postgres"),
            user=secret["username"],
            password=secret["password"],
        )
    raise TargetError("a postgres target needs WAREHOUSE_DSN or WAREHOUSE_SECRET_ARN in the load function's environment")


def _table_ident(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def upsert(rows: pa.Table, target: PostgresTarget, settings: Settings) -> int:
    missing = [k for k in target.key if k not in rows.column_names]
    if missing:
        raise TargetError(f"target {target.name!r}: key column(s) {missing} not in the rows' columns {rows.column_names}")
    table = _table_ident(target.table)
    columns = [sql.Identifier(c) for c in rows.column_names]
    column_defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(pg_type(f.type))) for f in rows.schema
    )
    key = sql.SQL(", ").join(sql.Identifier(k) for k in target.key)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in rows.column_names if c not in target.key
    )
    buffer = io.BytesIO()
    pacsv.write_csv(rows, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    try:
        with psycopg.connect(conninfo(settings), connect_timeout=10) as conn, conn.cursor() as cur:
            if "." in target.table:
                cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.table.split(".")[0])))
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))").format(table, column_defs, key)
            )
            cur.execute(sql.SQL("CREATE TEMP TABLE etl_staging (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(table))
            with cur.copy(
                sql.SQL("COPY etl_staging ({}) FROM STDIN (FORMAT csv)").format(sql.SQL(", ").join(columns))
            ) as copy:
                copy.write(buffer.getvalue())
            cur.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM etl_staging ON CONFLICT ({}) DO UPDATE SET {}").format(
                    table, sql.SQL(", ").join(columns), sql.SQL(", ").join(columns), key, updates
                )
            )
            return rows.num_rows
    except psycopg.OperationalError as exc:
        raise TransientError(f"target {target.name!r}: cannot reach PostgreSQL: {exc}") from exc
    except psycopg.errors.InvalidColumnReference as exc:
        raise TargetError(
            f"target {target.name!r}: table {target.table} has no unique constraint on {target.key}: {exc}"
        ) from exc
    except psycopg.Error as exc:
        raise TargetError(f"target {target.name!r}: table {target.table}: {exc}") from exc
