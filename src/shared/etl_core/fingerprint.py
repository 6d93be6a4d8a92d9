"""A fingerprint of exactly the rows a run publishes: what a load's identity is made of.

Validate computes it while it writes the valid rows, so no stage reads the data again just
to hash it, and passes it on in the execution state to every Load. A load is then the
(pipeline, run, target, fingerprint) it writes: the same rows again (a retry, a redrive, a
re-run of unchanged input) are recognised and skipped; corrected rows have another
fingerprint and replace the run's rows in every target.

Only the published columns count (``_origin`` and the other internal columns do not): a
blank line added before a row moves its origin, not its data. Each column is hashed from its
Arrow buffers, in streams that are the concatenation of one fixed encoding per row, so the
fingerprint does not depend on how the rows were cut into batches or chunks:

- validity: one byte per row (1 valid, 0 null);
- fixed-width values (integers, decimals, dates, times, floats; booleans as one byte): the
  value's bytes, a null's slot zeroed first (Arrow buffers may hold anything under a null);
- text and binary: each value's length (8 bytes), and the values' bytes one after the other
  (a null is empty);
- any other type (nested, dictionary...): each value as canonical JSON text, as above.

The final digest covers the schema and each stream's digest. No value becomes a Python
object on the way (except in the last, rare case), so hashing costs about a memory pass.
The rows come in the order Validate reads them, which is fixed by the transformed file; an
engine that returned the same rows in another order would give another fingerprint, and the
load would replace the run's rows with the same rows.
"""
from __future__ import annotations

import decimal
import hashlib
import json

import pyarrow as pa
import pyarrow.compute as pc

from etl_core.background import InOrder


def publishable_names(schema: pa.Schema) -> list[str]:
    """Pipeline-internal columns (``_origin`` ...) are not published."""
    return [name for name in schema.names if not name.startswith("_")]


_ONES = b"\x01" * (1 << 16)


def _valid_bytes(chunk: pa.Array) -> bytes | memoryview:
    if not chunk.null_count:
        return _ONES[: len(chunk)] if len(chunk) <= len(_ONES) else b"\x01" * len(chunk)
    return _values(pc.cast(pc.is_valid(chunk), pa.uint8()), 1)


def _values(chunk: pa.Array, width: int) -> memoryview:
    """The bytes of a fixed-width array's ``len(chunk)`` values (no nulls left)."""
    return memoryview(chunk.buffers()[1])[chunk.offset * width:(chunk.offset + len(chunk)) * width]


def _zero(data_type: pa.DataType) -> pa.Scalar:
    if pa.types.is_boolean(data_type):
        return pa.scalar(False)
    if pa.types.is_fixed_size_binary(data_type):
        return pa.scalar(b"\0" * data_type.byte_width, data_type)
    if pa.types.is_decimal(data_type):
        return pa.scalar(decimal.Decimal(0), data_type)
    if pa.types.is_date32(data_type) or pa.types.is_time32(data_type):
        return pa.scalar(0, pa.int32()).cast(data_type)
    return pa.scalar(0, pa.int64()).cast(data_type)


def _fixed_width(data_type: pa.DataType) -> bool:
    return any(test(data_type) for test in (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_date,
                                            pa.types.is_time, pa.types.is_timestamp, pa.types.is_duration,
                                            pa.types.is_boolean, pa.types.is_fixed_size_binary))


def _binary_like(data_type: pa.DataType) -> bool:
    return any(test(data_type) for test in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary))


def _as_json_text(chunk: pa.Array) -> pa.Array:
    """Values of any other type as canonical JSON text (nulls stay null)."""
    return pa.array([None if v is None else json.dumps(v, sort_keys=True, default=str) for v in chunk.to_pylist()], pa.string())


class _Column:
    """One column's three streams (see the module docstring)."""

    def __init__(self) -> None:
        self.valid = hashlib.sha256()
        self.lengths = hashlib.sha256()
        self.data = hashlib.sha256()

    def update(self, chunk: pa.Array) -> None:
        if isinstance(chunk, pa.DictionaryArray):
            chunk = chunk.dictionary_decode()
        data_type = chunk.type
        if not (_fixed_width(data_type) or _binary_like(data_type)):
            chunk, data_type = _as_json_text(chunk), pa.string()
        self.valid.update(_valid_bytes(chunk))
        if _binary_like(data_type):
            filled = pc.fill_null(chunk, pa.scalar(b"" if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type) else "",
                                                   data_type)) if chunk.null_count else chunk
            self.lengths.update(_values(pc.cast(pc.binary_length(filled), pa.int64()), 8))
            _, offsets, data = filled.buffers()
            large = pa.types.is_large_string(data_type) or pa.types.is_large_binary(data_type)
            width = 8 if large else 4
            bounds = _values(pa.Array.from_buffers(pa.int64() if large else pa.int32(), len(filled) + 1, [None, offsets],
                                                   offset=filled.offset), width).cast("q" if large else "i")
            if data is not None and len(filled):
                self.data.update(memoryview(data)[bounds[0]:bounds[len(filled)]])
            return
        filled = pc.fill_null(chunk, _zero(data_type)) if chunk.null_count else chunk
        if pa.types.is_boolean(data_type):
            self.data.update(_values(pc.cast(filled, pa.uint8()), 1))
        else:
            self.data.update(_values(filled, data_type.byte_width if pa.types.is_fixed_size_binary(data_type) else data_type.bit_width // 8))

    def digest(self) -> bytes:
        return self.valid.digest() + self.lengths.digest() + self.data.digest()


class RowsFingerprint:
    """Feed the published rows batch by batch; ``hexdigest`` names them all, in order.

    Hashing runs on a thread of its own (hashlib and Arrow compute release the GIL), batches in
    the order they were fed, at most ``AHEAD`` waiting, so Validate hashes on the second core
    while it judges the next batch. A hashing error is raised by the next ``update`` or by
    ``hexdigest``.
    """

    AHEAD = 2

    def __init__(self, schema: pa.Schema) -> None:
        self._names = publishable_names(schema)
        self._schema = pa.schema([schema.field(n) for n in self._names])
        self._columns = {name: _Column() for name in self._names}
        self.rows = 0
        self._hashing = InOrder("fingerprint", self.AHEAD)

    def update(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._hashing.submit(self._hash, table)
        self.rows += table.num_rows

    def _hash(self, table: pa.Table) -> None:
        for name in self._names:
            values = table.column(name)
            for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
                self._columns[name].update(chunk)

    def hexdigest(self) -> str:
        """``sha256:<hex>`` over the schema and every row fed so far."""
        self._hashing.drain()
        whole = hashlib.sha256(str(self._schema).encode())
        for name in self._names:
            whole.update(self._columns[name].digest())
        return f"sha256:{whole.hexdigest()}"
