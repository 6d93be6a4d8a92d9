"""The valid rows' object, written only where Validate changed something.

Most runs keep most batches as they are: no row quarantined, no value corrected, no row
deduplicated. Re-encoding such rows into a second Parquet object costs as much CPU as the
rest of Validate together, for bytes identical to the transformed object. So rows that pass
unchanged are only counted; if every batch of the run passes so, the transformed objects are
published as the valid ones (each a link or a server-side copy, under its own name, so they
are read in the same order). At the first batch that changes, the rows before it are read back
from the transformed objects and written, and from then on every batch is written: the
published objects hold the same rows either way.

Validate clears the valid prefix before it opens this (``etl_core.quality``): a previous
attempt may have published more objects than this one will.
"""
from __future__ import annotations

import pyarrow as pa

from etl_core import storage


class ValidRows:
    """A ParquetSink for the valid rows that defers writing while batches pass unchanged."""

    def __init__(self, uri: str, schema: pa.Schema, transformed: storage.ParquetParts) -> None:
        self.uri = uri
        self.schema = schema
        self.rows = 0
        self._transformed = transformed
        # Transformed objects of the same shape can stand for the valid rows.
        self._deferred: int | None = 0 if transformed.schema == schema else None
        self._sink: storage.ParquetSink | None = None

    @property
    def defers(self) -> bool:
        """Whether an unchanged batch is only counted (so its rows need not be complete)."""
        return self._deferred is not None

    def write(self, table: pa.Table, unchanged: bool) -> None:
        """Append a batch's valid rows; ``unchanged``: they are the batch's transformed rows, as read."""
        if self._deferred is not None and unchanged:
            self._deferred += table.num_rows
        else:
            self._writer().write(table)
        self.rows += table.num_rows

    def _writer(self) -> storage.ParquetSink:
        if self._sink is None:
            self._sink = storage.ParquetSink(self.uri, self.schema, row_groups_per_object=storage.ROW_GROUPS_PER_OBJECT)
            left = self._deferred or 0
            self._deferred = None
            for batch in self._transformed.batches() if left else ():
                self._sink.write(batch.slice(0, left))
                left -= min(left, batch.num_rows)
                if not left:
                    break
        return self._sink

    def __enter__(self) -> "ValidRows":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._sink is not None:
            self._sink.__exit__(exc_type, exc, tb)
        elif exc_type is None:
            if self._deferred is None:  # no batch at all, and no object to stand for them
                self._writer().close()
            else:
                folder = self.uri.rsplit("/", 1)[0]
                for source in self._transformed.objects:
                    storage.copy_object(source, storage.join(folder, source.rsplit("/", 1)[1]))
