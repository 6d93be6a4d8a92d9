"""PostgreSQL's binary COPY format for the PostgreSQL target, where it stores exactly what CSV would.

Why: PostgreSQL parses binary COPY in about 37% less time than CSV (no text to scan, no
numbers or dates to parse), and pgpq (Rust) encodes Arrow batches into it in about 60% of the
CPU pyarrow needs to write them as CSV (scale 1: 6 million rows, 4.5 s against 7.6 s).

Why it is gated: binary COPY carries no types. Each field is bytes that the destination
column's own receive function reads, so eight bytes of an int8 sent to a double precision
column load as a silently wrong number. Binary is therefore used only when every column being
copied has, in the catalog, in the load's own transaction, exactly the type whose receive
function reads what pgpq sends for the Arrow type (``_wire_type``), after widening the Arrow
integers our own DDL stores wider (``etl_core.load.warehouse_sql.column_type``: int16 into
integer). Anything else (a narrower or different column type, a domain, dictionary-encoded or
decimal256 or nanosecond values, a float32 into double precision, whose CSV text PostgreSQL
reads as the shorter decimal and binary would not) goes by CSV, as before, and PostgreSQL
converts or refuses each value as it always did.

pgpq has wheels for Linux x86_64 only: it is imported lazily, and where it is missing (the
arm64 layer) every load goes by CSV.
"""
from __future__ import annotations

import contextlib
import re
from functools import cache
from types import ModuleType
from typing import Iterator

import psycopg
import pyarrow as pa
from aws_lambda_powertools import Logger

logger = Logger(child=True)

#: The destination columns' types as PostgreSQL names them (format_type: typmod included).
_COLUMN_TYPES = """
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = to_regclass(%(table)s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname::text = ANY (%(columns)s::text[])
"""

