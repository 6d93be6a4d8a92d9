"""Transform Lambda: the spec's SQL on the single-node engine (inputs under the Glue threshold),
and the semi-structured path's Flatten step that runs before the SQL on either engine."""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core import storage
from etl_core.events import TransformEvent
from etl_core.flatten import flatten_run
from etl_core.layout import RunLayout
from etl_core.lease import holds_run
from etl_core.observability import stage_handler
from etl_core.settings import Settings
from etl_core.spec import load_spec
from etl_core.spec_check import output_check
from etl_core.transform import run_transform


@stage_handler("transform", TransformEvent)
@holds_run()
def lambda_handler(event: TransformEvent, context: LambdaContext) -> dict:
    settings = Settings.from_env()
    layout = RunLayout(settings.require_lake(), event.pipeline, event.run_id)
    if event.step == "flatten":
        added = flatten_run(load_spec(settings.pipelines_uri, event.pipeline), layout)
        return {"step": "flatten", "columns_added": added}
    # Sources whose columns are known only once staged (inferred, flattened) are checked here, before any write.
    check = output_check(load_spec(settings.pipelines_uri, event.pipeline), settings.pipelines_uri)
    rows = run_transform(storage.read_json(layout.manifest), check)
    return {"engine": "lambda", "records": rows, "transformed_uri": layout.transformed}
