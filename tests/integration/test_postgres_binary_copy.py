"""The PostgreSQL target's binary COPY (pgpq) on a real server: it stores exactly what the CSV
COPY stores, and is used only where every column's type reads exactly what pgpq sends."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
import os
import socket
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

import etl_core.load.postgres_copy as postgres_copy
from etl_core.errors import TargetError
from etl_core.load import binary_copy
from etl_core.load.postgres import upsert
from etl_core.settings import Settings
from etl_core.spec import PostgresTarget

pytest.importorskip("pgpq")  # the arm64 layer has no pgpq; there every load is CSV (tested below with it hidden)

RUN = "2026-12-01"
UTC = dt.timezone.utc
PARIS = dt.timezone(dt.timedelta(hours=1))
TEXTS = ['quote " and, comma', "new\nline\r\nand\ttab", "back\\slash \\N \\.", "ünïcødé ✓ 𝄞 日本", "", "NULL", ",", '"']
N = len(TEXTS) + 1  # the last row: NULL in every column but the key


def _column(values: list, arrow_type: pa.DataType) -> pa.Array:
    """``values`` cycled to N-1 rows, then a NULL."""
    return pa.array([values[i % len(values)] for i in range(N - 1)] + [None], arrow_type)


ROWS = pa.table({
    "id": pa.array(range(1, N + 1), pa.int64()),
    "i8": _column([-128, 0, 127], pa.int8()),
    "i16": _column([-32768, 0, 32767], pa.int16()),
    "i32": _column([-2**31, 0, 2**31 - 1, 7], pa.int32()),
    "i64": _column([-2**63, 0, 2**63 - 1, -1], pa.int64()),
    "u8": _column([0, 255], pa.uint8()),
    "u16": _column([0, 65535], pa.uint16()),
    "u32": _column([0, 2**32 - 1], pa.uint32()),
    "f64": _column([math.nan, math.inf, -math.inf, -0.0, 0.1, 1e308, 5e-324, -2.5], pa.float64()),
    "ok": _column([True, False], pa.bool_()),
    "d18_2": _column([Decimal("-0.01"), Decimal("0.00"), Decimal("99999999999999.99"), Decimal("-99999999999999.99"),
                      Decimal("1.50"), Decimal("10.00")], pa.decimal128(18, 2)),
    "d10_4": _column([Decimal("-0.0001"), Decimal("0.0000"), Decimal("999999.9999"), Decimal("-1.2300")], pa.decimal128(10, 4)),
    "d38_10": _column([Decimal("9999999999999999999999999999.9999999999"), Decimal("-0.0000000001"), Decimal("0E-10"),
                       Decimal("-1234567890123456789012345678.1234567890")], pa.decimal128(38, 10)),
    "d9_0": _column([Decimal("0"), Decimal("-999999999"), Decimal("10000")], pa.decimal32(9, 0)),
    "d18_6": _column([Decimal("-1.000001"), Decimal("123456789012.345678")], pa.decimal64(18, 6)),
    "day": _column([dt.date(1, 1, 1), dt.date(1900, 2, 28), dt.date(1969, 12, 31), dt.date(1970, 1, 1),
                    dt.date(1999, 12, 31), dt.date(2000, 1, 1), dt.date(2000, 2, 29), dt.date(9999, 12, 31)], pa.date32()),
    "at": _column([dt.datetime(1969, 7, 20, 20, 17, 40, 1), dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
                   dt.datetime(2000, 1, 1), dt.datetime(1900, 1, 1, 0, 0, 0, 500)], pa.timestamp("us")),
    "at_utc": _column([dt.datetime(1969, 12, 31, 23, 59, 59, 999999, UTC), dt.datetime(2026, 11, 26, 10, tzinfo=UTC),
                       dt.datetime(1901, 3, 4, 5, 6, 7, 8, UTC)], pa.timestamp("us", tz="UTC")),
    "at_paris": _column([dt.datetime(1999, 6, 1, 12, tzinfo=PARIS)], pa.timestamp("us", tz="Europe/Paris")),
    "note": _column(TEXTS, pa.string()),
    "big_note": _column(list(reversed(TEXTS)), pa.large_string()),
})
def target(table: str) -> PostgresTarget:
    return PostgresTarget(name="wh", type="postgres", table=table, key=["id"])


TARGET = target("analytics.typed")


def settings_for(dsn: str) -> Settings:
    return dataclasses.replace(Settings.from_env(), warehouse_dsn=dsn, warehouse_secret_arn="")


def fetch(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def as_text(dsn: str, table: str) -> list[str]:
    """Every row as PostgreSQL writes it as text (numeric scale, float digits, -0, NaN included), in key order."""
    return [r[0] for r in fetch(dsn, f"SELECT t::text FROM {table} AS t ORDER BY 1")]


@pytest.fixture
def formats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The format of every COPY the loader sends ('binary' or 'csv'), in order."""
    sent: list[str] = []

    def spy(cur, table, schema):
        chosen = binary_copy.binary_copy(cur, table, schema)
        sent.append("binary" if chosen else "csv")
        return chosen
    monkeypatch.setattr(postgres_copy, "binary_copy", spy)
    return sent


