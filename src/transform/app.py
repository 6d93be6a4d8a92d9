"""Transform Lambda: the spec's SQL on the single-node engine, for inputs under the Glue threshold."""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core import storage
from etl_core.events import RunEvent
from etl_core.layout import RunLayout
from etl_core.observability import stage_handler
from etl_core.settings import Settings
from etl_core.transform import run_transform


@stage_handler("transform", RunEvent)
def lambda_handler(event: RunEvent, context: LambdaContext) -> dict:
    layout = RunLayout(Settings.from_env().require_lake(), event.pipeline, event.run_id)
    rows = run_transform(storage.read_json(layout.manifest))
    return {"engine": "lambda", "records": rows, "transformed_uri": layout.transformed}
