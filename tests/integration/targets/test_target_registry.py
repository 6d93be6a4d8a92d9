"""Every target type a spec may name has a loader, and the new types parse from YAML."""
from __future__ import annotations

import typing

import pytest

from etl_core.errors import SpecError
from etl_core.load import LOADERS
from etl_core.spec import parse_spec
from etl_core.spec.targets import DynamoDBTarget, Target

SPEC = """pipeline: p
sources: [{name: s, type: s3, uri: x, format: csv, columns: {id: int64}}]
transform: {sql: p.sql}
targets:
  - %s
"""


def test_every_target_type_has_a_loader() -> None:
    (union, _) = typing.get_args(Target)
    types = {typing.get_args(model.model_fields["type"].annotation)[0] for model in typing.get_args(union)}
    assert types == set(LOADERS) == {"lake_parquet", "lake_aggregate", "postgres", "redshift", "dynamodb"}


def test_a_dynamodb_target_in_a_spec() -> None:
    spec = parse_spec(SPEC % "{name: serving, type: dynamodb, table: orders-by-id, key: [order_id]}", "p.yaml")
    assert spec.targets[0] == DynamoDBTarget(name="serving", type="dynamodb", table="orders-by-id", key=["order_id"])


@pytest.mark.parametrize("fields, message", [
    ("table: 'a b'", "table: String should match pattern"),
    ("table: orders, key: [a, b, c]", "key: List should have at most 2 items"),
    ("table: orders, key: []", "key: List should have at least 1 item"),
])
def test_invalid_dynamodb_targets_name_the_field(fields: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(SPEC % ("{name: serving, type: dynamodb, %s}" % fields), "p.yaml")
