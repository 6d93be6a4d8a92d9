"""PostgreSQL source: a real PostgreSQL 16 (pgserver); only Secrets Manager is emulated (moto server).

Streaming through a server-side cursor in bounded batches, incremental loads by a
watermark that only a committed (successful) run advances, and bad input: values that do
not fit the declared types are quarantined by key, a missing column names itself.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import boto3
import psycopg
import pytest

from etl_core.errors import SourceError, TransientError
from etl_core.extract.postgres import read_query

EVENTS = """
  name: events
  type: postgres
  query: "SELECT id, kind, amount, happened_at FROM events WHERE kind <> 'ignored'"
  watermark_column: happened_at
  key_column: id
  columns: {id: int64, kind: string, amount: 'decimal(10,2)', happened_at: timestamp}
"""


@pytest.fixture
def source_db(warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SOURCE_DSN", warehouse_dsn)
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text, amount numeric(10,2), happened_at timestamptz)")
    return warehouse_dsn


def insert(dsn: str, rows: list[tuple]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO events VALUES (%s, %s, %s, %s)", rows)


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 11, 26, hour, tzinfo=dt.timezone.utc)


def test_a_large_query_streams_through_a_server_side_cursor_in_bounded_batches(source_db: str, lake) -> None:
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO events SELECT n, 'k' || (n % 3), n / 100.0, '2026-11-01'::timestamptz + n * interval '1 second'"
            " FROM generate_series(1, 2500) AS n"
        )
    spec = lake.spec(EVENTS.replace("watermark_column: happened_at", "batch_rows: 1000"))
    batches = read_query(spec.sources[0], lake.context(spec, "r1"))
    first = next(batches)
    with psycopg.connect(source_db) as other:  # while the reader holds its cursor open
        (activity,) = other.execute("SELECT query FROM pg_stat_activity WHERE query LIKE 'FETCH%%etl_extract_events%%'").fetchone()
    sizes = [first.table.num_rows] + [b.table.num_rows for b in batches]
    assert "FETCH FORWARD 1000" in activity
    assert sizes == [1000, 1000, 500]
    assert first.origins[:2] == ["postgres:events#id=1", "postgres:events#id=2"]
    assert first.table.column("amount").to_pylist()[:2] == ["0.01", "0.02"]

    extracted = lake.extract(spec)
    assert (extracted.result.rows_read, extracted.result.rows_staged) == (2500, 2500)
    assert extracted.staged.column("amount").to_pylist()[-1] == Decimal("25.00")


def test_the_watermark_advances_only_when_a_run_commits(source_db: str, lake) -> None:
    spec = lake.spec(EVENTS)
    insert(source_db, [(1, "a", "1.50", at(1)), (2, "b", "2.25", at(3)), (3, "ignored", "9", at(4)), (4, "c", None, at(2))])

    first = lake.extract(spec, "r1")
    assert [r["id"] for r in first.rows()] == [1, 4, 2]  # in watermark order
    assert lake.staged_state("r1", "events")["state"] == {"watermark": "2026-11-26T03:00:00+00:00"}

    # r1 failed after Extract (no Finalize): r2 reads the same rows again, from the same (no) mark.
    insert(source_db, [(5, "d", "5.00", at(5))])
    second = lake.extract(spec, "r2")
    assert [r["id"] for r in second.rows()] == [1, 4, 2, 5]
    assert lake.staged_state("r2", "events")["previous"] is None

    assert lake.commit("r2") == {"committed": {"events": {"watermark": "2026-11-26T05:00:00+00:00"}}, "stale": {}}
    assert lake.commit("r2")["committed"] == {"events": {"watermark": "2026-11-26T05:00:00+00:00"}}  # idempotent

    insert(source_db, [(6, "e", "6.00", at(6)), (7, "f", "7.00", at(5))])  # 7 is not after the mark: documented
    third = lake.extract(spec, "r3")
    assert [r["id"] for r in third.rows()] == [6]
    assert third.staged.column("happened_at").to_pylist() == [at(6)]

    # Nothing new: zero rows, not an error, and the mark stays where it is.
    lake.commit("r3")
    fourth = lake.extract(spec, "r4")
    assert fourth.result.rows_read == 0
    assert lake.staged_state("r4", "events")["state"] == {"watermark": "2026-11-26T06:00:00+00:00"}


def test_a_late_commit_of_an_older_run_never_moves_the_mark_back(source_db: str, lake) -> None:
    spec = lake.spec(EVENTS)
    insert(source_db, [(1, "a", "1", at(1))])
    lake.extract(spec, "old")
    insert(source_db, [(2, "b", "2", at(2))])
    lake.extract(spec, "new")
    lake.commit("new")
    late = lake.commit("old")
    assert late["committed"] == {} and "not moving the state back" in late["stale"]["events"]
    assert [r["id"] for r in lake.extract(spec, "next").rows()] == []


def test_values_are_converted_exactly_and_bad_ones_quarantined_by_key(source_db: str, lake) -> None:
    spec = lake.spec("""
  name: typed
  type: postgres
  key_column: id
  query: "SELECT id, payload, flag, day, amount FROM typed WHERE day <= %(run_date)s AND note LIKE 'x%%'"
  columns: {id: int64, payload: string, flag: bool, day: date, amount: 'decimal(18,2)'}
