"""The DynamoDB target against DynamoDB emulated by moto in server mode (real HTTP, boto3).

Throttling cannot be provoked on moto, so two tests wrap the moto client to answer as
DynamoDB does under load — an emulated AWS behaviour, named where it is used: a
BatchWriteItem that writes part of the request and returns the rest as ``UnprocessedItems``,
and one that fails with ``ProvisionedThroughputExceededException``.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import boto3
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

from etl_core import storage
from etl_core.errors import TargetError, TransientError
from etl_core.layout import RunLayout
from etl_core.load import load_target
from etl_core.load.dynamodb import write_items
from etl_core.load.retry import Backoff
from etl_core.settings import Settings
from etl_core.spec import parse_spec
from etl_core.spec.targets import DynamoDBTarget

TARGET = DynamoDBTarget(name="serving", type="dynamodb", table="orders")
RUN = "2026-11-26"
ROWS = pa.table(
    {
        "order_id": pa.array([1, 2], pa.int64()),
        "status": ["placed", ""],
        "amount": pa.array([Decimal("1.50"), None], pa.decimal128(18, 2)),
        "ratio": [0.1, 2.5],
        "day": pa.array([dt.date(2026, 11, 26)] * 2, pa.date32()),
        "at": pa.array([dt.datetime(2026, 11, 26, 10, 30, tzinfo=dt.timezone.utc)] * 2, pa.timestamp("us", tz="UTC")),
        "ok": [True, False],
        "tags": pa.array([[1, 2], []], pa.list_(pa.int64())),
        "customer": pa.array([{"id": 7, "score": 0.5}, None], pa.struct([("id", pa.int64()), ("score", pa.float64())])),
    }
)


@pytest.fixture
def dynamodb(aws: str) -> Any:
    api = boto3.client("dynamodb")
    api.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return api


def items(api: Any, table: str = "orders") -> list[dict]:
    return sorted(api.scan(TableName=table, ConsistentRead=True)["Items"], key=lambda item: str(item))


def no_sleep() -> Backoff:
    return Backoff(sleep=lambda seconds: None)


def test_rows_become_faithfully_typed_items(dynamodb: Any) -> None:
    """Numbers travel as their exact digits (DynamoDB itself would store 1.50 as 1.5; moto keeps what was sent)."""
    assert write_items(ROWS, TARGET, RUN, dynamodb) == 2
    assert items(dynamodb) == sorted([
        {
            "order_id": {"N": "1"}, "status": {"S": "placed"}, "amount": {"N": "1.50"}, "ratio": {"N": "0.1"},
            "day": {"S": "2026-11-26"}, "at": {"S": "2026-11-26T10:30:00+00:00"}, "ok": {"BOOL": True},
            "tags": {"L": [{"N": "1"}, {"N": "2"}]}, "customer": {"M": {"id": {"N": "7"}, "score": {"N": "0.5"}}},
            "etl_run_id": {"S": RUN},
        },
        {   # NULL columns are left out; an empty string outside the key is kept
            "order_id": {"N": "2"}, "status": {"S": ""}, "ratio": {"N": "2.5"}, "day": {"S": "2026-11-26"},
            "at": {"S": "2026-11-26T10:30:00+00:00"}, "ok": {"BOOL": False}, "tags": {"L": []},
            "etl_run_id": {"S": RUN},
        },
    ], key=lambda item: str(item))


def test_a_rerun_rewrites_the_same_items(dynamodb: Any) -> None:
    write_items(ROWS, TARGET, RUN, dynamodb)
    write_items(ROWS.set_column(1, "status", pa.array(["shipped", "shipped"])), TARGET, RUN, dynamodb)
    assert [(i["order_id"]["N"], i["status"]["S"]) for i in items(dynamodb)] == [("1", "shipped"), ("2", "shipped")]


def test_a_corrected_rerun_replaces_exactly_the_runs_items(dynamodb: Any) -> None:
    """Items of the run that the corrected rows no longer have are deleted; another run's stay."""
    many = pa.table({"order_id": pa.array(range(30), pa.int64()), "v": ["old"] * 30})
    assert write_items(many, TARGET, RUN, dynamodb) == 30
    assert write_items(pa.table({"order_id": pa.array([100], pa.int64()), "v": ["other"]}), TARGET, "2026-11-27", dynamodb) == 1
    corrected = pa.table({"order_id": pa.array([0, 1, 40], pa.int64()), "v": ["new", "old", "new"]})
    assert write_items(corrected, TARGET, RUN, dynamodb) == 3
    held = [(i["order_id"]["N"], i["v"]["S"], i["etl_run_id"]["S"]) for i in items(dynamodb)]
    assert sorted(held) == [("0", "new", RUN), ("1", "old", RUN), ("100", "other", "2026-11-27"), ("40", "new", RUN)]


def test_many_rows_go_in_batches_of_25(dynamodb: Any) -> None:
    calls: list[int] = []
    many = pa.table({"order_id": pa.array(range(60), pa.int64()), "v": ["x"] * 60})

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(dynamodb, name)

        def batch_write_item(self, RequestItems: dict) -> dict:  # noqa: N803 (boto3's name)
            calls.append(len(RequestItems["orders"]))
            return dynamodb.batch_write_item(RequestItems=RequestItems)

    write_items(many, TARGET, RUN, Counting())
    assert calls == [25, 25, 10]
    assert len(items(dynamodb)) == 60


