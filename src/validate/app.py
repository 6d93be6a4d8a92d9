"""Validate Lambda: correct the rows, apply the spec's quality rules, split valid from quarantined."""
from __future__ import annotations

import datetime as dt

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core import storage
from etl_core.events import ValidateEvent
from etl_core.layout import RunLayout
from etl_core.lease import holds_run
from etl_core.observability import count_quarantine, stage_handler
from etl_core.quality import validate_run
from etl_core.settings import Settings
from etl_core.spec import load_spec


@stage_handler("validate", ValidateEvent)
@holds_run()
def lambda_handler(event: ValidateEvent, context: LambdaContext) -> dict:
    settings = Settings.from_env()
    spec = load_spec(settings.pipelines_uri, event.pipeline)
    layout = RunLayout(settings.require_lake(), event.pipeline, event.run_id)
    run_date = dt.date.fromisoformat(storage.read_json(layout.manifest)["run_date"])  # the day Plan fixed for the run
    result = validate_run(spec, layout, event.extracted, run_date=run_date, settings=settings)
    count_quarantine(event.pipeline, result.quarantined, result.extracted, passed=result.passed)
    return {**result.to_dict(), "records": result.transformed}
