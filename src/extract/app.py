"""Extract Lambda: land one source of the run as typed Parquet in staging."""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core.events import ExtractEvent
from etl_core.extract import ExtractContext, checked_source_uri, extract_source
from etl_core.layout import RunLayout
from etl_core.lease import holds_run
from etl_core.observability import stage_handler
from etl_core.settings import Settings
from etl_core.spec import load_spec


@stage_handler("extract", ExtractEvent)
@holds_run()
def lambda_handler(event: ExtractEvent, context: LambdaContext) -> dict:
    settings = Settings.from_env()
    spec = load_spec(settings.pipelines_uri, event.pipeline)
    layout = RunLayout(settings.require_lake(), event.pipeline, event.run_id)
    uri = checked_source_uri(spec, event.source.name, settings, event.run_date, given=event.source.uri)
    ctx = ExtractContext(uri=uri, layout=layout, settings=settings, run_date=event.run_date)
    result = extract_source(spec, event.source.name, ctx)
    return {**result.to_dict(), "records": result.rows_read}
