"""Reading a Kinesis stream: every shard from the last committed checkpoint to the tip, in batches.

The checkpoint is the last sequence number read per shard. A shard with a checkpoint is
read ``AFTER_SEQUENCE_NUMBER`` it, a new one from ``TRIM_HORIZON``; the positions reached
are staged and committed only when the run succeeds (etl_core.source_state), so a failed
run is read again by the next one. Shards are read in ListShards order, which puts a
parent before the children it was split or merged into.
"""
from __future__ import annotations

from typing import Any, Iterator

from etl_core import source_state
from etl_core.aws import aws_errors, client
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.records import RecordBatcher, parse_json
from etl_core.spec.sources import KinesisSource


def _shards(kinesis: Any, stream: str) -> list[str]:
    shards: list[str] = []
    request: dict[str, Any] = {"StreamName": stream}
    while True:
        page = kinesis.list_shards(**request)
        shards += [s["ShardId"] for s in page["Shards"]]
        if not page.get("NextToken"):
            return shards
        request = {"NextToken": page["NextToken"]}


def _iterator(kinesis: Any, stream: str, shard: str, after: str | None) -> str:
    start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after} if after else {"ShardIteratorType": "TRIM_HORIZON"}
    return kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, **start)["ShardIterator"]


def read_stream(source: KinesisSource, ctx: ExtractContext) -> Iterator[TextBatch]:
    """Batches of the stream's JSON records; stages each shard's new checkpoint when done."""
    kinesis = client("kinesis")
    previous = source_state.committed_state(ctx.layout, source.name)
    positions: dict[str, str] = dict((previous or {}).get("shards", {}))
    batcher = RecordBatcher(source.columns, source.optional, source.batch_rows)
    with aws_errors(f"kinesis stream {source.stream}"):
        for shard in _shards(kinesis, source.stream):
            iterator: str | None = _iterator(kinesis, source.stream, shard, positions.get(shard))
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=source.batch_rows)
                for record in page["Records"]:
                    sequence = record["SequenceNumber"]
                    origin = f"kinesis:{source.stream}/{shard}#{sequence}"
                    try:
                        batcher.add(parse_json(record["Data"].decode("utf8")), origin)
                    except (ValueError, UnicodeDecodeError) as exc:
                        batcher.reject(origin, record["Data"].decode("utf8", errors="replace"), f"malformed JSON record: {exc}")
                    positions[shard] = sequence
                    if batcher.full:
                        yield batcher.take()
                iterator = page.get("NextShardIterator")  # None once a closed shard is read to its end
                # At the tip: nothing left behind it, and the page was not cut short by the limit.
                if page.get("MillisBehindLatest", 0) == 0 and len(page["Records"]) < source.batch_rows:
                    break
    yield batcher.take()
    source_state.stage_state(ctx.layout, source.name, {"shards": positions}, previous=previous)
