"""Which of a batch's keys a PostgreSQL target already holds (``unique ... against_target``).

The look-up goes through the same connection settings as the postgres loader
(``etl_core.load.postgres.conninfo``: WAREHOUSE_DSN or WAREHOUSE_SECRET_ARN), so Validate
sees the table Load writes. Keys travel as text arrays and are cast to the columns' own
types in the join, so the table's key index is used and no value passes through SQL text.
Rows an earlier attempt of the same run loaded (its ``etl_run_id``) are not conflicts: a
re-run or a redrive must not quarantine its own rows.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from etl_core.errors import TargetError, TransientError
from etl_core.settings import Settings
from etl_core.spec import PostgresTarget

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
"""


def keys_in_target(keys: pa.Table, target: PostgresTarget, run_id: str, settings: Settings, where: str) -> pa.Table:
    """The distinct rows of ``keys`` (as text) that ``target``'s table holds from other runs.

    ``where`` (the rule's label) starts every error, so a failed look-up names the rule.
    """
    try:
        import psycopg
        from psycopg import sql

        from etl_core.load import RUN_COLUMN
        from etl_core.load.postgres import conninfo
    except ImportError as exc:
        raise TargetError(
            f"{where}: cannot look up target {target.name!r}: this function has no PostgreSQL driver ({exc}); "
            "ship psycopg with it or drop against_target"
        ) from None
    try:
        dsn = conninfo(settings)
    except TargetError as exc:
        raise TargetError(f"{where}: cannot look up target {target.name!r}: {exc} (Validate needs it too)") from None
    text_keys = pa.table({name: pc.cast(keys.column(name), pa.string()) for name in keys.column_names})
    table = sql.Identifier(*target.table.split("."))
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn, conn.cursor() as cur:
            cur.execute(_COLUMNS, (table.as_string(conn),))
            types = dict(cur.fetchall())
            if not types:  # the first load creates the table: nothing to conflict with yet
                return text_keys.slice(0, 0)
            missing = [name for name in keys.column_names if name not in types]
            if missing:
                raise TargetError(f"{where}: table {target.table} of target {target.name!r} has no column {missing[0]!r}")
            aliases = [sql.Identifier(f"k{i}") for i in range(keys.num_columns)]
            join = sql.SQL(" AND ").join(
                sql.SQL("t.{} = k.{}::{}").format(sql.Identifier(name), alias, sql.SQL(types[name]))
                for name, alias in zip(keys.column_names, aliases)
            )
            stamped = RUN_COLUMN in types
            other_runs = sql.SQL(" WHERE t.{} IS DISTINCT FROM %s").format(sql.Identifier(RUN_COLUMN)) if stamped else sql.SQL("")
            query = sql.SQL("SELECT DISTINCT {} FROM {} AS t JOIN unnest({}) AS k({}) ON {}{}").format(
                sql.SQL(", ").join(sql.SQL("k.{}").format(a) for a in aliases),
                table,
                sql.SQL(", ").join(sql.SQL("%s::text[]") for _ in aliases),
                sql.SQL(", ").join(aliases),
                join,
                other_runs,
            )
            params = [text_keys.column(name).to_pylist() for name in keys.column_names]
            cur.execute(query, [*params, *([run_id] if stamped else [])])
            found = cur.fetchall()
    except psycopg.OperationalError as exc:
        raise TransientError(f"{where}: cannot reach PostgreSQL for target {target.name!r}: {exc}") from exc
    except psycopg.Error as exc:
        raise TargetError(f"{where}: looking up keys in {target.table} (target {target.name!r}) failed: {exc}") from exc
    return pa.table({name: pa.array([row[i] for row in found], pa.string()) for i, name in enumerate(keys.column_names)})
