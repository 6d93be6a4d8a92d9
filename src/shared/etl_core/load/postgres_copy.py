"""COPY of a load's rows into a PostgreSQL table: batch by batch, binary where exact, on a sending thread.

Its own module so that every way of loading a PostgreSQL table sends rows the same way,
whichever connection it sends them on: one connection in one transaction
(etl_core.load.postgres), or several for a large first load (etl_core.load.postgres_first_load).
"""
from __future__ import annotations

import io
import os
import socket
from typing import Iterator

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.copy import QueuedLibpqWriter

from etl_core.load.binary_copy import binary_copy
from etl_core.load.rows import Rows
from etl_core.load.warehouse_sql import STAGING_TABLE, quote_ident

#: Bytes of COPY data the kernel may hold for PostgreSQL on a Unix-domain socket (see ``widen_send_buffer``).
SEND_BUFFER_BYTES = 4 * 1024 * 1024

#: Pieces of COPY data (psycopg sends at most 128 KB at a time) waiting for the sending thread.
QUEUED_PIECES = 64


class SendQueue(QueuedLibpqWriter):
    """psycopg's queued writer (a thread sends while the next batch is read and encoded) with a
    queue of ``QUEUED_PIECES`` (8 MB) instead of 1,024 (128 MB).

    PostgreSQL parses slower than the client reads and encodes (scale 1: about 9 s of server CPU
    against 4), so the queue is always full: at psycopg's size it held 128 MB of encoded rows for
    the whole COPY, which the server takes in order anyway. A short queue keeps the server as
    busy, as 64 pieces are far more than it consumes while the client encodes the next batch.
    Chunks are written as memoryviews, so psycopg's 128 KB pieces are views of the encoded batch,
    not copies of it.
    """

    def __init__(self, cursor: psycopg.Cursor) -> None:
        super().__init__(cursor)
        self._queue = type(self._queue)(maxsize=QUEUED_PIECES)  # psycopg's own (interruptible) queue class


def widen_send_buffer(fd: int) -> None:
    """Let the kernel hold ``SEND_BUFFER_BYTES`` of COPY data on a Unix-domain socket (as far as
    ``net.core.wmem_max`` allows; the kernel clamps it).

    The sending thread needs the GIL to push each piece, and the GIL is mostly held by the
    threads that read and encode the rows (pgpq keeps it while it encodes, about 8 ms for 16k
    rows of lineitem). A Unix socket's default buffer (208 KB) is about 1,100 such rows, which a
    backend parses in a couple of milliseconds, then it waits for the sender to get the GIL back:
    each backend of a two-connection first load sat idle half the time. With 4 MB it has rows
    queued for as long as the sender waits (scale 1, the warehouse load alone, 3 interleaved
    pairs: COPY 7.9-8.3 -> 6.2-6.6 s, and less CPU on both sides, fewer wake-ups). A TCP socket
    (RDS) is left alone: Linux sizes its buffer as the connection needs (up to 4 MB), and setting
    it would stop that.
    """
    with socket.socket(fileno=os.dup(fd)) as sock:  # a duplicate: closing it leaves the connection's socket open
        if sock.family == socket.AF_UNIX and sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < SEND_BUFFER_BYTES:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


def copy_rows(cur: psycopg.Cursor, rows: Rows | pa.Table, table: str = "", *,
               columns: list[str] | None = None, freeze: bool = False) -> int:
    """Stream the rows (only ``columns`` if given) into ``table`` (a quoted name; default the
    staging table), one record batch at a time: in PostgreSQL's binary format where every
    column's type takes exactly what pgpq encodes (etl_core.load.binary_copy), else as CSV.
    ``freeze``: COPY FREEZE, for a table created in this transaction.

    The queued writer sends on its own thread (its queue is bounded), so reading and encoding
    the next batch overlaps PostgreSQL parsing the last one. Returns the rows PostgreSQL says
    the COPY stored.
    """
    rows = Rows.of(rows)
    into = table or quote_ident(STAGING_TABLE)
    schema = pa.schema([rows.schema.field(c) for c in columns]) if columns else rows.schema
    binary = binary_copy(cur, into, schema)
    statement = (f"COPY {into} ({', '.join(quote_ident(c) for c in schema.names)}) "
                 f"FROM STDIN (FORMAT {'binary' if binary else 'csv'}{', FREEZE' if freeze else ''})")
    batches = rows.batches(columns)
    chunks = binary.encode(batches) if binary else _csv(batches)
    widen_send_buffer(cur.connection.fileno())
    with cur.copy(statement, writer=SendQueue(cur)) as copy:
        for chunk in chunks:
            copy.write(memoryview(chunk))
    return cur.rowcount


def _csv(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """The batches as CSV, as PostgreSQL's COPY reads it."""
    # "needed" quotes every string (so "" stays an empty string and an unquoted empty field is
    # NULL, as PostgreSQL's CSV reads them) and leaves numbers and dates bare: 14% fewer bytes to parse.
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in batches:
        buffer = io.BytesIO()
        pacsv.write_csv(batch, buffer, write_options=options)
        yield buffer.getvalue()


