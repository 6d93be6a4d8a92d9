"""Finalize Lambda: after every Load succeeded, commit the watermarks and checkpoints the run staged.

Only here does an incremental source's state advance, so a run that fails anywhere before
leaves it where it was and the next run reads the same records again. Committing is
idempotent, so a retry or a redrive of this step is harmless.
"""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core.events import FinalizeEvent
from etl_core.layout import RunLayout
from etl_core.lease import holds_run
from etl_core.observability import stage_handler
from etl_core.settings import Settings
from etl_core.source_state import commit_run_state


@stage_handler("finalize", FinalizeEvent)
@holds_run(release=True)
def lambda_handler(event: FinalizeEvent, context: LambdaContext) -> dict:
    layout = RunLayout(Settings.from_env().require_lake(), event.pipeline, event.run_id)
    return {"pipeline": event.pipeline, "run_id": event.run_id, **commit_run_state(layout)}
