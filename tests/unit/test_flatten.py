"""Flatten (the semi-structured path): JSON columns become plain text columns, re-runs are stable."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from etl_core import storage
from etl_core.flatten import flatten_source, leaves


def test_leaves_name_paths_with_double_underscores() -> None:
    value = {"a": {"b": 1, "c": [1, 2]}, "d": True, "e": None, "f": "x", "g": 2.5}
    assert dict(leaves(value, "p")) == {"p__a__b": "1", "p__a__c": "[1,2]", "p__d": "true", "p__e": None, "p__f": "x", "p__g": "2.5"}


def test_flatten_adds_every_path_seen_and_is_idempotent(tmp_path: Path) -> None:
    uri = str(tmp_path / "part-0.parquet")
    docs = [json.dumps({"customer": {"id": 1, "city": "Oslo"}}), None, json.dumps({"customer": {"id": 2}, "tags": ["a"]})]
    storage.write_parquet(uri, pa.table({"id": [1, 2, 3], "payload": docs}))

    added = flatten_source(uri, ["payload"])
    assert added == ["payload__customer__id", "payload__customer__city", "payload__tags"]
    table = pq.read_table(uri)
    assert table.column("payload__customer__city").to_pylist() == ["Oslo", None, None]
    assert table.column("payload__tags").to_pylist() == [None, None, '["a"]']
    assert table.column("payload").to_pylist() == docs  # the document itself is kept

    assert flatten_source(uri, ["payload"]) == added
    assert pq.read_table(uri).column_names == table.column_names