@pytest.fixture
def csv_only(monkeypatch: pytest.MonkeyPatch):
    """``with csv_only():`` hides pgpq, as on the arm64 layer: every COPY within is CSV."""
    @contextlib.contextmanager
    def hidden():
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "pgpq", None)  # import pgpq raises ImportError
            binary_copy._pgpq.cache_clear()
            try:
                yield
            finally:
                binary_copy._pgpq.cache_clear()
    return hidden


def test_binary_copy_stores_exactly_what_csv_stores(warehouse_dsn: str, formats: list[str], csv_only) -> None:
    """Every type, NULLs in each, edge values: a first load (create, COPY, key) and a re-run
    (delete, COPY) in binary give, row for row as text, what the same loads give by CSV."""
    settings = settings_for(warehouse_dsn)
    assert upsert(ROWS, TARGET, settings, RUN) == N
    assert upsert(ROWS, TARGET, settings, RUN) == N  # re-run: the run's rows deleted, COPY again
    assert formats == ["binary", "binary"]
    with csv_only():
        csv_target = target("analytics.typed_csv")
        assert upsert(ROWS, csv_target, settings, RUN) == N
        assert upsert(ROWS, csv_target, settings, RUN) == N
    assert formats == ["binary", "binary", "csv", "csv"]
    binary_rows, csv_rows = as_text(warehouse_dsn, "analytics.typed"), as_text(warehouse_dsn, "analytics.typed_csv")
    assert len(binary_rows) == N and binary_rows == csv_rows

    # And the values are the right ones (both paths could be wrong alike).
    got = fetch(warehouse_dsn, "SELECT * FROM analytics.typed ORDER BY id")
    names = [*ROWS.column_names, "etl_run_id"]
    expected = ROWS.to_pylist()
    for row, want in zip(got, expected):
        row = dict(zip(names, row))
        for name, value in want.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(row[name]), name
            elif isinstance(value, Decimal):
                assert row[name] == value and row[name].as_tuple().exponent == value.as_tuple().exponent, name
            else:
                assert row[name] == value, (name, row[name], value)
    assert all(v is None for k, v in zip(names, got[-1]) if k not in ("id", "etl_run_id"))
    assert fetch(warehouse_dsn, "SELECT count(*) FROM analytics.typed WHERE note = ''") == [(1,)]  # '' is not NULL
    assert fetch(warehouse_dsn, "SELECT count(*) FROM analytics.typed WHERE note IS NULL") == [(1,)]
    assert fetch(warehouse_dsn, "SELECT count(*) FROM analytics.typed WHERE note = 'NULL'") == [(1,)]
    # Our DDL: int8/int16 widen to integer, unsigned integers to bigint; the binary COPY casts them to match.
    assert dict(fetch(warehouse_dsn, "SELECT column_name, data_type FROM information_schema.columns "
                                     "WHERE table_name = 'typed' AND column_name IN ('i8', 'u16', 'u32', 'at', 'at_utc')")) == {
        "i8": "integer", "u16": "bigint", "u32": "bigint", "at": "timestamp without time zone", "at_utc": "timestamp with time zone"}


