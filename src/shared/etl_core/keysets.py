"""Run-wide key sets out of core: the run's key columns in Parquet on /tmp, compared by DuckDB
within a memory limit.

``unique``, ``dedupe``, ``references`` and ``count_distinct`` compare each row with every other
row of the run. Held as Arrow tables their key sets grow with the input (60 million keys at
TPC-H scale 10: gigabytes), so a function's memory would grow with the data. Here the run's
key columns are written, batch by batch, to Parquet files in a temporary folder (pyarrow
writes them at hundreds of MB/s; inserting into a DuckDB table costs about ten times more,
and its not yet checkpointed blocks cannot be evicted, so a query over them fails at the
limit instead of spilling). The comparisons are SQL over those files, hash aggregates and
joins that DuckDB spills to the same folder beyond ``Settings.spill_memory_mb``. What comes
back to Python is what the rules report: the failing rows (repeats, superseded rows, missing
references) or one row per group, and large results are read back from Parquet in batches.

DuckDB ships with the functions that use this (Plan, Transform, Validate, Load); it is
imported on first use, so a run without these rules never loads it.
"""
from __future__ import annotations

import contextlib
import tempfile
from array import array
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from etl_core.arrays import positions
from etl_core.settings import Settings

#: The run row (0-based, in the order the rows are judged) of each row appended to a key set.
ROW = "_etl_row"

#: Rows gathered before one Parquet write: few row groups, and a bounded buffer.
_WRITE_ROWS = 128 * 1024

#: Key columns compress well and are read once or twice: a light codec.
_WRITE = {"compression": "lz4", "use_dictionary": False, "write_statistics": False}


class KeySets:
    """Key sets (Parquet files) and the DuckDB that compares them, in one temporary folder; close() removes it."""

    def __init__(self, settings: Settings) -> None:
        import duckdb

        self._folder = tempfile.TemporaryDirectory(prefix="etl-keysets-", dir=settings.spill_dir or None)
        self.folder = Path(self._folder.name)
        self.con = duckdb.connect(config={
            "memory_limit": f"{settings.spill_memory_mb}MB",
            "temp_directory": str(self.folder / "spill"),
            "preserve_insertion_order": False,
        })
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")  # it would print to the function's stdout
        self._rows: dict[str, int] = {}
        self._files: dict[str, list[Path]] = {}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._pending: dict[str, list[pa.Table]] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._results = 0

    def create(self, name: str, schema: pa.Schema) -> None:
        """A key set ``name`` of ``schema``'s columns (renamed c0, c1, ...) and the run row ``ROW``."""
        self._rows[name] = 0
        self._files[name] = []
        self._pending[name] = []
        self._schemas[name] = _renamed(schema.empty_table(), 0).schema
        self._writer(name)

    def append(self, name: str, batch: pa.Table, first_row: int | None = None) -> None:
        """Append a batch whose first row is run row ``first_row`` (default: right after the last batch);
        the first batch of a key set not created yet creates it."""
        if name not in self._rows:
            self.create(name, batch.schema)
        first = self._rows[name] if first_row is None else first_row
        pending = self._pending[name]
        renamed = _renamed(batch, first)
        pending.append(renamed if renamed.schema == self._schemas[name] else renamed.cast(self._schemas[name]))
        self._rows[name] = first + batch.num_rows
        if sum(t.num_rows for t in pending) >= _WRITE_ROWS:
            self._flush(name)

    def rows(self, query: str) -> list[array]:
        """The BIGINT columns a query returns, each as a compact array (its rows are the failing ones)."""
        self._publish()
        reader = self.con.sql(query).to_arrow_reader(256 * 1024)
        found = [array("q") for _ in reader.schema]
        for batch in reader:
            for values, column in zip(found, batch.columns):
                values.extend(column.to_pylist())
        return found

    def batches(self, query: str, schema: pa.Schema | None = None, rows: int = 64 * 1024) -> Iterator[pa.Table]:
        """A query's result, in batches (cast back to ``schema``: DuckDB may widen a type).

        DuckDB writes the result to a Parquet file first, which is then read back batch by batch:
        a result as large as the run never sits in memory."""
        self._publish()
        self._results += 1
        path = self.folder / f"result-{self._results}.parquet"
        self.con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)")  # nosec B608 - our own queries and file
        try:
            for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(rows):
                result = pa.Table.from_batches([batch])
                yield result.rename_columns(schema.names).cast(schema) if schema is not None else result
        finally:
            path.unlink(missing_ok=True)  # the key sets may be closed already (an error while reading)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self.con.close()
        self._folder.cleanup()

    def _writer(self, name: str) -> pq.ParquetWriter:
        if name not in self._writers:
            path = self.folder / f"{name}-{len(self._files[name])}.parquet"
            self._files[name].append(path)
            self._writers[name] = pq.ParquetWriter(path, self._schemas[name], **_WRITE)
        return self._writers[name]

    def _flush(self, name: str) -> None:
        pending = self._pending[name]
        if pending:
            table = pa.concat_tables(pending)
            self._writer(name).write_table(table)
            pending.clear()

    def _publish(self) -> None:
        """Every key set's rows so far, in finished files, under its name as a view (more appends start new files)."""
        for name in self._pending:
            self._flush(name)
        for name, writer in self._writers.items():
            writer.close()
            files = ", ".join(f"'{path}'" for path in self._files[name])
            self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet([{files}])')  # nosec B608
        self._writers.clear()


@contextlib.contextmanager
def key_sets(settings: Settings | None = None) -> Iterator[KeySets]:
    sets = KeySets(settings or Settings.from_env())
    try:
        yield sets
    finally:
        sets.close()


def columns(count: int) -> list[str]:
    """The key set columns' names in SQL: c0, c1, ..."""
    return [f"c{i}" for i in range(count)]


def _renamed(batch: pa.Table, first_row: int) -> pa.Table:
    return batch.rename_columns(columns(batch.num_columns)).append_column(ROW, positions(first_row, batch.num_rows))
