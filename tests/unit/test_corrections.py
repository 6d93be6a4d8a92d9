"""Data correction: each declarative fix does what it says, is counted, and never drops a row silently."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from etl_core.corrections import Corrected, check_corrections, correct_batch, plan_dedupes
from etl_core.errors import DataQualityError, SpecError
from etl_core.spec import Correction, parse_spec

UTC = dt.timezone.utc


def apply_corrections(table: pa.Table, corrections: list) -> Corrected:
    """The streaming pieces Validate uses, applied to one whole table (one batch)."""
    check_corrections(table.slice(0, 0), corrections)
    plan = plan_dedupes(corrections, table.schema, lambda columns: [table.select(columns)])
    return correct_batch(table, corrections, plan)


def fixes(*specs: dict) -> list[Correction]:
    return [Correction.model_validate(s) for s in specs]


ROWS = pa.table(
    {
        "id": [1, 1, 2, None, 2, 3],
        "version": [5, 7, 1, 1, None, 2],
        "status": [" Placed", "shipped ", None, "LOST", "  ", "placed"],
        "day": ["26/11/2026", "31/02/2026", None, "1/2/2026", "x", "01/01/2026"],
        "amount": pa.array([None, 1, 2, None, 4, 5], pa.decimal128(10, 2)),
        "_origin": [f"f:{i}" for i in range(6)],
    }
)


def test_trim_and_case_rewrite_text_and_count_the_values_changed() -> None:
    result = apply_corrections(ROWS, fixes({"trim": ["status"]}, {"case": {"columns": "status", "to": "upper"}}))
    assert result.table.column("status").to_pylist() == ["PLACED", "SHIPPED", None, "LOST", "", "PLACED"]
    assert result.counts == {"trim(status)": 3, "case(status)": 3}
    assert result.failures == {} and result.superseded.num_rows == 0


def test_lower_case() -> None:
    result = apply_corrections(ROWS, fixes({"case": {"columns": ["status"], "to": "lower"}}))
    assert result.table.column("status").to_pylist() == [" placed", "shipped ", None, "lost", "  ", "placed"]
    assert result.counts == {"case(status)": 2}


def test_cast_with_a_format_is_strict_and_quarantines_what_it_cannot_read() -> None:
    result = apply_corrections(ROWS, fixes({"cast": {"column": "day", "to": "date", "format": "%d/%m/%Y"}}))
    assert result.table.schema.field("day").type == pa.date32()
    assert result.table.column("day").to_pylist() == [dt.date(2026, 11, 26), None, None, dt.date(2026, 2, 1), None, dt.date(2026, 1, 1)]
    assert result.counts == {"cast(day)": 3}
    assert result.failures == {
        1: ["cast(day): '31/02/2026' is not a valid date in format '%d/%m/%Y' [quarantine]"],
        4: ["cast(day): 'x' is not a valid date in format '%d/%m/%Y' [quarantine]"],
    }
    assert result.table.num_rows == ROWS.num_rows  # a failed cast keeps its row, for quarantine


def test_cast_to_timestamp_with_a_format_is_utc() -> None:
    rows = pa.table({"at": ["26.11.2026 10:30", "26.11.2026 25:00"]})
    result = apply_corrections(rows, fixes({"cast": {"column": "at", "to": "timestamp", "format": "%d.%m.%Y %H:%M"}}))
    assert result.table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert result.table.column("at").to_pylist() == [dt.datetime(2026, 11, 26, 10, 30, tzinfo=UTC), None]
    assert result.counts == {"cast(at)": 1} and list(result.failures) == [1]


def test_cast_without_a_format_reads_values_as_extract_does() -> None:
    rows = pa.table({"n": ["12", "twelve", None, "7"], "price": ["1.50", "2", "x", None]})
    result = apply_corrections(rows, fixes({"cast": {"column": "n", "to": "int64"}}, {"cast": {"column": "price", "to": "decimal(10,2)"}}))
    assert result.table.column("n").to_pylist() == [12, None, None, 7]
    assert result.table.column("price").to_pylist() == [Decimal("1.50"), Decimal("2.00"), None, None]
    assert result.counts == {"cast(n)": 2, "cast(price)": 2}
    assert result.failures == {
        1: ["cast(n): 'twelve' is not a valid int64 [quarantine]"],
        2: ["cast(price): 'x' is not a valid decimal(10,2) [quarantine]"],
    }


def test_default_fills_nulls_with_a_value_of_the_columns_type() -> None:
    result = apply_corrections(ROWS, fixes({"default": {"columns": ["amount"], "value": 0}}, {"default": {"columns": "status", "value": "unknown"}}))
    assert result.table.column("amount").to_pylist()[:4] == [Decimal("0.00"), Decimal("1.00"), Decimal("2.00"), Decimal("0.00")]
    assert result.table.column("status").to_pylist()[2] == "unknown"
    assert result.counts == {"default(amount)": 2, "default(status)": 1}
    dated = apply_corrections(pa.table({"d": pa.array([None, dt.date(2026, 1, 2)])}), fixes({"default": {"columns": "d", "value": dt.date(2026, 1, 1)}}))
    assert dated.table.column("d").to_pylist() == [dt.date(2026, 1, 1), dt.date(2026, 1, 2)]


def test_dedupe_keeps_the_latest_and_returns_the_superseded_with_the_kept_origin() -> None:
    result = apply_corrections(ROWS, fixes({"dedupe": {"key": ["id"], "keep_latest_by": "version"}}))
    assert result.table.column("_origin").to_pylist() == ["f:1", "f:2", "f:3", "f:5"]  # null key f:3 is not a duplicate
    assert result.counts == {"dedupe(id)": 2}
    assert result.superseded.column("_origin").to_pylist() == ["f:0", "f:4"]
    assert result.superseded_by == ["dedupe(id): superseded by f:1", "dedupe(id): superseded by f:2"]  # a null version is oldest


def test_dedupe_without_an_order_keeps_the_last_row_and_ties_go_to_the_later_row() -> None:
    rows = pa.table({"k": ["a", "a", "b", "a"], "v": [1, 2, 2, 2], "_origin": ["r1", "r2", "r3", "r4"]})
    assert apply_corrections(rows, fixes({"dedupe": {"key": "k"}})).table.column("_origin").to_pylist() == ["r3", "r4"]
    tied = apply_corrections(rows, fixes({"dedupe": {"key": "k", "keep_latest_by": "v"}}))
    assert tied.table.column("_origin").to_pylist() == ["r3", "r4"]
    assert tied.superseded_by == ["dedupe(k): superseded by r4", "dedupe(k): superseded by r4"]


def test_dedupe_keeps_the_failures_of_the_rows_it_keeps() -> None:
    result = apply_corrections(ROWS, fixes({"cast": {"column": "day", "to": "date", "format": "%d/%m/%Y"}}, {"dedupe": {"key": "id"}}))
    # the failed casts of rows 1 ('31/02/2026') and 4 ('x') follow them to their new places 0 and 2
    assert result.table.column("_origin").to_pylist() == ["f:1", "f:3", "f:4", "f:5"]
    assert sorted(result.failures) == [0, 2]
    assert result.superseded.num_rows + result.table.num_rows == ROWS.num_rows


def test_no_corrections_change_nothing() -> None:
    result = apply_corrections(ROWS, [])
    assert result.table.equals(ROWS) and result.counts == {} and result.superseded.num_rows == 0


def test_empty_batch() -> None:
    result = apply_corrections(ROWS.slice(0, 0), fixes({"trim": "status"}, {"cast": {"column": "day", "to": "date", "format": "%d/%m/%Y"}}, {"dedupe": {"key": "id"}}))
    assert result.table.num_rows == 0 and result.counts == {"trim(status)": 0, "cast(day)": 0, "dedupe(id)": 0}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"trim": ["nope"]}, r"correction trim\(nope\): column 'nope' is not in the transform's output"),
        ({"dedupe": {"key": ["id"], "keep_latest_by": "nope"}}, r"correction dedupe\(id\): column 'nope' is not in"),
        ({"trim": ["id"]}, r"correction trim\(id\): column 'id' is int64, not text"),
        ({"case": {"columns": "amount", "to": "upper"}}, r"correction case\(amount\): column 'amount' is decimal128\(10, 2\), not text"),
        ({"cast": {"column": "id", "to": "date"}}, r"correction cast\(id\): column 'id' is int64, not text"),
        ({"default": {"columns": "amount", "value": "lots"}}, r"correction default\(amount\): default 'lots' is not a valid decimal128\(10, 2\)"),
    ],
)
def test_a_correction_that_cannot_apply_names_itself_and_the_column(spec: dict, message: str) -> None:
    with pytest.raises(DataQualityError, match=message):
        apply_corrections(ROWS, fixes(spec))


@pytest.mark.parametrize(
    ("corrections", "message"),
    [
        ("[{trim: [a], case: {columns: [a], to: upper}}]", "names exactly one of trim, case, cast, default, dedupe; found trim, case"),
        ("[{}]", "found none"),
        ("[{strip: [a]}]", r"quality.corrections\[0\].strip: Extra inputs are not permitted"),
        ("[{case: {columns: [a], to: title}}]", r"quality.corrections\[0\].case.to: Input should be 'upper' or 'lower'"),
        ("[{cast: {column: a, to: int64, format: '%d'}}]", "format applies to casts to date or timestamp, not int64"),
        ("[{cast: {column: a, to: date, format: dd/mm/yyyy}}]", "has no strptime directive"),
        ("[{default: {columns: [a], value: null}}]", "a default must not be null"),
        ("[{dedupe: {key: []}}]", r"quality.corrections\[0\].dedupe.key: List should have at least 1 item"),
        ("[{trim: [a]}, {trim: a}]", r"corrections repeated \(each is counted by its label\): trim\(a\)"),
    ],
)
def test_correction_mistakes_in_the_spec_name_the_field(corrections: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(
            f"""
pipeline: demo
sources: [{{name: s, type: s3, uri: x, format: csv, columns: {{id: int64}}}}]
transform: {{sql: demo.sql}}
quality: {{corrections: {corrections}}}
targets: [{{name: t, type: lake_parquet, uri: y}}]
""",
            "demo.yaml",
        )
