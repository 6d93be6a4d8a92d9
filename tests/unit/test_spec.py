"""Pipeline specs: the shipped one is valid; every kind of mistake names the file and the field."""
from __future__ import annotations

from pathlib import Path

import pytest

from etl_core.errors import SpecError
from etl_core.settings import BUNDLED_PIPELINES
from etl_core.spec import expand, load_spec, load_sql, parse_spec

GOOD = """
pipeline: demo
sources:
  - {name: a, type: s3, uri: "{raw_uri}/a.csv", format: csv, columns: {id: int64}}
transform: {sql: demo.sql}
targets:
  - {name: lake, type: lake_parquet, uri: "{lake_uri}/demo"}
"""


def test_bundled_spec_loads_with_its_sql() -> None:
    spec = load_spec(str(BUNDLED_PIPELINES), "orders")
    assert spec.driving_source == "orders"
    assert [t.type for t in spec.targets] == ["lake_parquet", "lake_aggregate", "postgres"]
    assert "FROM orders" in load_sql(str(BUNDLED_PIPELINES), spec)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("format: csv", "format: xml"), "demo.yaml: sources[0].s3.format: Input should be 'csv', 'jsonl' or 'parquet'"),
        (("{id: int64}", "{id: integer}"), "demo.yaml: sources[0].s3.columns.id"),
        (("{id: int64}", "{}"), "declare at least one column"),
        (("type: lake_parquet", "type: ftp"), "demo.yaml: targets[0]: Input tag 'ftp' found using 'type' does not match any of the expected tags"),
        (("transform: {sql: demo.sql}", "transform: {sql: demo.sql, driving_source: zz}"), "driving_source 'zz' is not one of the sources"),
        (("pipeline: demo", "pipeline: Demo!"), "pipeline name 'Demo!' must match"),
        (("transform: {sql: demo.sql}", "transform: {sql: demo.sql}\nextra: 1"), "demo.yaml: extra: Extra inputs are not permitted"),
        (("transform: {sql: demo.sql}", "transform: {sql: demo.sql}\nquality: {rules: [{check: regex, column: a, pattern: '('}]}"), "is not a valid regular expression"),
        (("transform: {sql: demo.sql}", "transform: {sql: demo.sql}\nquality: {rules: [{check: range, column: a}]}"), "check 'range' needs min or max"),
        (("transform: {sql: demo.sql}", "transform: {sql: demo.sql}\nquality: {max_quarantine_ratio: 2}"), "quality.max_quarantine_ratio: Input should be less than or equal to 1"),
    ],
)
def test_spec_errors_name_file_and_field(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(GOOD.replace(*change), "demo.yaml")
    assert expected in str(err.value)


def test_duplicate_source_names_are_rejected() -> None:
    text = GOOD.replace("sources:\n", "sources:\n  - {name: a, type: s3, uri: x, format: csv, columns: {id: int64}}\n")
    with pytest.raises(SpecError, match="sources: names must be unique, repeated: a"):
        parse_spec(text, "demo.yaml")


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(SpecError, match="demo.yaml: not valid YAML"):
        parse_spec("a: [", "demo.yaml")
    with pytest.raises(SpecError, match="demo.yaml: a spec must be a mapping"):
        parse_spec("- 1", "demo.yaml")


def test_unknown_pipeline_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(GOOD)
    with pytest.raises(SpecError, match=r"unknown pipeline 'nope': no spec at .*nope.yaml \(known: demo\)"):
        load_spec(str(tmp_path), "nope")


def test_spec_file_must_name_its_own_pipeline(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(GOOD)
    with pytest.raises(SpecError, match="pipeline: says 'demo', but the file is named for 'other'"):
        load_spec(str(tmp_path), "other")


def test_missing_sql_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(GOOD)
    spec = load_spec(str(tmp_path), "demo")
    with pytest.raises(SpecError, match=r"demo.yaml: transform.sql: no file at .*demo.sql"):
        load_sql(str(tmp_path), spec)


def test_unknown_placeholder_is_named() -> None:
    assert expand("{raw_uri}/x", raw_uri="s3://b") == "s3://b/x"
    with pytest.raises(SpecError, match=r"unknown placeholder \{bucket\}"):
        expand("{bucket}/x", raw_uri="s3://b")