#: PostgreSQL's integer columns and the Arrow type pgpq encodes as each (int2, int4, int8).
_INTEGERS = {"smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64()}
#: text_recv and varchar_recv read the same UTF-8 bytes; varchar_recv checks a length typmod as
#: varchar's input function does. (character(n) pads: CSV, which it always went by.)
_TEXT = re.compile(r"text|character varying(\(\d+\))?")
#: numeric_recv applies the column's typmod (rounding, overflow) as numeric_in does.
_NUMERIC = re.compile(r"numeric(\(\d+,\d+\))?")


#: Rows pgpq encodes at a time. Its output for one 64k-row batch of lineitem is ~16 MB, a fresh
#: allocation per batch (page faults, zeroing) that pgpq then copies into a Python bytes: the
#: same rows as zero-copy slices of 16k rows (~4 MB each, reused by the allocator) give the same
#: bytes for less CPU (sf1, 6 million rows, interleaved pairs on a quiet machine: Parquet read
#: and encoding alone 3.14 -> 2.77 s; the client of the whole COPY 4.24 -> 4.02 s).
ENCODE_ROWS = 16 * 1024


class EncodeError(Exception):
    """pgpq could not encode a batch (the loader names the target and table)."""


@cache
def _pgpq() -> ModuleType | None:
    """pgpq, or None where it is not installed (no wheel for the machine: the arm64 layer)."""
    try:
        import pgpq
    except ImportError:
        logger.debug("pgpq is not installed (it has wheels for x86_64 only): the PostgreSQL target loads by CSV COPY")
        return None
    return pgpq


def _fits(values: pa.DataType, column: pa.DataType) -> bool:
    """Does every value of integer type ``values`` fit integer type ``column`` (so a cast is exact)?"""
    if pa.types.is_unsigned_integer(values):
        return values.bit_width < column.bit_width
    return values.bit_width <= column.bit_width


def _wire_type(values: pa.DataType, column: str) -> tuple[pa.DataType, str] | None:
    """The Arrow type to send values of type ``values`` to a column of PostgreSQL type ``column``
    in, and the pgpq type that encodes it (checked against pgpq's own schema); None: CSV."""
    if pa.types.is_integer(values) and column in _INTEGERS and _fits(values, _INTEGERS[column]):
        sent = _INTEGERS[column]
        return sent, {16: "Int2", 32: "Int4", 64: "Int8"}[sent.bit_width]
    if pa.types.is_float64(values) and column == "double precision":
        return values, "Float8"
    if pa.types.is_float32(values) and column == "real":
        return values, "Float4"
    if pa.types.is_boolean(values) and column == "boolean":
        return values, "Bool"
    if (pa.types.is_decimal32(values) or pa.types.is_decimal64(values) or pa.types.is_decimal128(values)) \
            and _NUMERIC.fullmatch(column):
        return values, "Numeric"
    if pa.types.is_date32(values) and column == "date":
        return values, "Date"
    if pa.types.is_timestamp(values) and values.unit == "us" \
            and column == ("timestamp with time zone" if values.tz else "timestamp without time zone"):
        return values, "Timestamp"
    if (pa.types.is_string(values) or pa.types.is_large_string(values) or pa.types.is_string_view(values)) \
            and _TEXT.fullmatch(column):
        return values, "Text"
    return None


class BinaryCopy:
    """Rows of one schema encoded as binary COPY data, cast to the types the columns read."""

    def __init__(self, pgpq: ModuleType, sent: pa.Schema) -> None:
        self._pgpq = pgpq
        self.schema = sent

    def encode(self, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
        """The COPY data: header, each batch (cast first where the column is wider) in slices of
        ``ENCODE_ROWS`` rows, trailer.

        Only the encoding's own failures are EncodeErrors: one raised while ``batches`` reads the
        rows (an unreadable staged object, a dropped S3 connection) passes as it was raised, so
        it is not reported as rows that cannot be encoded."""
        with _encoding():
            encoder = self._pgpq.ArrowToPostgresBinaryEncoder(self.schema)
            header = encoder.write_header()
        yield header
        for batch in batches:
            with _encoding():
                batch = batch if batch.schema.equals(self.schema) else batch.cast(self.schema)
            for start in range(0, batch.num_rows, ENCODE_ROWS):
                with _encoding():
                    piece = encoder.write_batch(batch.slice(start, ENCODE_ROWS))
                yield piece
        with _encoding():
            trailer = encoder.finish()
        yield trailer


@contextlib.contextmanager
def _encoding() -> Iterator[None]:
    """pgpq's and Arrow's failures while encoding (a value the column's type cannot hold) as EncodeError."""
    try:
        yield
    except (ValueError, pa.ArrowException) as exc:
        raise EncodeError(f"cannot encode the rows for binary COPY: {exc}") from exc


def binary_copy(cur: psycopg.Cursor, table: str, schema: pa.Schema) -> BinaryCopy | None:
    """How to send rows of ``schema`` to ``table`` (a quoted name) in binary, or None: by CSV.

    The column types are read in ``cur``'s transaction, so they are the types the COPY writes to
    (a table this transaction created, or one that was there)."""
    pgpq = _pgpq()
    if pgpq is None:
        return None
    columns = dict(cur.execute(_COLUMN_TYPES, {"table": table, "columns": schema.names}).fetchall())
    fields, expected = [], []
    for field in schema:
        wire = _wire_type(field.type, columns[field.name]) if field.name in columns else None
        if wire is None:
            logger.debug("CSV COPY: no exact binary encoding", extra={
                "table": table, "column": field.name, "arrow_type": str(field.type), "column_type": columns.get(field.name)})
            return None
        fields.append(field.with_type(wire[0]))
        expected.append(wire[1])
    sent = pa.schema(fields)
    try:
        encoded = [type(c.data_type).__name__ for c in pgpq.ArrowToPostgresBinaryEncoder(sent).schema().columns]
    except ValueError:
        encoded = []
    if encoded != expected:
        logger.debug("CSV COPY: pgpq encodes other types", extra={"table": table, "pgpq": encoded, "expected": expected})
        return None
    logger.debug("binary COPY", extra={"table": table})
    return BinaryCopy(pgpq, sent)
