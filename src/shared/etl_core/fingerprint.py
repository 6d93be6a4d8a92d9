"""A fingerprint of exactly the rows a run publishes: what a load's identity is made of.

Validate computes it while it writes the valid rows, so no stage reads the data again just
to hash it, and passes it on in the execution state to every Load. A load is then the
(pipeline, run, target, fingerprint) it writes: the same rows again (a retry, a redrive, a
re-run of unchanged input) are recognised and skipped; corrected rows have another
fingerprint and replace the run's rows in every target.

Only the published columns count (``_origin`` and the other internal columns do not): a
blank line added before a row moves its origin, not its data. Rows are hashed in blocks of
``BLOCK_ROWS`` whatever batches they arrive in (so the fingerprint does not depend on
Validate's batch size), each block in a canonical encoding: uncompressed Parquet without
dictionaries, from one contiguous chunk, so null slots carry no bytes (Arrow buffers may
hold anything under a null) and nothing depends on how a table happened to be chunked.
Memory is bounded by one block. The rows come in the order Validate reads them, which is
fixed by the transformed file; an engine that returned the same rows in another order would
give another fingerprint, and the load would replace the run's rows with the same rows.
"""
from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq


def publishable_names(schema: pa.Schema) -> list[str]:
    """Pipeline-internal columns (``_origin`` ...) are not published."""
    return [name for name in schema.names if not name.startswith("_")]


#: Rows per hashed block.
BLOCK_ROWS = 8 * 1024


class RowsFingerprint:
    """Feed the published rows batch by batch; ``hexdigest`` names them all, in order."""

    def __init__(self, schema: pa.Schema) -> None:
        self._names = publishable_names(schema)
        self._hash = hashlib.sha256()
        self._hash.update(str(pa.schema([schema.field(n) for n in self._names])).encode())
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.rows = 0

    def update(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._pending.append(table.select(self._names))
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= BLOCK_ROWS:
            rows = pa.concat_tables(self._pending)
            whole = rows.num_rows - rows.num_rows % BLOCK_ROWS
            for start in range(0, whole, BLOCK_ROWS):
                self._hash_block(rows.slice(start, BLOCK_ROWS))
            self._pending = [rows.slice(whole)]
            self._pending_rows = rows.num_rows - whole

    def _hash_block(self, block: pa.Table) -> None:
        buffer = pa.BufferOutputStream()
        pq.write_table(
            block.combine_chunks(),
            buffer,
            compression="none",
            use_dictionary=False,
            write_statistics=False,
            store_schema=False,
        )
        self._hash.update(buffer.getvalue())

    def hexdigest(self) -> str:
        """``sha256:<hex>`` over the schema and every row fed so far (call once, at the end)."""
        if self._pending_rows:
            self._hash_block(pa.concat_tables(self._pending))
            self._pending, self._pending_rows = [], 0
        return f"sha256:{self._hash.hexdigest()}"
