"""Load: write one run's valid rows into one target, so that re-running replaces, never duplicates."""
from __future__ import annotations

import pyarrow as pa

from etl_core import storage
from etl_core.layout import RunLayout
from etl_core.load.lake import write_aggregate, write_partitioned
from etl_core.settings import Settings
from etl_core.spec import AggregateTarget, LakeTarget, PipelineSpec, expand

RUN_COLUMN = "etl_run_id"


def publishable(table: pa.Table, run_id: str) -> pa.Table:
    """Drop pipeline-internal columns (``_origin`` ...) and stamp the run for lineage."""
    kept = table.select([c for c in table.column_names if not c.startswith("_")])
    return kept.append_column(RUN_COLUMN, pa.array([run_id] * kept.num_rows, pa.string()))


def load_target(spec: PipelineSpec, target_name: str, layout: RunLayout, settings: Settings) -> dict:
    target = spec.target(target_name)
    rows = publishable(storage.read_parquet(layout.validated), layout.run_id)
    if isinstance(target, LakeTarget):
        uri = expand(target.uri, lake_uri=layout.lake_uri, raw_uri=settings.raw_uri, pipeline=spec.pipeline)
        written = write_partitioned(rows, uri, target.partition_by, layout.run_id)
        return {"target": target.name, "type": target.type, "rows": written, "uri": uri}
    if isinstance(target, AggregateTarget):
        uri = expand(target.uri, lake_uri=layout.lake_uri, raw_uri=settings.raw_uri, pipeline=spec.pipeline)
        groups = write_aggregate(rows, uri, target, layout.run_id)
        return {"target": target.name, "type": target.type, "rows": rows.num_rows, "groups": groups, "uri": uri}
    from etl_core.load.postgres import upsert  # only the load function ships the driver

    written = upsert(rows, target, settings)
    return {"target": target.name, "type": target.type, "rows": written, "table": target.table}