def test_a_key_another_run_holds_falls_back_to_merge_after_a_binary_copy(warehouse_dsn: str, formats: list[str]) -> None:
    """The binary COPY into the table hits another run's key: rolled back to the savepoint, the
    rows go into the staging table (binary too) and MERGE; the result is exact."""
    settings = settings_for(warehouse_dsn)
    assert upsert(ROWS, TARGET, settings, "run-a") == N
    moved = ROWS.slice(2, 2)  # keys 3 and 4, held by run-a
    new = ROWS.slice(0, 1).set_column(0, "id", pa.array([100], pa.int64()))
    assert upsert(pa.concat_tables([moved, new]), TARGET, settings, "run-b") == 3
    assert formats == ["binary", "binary", "binary"]  # first load, direct COPY (rolled back), staging COPY
    assert fetch(warehouse_dsn, "SELECT id, etl_run_id FROM analytics.typed WHERE etl_run_id = 'run-b' ORDER BY id") == [
        (3, "run-b"), (4, "run-b"), (100, "run-b")]
    assert fetch(warehouse_dsn, "SELECT count(*) FROM analytics.typed") == [(N + 1,)]
    # The moved rows hold exactly the values a fresh load of them holds.
    fresh = target("analytics.fresh")
    upsert(moved, fresh, settings, "run-b")
    assert as_text(warehouse_dsn, "(SELECT * FROM analytics.typed WHERE id IN (3, 4))") == as_text(warehouse_dsn, "analytics.fresh")
    assert fetch(warehouse_dsn, "SELECT count(*) FROM pg_class WHERE relname = 'etl_staging'") == [(0,)]


