"""The seed's conditional processing through the real state machine: a semi-structured pipeline
(nested JSON) takes the Flatten step before the SQL; a structured one does not.

Real parts: the template's state machine and handlers, Parquet files, PostgreSQL not needed
(the spec loads the lake only). Nothing AWS-side is emulated.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]

SPEC = """
pipeline: events
sources:
  - name: events
    type: s3
    uri: "{raw_uri}/events/{run_date}.jsonl"
    format: jsonl
    columns: {event_id: int64, kind: string, payload: json}
transform: {sql: events.sql}
quality:
  max_quarantine_ratio: 0.5
  rules: [{check: not_null, column: city}]
targets:
  - {name: lake, type: lake_parquet, uri: "{lake_uri}/processed/events"}
"""
SQL = """
SELECT event_id, kind, payload__customer__city AS city, CAST(payload__amount AS DECIMAL(10, 2)) AS amount, _origin
FROM events
"""


def test_semi_structured_pipeline_is_flattened_before_sql(make_runtime, tmp_path: Path) -> None:
    specs, raw = tmp_path / "specs", tmp_path / "raw"
    specs.mkdir()
    (specs / "events.yaml").write_text(SPEC)
    (specs / "events.sql").write_text(SQL)
    (raw / "events").mkdir(parents=True)
    lines = [
        {"event_id": 1, "kind": "buy", "payload": {"customer": {"city": "Oslo"}, "amount": 12.5}},
        {"event_id": 2, "kind": "buy", "payload": {"customer": {"city": "Lima"}, "amount": 3}},
        {"event_id": 3, "kind": "view", "payload": {"customer": {}}},
    ]
    (raw / "events" / "2026-11-26.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    env = json.loads((REPO / "local.env.json").read_text())
    env["Parameters"].update(RAW_URI=str(raw), PIPELINES_URI=str(specs))
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(env))

    result = make_runtime(env_file=env_file).run({"pipeline": "events", "run_date": "2026-11-26"})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    states = [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]
    assert states.index("RouteByDataType") < states.index("FlattenRecords") < states.index("TransformInLambda")
    counts = result.output["counts"]
    assert (counts["extracted"], counts["valid"], counts["quarantined"], counts["loaded"]) == (3, 2, 1, {"lake": 2})
    rows = pq.read_table(tmp_path / "etl-home" / "lake" / "processed" / "events").sort_by("event_id").to_pylist()
    assert [(r["city"], str(r["amount"])) for r in rows] == [("Oslo", "12.50"), ("Lima", "3.00")]


def test_structured_pipeline_skips_flatten(make_runtime) -> None:
    result = make_runtime().run({"pipeline": "orders", "run_date": "2026-11-26"})
    states = [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]
    assert "RouteByDataType" in states and "FlattenRecords" not in states
