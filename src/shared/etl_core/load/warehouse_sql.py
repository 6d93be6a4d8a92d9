"""The SQL of a warehouse load, written once for PostgreSQL and Redshift.

Both engines run the same statements: create the table if needed, create a staging table
shaped like the rows, (the loader's own COPY fills it), MERGE the staging rows into the
table on the key, drop the staging table. PostgreSQL 15+ and Redshift both accept
``MERGE INTO target USING source ON (key) WHEN MATCHED THEN UPDATE ... WHEN NOT MATCHED
THEN INSERT ...`` in the form written here (the target is not aliased, the source is a
table, SET names bare columns), so the load logic is tested once, on a real PostgreSQL.

A load replaces the run's rows: after the MERGE, the run's rows whose key the new rows no
longer have are deleted (``prune``), so a corrected re-run leaves exactly its new rows; then
``count`` says how many rows the table holds for the run, which is what the load reports.

The statements are plain text because Redshift's Data API takes text (a batch takes no
parameters). Every identifier is double-quoted here (quotes inside doubled); rows reach the
staging table only through COPY. The one value written into SQL is the run id, as a quoted
literal, and only if it is made of letters, digits and ``_.:-`` (what Plan accepts). A spec,
a column name or a run id cannot inject SQL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from etl_core.errors import TargetError
from etl_core.load.rows import RUN_COLUMN

Dialect = Literal["postgres", "redshift"]

STAGING_TABLE = "etl_staging"
_SOURCE_ALIAS = "s"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}")


def quote_ident(name: str) -> str:
    """A double-quoted identifier: the only form in which a name reaches SQL text."""
    if not name or "\x00" in name:
        raise TargetError(f"invalid SQL identifier {name!r}: it is empty or contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def run_literal(run_id: str) -> str:
    """The run id as a SQL string literal; anything but a plain run id is refused, never escaped."""
    if not _RUN_ID.fullmatch(run_id):
        raise TargetError(f"run id {run_id!r} cannot be written into SQL: use letters, digits and _ . : - only")
    return f"'{run_id}'"


def quote_table(table: str) -> str:
    """``schema.table`` or ``table`` (as the spec names it), each part quoted."""
    return ".".join(quote_ident(part) for part in table.split("."))


def column_type(arrow_type: pa.DataType, dialect: Dialect) -> str:
    """The SQL type holding an Arrow type's values exactly (strings: Redshift's TEXT would be VARCHAR(256))."""
    if pa.types.is_int32(arrow_type) or pa.types.is_int16(arrow_type) or pa.types.is_int8(arrow_type):
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
    return "text" if dialect == "postgres" else "varchar(65535)"


def _column_defs(schema: pa.Schema, dialect: Dialect) -> str:
    return ", ".join(f"{quote_ident(f.name)} {column_type(f.type, dialect)}" for f in schema)


def _names(columns: list[str], prefix: str = "") -> str:
    return ", ".join(prefix + quote_ident(c) for c in columns)


@dataclass(frozen=True)
class WarehouseLoad:
    """The statements of one load, in order: ``prepare``, then the loader's COPY into
    ``STAGING_TABLE``, then ``merge``, ``prune``, ``count`` (one row: the run's rows in the
    table), then ``cleanup`` — all in one transaction.

    ``prepare`` is ``create`` (schema and table) then ``stage`` (the staging table), so a
    loader that can COPY straight into the table (PostgreSQL, see etl_core.load.postgres)
    runs ``create``, ``delete_run`` (the run's rows go), its COPY into the table, and the
    staging statements only when the rows collide with other runs' rows. A table that does
    not exist yet is made by ``create_unkeyed`` and gets its key by ``add_key`` after the COPY:
    one index build by sort instead of an index insert per row."""

    create: list[str]
    stage: str
    merge: str
    prune: str
    count: str
    cleanup: str
    delete_run: str
    create_unkeyed: list[str]
    add_key: str
    #: PostgreSQL only, for a table this load creates when the run column is the rows' last
    #: (empty otherwise): ``create_unkeyed`` without the run column, and ``stamp_run``, which
    #: adds it after the COPY with the run id as every existing row's value (a "fast default",
    #: kept in the catalog, not in each row: etl_core.load.postgres) and then drops the
    #: default, so the table ends exactly as ``create_unkeyed`` would have made it.
    create_unstamped: list[str] = field(default_factory=list)
    stamp_run: list[str] = field(default_factory=list)

    @property
    def prepare(self) -> list[str]:
        return [*self.create, self.stage]


def warehouse_load(table: str, schema: pa.Schema, key: list[str], dialect: Dialect, run_id: str) -> WarehouseLoad:
    """The statements replacing run ``run_id``'s rows of ``table`` by rows of ``schema``, merged on ``key``.

    The staging table has the rows' columns in the rows' order (Redshift's COPY from Parquet
    maps columns by position); the table is created with them if it does not exist yet.
    """
    columns = schema.names
    missing = [k for k in [*key, RUN_COLUMN] if k not in columns]
    if missing:
        raise TargetError(f"table {table}: key column(s) {missing} not in the rows' columns {columns}")
    target = quote_table(table)
    staging = quote_ident(STAGING_TABLE)
    source = quote_ident(_SOURCE_ALIAS) + "."
    schemas = [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(table.split('.')[0])}"] if "." in table else []
    create = [*schemas, f"CREATE TABLE IF NOT EXISTS {target} ({_column_defs(schema, dialect)}, PRIMARY KEY ({_names(key)}))"]
    on = " AND ".join(f"{target}.{quote_ident(k)} = {source}{quote_ident(k)}" for k in key)
    # A table of key columns only still needs an UPDATE action: Redshift requires both clauses.
    updated = [c for c in columns if c not in key] or key
    merge = (
        f"MERGE INTO {target} USING {staging} AS {quote_ident(_SOURCE_ALIAS)} ON {on}"  # nosec B608 - names only, each quoted by quote_ident/quote_table; values never reach SQL text (COPY)
        f" WHEN MATCHED THEN UPDATE SET {', '.join(f'{quote_ident(c)} = {source}{quote_ident(c)}' for c in updated)}"
        f" WHEN NOT MATCHED THEN INSERT ({_names(columns)}) VALUES ({_names(columns, source)})"
    )
    this_run = f"{target}.{quote_ident(RUN_COLUMN)} = {run_literal(run_id)}"
    prune = (
        f"DELETE FROM {target} WHERE {this_run}"  # nosec B608 - quoted names and run_literal, which refuses all but a plain run id
        f" AND NOT EXISTS (SELECT 1 FROM {staging} AS {quote_ident(_SOURCE_ALIAS)} WHERE {on})"
    )
    count = f"SELECT count(*) FROM {target} WHERE {this_run}"  # nosec B608 - quoted names and run_literal (see prune)
    return WarehouseLoad(
        create=create,
        stage=f"CREATE TEMP TABLE {staging} ({_column_defs(schema, dialect)})",
        merge=merge,
        prune=prune,
        count=count,
        cleanup=f"DROP TABLE {staging}",
        delete_run=f"DELETE FROM {target} WHERE {this_run}",  # nosec B608 - quoted names and run_literal (see prune)
        create_unkeyed=[*schemas, f"CREATE TABLE {target} ({_column_defs(schema, dialect)})"],
        add_key=f"ALTER TABLE {target} ADD PRIMARY KEY ({_names(key)})",
        **_stamped_later(target, schemas, schema, run_id, dialect),
    )


def _stamped_later(target: str, schemas: list[str], schema: pa.Schema, run_id: str, dialect: Dialect) -> dict[str, list[str]]:
    """``create_unstamped`` and ``stamp_run`` of WarehouseLoad (PostgreSQL, the run column last), else nothing."""
    if dialect != "postgres" or schema.names[-1] != RUN_COLUMN:
        return {}
    run = quote_ident(RUN_COLUMN)
    return {
        "create_unstamped": [*schemas, f"CREATE TABLE {target} ({_column_defs(pa.schema(list(schema)[:-1]), dialect)})"],
        "stamp_run": [
            f"ALTER TABLE {target} ADD COLUMN {run} {column_type(schema.field(RUN_COLUMN).type, dialect)} DEFAULT {run_literal(run_id)}",
            f"ALTER TABLE {target} ALTER COLUMN {run} DROP DEFAULT",
        ],
    }