class Throttled:
    """The moto client, except that its first ``failing`` BatchWriteItem calls answer as DynamoDB
    does when a partition's throughput is exceeded (emulated AWS behaviour): with ``mode``
    "unprocessed" the first half is written and the rest returned in UnprocessedItems; with
    "exception" the call fails with ProvisionedThroughputExceededException."""

    def __init__(self, real: Any, mode: str, failing: int = 1) -> None:
        self.real, self.mode, self.failing, self.requests = real, mode, failing, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def batch_write_item(self, RequestItems: dict) -> dict:  # noqa: N803 (boto3's name)
        ((table, requests),) = RequestItems.items()
        self.requests.append(len(requests))
        if len(self.requests) > self.failing:
            return self.real.batch_write_item(RequestItems=RequestItems)
        if self.mode == "exception":
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}, "BatchWriteItem")
        half = len(requests) // 2
        if half:
            self.real.batch_write_item(RequestItems={table: requests[:half]})
        return {"UnprocessedItems": {table: requests[half:]}}


def test_unprocessed_items_are_resent_after_a_jittered_backoff(dynamodb: Any) -> None:
    many = pa.table({"order_id": pa.array(range(10), pa.int64())})
    throttled = Throttled(dynamodb, "unprocessed", failing=2)
    sleeps: list[float] = []
    write_items(many, TARGET, RUN, throttled, Backoff(base_seconds=0.1, max_seconds=1.0, sleep=sleeps.append))
    assert throttled.requests == [10, 5, 3]  # 5 written, then 2 of the 5 left, then the last 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2
    assert len(items(dynamodb)) == 10


def test_throughput_exceeded_is_retried(dynamodb: Any) -> None:
    throttled = Throttled(dynamodb, "exception")
    write_items(ROWS, TARGET, RUN, throttled, no_sleep())
    assert throttled.requests == [2, 2]
    assert len(items(dynamodb)) == 2


@pytest.mark.parametrize("mode, last", [("unprocessed", "some items came back unprocessed"), ("exception", "ProvisionedThroughputExceeded")])
def test_retries_are_bounded_then_transient(dynamodb: Any, mode: str, last: str) -> None:
    throttled = Throttled(dynamodb, mode, failing=100)
    sleeps: list[float] = []
    with pytest.raises(TransientError, match=f"item\\(s\\) still not written after 4 attempts; last: .*{last}"):
        write_items(ROWS.slice(0, 1), TARGET, RUN, throttled, Backoff(attempts=4, base_seconds=1, max_seconds=3, sleep=sleeps.append))
    assert len(throttled.requests) == 4 and len(sleeps) == 3
    assert all(0 <= s <= cap for s, cap in zip(sleeps, [1, 2, 3]))


@pytest.mark.parametrize("rows, message", [
    (ROWS.set_column(0, "order_id", pa.array([1, 1], pa.int64())), r"duplicate keys within one load: 1 key\(s\) repeat"),
    (ROWS.set_column(0, "order_id", pa.array([1, None], pa.int64())), r"1 row\(s\) have no value in key column 'order_id'"),
    (ROWS.set_column(0, "order_id", pa.array(["1", "2"])), "key 'order_id' is of type N in table orders, but the rows' string values would be S"),
    (ROWS.drop_columns(["order_id"]), r"key column\(s\) \['order_id'\] not in the rows' columns"),
    (ROWS.set_column(3, "ratio", pa.array([float("nan"), 1.0])), "a row cannot be stored in DynamoDB: nan has no DynamoDB number"),
])
def test_rows_dynamodb_cannot_key_or_store_are_refused(dynamodb: Any, rows: pa.Table, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        write_items(rows, TARGET, RUN, dynamodb)


def test_an_empty_string_in_a_key_is_refused_before_writing(aws: str) -> None:
    api = boto3.client("dynamodb")
    api.create_table(
        TableName="customers",
        KeySchema=[{"AttributeName": "country", "KeyType": "HASH"}, {"AttributeName": "email", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "country", "AttributeType": "S"}, {"AttributeName": "email", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    rows = pa.table({"country": ["DE", "FR"], "email": ["a@x.de", ""]})
    target = DynamoDBTarget(name="c", type="dynamodb", table="customers", key=["email", "country"])
    with pytest.raises(TargetError, match="1 row\\(s\\) have an empty string in key 'email'"):
        write_items(rows, target, RUN, api)
    assert items(api, "customers") == []


def test_a_spec_key_that_is_not_the_tables_is_refused(dynamodb: Any) -> None:
    with pytest.raises(TargetError, match=r"key \['status'\] in the spec, but table orders's key is \['order_id'\]"):
        write_items(ROWS, TARGET.model_copy(update={"key": ["status"]}), RUN, dynamodb)


def test_a_missing_table_is_a_target_error(aws: str) -> None:
    with pytest.raises(TargetError, match="target 'serving': DynamoDB table orders: ResourceNotFoundException"):
        write_items(ROWS, TARGET, RUN, boto3.client("dynamodb"))


def test_a_spec_selects_the_dynamodb_loader(dynamodb: Any, tmp_path) -> None:
    spec = parse_spec(
        "pipeline: orders\nsources: [{name: s, type: s3, uri: x, format: csv, columns: {order_id: int64}}]\n"
        "transform: {sql: orders.sql}\ntargets: [{name: serving, type: dynamodb, table: orders, key: [order_id]}]\n",
        "orders.yaml",
    )
    layout = RunLayout(str(tmp_path), "orders", "2026-11-26")
    storage.write_parquet(storage.join(layout.validated, "valid.parquet"), ROWS.append_column("_origin", pa.array(["f:2", "f:3"])))
    result = load_target(spec, "serving", layout, Settings.from_env())
    assert result == {"target": "serving", "type": "dynamodb", "status": "loaded", "rows": 2, "table": "orders"}
    stored = items(dynamodb)
    assert [i["etl_run_id"] for i in stored] == [{"S": "2026-11-26"}] * 2 and all("_origin" not in i for i in stored)
