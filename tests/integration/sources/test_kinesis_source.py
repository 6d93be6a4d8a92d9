"""Kinesis source; the Kinesis API is emulated by moto in server mode (real HTTP through boto3).

Every shard is read from the committed checkpoint to the tip in bounded batches; the
checkpoints a run reaches are committed only by a successful run (Finalize), so a failed
run is read again; malformed records are quarantined with shard and sequence number.
"""
from __future__ import annotations

import json

import boto3
import pytest

from etl_core.errors import SourceNotFound
from etl_core.extract.kinesis import read_stream

STREAM = """
name: clicks
type: kinesis
stream: clicks
batch_rows: 3
columns: {id: int64, page: string, user.country: string}
"""


@pytest.fixture
def kinesis(aws):
    client = boto3.client("kinesis")
    client.create_stream(StreamName="clicks", ShardCount=2)
    return client


def put(kinesis, ids: range, *, raw: bytes | None = None) -> None:
    shards = [s["HashKeyRange"]["StartingHashKey"] for s in kinesis.list_shards(StreamName="clicks")["Shards"]]
    for i in ids:
        data = raw or json.dumps({"id": i, "page": f"/p{i}", "user": {"country": "NZ"}}).encode()
        kinesis.put_record(StreamName="clicks", Data=data, PartitionKey=str(i), ExplicitHashKey=shards[i % 2])


def test_shards_are_read_from_the_committed_checkpoint_to_the_tip(kinesis, lake) -> None:
    spec = lake.spec(STREAM)
    put(kinesis, range(1, 8))
    first = lake.extract(spec, "r1")
    assert sorted(r["id"] for r in first.rows()) == list(range(1, 8))
    assert first.rows()[0]["user.country"] == "NZ"
    shards = lake.staged_state("r1", "clicks")["state"]["shards"]
    assert sorted(shards) == ["shardId-000000000000", "shardId-000000000001"]

    lake.commit("r1")
    put(kinesis, range(8, 11))
    second = lake.extract(spec, "r2")
    assert sorted(r["id"] for r in second.rows()) == [8, 9, 10]

    # r2 failed (never finalized): r3 reads the same records again.
    third = lake.extract(spec, "r3")
    assert sorted(r["id"] for r in third.rows()) == [8, 9, 10]
    lake.commit("r3")
    assert lake.extract(spec, "r4").result.rows_read == 0


def test_batches_stay_bounded_by_batch_rows(kinesis, lake) -> None:
    spec = lake.spec(STREAM)
    put(kinesis, range(1, 12))
    batches = list(read_stream(spec.sources[0], lake.context(spec, "r1")))
    sizes = [b.table.num_rows + len(b.reject_origins) for b in batches]
    assert max(sizes) <= 3 and sum(sizes) == 11


def test_malformed_records_are_quarantined_with_shard_and_sequence(kinesis, lake) -> None:
    put(kinesis, range(1, 3))
    put(kinesis, range(3, 4), raw=b'{"id": 3, "page"')
    put(kinesis, range(4, 5), raw=b"\xff\xfe")
    put(kinesis, range(5, 6), raw=b'{"id": 5}')
    extracted = lake.extract(lake.spec(STREAM))
    assert sorted(r["id"] for r in extracted.rows()) == [1, 2]
    reasons = extracted.reasons()
    assert len(reasons) == 3 and all(o.startswith("kinesis:clicks/shardId-00000000000") and "#" in o for o in reasons)
    assert sorted(r.split(":")[0] for r in reasons.values()) == ["malformed JSON record", "malformed JSON record", "missing declared field(s)"]
    assert "missing declared field(s): page, user.country" in reasons.values()
    assert extracted.result.rows_read == 5


def test_an_empty_stream_is_zero_rows_and_a_missing_one_is_named(kinesis, lake) -> None:
    assert lake.extract(lake.spec(STREAM)).result.rows_read == 0
    with pytest.raises(SourceNotFound, match="kinesis stream nowhere"):
        lake.extract(lake.spec(STREAM.replace("stream: clicks", "stream: nowhere")))
