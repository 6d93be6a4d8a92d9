"""Target models: one per loader type, chosen by ``type`` in the spec."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from etl_core.spec.base import PartName, StorageUri
from etl_core.spec.base import Strict as _Strict

#: ``table`` or ``schema.table``, plain identifiers: a spec names tables, it does not write SQL.
TABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"

#: An IAM role ARN (partition aws, aws-cn, aws-us-gov ...), the form COPY's IAM_ROLE accepts.
IAM_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$"


class LakeTarget(_Strict):
    """Valid rows as Parquet, partitioned by the spec's columns (S3 processed)."""

    name: PartName
    type: Literal["lake_parquet"]
    uri: StorageUri
    partition_by: list[str] = []


class Aggregate(_Strict):
    column: str | None = None
    function: Literal["sum", "count", "mean", "min", "max", "count_distinct"]
    name: str


class AggregateTarget(_Strict):
    """A grouped summary of the valid rows (S3 aggregated)."""

    name: PartName
    type: Literal["lake_aggregate"]
    uri: StorageUri
    group_by: list[str]
    aggregates: list[Aggregate]


class PostgresTarget(_Strict):
    """A table in RDS PostgreSQL (or the local embedded PostgreSQL), merged by key."""

    name: PartName
    type: Literal["postgres"]
    table: str = Field(pattern=TABLE_NAME)
    key: list[str] = Field(min_length=1)


class RedshiftTarget(_Strict):
    """A Redshift table, merged by key through the Redshift Data API.

    Serverless names its ``workgroup``; a provisioned cluster names its
    ``cluster_identifier`` and authenticates as ``db_user`` (temporary credentials), with a
    Secrets Manager ``secret_arn``, or, with neither, as the function's IAM identity.
    COPY reads S3 as ``iam_role`` (or the load function's ``REDSHIFT_COPY_ROLE_ARN``).
    """

    name: PartName
    type: Literal["redshift"]
    database: str = Field(min_length=1)
    table: str = Field(pattern=TABLE_NAME)
    key: list[str] = Field(min_length=1)
    workgroup: str | None = None
    cluster_identifier: str | None = None
    db_user: str | None = None
    secret_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:secretsmanager:")
    iam_role: str | None = Field(None, pattern=IAM_ROLE_ARN)
    max_wait_seconds: int = Field(600, ge=10, le=840, description="bounded wait for the batch (the Lambda allows 900 s)")

    @model_validator(mode="after")
    def _one_endpoint(self) -> "RedshiftTarget":
        if (self.workgroup is None) == (self.cluster_identifier is None):
            raise ValueError("name exactly one of workgroup (Serverless) or cluster_identifier (provisioned)")
        if self.db_user is not None and self.workgroup is not None:
            raise ValueError("db_user applies to a provisioned cluster only; Serverless uses secret_arn or the IAM identity")
        if self.db_user is not None and self.secret_arn is not None:
            raise ValueError("name db_user or secret_arn, not both")
        return self


class DynamoDBTarget(_Strict):
    """A DynamoDB table, one item per row, written by key (a re-run rewrites the same items).

    ``key``, when given, must be the table's key attributes: a spec that disagrees with the
    table fails before anything is written.
    """

    name: PartName
    type: Literal["dynamodb"]
    table: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    key: list[str] | None = Field(None, min_length=1, max_length=2)


Target = Annotated[
    Union[LakeTarget, AggregateTarget, PostgresTarget, RedshiftTarget, DynamoDBTarget], Field(discriminator="type")
]
