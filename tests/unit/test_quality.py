"""Quality rules: one pass, every broken rule listed per row, nothing dropped, counts balance."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from etl_core import storage
from etl_core.errors import ConservationError, DataQualityError
from etl_core.layout import RunLayout
from etl_core.quality import rule_failures, validate_run
from etl_core.spec import Rule, parse_spec

ROWS = pa.table(
    {
        "id": [1, 2, 2, 3, 4],
        "qty": [1, 0, 5, None, 2000],
        "status": ["placed", "lost", "placed", "shipped", None],
        "email": ["a@b.com", "nope", None, "c@d.org", "e@f.net"],
        "_origin": [f"f.csv:{i}" for i in range(2, 7)],
    }
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (Rule(check="not_null", column="qty"), [False, False, False, True, False]),
        (Rule(check="unique", columns=["id"]), [False, False, True, False, False]),
        (Rule(check="accepted_values", column="status", values=["placed", "shipped"]), [False, True, False, False, False]),
        (Rule(check="range", column="qty", min=1, max=1000), [False, True, False, False, True]),
        (Rule(check="range", column="qty", min=1), [False, True, False, False, False]),
        (Rule(check="regex", column="email", pattern=r"^[^@]+@[^@]+\.[a-z]+$"), [False, True, False, False, False]),
    ],
)
def test_each_rule_marks_the_rows_that_break_it(rule: Rule, expected: list[bool]) -> None:
    assert rule_failures(ROWS, rule).to_pylist() == expected


def test_unknown_column_is_named() -> None:
    with pytest.raises(DataQualityError, match=r"rule not_null\(nope\): column 'nope' is not in the transform's output"):
        rule_failures(ROWS, Rule(check="not_null", column="nope"))


def spec_with(rules: str, ratio: float = 0.5):
    return parse_spec(
        f"""
pipeline: demo
sources: [{{name: s, type: s3, uri: x, format: csv, columns: {{id: int64}}}}]
transform: {{sql: demo.sql}}
quality: {{max_quarantine_ratio: {ratio}, rules: {rules}}}
targets: [{{name: t, type: lake_parquet, uri: y}}]
""",
        "demo.yaml",
    )


def staged_run(tmp_path: Path) -> tuple[RunLayout, list[dict]]:
    layout = RunLayout(str(tmp_path), "demo", "r1")
    storage.write_parquet(storage.join(layout.transformed, "part-0.parquet"), ROWS)
    extracted = [{"source": "s", "rows_read": 7, "rows_staged": 5, "rows_rejected": 2}]
    return layout, extracted


def test_validate_splits_rows_keeps_every_reason_and_balances(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path)
    spec = spec_with("[{check: unique, columns: [id]}, {check: range, column: qty, min: 1, max: 1000}, "
                     "{check: regex, column: email, pattern: '@', severity: warn}]")
    result = validate_run(spec, layout, extracted)
    assert (result.extracted, result.valid, result.quarantined, result.warned) == (7, 2, 5, 0)
    assert result.extracted == result.valid + result.quarantined
    assert result.quarantine_ratio == pytest.approx(5 / 7, abs=1e-6)
    assert result.passed is False  # 0.71 > 0.5
    quarantined = pq.read_table(layout.quarantine("validate")).to_pylist()
    reasons = {row["_origin"]: row["_reasons"] for row in quarantined}
    assert reasons == {
        "f.csv:3": "range(qty) [quarantine]; regex(email) [warn]",
        "f.csv:4": "unique(id) [quarantine]",
        "f.csv:6": "range(qty) [quarantine]",
    }
    valid = storage.read_parquet(layout.validated)
    assert valid.column("id").to_pylist() == [1, 3]


def test_fail_severity_fails_the_run_naming_rows(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path)
    with pytest.raises(DataQualityError, match=r"f.csv:5: not_null\(qty\) \[fail\]"):
        validate_run(spec_with("[{check: not_null, column: qty, severity: fail}]"), layout, extracted)


def test_transform_that_changes_row_count_is_a_conservation_error(tmp_path: Path) -> None:
    layout, _ = staged_run(tmp_path)
    extracted = [{"source": "s", "rows_read": 9, "rows_staged": 9, "rows_rejected": 0}]
    with pytest.raises(ConservationError, match="turned 9 staged 's' rows into 5"):
        validate_run(spec_with("[]"), layout, extracted)


def test_missing_driving_source_result(tmp_path: Path) -> None:
    layout, _ = staged_run(tmp_path)
    with pytest.raises(ConservationError, match="no extract result for the driving source 's'"):
        validate_run(spec_with("[]"), layout, [{"source": "other", "rows_read": 1, "rows_staged": 1, "rows_rejected": 0}])
