"""Planning a run: check the request and the spec before any work, then write the run manifest.

The manifest pins everything later stages need (source URIs, the SQL text, where staged
data lives), so Extract, Transform on either engine, Validate and Load all work from the
same facts, and a redrive days later sees the run exactly as it was planned.
"""
from __future__ import annotations

import datetime as dt

from aws_lambda_powertools import Logger, Tracer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from etl_core import storage
from etl_core.errors import InputError, SourceNotFound
from etl_core.extract import planned_source_uri
from etl_core.layout import RunLayout
from etl_core.lease import run_lease
from etl_core.settings import Settings
from etl_core.spec import load_spec, load_sql, spec_uri
from etl_core.spec.paths import RUN_ID
from etl_core.spec_check import check_spec

logger = Logger(child=True)
tracer = Tracer()


class RunRequest(BaseModel):
    """The execution input: which pipeline, for which day, under which run id."""

    model_config = ConfigDict(extra="forbid")

    pipeline: str = Field(min_length=1)
    run_date: dt.date | None = None
    run_id: str | None = None

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str | None) -> str | None:
        if value is not None and not RUN_ID.match(value):
            raise ValueError(f"must match {RUN_ID.pattern}")
        return value


def parse_request(execution_input: object) -> RunRequest:
    """The execution input, checked; every problem names its field."""
    try:
        return RunRequest.model_validate(execution_input)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<input>'}: {e['msg']}" for e in exc.errors())
        raise InputError(f"invalid execution input {execution_input!r}: {problems}") from None


@tracer.capture_method
def plan_run(request: RunRequest, settings: Settings, execution_start: str | None = None, owner: str | None = None) -> dict:
    """Plan the run for execution ``owner`` (``$$.Execution.Id``), which first takes the run's lease."""
    spec = load_spec(settings.pipelines_uri, request.pipeline)
    sql = load_sql(settings.pipelines_uri, spec)
    # Before anything is written: a spec naming a column the transform does not produce fails here.
    check_spec(spec, sql, spec_uri(settings.pipelines_uri, spec.pipeline), storage.join(settings.pipelines_uri, spec.transform.sql))
    run_date = request.run_date or (
        dt.datetime.fromisoformat(execution_start.replace("Z", "+00:00")).date()
        if execution_start
        else dt.datetime.now(dt.timezone.utc).date()
    )
    run_id = request.run_id or run_date.isoformat()
    lake = settings.require_lake()
    layout = RunLayout(lake, spec.pipeline, run_id)
    sources = []
    input_bytes = 0
    for source in spec.sources:
        uri = planned_source_uri(spec, source.name, settings, run_date.isoformat())
        if source.type == "s3":  # other sources cannot be sized before reading them
            try:
                input_bytes += storage.size_of(uri)
            except SourceNotFound:
                pass  # Extract reports it, with the stage's own retry and error routing.
        sources.append({"name": source.name, "uri": uri})
    manifest = {
        "pipeline": spec.pipeline,
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "lake_uri": lake,
        "sources": {s.name: layout.staged_source(s.name) for s in spec.sources},
        "driving_source": spec.driving_source,
        "transform_sql": sql,
        "transformed_uri": layout.transformed,
    }
    lease = run_lease(settings, spec.pipeline, run_id, owner)
    if lease is not None:
        lease.hold()  # before anything of the run is written: another execution may be using it
    storage.write_json(layout.manifest, manifest)
    logger.info("run planned", extra={"run_id": run_id, "input_bytes": input_bytes, "sources": len(sources)})
    return {
        "pipeline": spec.pipeline,
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "sources": sources,
        "targets": [t.name for t in spec.targets],
        "data_type": spec.data_type,
        "input_bytes": input_bytes,
        "glue_threshold_bytes": settings.glue_threshold_bytes,
        "emr_threshold_bytes": settings.emr_threshold_bytes,
        "manifest_uri": layout.manifest,
    }
