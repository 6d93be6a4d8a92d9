"""The yardsticks the pipeline benchmark measures the project against (issue 14 item 1).

``baseline``: what a person would write by hand for the same job, with no state machine,
no rules, no quarantine, no origins: DuckDB runs the lineitem pipeline's own transform SQL
(bench/pipelines/lineitem.sql) over the CSV, and its Arrow batches go, one after another,
as CSV into PostgreSQL's ``COPY ... FROM STDIN`` (sent on psycopg's writer thread, so
PostgreSQL parses while the next batch is made) and into one Parquet writer per
``l_shipyear`` partition.

``copy``: PostgreSQL's own ``COPY ... FROM 'file'`` of the rows already transformed (a CSV
DuckDB writes before the clock starts), the server reading the file itself.

Both end with a table defined exactly as the project's target table (same columns and types,
the run id column, the primary key on the key), the fastest way: created without the key,
COPY, then the primary key added (one index build; stage ``key``), so all three do the same
work in PostgreSQL.
"""
from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml
from psycopg.copy import QueuedLibpqWriter

PIPELINES = Path(__file__).resolve().parent / "pipelines"
RUN_ID = "2026-11-26"
PARTITION = "l_shipyear"
_DUCKDB_TYPES = {"int64": "BIGINT", "int32": "INTEGER", "string": "VARCHAR", "date": "DATE"}


def _duckdb_type(spec_type: str) -> str:
    return spec_type.upper() if spec_type.startswith("decimal") else _DUCKDB_TYPES[spec_type]


def transformed_query(con: duckdb.DuckDBPyConnection, csv: Path) -> str:
    """The pipeline's transform SQL over the CSV, typed as the spec's columns; no ``_origin``
    (the SQL selects it: it is given as NULL here and dropped), the run id added."""
    spec = yaml.safe_load((PIPELINES / "lineitem.yaml").read_text())
    columns = {name: _duckdb_type(kind) for name, kind in spec["sources"][0]["columns"].items()}
    con.execute(f"CREATE OR REPLACE VIEW lineitem AS SELECT *, NULL::VARCHAR AS _origin "
                f"FROM read_csv({str(csv)!r}, header = true, columns = {columns!r})")
    sql = (PIPELINES / spec["transform"]["sql"]).read_text()
    return f"SELECT * EXCLUDE (_origin), '{RUN_ID}' AS etl_run_id FROM ({sql})"  # nosec B608 - the bench's own SQL file


def _statements(table: str, schema: pa.Schema):
    from etl_core.load.warehouse_sql import warehouse_load

    return warehouse_load(table, schema, ["l_orderkey", "l_linenumber"], "postgres", RUN_ID)


def create_target(dsn: str, table: str, schema: pa.Schema) -> None:
    """The table as the project's loader creates it on a first load (same DDL), empty, its key not yet added."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in _statements(table, schema).create_unkeyed:
            conn.execute(statement)


def _add_key(cur: psycopg.Cursor, table: str, schema: pa.Schema, stages: dict) -> None:
    started = time.perf_counter()
    cur.execute(_statements(table, schema).add_key)
    stages["key"] = time.perf_counter() - started


def write_transformed_csv(csv: Path, out: Path) -> int:
    """The transformed rows as CSV for the ``copy`` contender (not timed); their count."""
    con = duckdb.connect()
    query = transformed_query(con, csv)
    con.execute(f"COPY ({query}) TO {str(out)!r} (FORMAT csv, HEADER false)")
    return con.execute(f"SELECT count(*) FROM read_csv({str(out)!r}, header = false)").fetchone()[0]


def transformed_schema(csv: Path) -> pa.Schema:
    con = duckdb.connect()
    return con.sql(f"SELECT * FROM ({transformed_query(con, csv)}) LIMIT 0").to_arrow_reader().schema


class _Partitions:
    """One Parquet file per partition value, opened on its first row."""

    def __init__(self, root: Path, schema: pa.Schema) -> None:
        self.root = root
        self.schema = pa.schema([f for f in schema if f.name != PARTITION])
        self.writers: dict[Any, pq.ParquetWriter] = {}

    def write(self, batch: pa.RecordBatch) -> None:
        keys = batch.column(PARTITION)
        data = batch.drop_columns([PARTITION])
        for value in pc.unique(keys).to_pylist():
            if value not in self.writers:
                folder = self.root / f"{PARTITION}={value}"
                folder.mkdir(parents=True, exist_ok=True)
                self.writers[value] = pq.ParquetWriter(folder / "part-0.parquet", self.schema)
            self.writers[value].write_batch(data.filter(pc.equal(keys, value)))

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def run_baseline(csv: Path, dsn: str, table: str, lake: Path) -> dict:
    """DuckDB SQL -> COPY + partitioned Parquet; seconds per stage and the rows loaded."""
    stages = {"query": 0.0, "copy": 0.0, "parquet": 0.0, "key": 0.0}
    started = time.perf_counter()
    con = duckdb.connect()
    reader = con.sql(transformed_query(con, csv)).to_arrow_reader(batch_size=64 * 1024)
    partitions = _Partitions(lake, reader.schema)
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    rows = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        names = ", ".join(f'"{name}"' for name in reader.schema.names)
        with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)", writer=QueuedLibpqWriter(cur)) as copy:
            while True:
                mark = time.perf_counter()
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                fetched = time.perf_counter()
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, write_options=options)
                copy.write(buffer.getvalue())
                copied = time.perf_counter()
                partitions.write(batch)
                rows += batch.num_rows
                stages["query"] += fetched - mark
                stages["copy"] += copied - fetched
                stages["parquet"] += time.perf_counter() - copied
            mark = time.perf_counter()
        partitions.close()
        stages["copy"] += time.perf_counter() - mark  # the writer thread's last batches, and COPY's end
        _add_key(cur, table, reader.schema, stages)
        held = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # nosec B608 - the bench's own table name
    return {"rows": rows, "loaded": held, "stages": stages, "total_seconds": time.perf_counter() - started}


def run_copy(transformed: Path, dsn: str, table: str, schema: pa.Schema) -> dict:
    """PostgreSQL's own COPY of the transformed rows: the server reads the file (or, where this
    role may not read server files, the same bytes streamed through COPY FROM STDIN)."""
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        try:
            cur.execute(f"COPY {table} FROM {str(transformed)!r} (FORMAT csv)")  # nosec B608 - the bench's own paths
            how = "COPY FROM file"
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
            with open(transformed, "rb") as source, cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
            how = "COPY FROM STDIN"
        stages = {"copy": time.perf_counter() - started}
        _add_key(cur, table, schema, stages)
    held = _count(dsn, table)
    return {"rows": held, "loaded": held, "how": how, "stages": stages, "total_seconds": time.perf_counter() - started}


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # nosec B608 - the bench's own table name
