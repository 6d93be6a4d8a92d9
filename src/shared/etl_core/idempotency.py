"""Idempotency for loads: Powertools' utility over DynamoDB, on AWS and locally alike.

The handler always uses Powertools' DynamoDBPersistenceLayer through boto3. Locally the
runtime provides a DynamoDB endpoint (``AWS_ENDPOINT_URL_DYNAMODB``, which boto3 honours;
etl_local.dynamodb) whose tables live in the home folder, so nothing local-only ships here.
"""
from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    DataRecord,
)

from etl_core.errors import InputError
from etl_core.settings import Settings


def persistence_layer(settings: Settings) -> BasePersistenceLayer:
    if settings.idempotency_table:
        return DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
    raise InputError("set IDEMPOTENCY_TABLE: the load function keeps its idempotency records in that DynamoDB table")


#: What a skipped load reports as its status, per target, in the execution's output.
SKIPPED = "skipped: unchanged"


def _skipped(response: dict, record: DataRecord) -> dict:
    """A load served from its record: the same rows were already loaded into this target."""
    return {**response, "status": SKIPPED}


#: A load is its run, its target (with the target's definition) and the fingerprint of its
#: rows: the same rows again are skipped, corrected rows load. A record lives a week.
LOAD_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="[pipeline, run_id, target, definition, fingerprint]",
    expires_after_seconds=7 * 24 * 3600,
    response_hook=_skipped,
)
