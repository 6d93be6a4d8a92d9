"""Reading a DynamoDB table by a parallel scan: one thread per segment, pages through a bounded queue.

Each segment's thread pages through its part of the table and hands pages to the reader
through a queue of at most two pages per segment, so memory is bounded by a few pages
however large the table. Attribute values are converted faithfully: numbers keep their
exact digits (Decimal, never float), sets become sorted JSON arrays, binary becomes base64.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Iterator

from boto3.dynamodb.types import TypeDeserializer

from etl_core.aws import as_etl_error, aws_errors, client
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.records import RecordBatcher, to_json
from etl_core.spec.sources import DynamoDBSource


class _Deserializer(TypeDeserializer):
    """boto3's deserializer, with binary values as plain bytes (boto3 wraps them in ``Binary``)."""

    def _deserialize_b(self, value: bytes) -> bytes:
        return bytes(value)


def _scan_segment(dynamodb: Any, source: DynamoDBSource, segment: int, pages: queue.Queue, stop: threading.Event) -> None:
    """Put ``("items", items)`` per page, then ``("done", None)``; a failure is put as ``("error", exc)``."""

    def put(message: tuple[str, Any]) -> None:
        while not stop.is_set():
            try:
                pages.put(message, timeout=0.1)
                return
            except queue.Full:
                continue

    request: dict[str, Any] = {
        "TableName": source.table,
        "Segment": segment,
        "TotalSegments": source.segments,
        "Limit": source.batch_rows,
        "ConsistentRead": source.consistent_read,
    }
    try:
        while not stop.is_set():
            page = dynamodb.scan(**request)
            put(("items", page["Items"]))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except Exception as exc:  # handed to the reader, which raises it as the pipeline's error
        put(("error", exc))
    finally:
        put(("done", None))


def read_table(source: DynamoDBSource, ctx: ExtractContext) -> Iterator[TextBatch]:
    """Batches of every item of the table, each item exactly once."""
    dynamodb = client("dynamodb")
    what = f"dynamodb table {source.table}"
    with aws_errors(what):
        key = [k["AttributeName"] for k in dynamodb.describe_table(TableName=source.table)["Table"]["KeySchema"]]
    deserializer = _Deserializer()
    batcher = RecordBatcher(source.columns, source.optional, source.batch_rows)
    pages: queue.Queue = queue.Queue(maxsize=2 * source.segments)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_scan_segment, args=(dynamodb, source, s, pages, stop), name=f"scan-{source.table}-{s}", daemon=True)
        for s in range(source.segments)
    ]
    for thread in threads:
        thread.start()
    try:
        running = source.segments
        while running:
            kind, payload = pages.get()
            if kind == "done":
                running -= 1
            elif kind == "error":
                raise as_etl_error(payload, what) from payload
            else:
                for raw in payload:
                    item = {name: deserializer.deserialize(value) for name, value in raw.items()}
                    batcher.add(item, f"dynamodb:{source.table}#{to_json({k: item.get(k) for k in key})}")
                    if batcher.full:
                        yield batcher.take()
        yield batcher.take()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