""")
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE typed (id int, payload jsonb, flag boolean, day date, amount numeric, note text)")
        conn.execute(
            "INSERT INTO typed VALUES (1, '{\"a\": [1, 2.50]}', true, '2026-11-26', 12345678901234.57, 'x1'),"
            " (2, 'null', false, '2026-11-25', 1.005, 'x2'), (3, '{}', true, '2026-11-27', 1, 'x3'), (4, '{}', true, '2026-11-20', 1, 'y')"
        )
    extracted = lake.extract(spec)
    assert extracted.rows() == [
        {"id": 1, "payload": '{"a":[1,2.50]}', "flag": True, "day": dt.date(2026, 11, 26), "amount": Decimal("12345678901234.57")}
    ]
    assert extracted.reasons() == {"postgres:typed#id=2": "column amount: '1.005' is not a valid decimal(18,2)"}


def test_bad_queries_and_connections_are_named(source_db: str, lake, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = lake.spec(EVENTS.replace("amount, happened_at FROM", "happened_at FROM"))
    with pytest.raises(SourceError, match=r"'events': the query returns no column\(s\) amount; it returns \['id', 'kind', 'happened_at'\]"):
        lake.extract(missing)
    broken = lake.spec(EVENTS.replace("FROM events", "FROM no_such_table"))
    with pytest.raises(SourceError, match='query failed: relation "no_such_table" does not exist'):
        lake.extract(broken)
    monkeypatch.delenv("SOURCE_DSN")
    with pytest.raises(SourceError, match="environment variable SOURCE_DSN"):
        lake.extract(lake.spec(EVENTS))
    monkeypatch.setenv("SOURCE_DSN", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(TransientError, match="'events'"):
        lake.extract(lake.spec(EVENTS))


def test_credentials_from_a_secrets_manager_secret(source_db: str, lake, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DSN")
    parts = psycopg.conninfo.conninfo_to_dict(source_db)
    secret = {"host": parts["host"], "port": int(parts.get("port", 5432)), "dbname": parts["dbname"],
              "username": parts["user"], "password": parts.get("password", "")}
    arn = boto3.client("secretsmanager").create_secret(Name="rds/source", SecretString=json.dumps(secret))["ARN"]
    insert(source_db, [(1, "a", "1.50", at(1))])
    extracted = lake.extract(lake.spec(EVENTS + f"  secret_arn: {arn}\n"))
    assert [r["id"] for r in extracted.rows()] == [1]

    incomplete = boto3.client("secretsmanager").create_secret(Name="rds/bad", SecretString='{"host": "h"}')["ARN"]
    with pytest.raises(SourceError, match=r"missing key\(s\) username, password"):
        lake.extract(lake.spec(EVENTS + f"  secret_arn: {incomplete}\n"))
