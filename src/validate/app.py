"""Validate Lambda: apply the spec's quality rules, split valid from quarantined rows."""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_core.events import ValidateEvent
from etl_core.layout import RunLayout
from etl_core.observability import stage_handler
from etl_core.quality import validate_run
from etl_core.settings import Settings
from etl_core.spec import load_spec


@stage_handler("validate", ValidateEvent)
def lambda_handler(event: ValidateEvent, context: LambdaContext) -> dict:
    settings = Settings.from_env()
    spec = load_spec(settings.pipelines_uri, event.pipeline)
    layout = RunLayout(settings.require_lake(), event.pipeline, event.run_id)
    result = validate_run(spec, layout, event.extracted)
    return {**result.to_dict(), "records": result.transformed}
