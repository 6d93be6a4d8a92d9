"""Load Lambda: replace the run's rows in one target, once per (pipeline, run, target, rows).

Powertools idempotency keys a load on its identity (etl_core.load.load_identity): a repeated
invocation with the same rows (a Step Functions retry after a lost response, a redrive, a
re-run of unchanged input) returns the first load's result marked ``skipped: unchanged``;
corrected rows have another fingerprint and load, replacing the run's rows in the target.
The persistence layer and the config are built once per execution environment, as
Powertools documents; only the Lambda context is registered per invocation.
"""
from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core.events import LoadEvent
from etl_core.idempotency import LOAD_IDEMPOTENCY, SKIPPED, persistence_layer
from etl_core.layout import RunLayout
from etl_core.lease import holds_run
from etl_core.load import load_identity, load_target
from etl_core.observability import count_load, stage_handler
from etl_core.settings import Settings
from etl_core.spec import load_spec

settings = Settings.from_env()


@idempotent_function(data_keyword_argument="request", config=LOAD_IDEMPOTENCY, persistence_store=persistence_layer(settings))
def load_once(request: dict) -> dict:
    spec = load_spec(settings.pipelines_uri, request["pipeline"])
    layout = RunLayout(settings.require_lake(), request["pipeline"], request["run_id"])
    return load_target(spec, request["target"], layout, settings)


@stage_handler("load", LoadEvent)
@holds_run()
def lambda_handler(event: LoadEvent, context: LambdaContext) -> dict:
    LOAD_IDEMPOTENCY.register_lambda_context(context)
    spec = load_spec(settings.pipelines_uri, event.pipeline)
    result = load_once(request=load_identity(spec, event.pipeline, event.run_id, event.target, event.fingerprint))
    count_load(event.pipeline, event.target, result["rows"], replayed=result["status"] == SKIPPED)
    return {**result, "records": result["rows"]}
