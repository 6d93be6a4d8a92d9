"""DynamoDB source; the DynamoDB API is emulated by moto in server mode (real HTTP through boto3).

A parallel scan returns every item exactly once, with numbers exact to the last digit,
sets as JSON arrays, binary as base64; items missing a declared attribute are quarantined
with their primary key.
"""
from __future__ import annotations

import base64
from decimal import Decimal

import boto3
import pytest

from etl_core.errors import SourceNotFound
from etl_core.extract.dynamodb import read_table

TABLE = """
name: accounts
type: dynamodb
table: accounts
segments: 4
batch_rows: 40
optional: [tags]
columns: {pk: string, sk: int64, balance: 'decimal(18,2)', big: string, tags: string, blob: string, owner.city: string, active: bool}
"""


@pytest.fixture
def table(aws):
    dynamodb = boto3.resource("dynamodb")
    created = dynamodb.create_table(
        TableName="accounts",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return created


def test_a_parallel_scan_reads_every_item_once_with_exact_values(table, lake) -> None:
    with table.batch_writer() as batch:
        for i in range(300):
            batch.put_item(Item={
                "pk": f"acct-{i % 7}", "sk": i, "balance": Decimal(f"{i}.{i % 100:02d}"),
                "big": Decimal("12345678901234567890.123456789012345678"),
                "tags": {"b", "a"} if i % 2 else {Decimal("10"), Decimal("2.5")},
                "blob": bytes([i % 256, 0, 255]), "owner": {"city": f"c{i}", "ids": [Decimal("1.10")]}, "active": i % 3 == 0,
            })
    extracted = lake.extract(lake.spec(TABLE))
    rows = extracted.rows()
    assert sorted(r["sk"] for r in rows) == list(range(300))
    assert extracted.result.rows_rejected == 0
    row = next(r for r in rows if r["sk"] == 123)
    assert row == {
        "pk": "acct-4", "sk": 123, "balance": Decimal("123.23"), "big": "12345678901234567890.123456789012345678",
        "tags": '["a","b"]', "blob": base64.b64encode(bytes([123, 0, 255])).decode(), "owner.city": "c123", "active": True,
    }
    assert next(r for r in rows if r["sk"] == 2)["tags"] == "[2.5,10]"
    origins = extracted.staged.column("_origin").to_pylist()
    assert 'dynamodb:accounts#{"pk":"acct-4","sk":123}' in origins and len(set(origins)) == 300


def test_batches_stay_bounded_and_every_segment_is_scanned(table, lake) -> None:
    with table.batch_writer() as batch:
        for i in range(100):
            batch.put_item(Item={"pk": "p", "sk": i, "balance": 1, "big": 1, "blob": b"x", "owner": {"city": "c"}, "active": True})
    spec = lake.spec(TABLE)
    batches = list(read_table(spec.sources[0], lake.context(spec, "r1")))
    assert max(b.table.num_rows for b in batches) <= 40 and sum(b.table.num_rows for b in batches) == 100


def test_items_missing_a_declared_attribute_are_quarantined_by_key(table, lake) -> None:
    table.put_item(Item={"pk": "a", "sk": 1, "balance": Decimal("1.5"), "big": 1, "blob": b"x", "owner": {"city": "c"}, "active": True})
    table.put_item(Item={"pk": "a", "sk": 2, "balance": Decimal("1.5"), "big": 1, "blob": b"x", "active": True})
    table.put_item(Item={"pk": "a", "sk": 3, "balance": "lots", "big": 1, "blob": b"x", "owner": {"city": "c"}, "active": True})
    extracted = lake.extract(lake.spec(TABLE))
    assert [r["sk"] for r in extracted.rows()] == [1]
    assert extracted.reasons() == {
        'dynamodb:accounts#{"pk":"a","sk":2}': "missing declared field(s): owner.city",
        'dynamodb:accounts#{"pk":"a","sk":3}': "column balance: 'lots' is not a valid decimal(18,2)",
    }


def test_an_empty_table_is_zero_rows_and_a_missing_one_is_named(table, lake) -> None:
    assert lake.extract(lake.spec(TABLE)).result.rows_read == 0
    with pytest.raises(SourceNotFound, match="dynamodb table nowhere"):
        lake.extract(lake.spec(TABLE.replace("table: accounts", "table: nowhere")))
