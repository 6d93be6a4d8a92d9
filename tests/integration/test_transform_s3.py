"""The single-node engine on an S3 lake: staged objects are streamed to a local work folder
for DuckDB's reader and the result is written back to S3. S3 is emulated by moto (server
mode, reached by pyarrow's S3 file system over HTTP); DuckDB is real."""
from __future__ import annotations

import boto3
import pyarrow as pa

from etl_core import storage
from etl_core.transform import run_transform


def test_transform_reads_and_writes_s3(aws: str) -> None:
    boto3.client("s3").create_bucket(Bucket="lake")
    storage.write_parquet("s3://lake/staging/p/r1/sources/a/part-0.parquet", pa.table({"id": [1, 2, 3], "_origin": ["a:1", "a:2", "a:3"]}))
    storage.write_parquet("s3://lake/staging/p/r1/sources/b/part-0.parquet", pa.table({"id": [1, 3], "name": ["x", "z"]}))
    manifest = {
        "pipeline": "p",
        "sources": {"a": "s3://lake/staging/p/r1/sources/a", "b": "s3://lake/staging/p/r1/sources/b"},
        "transform_sql": "SELECT a.id, b.name, a._origin FROM a LEFT JOIN b ON a.id = b.id ORDER BY a.id",
        "transformed_uri": "s3://lake/staging/p/r1/transformed",
    }

    assert run_transform(manifest) == 3
    out = storage.read_parquet("s3://lake/staging/p/r1/transformed")
    assert out.to_pylist() == [{"id": 1, "name": "x", "_origin": "a:1"}, {"id": 2, "name": None, "_origin": "a:2"},
                               {"id": 3, "name": "z", "_origin": "a:3"}]
