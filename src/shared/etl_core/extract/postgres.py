"""Reading a PostgreSQL query through a server-side cursor, incrementally by a watermark column.

A named (server-side) cursor makes PostgreSQL hold the result and hand it over
``batch_rows`` at a time, so memory is bounded by the batch, whatever the table size.
The high-water mark the run reaches is staged, and committed only when the run succeeds
(etl_core.source_state); the spec model's docstring gives the exact SQL.
"""
from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any, Iterator

import pyarrow as pa

from etl_core import redaction, source_state
from etl_core.aws import rds_conninfo
from etl_core.errors import SourceError, TransientError
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.records import text_value
from etl_core.settings import named_variable
from etl_core.spec.sources import PostgresSource


def _conninfo(source: PostgresSource) -> str:
    if source.secret_arn:
        return rds_conninfo(source.secret_arn)
    dsn = named_variable(source.dsn_env)
    if not dsn:
        raise SourceError(f"postgres source {source.name!r}: environment variable {source.dsn_env} (dsn_env) holds no DSN")
    redaction.register_dsn(dsn)
    return dsn


def _statement(source: PostgresSource, incremental: bool) -> Any:
    from psycopg import sql

    if not source.watermark_column:
        return sql.SQL(source.query)
    template = "SELECT * FROM ({query}) AS q {where}ORDER BY q.{col}"
    where = sql.SQL("WHERE q.{} > %(watermark)s ").format(sql.Identifier(source.watermark_column)) if incremental else sql.SQL("")
    return sql.SQL(template).format(query=sql.SQL(source.query), where=where, col=sql.Identifier(source.watermark_column))


def _positions(source: PostgresSource, names: list[str]) -> dict[str, int]:
    needed = [*source.columns, *filter(None, (source.watermark_column, source.key_column))]
    missing = [c for c in dict.fromkeys(needed) if c not in names]
    if missing:
        raise SourceError(f"postgres source {source.name!r}: the query returns no column(s) {', '.join(missing)}; it returns {names}")
    return {c: names.index(c) for c in needed}


def read_query(source: PostgresSource, ctx: ExtractContext) -> Iterator[TextBatch]:
    """Batches of the query's rows; stages the new high-water mark when there is a watermark column."""
    # psycopg ships only with the functions that talk to PostgreSQL; Plan imports this package too.
    import psycopg
    from psycopg.types.json import set_json_loads

    previous = source_state.committed_state(ctx.layout, source.name) if source.watermark_column else None
    watermark = previous["watermark"] if previous else None
    params = {"run_date": ctx.run_date, "watermark": watermark}
    high = watermark
    read = 0
    try:
        with psycopg.connect(_conninfo(source), connect_timeout=10) as conn:
            conn.read_only = True
            # json/jsonb numbers as Decimal, so ``2.50`` stays ``2.50`` when the value is written back as JSON text.
            set_json_loads(functools.partial(json.loads, parse_float=Decimal), conn)
            with conn.cursor(name=f"etl_extract_{source.name}") as cursor:
                cursor.itersize = source.batch_rows
                cursor.execute(_statement(source, watermark is not None), params)
                at = _positions(source, [d.name for d in cursor.description])
                while rows := cursor.fetchmany(source.batch_rows):
                    table = pa.table({c: pa.array([text_value(r[at[c]]) for r in rows], pa.string()) for c in source.columns})
                    if source.key_column:
                        origins = [f"postgres:{source.name}#{source.key_column}={r[at[source.key_column]]}" for r in rows]
                    else:
                        origins = [f"postgres:{source.name}#row={read + i + 1}" for i in range(len(rows))]
                    read += len(rows)
                    if source.watermark_column:  # rows come in watermark order: the last non-null is the highest
                        high = next((text_value(v) for r in reversed(rows) if (v := r[at[source.watermark_column]]) is not None), high)
                    yield TextBatch(table, origins)
    except psycopg.OperationalError as exc:
        raise TransientError(f"postgres source {source.name!r}: {exc}") from exc
    except psycopg.Error as exc:
        raise SourceError(f"postgres source {source.name!r}: the query failed: {exc}") from exc
    if source.watermark_column:
        source_state.stage_state(ctx.layout, source.name, {"watermark": high}, previous=previous)