def _user_table(dsn: str, ddl: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        conn.execute(ddl)


WIDER = pa.table({
    "id": pa.array([1, 2, 3], pa.int64()),
    "small": pa.array([-2**31, 5, None], pa.int32()),
    "name": ["a,b", "x" * 20, None],
    "amount": pa.array([Decimal("1.50"), Decimal("-0.01"), None], pa.decimal128(18, 2)),
    "scaled": pa.array([Decimal("1.50"), Decimal("-99999999.99"), None], pa.decimal128(18, 2)),
    "tiny": pa.array([1, -128, None], pa.int8()),
})


def test_a_user_table_with_wider_compatible_types_loads_in_binary(warehouse_dsn: str, formats: list[str], csv_only) -> None:
    """bigint for int32, smallint for int8, varchar(20), numeric without typmod (keeps the scale
    sent), numeric(12,4) (applies its scale): each column's receive function reads pgpq's bytes
    as its input function reads the CSV text."""
    ddl = ("CREATE TABLE analytics.{} (id bigint PRIMARY KEY, small bigint, name varchar(20), amount numeric, "
           "scaled numeric(12,4), tiny smallint, etl_run_id text)")
    _user_table(warehouse_dsn, ddl.format("wide"))
    _user_table(warehouse_dsn, ddl.format("wide_csv"))
    settings = settings_for(warehouse_dsn)
    assert upsert(WIDER, target("analytics.wide"), settings, RUN) == 3
    assert formats == ["binary"]
    with csv_only():
        assert upsert(WIDER, target("analytics.wide_csv"), settings, RUN) == 3
    assert as_text(warehouse_dsn, "analytics.wide") == as_text(warehouse_dsn, "analytics.wide_csv")
    assert fetch(warehouse_dsn, "SELECT small, name, amount::text, scaled::text, tiny FROM analytics.wide ORDER BY id") == [
        (-2**31, "a,b", "1.50", "1.5000", 1), (5, "x" * 20, "-0.01", "-99999999.9900", -128), (None, None, None, None, None)]


@pytest.mark.parametrize(("column", "arrow_type", "values", "expected"), [
    ("double precision", pa.int64(), [3, -2**53, None], [3.0, float(-2**53), None]),  # int8 bytes would be a wrong float
    ("integer", pa.int64(), [3, -7, None], [3, -7, None]),  # int8 bytes into int4: narrower, CSV checks each value
    ("smallint", pa.int32(), [3, -7, None], [3, -7, None]),
    ("bigint", pa.uint64(), [3, 2**63 - 1, None], [3, 2**63 - 1, None]),
    ("numeric", pa.int64(), [3, -7, None], [Decimal(3), Decimal(-7), None]),
    ("real", pa.float64(), [0.5, -2.0, None], [0.5, -2.0, None]),
    ("double precision", pa.float32(), [0.1, -2.5, None], [0.1, -2.5, None]),  # CSV reads float32 0.1 as 0.1
    ("text", pa.int64(), [3, -7, None], ["3", "-7", None]),
    ("character(3)", pa.string(), ["ab", "", None], ["ab ", "   ", None]),
    ("timestamp with time zone", pa.timestamp("us"), [dt.datetime(2000, 1, 1, 12)], [dt.datetime(2000, 1, 1, 12, tzinfo=UTC)]),
    ("timestamp without time zone", pa.timestamp("us", tz="UTC"), [dt.datetime(2000, 1, 1, 12, tzinfo=UTC)],
     [dt.datetime(2000, 1, 1, 12)]),
    ("timestamp without time zone", pa.timestamp("ns"), [dt.datetime(2000, 1, 1, 12, 0, 0, 7)], [dt.datetime(2000, 1, 1, 12, 0, 0, 7)]),
    ("timestamp(0) without time zone", pa.timestamp("us"), [dt.datetime(2000, 1, 1, 12, 0, 0, 700000)], [dt.datetime(2000, 1, 1, 12, 0, 1)]),
    ("date", pa.date64(), [dt.date(1960, 1, 2), None], [dt.date(1960, 1, 2), None]),
    ("text", pa.dictionary(pa.int32(), pa.string()), ["a", "b", None], ["a", "b", None]),
    ("numeric(40,2)", pa.decimal256(40, 2), [Decimal("12345678901234567890123456789012345678.01")],
     [Decimal("12345678901234567890123456789012345678.01")]),
])
def test_a_column_whose_type_differs_from_what_pgpq_sends_loads_by_csv(
        warehouse_dsn: str, formats: list[str], column: str, arrow_type: pa.DataType, values: list, expected: list) -> None:
    """An existing table's column of another type than pgpq would encode (or an Arrow type pgpq
    cannot encode exactly): CSV, and PostgreSQL converts each value as it always did."""
    _user_table(warehouse_dsn, f"CREATE TABLE analytics.other (id bigint PRIMARY KEY, v {column}, etl_run_id text)")
    rows = pa.table({"id": pa.array(range(len(values)), pa.int64()), "v": pa.array(values, arrow_type)})
    tz = fetch(warehouse_dsn, "SHOW TimeZone")[0][0]
    if column == "timestamp with time zone" and tz not in ("UTC", "Etc/UTC"):
        pytest.skip(f"the server's TimeZone is {tz}: a zone-less timestamp is read in it")
    assert upsert(rows, target("analytics.other"), settings_for(warehouse_dsn), RUN) == len(values)
    assert [r[0] for r in fetch(warehouse_dsn, "SELECT v FROM analytics.other ORDER BY id")] == expected
    assert formats == ["csv"]


def test_a_value_postgresql_refuses_is_a_clear_target_error(warehouse_dsn: str, formats: list[str]) -> None:
    """A binary COPY PostgreSQL refuses (a NUL in text; a number over the column's precision)
    fails as a TargetError naming the target and table, its first line PostgreSQL's reason."""
    settings = settings_for(warehouse_dsn)
    nul = pa.table({"id": pa.array([1, 2], pa.int64()), "note": ["fine", "nul \x00 here"]})
    with pytest.raises(TargetError) as raised:
        upsert(nul, TARGET, settings, RUN)
    message = str(raised.value)
    assert message.startswith("target 'wh': table analytics.typed: invalid byte sequence for encoding \"UTF8\": 0x00")
    assert "Traceback" not in message and formats == ["binary"]
    assert fetch(warehouse_dsn, "SELECT to_regclass('analytics.typed') IS NULL") == [(True,)]  # rolled back

    _user_table(warehouse_dsn, "CREATE TABLE analytics.narrow (id bigint PRIMARY KEY, amount numeric(5,2), etl_run_id text)")
    over = pa.table({"id": pa.array([1], pa.int64()), "amount": pa.array([Decimal("12345.67")], pa.decimal128(18, 2))})
    with pytest.raises(TargetError, match=r"^target 'wh': table analytics.narrow: numeric field overflow") as raised:
        upsert(over, target("analytics.narrow"), settings, RUN)
    assert "Traceback" not in str(raised.value) and formats == ["binary", "binary"]


def test_without_pgpq_every_load_is_csv(warehouse_dsn: str, formats: list[str], csv_only) -> None:
    """Where pgpq is not installed (the arm64 layer: no wheel), the loader falls back to CSV."""
    with csv_only():
        assert binary_copy._pgpq() is None
        assert upsert(ROWS, TARGET, settings_for(warehouse_dsn), RUN) == N
    assert formats == ["csv"]
    assert binary_copy._pgpq() is not None
    assert fetch(warehouse_dsn, "SELECT count(*), count(note) FROM analytics.typed") == [(N, N - 1)]


def test_rows_encoded_in_slices_are_the_bytes_of_one_encoding_and_load_alike(
        warehouse_dsn: str, formats: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """pgpq encodes ``ENCODE_ROWS`` rows at a time (less CPU than whole batches): the COPY data
    is byte for byte pgpq's encoding of each whole batch, and loads the same rows."""
    import pgpq

    sent = pa.schema([f.with_type(pa.int32()) if f.name in ("i8", "i16") else f.with_type(pa.int64()) if f.name[0] == "u" else f
                      for f in ROWS.schema])
    batches = ROWS.cast(sent).to_batches(max_chunksize=7)  # batches of 7 and 2 rows
    whole = pgpq.ArrowToPostgresBinaryEncoder(sent)
    expected = whole.write_header() + b"".join(whole.write_batch(b) for b in batches) + whole.finish()
    monkeypatch.setattr(binary_copy, "ENCODE_ROWS", 3)
    chunks = list(binary_copy.BinaryCopy(pgpq, sent).encode(iter(batches)))
    assert len(chunks) == 1 + 4 + 1 and b"".join(chunks) == expected  # header, 3+3+1 and 2 rows, trailer

    assert upsert(ROWS, target("analytics.sliced"), settings_for(warehouse_dsn), RUN) == N
    monkeypatch.setattr(binary_copy, "ENCODE_ROWS", 16 * 1024)
    assert upsert(ROWS, TARGET, settings_for(warehouse_dsn), RUN) == N
    assert formats == ["binary", "binary"]
    assert as_text(warehouse_dsn, "analytics.sliced") == as_text(warehouse_dsn, "analytics.typed")


def test_copy_data_waits_in_a_short_queue_and_loads_the_same_rows(warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sending thread's queue holds ``QUEUED_PIECES`` pieces of COPY data, not psycopg's 1,024
    (128 MB, always full: the server parses slower than the client encodes); with a queue of two
    pieces, about 8 MB of rows in 128 KB pieces load exactly as through psycopg's own queue."""
    import queue

    with psycopg.connect(warehouse_dsn) as conn, conn.cursor() as cur:
        writer = postgres_copy.SendQueue(cur)
        queues = [value for value in vars(writer).values() if isinstance(value, queue.Queue)]
        assert queues == [writer._queue] and writer._queue.maxsize == postgres_copy.QUEUED_PIECES  # the one psycopg sends from

    rows = pa.table({"id": pa.array(range(40_000), pa.int64()), "text": pa.array([f"{i:0>200}" for i in range(40_000)])})
    monkeypatch.setattr(postgres_copy, "QUEUED_PIECES", 2)
    assert upsert(rows, target("analytics.short_queue"), settings_for(warehouse_dsn), RUN) == 40_000
    monkeypatch.setattr(postgres_copy, "SendQueue", postgres_copy.QueuedLibpqWriter)
    assert upsert(rows, target("analytics.long_queue"), settings_for(warehouse_dsn), RUN) == 40_000
    assert as_text(warehouse_dsn, "analytics.short_queue") == as_text(warehouse_dsn, "analytics.long_queue")


def _send_buffer(fd: int) -> int:
    with socket.socket(fileno=os.dup(fd)) as sock:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)


def _widened() -> int:
    """What the kernel makes of a request for ``SEND_BUFFER_BYTES`` (clamped to wmem_max, then doubled)."""
    wmem_max = int(Path("/proc/sys/net/core/wmem_max").read_text())
    return 2 * min(postgres_copy.SEND_BUFFER_BYTES, wmem_max)


def test_a_unix_socket_gets_a_wider_send_buffer_and_a_tcp_socket_keeps_its_own() -> None:
    """Linux tunes a TCP connection's buffer itself (setting one would stop that); a Unix socket keeps 208 KB unless told."""
    unix, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with unix, peer:
        before = _send_buffer(unix.fileno())
        postgres_copy.widen_send_buffer(unix.fileno())
        assert _send_buffer(unix.fileno()) == max(before, _widened()) > before
        assert unix.send(b"still open") == 10 and peer.recv(10) == b"still open"  # the duplicate was closed, not the socket
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as tcp, server.accept()[0]:
            before = _send_buffer(tcp.fileno())
            postgres_copy.widen_send_buffer(tcp.fileno())
            assert _send_buffer(tcp.fileno()) == before


def test_a_copy_over_a_unix_socket_widens_its_send_buffer(warehouse_dsn: str) -> None:
    """The embedded server is reached over a Unix socket: the COPY's connection gets the wider buffer."""
    with psycopg.connect(warehouse_dsn) as conn, conn.cursor() as cur:
        assert conn.info.host.startswith("/")  # a socket folder
        before = _send_buffer(conn.fileno())
        cur.execute("CREATE TEMPORARY TABLE widened (id bigint)")
        assert postgres_copy.copy_rows(cur, pa.table({"id": pa.array([1, 2, 3], pa.int64())}), "widened") == 3
        assert _send_buffer(conn.fileno()) == max(before, _widened()) > before


def test_rows_that_cannot_be_read_are_not_reported_as_rows_that_cannot_be_encoded(
        warehouse_dsn: str, formats: list[str]) -> None:
    """A read failure during the COPY (Arrow's error for a corrupt page of the staged object) is
    the load's error with the read's own cause, rolled back; only the encoding's own failures (a
    value the sent type cannot hold) are "cannot encode"."""
    import pgpq

    from etl_core.load.rows import Rows

    readable = Rows.of(ROWS, RUN)

    def unreadable(columns: list[str] | None):
        yield next(readable.batches(columns))
        raise pa.ArrowInvalid("Couldn't deserialize thrift: TProtocolException: Invalid data\n"
                              "Deserializing page header failed.")  # what a corrupt page of a staged object raises

    rows = Rows(readable.schema, readable.num_rows, unreadable, stamped=readable.stamped)
    with pytest.raises(TargetError, match="^target 'wh': table analytics.typed: Couldn't deserialize thrift") as raised:
        upsert(rows, TARGET, settings_for(warehouse_dsn), RUN)
    assert "encode" not in str(raised.value) and formats == ["binary"]
    assert fetch(warehouse_dsn, "SELECT to_regclass('analytics.typed') IS NULL") == [(True,)]  # rolled back

    narrow = pa.schema([pa.field("id", pa.int8())])
    encoding = binary_copy.BinaryCopy(pgpq, narrow).encode(iter([pa.record_batch({"id": pa.array([300], pa.int64())})]))
    assert next(encoding)  # the header
    with pytest.raises(binary_copy.EncodeError, match="^cannot encode the rows for binary COPY: "):
        next(encoding)
