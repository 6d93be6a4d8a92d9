"""A fingerprint of exactly the rows a run publishes: what a load's identity is made of.

Validate computes it while it writes the valid rows, so no stage reads the data again just
to hash it, and passes it on in the execution state to every Load. A load is then the
(pipeline, run, target, fingerprint) it writes: the same rows again (a retry, a redrive, a
re-run of unchanged input) are recognised and skipped; corrected rows have another
fingerprint and replace the run's rows in every target.

Only the published columns count (``_origin`` and the other internal columns do not): a
blank line added before a row moves its origin, not its data. Each batch is hashed in a
canonical encoding, uncompressed Parquet without dictionaries: null slots carry no bytes
(Arrow buffers may hold anything under a null) and the framing does not depend on how a
table happens to be chunked. The batches come in the order Validate reads them, which is
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


class RowsFingerprint:
    """Feed the published rows batch by batch; ``hexdigest`` names them all, in order."""

    def __init__(self, schema: pa.Schema) -> None:
        self._names = publishable_names(schema)
        self._hash = hashlib.sha256()
        self._hash.update(str(pa.schema([schema.field(n) for n in self._names])).encode())
        self.rows = 0

    def update(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        buffer = pa.BufferOutputStream()
        pq.write_table(
            table.select(self._names),
            buffer,
            compression="none",
            use_dictionary=False,
            write_statistics=False,
            store_schema=False,
        )
        self._hash.update(buffer.getvalue())
        self.rows += table.num_rows

    def hexdigest(self) -> str:
        """``sha256:<hex>`` over the schema and every row fed so far."""
        return f"sha256:{self._hash.hexdigest()}"
