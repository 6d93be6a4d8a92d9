"""DynamoDB target: one item per row, written with BatchWriteItem.

Idempotent by nature: every row is a put by its key, so a re-run rewrites the same items
instead of adding new ones. A load replaces the run's items: items of the run (its
``etl_run_id`` attribute) whose key the new rows no longer have are deleted, found by a
scan of the table filtered on the run (DynamoDB has no query by a non-key attribute
without an index the spec cannot assume). Rows without a key, with an empty string in a key, or sharing
a key are refused before anything is written (DynamoDB would reject the first and let the
last write of a key silently win for the others).

Values are converted as DynamoDB stores them faithfully: numbers as Decimal (floats by
their shortest exact repr, never through binary rounding), dates and timestamps as ISO
8601 strings, booleans as BOOL, nested lists and structs as L and M; a NULL column is left
out of the item, as DynamoDB has no typed null.

A batch may come back with ``UnprocessedItems`` (throughput exceeded on some partitions):
that is a successful response, so botocore does not retry it; this module re-sends those
items with exponential back-off and full jitter, a bounded number of times, and so do
throttling errors botocore has already given up on. Still unprocessed: TransientError,
for the state machine's own retry.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from boto3.dynamodb.types import TypeSerializer

from etl_core.aws import client
from etl_core.errors import TargetError, TransientError
from etl_core.load.aws import target_errors
from etl_core.load.keys import require_unique_keys
from etl_core.load.retry import Backoff
from etl_core.load.rows import RUN_COLUMN, Rows
from etl_core.spec.targets import DynamoDBTarget

MAX_BATCH_ITEMS = 25  # BatchWriteItem's limit
_SERIALIZER = TypeSerializer()


def _dynamodb_value(value: Any) -> Any:
    """A Python value from Arrow as TypeSerializer accepts it."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no DynamoDB number")
        return Decimal(repr(value))
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _dynamodb_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamodb_value(v) for v in value]
    return value


def to_item(row: dict[str, Any]) -> dict[str, dict]:
    """One row as a DynamoDB item in the low-level attribute-value form."""
    return {name: _SERIALIZER.serialize(_dynamodb_value(value)) for name, value in row.items() if value is not None}


def _attribute_type(arrow_type: pa.DataType) -> str:
    """The key attribute type (S, N, B) a column's values become."""
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "N"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "B"
    return "S"


def table_key(api: Any, target: DynamoDBTarget) -> dict[str, str]:
    """The table's key attributes and their types; the spec's ``key``, if any, must name the same."""
    with target_errors(f"target {target.name!r}: DynamoDB table {target.table}"):
        described = api.describe_table(TableName=target.table)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
    key = {k["AttributeName"]: types[k["AttributeName"]] for k in described["KeySchema"]}
    if target.key is not None and sorted(target.key) != sorted(key):
        raise TargetError(f"target {target.name!r}: key {target.key} in the spec, but table {target.table}'s key is {list(key)}")
    return key


def check_rows(rows: Rows, key: dict[str, str], target: DynamoDBTarget) -> None:
    require_unique_keys(rows, list(key), target.name)
    for name, expected in key.items():
        column_type = rows.schema.field(name).type
        actual = _attribute_type(column_type)
        if actual != expected:
            raise TargetError(
                f"target {target.name!r}: key {name!r} is of type {expected} in table {target.table}, "
                f"but the rows' {column_type} values would be {actual}"
            )
        if pa.types.is_string(column_type) or pa.types.is_large_string(column_type):
            empty = sum(pc.sum(pc.equal(b.column(0), "")).as_py() or 0 for b in rows.batches([name]))
            if empty:
                raise TargetError(f"target {target.name!r}: {empty} row(s) have an empty string in key {name!r}")


def _items(rows: Rows, target: DynamoDBTarget) -> Iterator[list[dict]]:
    """Put requests in BatchWriteItem-sized groups, converting one record batch at a time."""
    group: list[dict] = []
    for batch in rows.batches():
        for row in batch.to_pylist():
            try:
                group.append({"PutRequest": {"Item": to_item(row)}})
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise TargetError(f"target {target.name!r}: a row cannot be stored in DynamoDB: {exc}: {row}") from exc
            if len(group) == MAX_BATCH_ITEMS:
                yield group
                group = []
    if group:
        yield group


def _write_group(api: Any, target: DynamoDBTarget, requests: list[dict], backoff: Backoff) -> None:
    what = f"target {target.name!r}: DynamoDB table {target.table}"
    pending, last_error = requests, "some items came back unprocessed"
    for attempt in range(backoff.attempts):
        try:
            with target_errors(what):
                response = api.batch_write_item(RequestItems={target.table: pending})
            pending = response.get("UnprocessedItems", {}).get(target.table, [])
        except TransientError as exc:  # throttling (ProvisionedThroughputExceeded ...) botocore gave up on
            last_error = str(exc)
        if not pending:
            return
        if attempt + 1 < backoff.attempts:
            backoff.wait(attempt)
    raise TransientError(f"{what}: {len(pending)} item(s) still not written after {backoff.attempts} attempts; last: {last_error}")


def _run_item_keys(api: Any, target: DynamoDBTarget, key: list[str], run_id: str) -> Iterator[dict[str, dict]]:
    """The keys of the items the table holds for the run, page by page."""
    names = {f"#k{i}": name for i, name in enumerate(key)}
    request = {
        "TableName": target.table,
        "FilterExpression": "#run = :run",
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {**names, "#run": RUN_COLUMN},
        "ExpressionAttributeValues": {":run": {"S": run_id}},
    }
    with target_errors(f"target {target.name!r}: DynamoDB table {target.table}"):
        for page in api.get_paginator("scan").paginate(**request):
            yield from page.get("Items", [])


def _comparable(attributes: dict[str, dict], key: list[str]) -> tuple:
    """A key as DynamoDB compares it: numbers by value ("1.0" is "1"), strings and binaries as they are."""
    parts = []
    for name in key:
        (kind, value), = attributes[name].items()
        parts.append((kind, Decimal(value) if kind == "N" else value))
    return tuple(parts)


def _stale_keys(api: Any, rows: Rows, target: DynamoDBTarget, key: list[str], run_id: str) -> list[dict]:
    """Delete requests for the run's items whose key is not among the rows'."""
    loaded = {_comparable(to_item(row), key) for batch in rows.batches(key) for row in batch.to_pylist()}
    return [
        {"DeleteRequest": {"Key": {k: item[k] for k in key}}}
        for item in _run_item_keys(api, target, key, run_id)
        if _comparable(item, key) not in loaded
    ]


def write_items(
    rows: Rows | pa.Table, target: DynamoDBTarget, run_id: str, api: Any | None = None, backoff: Backoff = Backoff()
) -> int:
    """Replace the run's items by the rows; ``api`` is a DynamoDB client (made if not given).
    Returns the items the table holds for the run: one per row, keys being unique."""
    rows = Rows.of(rows, run_id)
    api = api or client("dynamodb")
    key = table_key(api, target)
    check_rows(rows, key, target)
    stale = _stale_keys(api, rows, target, list(key), run_id)
    for requests in _items(rows, target):
        _write_group(api, target, requests, backoff)
    for start in range(0, len(stale), MAX_BATCH_ITEMS):
        _write_group(api, target, stale[start:start + MAX_BATCH_ITEMS], backoff)
    return rows.num_rows
