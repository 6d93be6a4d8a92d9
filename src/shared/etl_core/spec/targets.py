"""Target models: one per loader type, chosen by ``type`` in the spec."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from etl_core.spec.base import Strict as _Strict


class LakeTarget(_Strict):
    """Valid rows as Parquet, partitioned by the spec's columns (S3 processed)."""

    name: str
    type: Literal["lake_parquet"]
    uri: str
    partition_by: list[str] = []


class Aggregate(_Strict):
    column: str | None = None
    function: Literal["sum", "count", "mean", "min", "max", "count_distinct"]
    name: str


class AggregateTarget(_Strict):
    """A grouped summary of the valid rows (S3 aggregated)."""

    name: str
    type: Literal["lake_aggregate"]
    uri: str
    group_by: list[str]
    aggregates: list[Aggregate]


class PostgresTarget(_Strict):
    """A table in RDS PostgreSQL (or the local embedded PostgreSQL), upserted by key."""

    name: str
    type: Literal["postgres"]
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    key: list[str]


Target = Annotated[Union[LakeTarget, AggregateTarget, PostgresTarget], Field(discriminator="type")]


