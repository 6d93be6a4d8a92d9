"""The rows a loader writes, read batch by batch so a load's memory does not grow with the run.

Loaders get ``Rows``: the run's validated Parquet with the pipeline-internal columns
dropped and the run id stamped, re-readable (a key check and the write are two passes over
the file, never one table in memory). A ``pa.Table`` is accepted wherever ``Rows`` is, for
callers that already hold their rows (tests, small lookups).
"""
from __future__ import annotations

from typing import Callable, Iterator

import pyarrow as pa

from etl_core.fingerprint import publishable_names
from etl_core.storage import ParquetParts

RUN_COLUMN = "etl_run_id"

#: (columns, or None for all) -> the rows' batches, from the first row.
Reader = Callable[[list[str] | None], Iterator[pa.RecordBatch]]


def _stamp(run_id: str, rows: int) -> pa.Array:
    return pa.repeat(pa.scalar(run_id, pa.string()), rows)


class _Stamps:
    """The run id column for batch after batch: slices of one repeated array, made again only when
    a batch is longer than any before, instead of the run id copied into a new array per batch."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id
        self._column = _stamp(run_id, 0)

    def of(self, rows: int) -> pa.Array:
        if rows > len(self._column):
            self._column = _stamp(self._run_id, rows)
        return self._column.slice(0, rows)


class Rows:
    """Rows read in batches, as many times as a loader needs; see the module docstring."""

    def __init__(self, schema: pa.Schema, num_rows: int, read: Reader, stamped: str | None = None) -> None:
        self.schema = schema
        self.num_rows = num_rows
        self._read = read
        #: The run id every row's ``RUN_COLUMN`` holds when this class stamped it (None: the rows
        #: brought their own values, or have none), so a loader knows every row's run unread.
        self.stamped = stamped

    @classmethod
    def of(cls, rows: "Rows | pa.Table", run_id: str | None = None) -> "Rows":
        """``rows`` itself, or a table's rows in its own batches (stamped with ``run_id`` if it has none)."""
        if isinstance(rows, Rows):
            return rows
        table, stamped = rows, None
        if run_id is not None and RUN_COLUMN not in table.column_names:
            table, stamped = table.append_column(RUN_COLUMN, _stamp(run_id, table.num_rows)), run_id
        return cls(table.schema, table.num_rows, lambda columns: iter((table.select(columns) if columns else table).to_batches()),
                   stamped)

    @classmethod
    def validated(cls, uri: str, run_id: str) -> "Rows":
        """The run's valid rows as every target gets them: internal columns dropped, the run id
        added (``RUN_COLUMN``) for lineage."""
        parts = ParquetParts(uri)
        names = publishable_names(parts.schema)
        schema = pa.schema([parts.schema.field(n) for n in names]).append(pa.field(RUN_COLUMN, pa.string()))

        def read(columns: list[str] | None) -> Iterator[pa.RecordBatch]:
            stored = [c for c in (columns or schema.names) if c != RUN_COLUMN]
            stamps = _Stamps(run_id) if columns is None or RUN_COLUMN in columns else None
            for table in parts.batches(stored):
                if stamps is not None:
                    table = table.append_column(RUN_COLUMN, stamps.of(table.num_rows))
                yield from table.select(columns or schema.names).to_batches()

        return cls(schema, parts.num_rows, read, run_id)

    @property
    def column_names(self) -> list[str]:
        return self.schema.names

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Every row once more, in order; only ``columns`` if given."""
        return self._read(columns)
