"""Quality rules: one pass, every broken rule listed per row with a human reason, nothing dropped, counts balance."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_core import storage
from etl_core.errors import ConservationError, DataQualityError, SpecError
from etl_core.layout import RunLayout
from etl_core.quality import Lookups, evaluate, rule_failures, validate_run
from etl_core.spec import Rule, parse_spec

UTC = dt.timezone.utc

ROWS = pa.table(
    {
        "id": [1, 2, 2, 3, 4],
        "qty": [1, 0, 5, None, 2000],
        "status": ["placed", "lost", "placed", "shipped", None],
        "email": ["a@b.com", "nope", None, "c@d.org", "e@f.net"],
        "day": ["2026-11-26", "2026-02-30", "2026-1-5", None, "26/11/2026"],
        "at": ["2026-11-26T10:00:00Z", "2026-11-26 10:00", "2026-11-26T25:00:00", "yesterday", None],
        "uid": ["123e4567-e89b-12d3-a456-426614174000", "123e4567", None, "123E4567-E89B-12D3-A456-426614174000", "x"],
        "amount_text": ["12", "twelve", "3.5", None, "99999999999"],
        "customer_id": [10, 11, 812, None, 10],
        "shipped": pa.array([dt.date(2026, 11, 1), dt.date(2019, 1, 1), None, dt.date(2026, 11, 2), dt.date(2031, 1, 1)]),
        "_origin": [f"f.csv:{i}" for i in range(2, 7)],
    }
)

CUSTOMERS = pa.table({"customer_id": pa.array([10, 11, 12], pa.int64())})


def lookups(found_in_target: list[int] | None = None) -> Lookups:
    def staged_column(source: str, column: str, label: str) -> pa.ChunkedArray:
        assert source == "customers"
        return CUSTOMERS.column(column)

    def keys_in_target(target: str, keys: pa.Table, label: str) -> pa.Table:
        return pa.table({"id": pa.array([str(k) for k in found_in_target or []], pa.string())})

    return Lookups(staged_column=staged_column, keys_in_target=keys_in_target)


def details(rule: Rule, table: pa.Table = ROWS, found: list[int] | None = None) -> dict[str, str]:
    """origin -> detail, for each row the rule fails."""
    failures = rule_failures(table, rule, lookups(found))
    failing = [i for i, bad in enumerate(failures.mask.to_pylist()) if bad]
    return dict(zip([table.column("_origin")[i].as_py() for i in failing], failures.details(failing)))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (Rule(check="not_null", column="qty"), {"f.csv:5": "null"}),
        (Rule(check="unique", columns=["id"]), {"f.csv:4": "2 repeats f.csv:3"}),
        (Rule(check="unique", columns=["status"]), {"f.csv:4": "'placed' repeats f.csv:2"}),
        (Rule(check="accepted_values", column="status", values=["placed", "shipped"]), {"f.csv:3": "'lost' not in ['placed', 'shipped']"}),
        (Rule(check="range", column="qty", min=1, max=1000), {"f.csv:3": "0 < min 1", "f.csv:6": "2000 > max 1000"}),
        (Rule(check="range", column="qty", min=1), {"f.csv:3": "0 < min 1"}),
        (
            Rule(check="range", column="shipped", min=dt.date(2020, 1, 1), max=dt.date(2030, 12, 31)),
            {"f.csv:3": "2019-01-01 < min 2020-01-01", "f.csv:6": "2031-01-01 > max 2030-12-31"},
        ),
        (Rule(check="regex", column="email", pattern=r"^[^@]+@[^@]+\.[a-z]+$"), {"f.csv:3": r"'nope' does not match '^[^@]+@[^@]+\\.[a-z]+$'"}),
        (Rule(check="regex", column="qty", pattern=r"^\d{1,3}$"), {"f.csv:6": "2000 does not match '^\\\\d{1,3}$'"}),
        (Rule(check="format", column="email", format="email"), {"f.csv:3": "'nope' is not an email address"}),
        (
            Rule(check="format", column="day", format="date"),
            {"f.csv:3": "'2026-02-30' is not a date (YYYY-MM-DD)", "f.csv:4": "'2026-1-5' is not a date (YYYY-MM-DD)",
             "f.csv:6": "'26/11/2026' is not a date (YYYY-MM-DD)"},
        ),
        (
            Rule(check="format", column="at", format="iso_timestamp"),
            {"f.csv:4": "'2026-11-26T25:00:00' is not an ISO 8601 timestamp", "f.csv:5": "'yesterday' is not an ISO 8601 timestamp"},
        ),
        (Rule(check="format", column="uid", format="uuid"), {"f.csv:3": "'123e4567' is not a UUID", "f.csv:6": "'x' is not a UUID"}),
        (
            Rule(check="type", column="amount_text", type="int32"),
            {"f.csv:3": "'twelve' is not a valid int32", "f.csv:4": "'3.5' is not a valid int32", "f.csv:6": "'99999999999' is not a valid int32"},
        ),
        (Rule(check="type", column="amount_text", type="float64"), {"f.csv:3": "'twelve' is not a valid float64"}),
        (Rule(check="type", column="day", type="date"), {"f.csv:3": "'2026-02-30' is not a valid date", "f.csv:4": "'2026-1-5' is not a valid date", "f.csv:6": "'26/11/2026' is not a valid date"}),
        (
            Rule(check="references", column="customer_id", source="customers", source_column="customer_id"),
            {"f.csv:4": "812 not in customers.customer_id"},
        ),
    ],
)
def test_each_row_rule_marks_the_rows_that_break_it_and_says_why(rule: Rule, expected: dict[str, str]) -> None:
    assert details(rule) == expected


def test_unique_on_a_composite_key_skips_incomplete_keys() -> None:
    rows = pa.table({"a": [1, 1, 1, None, None], "b": ["x", "y", "x", "x", "x"], "_origin": [f"g:{i}" for i in range(5)]})
    assert details(Rule(check="unique", columns=["a", "b"]), rows) == {"g:2": "(1, 'x') repeats g:0"}


def test_unique_against_the_target_names_keys_the_target_holds() -> None:
    rule = Rule(check="unique", columns=["id"], against_target="warehouse")
    assert details(rule, found=[2, 3]) == {
        "f.csv:3": "2 already in target warehouse",
        "f.csv:4": "2 repeats f.csv:3; 2 already in target warehouse",
        "f.csv:5": "3 already in target warehouse",
    }


def test_nulls_pass_every_rule_but_not_null() -> None:
    nulls = pa.table({"a": pa.array([None, None], pa.string()), "n": pa.array([None, None], pa.int64()), "_origin": ["x:1", "x:2"]})
    rules = [
        Rule(check="unique", columns=["a"]),
        Rule(check="accepted_values", column="a", values=["x"]),
        Rule(check="range", column="n", min=1),
        Rule(check="regex", column="a", pattern="x"),
        Rule(check="format", column="a", format="email"),
        Rule(check="type", column="a", type="int64"),
    ]
    for rule in rules:
        assert rule_failures(nulls, rule).mask.to_pylist() == [False, False], rule.label
    assert rule_failures(nulls, Rule(check="not_null", column="a")).mask.to_pylist() == [True, True]


def test_every_rule_accepts_an_empty_batch() -> None:
    empty = ROWS.slice(0, 0)
    for check in ("not_null", "range", "regex", "format", "type", "references", "unique", "accepted_values"):
        rule = next(r for r in [
            Rule(check="not_null", column="qty"), Rule(check="range", column="qty", max=3), Rule(check="regex", column="email", pattern="@"),
            Rule(check="format", column="email", format="email"), Rule(check="type", column="amount_text", type="int64"),
            Rule(check="references", column="customer_id", source="customers", source_column="customer_id"),
            Rule(check="unique", columns=["id"]), Rule(check="accepted_values", column="status", values=["placed"]),
        ] if r.check == check)
        assert rule_failures(empty, rule, lookups()).mask.to_pylist() == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule(check="not_null", column="nope"), r"rule not_null\(nope\): column 'nope' is not in the transform's output"),
        (Rule(check="unique", columns=["id", "nope"]), r"rule unique\(id,nope\): column 'nope' is not in"),
        (Rule(check="range", column="nope", min=1), r"rule range\(nope\): column 'nope'"),
        (Rule(check="format", column="nope", format="uuid"), r"rule format\(nope\): column 'nope'"),
        (Rule(check="references", column="nope", source="customers", source_column="customer_id"), r"rule references\(nope\): column 'nope'"),
        (Rule(check="format", column="qty", format="email"), r"rule format\(qty\): column 'qty' is int64; check 'format' applies to text"),
        (Rule(check="type", column="qty", type="int32"), r"rule type\(qty\): column 'qty' is int64; check 'type' applies to text"),
        (Rule(check="range", column="status", min=1), r"rule range\(status\): cannot be applied to column 'status' \(string\)"),
        (Rule(check="accepted_values", column="qty", values=["x"]), r"rule accepted_values\(qty\): cannot be applied to column 'qty' \(int64\)"),
        (Rule(check="range", column="shipped", min=1), r"rule range\(shipped\): cannot be applied to column 'shipped' \(date32\[day\]\)"),
    ],
)
def test_a_rule_that_cannot_apply_is_an_error_naming_rule_and_column(rule: Rule, message: str) -> None:
    with pytest.raises(DataQualityError, match=message):
        rule_failures(ROWS, rule, lookups())


def test_evaluate_is_one_pass_with_every_reason_per_row() -> None:
    rules = [
        Rule(check="range", column="qty", min=1, max=1000),
        Rule(check="format", column="email", format="email", severity="warn"),
        Rule(check="not_null", column="status", severity="fail"),
    ]
    verdicts = evaluate(ROWS, rules, failed_corrections={0: ["cast(day): 'x' is not a valid date [quarantine]"]})
    assert verdicts.quarantine.to_pylist() == [True, True, False, False, True]
    assert verdicts.warn.to_pylist() == [False, True, False, False, False]
    assert verdicts.fail.to_pylist() == [False, False, False, False, True]
    assert verdicts.reasons[1] == ["range(qty): 0 < min 1 [quarantine]", "format(email): 'nope' is not an email address [warn]"]
    assert verdicts.reasons[0] == ["cast(day): 'x' is not a valid date [quarantine]"]


# --- validate_run ---------------------------------------------------------------------------


def spec_with(rules: str, ratio: float = 0.5, corrections: str = "[]"):
    return parse_spec(
        f"""
pipeline: demo
sources:
  - {{name: s, type: s3, uri: x, format: csv, columns: {{id: int64}}}}
  - {{name: customers, type: s3, uri: c, format: csv, columns: {{customer_id: int64}}}}
transform: {{sql: demo.sql}}
quality: {{max_quarantine_ratio: {ratio}, corrections: {corrections}, rules: {rules}}}
targets: [{{name: t, type: lake_parquet, uri: y}}]
""",
        "demo.yaml",
    )


def staged_run(tmp_path: Path, rows: pa.Table = ROWS, rejected: int = 2) -> tuple[RunLayout, list[dict]]:
    layout = RunLayout(str(tmp_path), "demo", "r1")
    storage.write_parquet(storage.join(layout.transformed, "part-0.parquet"), rows)
    storage.write_parquet(storage.join(layout.staged_source("customers"), "part-0.parquet"), CUSTOMERS)
    extracted = [{"source": "s", "rows_read": rows.num_rows + rejected, "rows_staged": rows.num_rows, "rows_rejected": rejected}]
    return layout, extracted


def reasons_in(layout: RunLayout, name: str) -> dict[str, str]:
    return {row["_origin"]: row["_reasons"] for row in pq.read_table(layout.quarantine(name)).to_pylist()}


def test_validate_splits_rows_keeps_every_reason_and_balances(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path)
    spec = spec_with("[{check: unique, columns: [id]}, {check: range, column: qty, min: 1, max: 1000}, "
                     "{check: references, column: customer_id, source: customers, source_column: customer_id}, "
                     "{check: format, column: email, format: email, severity: warn}]")
    result = validate_run(spec, layout, extracted)
    assert (result.extracted, result.valid, result.quarantined, result.warned, result.deduplicated) == (7, 2, 5, 0, 0)
    assert result.extracted == result.valid + result.quarantined + result.deduplicated
    assert result.quarantine_ratio == pytest.approx(5 / 7, abs=1e-6)
    assert result.passed is False  # 0.71 > 0.5
    assert reasons_in(layout, "validate") == {
        "f.csv:3": "range(qty): 0 < min 1 [quarantine]; format(email): 'nope' is not an email address [warn]",
        "f.csv:4": "unique(id): 2 repeats f.csv:3 [quarantine]; references(customer_id): 812 not in customers.customer_id [quarantine]",
        "f.csv:6": "range(qty): 2000 > max 1000 [quarantine]",
    }
    rules = {row["_origin"]: row["_rules"] for row in pq.read_table(layout.quarantine("validate")).to_pylist()}
    assert rules["f.csv:4"] == ["unique(id)", "references(customer_id)"]
    valid = storage.read_parquet(layout.validated)
    assert valid.column("id").to_pylist() == [1, 3]


def test_warned_rows_are_kept_counted_and_listed(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path)
    result = validate_run(spec_with("[{check: format, column: uid, format: uuid, severity: warn}]"), layout, extracted)
    assert (result.valid, result.warned, result.quarantined) == (5, 2, 2)
    assert reasons_in(layout, "warned") == {"f.csv:3": "format(uid): '123e4567' is not a UUID [warn]", "f.csv:6": "format(uid): 'x' is not a UUID [warn]"}
    assert storage.read_parquet(layout.validated).num_rows == 5


def test_fail_severity_fails_the_run_naming_rows(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path)
    with pytest.raises(DataQualityError, match=r"1 row\(s\) broke a severity 'fail' rule, e.g. \['f.csv:5: not_null\(qty\): null \[fail\]'\]"):
        validate_run(spec_with("[{check: not_null, column: qty, severity: fail}]"), layout, extracted)
    assert not storage.exists(layout.validated)  # nothing published for a failed run


def test_dedupe_conserves_rows_counting_the_removed_separately(tmp_path: Path) -> None:
    rows = pa.table({"id": [1, 2, 1, 1, 3], "version": [1, 1, 3, 2, 1], "qty": [1, 1, 1, 0, 1], "_origin": [f"f:{i}" for i in range(5)]})
    layout, extracted = staged_run(tmp_path, rows, rejected=1)
    spec = spec_with("[{check: unique, columns: [id]}, {check: range, column: qty, min: 1}]",
                     corrections="[{dedupe: {key: [id], keep_latest_by: version}}]")
    result = validate_run(spec, layout, extracted)
    assert (result.extracted, result.valid, result.quarantined, result.deduplicated) == (6, 3, 1, 2)
    assert result.extracted == result.valid + result.quarantined + result.deduplicated
    assert result.corrections == {"dedupe(id)": 2}
    assert result.quarantine_ratio == pytest.approx(1 / 6, abs=1e-6)  # superseded rows are not bad rows
    assert reasons_in(layout, "dedupe") == {"f:0": "dedupe(id): superseded by f:2", "f:3": "dedupe(id): superseded by f:2"}
    assert storage.read_parquet(layout.validated).column("_origin").to_pylist() == ["f:1", "f:2", "f:4"]


def test_corrections_run_before_the_rules_and_failed_casts_are_quarantined(tmp_path: Path) -> None:
    rows = pa.table({"status": [" Placed", "SHIPPED ", "lost"], "day": ["26/11/2026", "31/02/2026", "01/12/2026"], "_origin": ["f:1", "f:2", "f:3"]})
    layout, extracted = staged_run(tmp_path, rows, rejected=0)
    spec = spec_with(
        "[{check: accepted_values, column: status, values: [placed, shipped]}]",
        corrections="[{trim: status}, {case: {columns: status, to: lower}}, {cast: {column: day, to: date, format: '%d/%m/%Y'}}]",
    )
    result = validate_run(spec, layout, extracted)
    assert result.corrections == {"trim(status)": 2, "case(status)": 2, "cast(day)": 2}
    assert reasons_in(layout, "validate") == {
        "f:2": "cast(day): '31/02/2026' is not a valid date in format '%d/%m/%Y' [quarantine]",
        "f:3": "accepted_values(status): 'lost' not in ['placed', 'shipped'] [quarantine]",
    }
    valid = storage.read_parquet(layout.validated)
    assert valid.to_pylist() == [{"status": "placed", "day": dt.date(2026, 11, 26), "_origin": "f:1"}]


def test_references_read_the_staged_source_and_name_a_missing_column(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path)
    spec = spec_with("[{check: references, column: customer_id, source: customers, source_column: cid}]")
    with pytest.raises(DataQualityError, match=r"rule references\(customer_id\): source 'customers' has no column 'cid'"):
        validate_run(spec, layout, extracted)


def test_empty_batch_validates_to_zero_rows(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path, ROWS.slice(0, 0), rejected=0)
    result = validate_run(spec_with("[{check: unique, columns: [id]}, {check: not_null, column: qty}]"), layout, extracted)
    assert (result.extracted, result.valid, result.quarantined, result.quarantine_ratio, result.passed) == (0, 0, 0, 0.0, True)


def test_transform_that_changes_row_count_is_a_conservation_error(tmp_path: Path) -> None:
    layout, _ = staged_run(tmp_path)
    extracted = [{"source": "s", "rows_read": 9, "rows_staged": 9, "rows_rejected": 0}]
    with pytest.raises(ConservationError, match="turned 9 staged 's' rows into 5"):
        validate_run(spec_with("[]"), layout, extracted)


def test_missing_driving_source_result(tmp_path: Path) -> None:
    layout, _ = staged_run(tmp_path)
    with pytest.raises(ConservationError, match="no extract result for the driving source 's'"):
        validate_run(spec_with("[]"), layout, [{"source": "other", "rows_read": 1, "rows_staged": 1, "rows_rejected": 0}])


# --- run rules ------------------------------------------------------------------------------

TIMES = pa.table({
    "ts": pa.array([dt.datetime(2026, 11, 25, 8, tzinfo=UTC), dt.datetime(2026, 11, 26, 20, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
    "day": pa.array([dt.date(2026, 11, 20), dt.date(2026, 11, 24)]),
    "text": ["a", "b"],
    "_origin": ["f:1", "f:2"],
})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{check: row_count, min: 5}", r"run rule broken: row_count: 3 rows < min 5 \[fail\]"),
        ("{check: row_count, max: 2}", r"run rule broken: row_count: 3 rows > max 2 \[fail\]"),
        ("{check: freshness, column: ts, max_age_hours: 2}",
         r"freshness\(ts\): newest 2026-11-26T20:00:00\+00:00 is 4.0 h old at 2026-11-27T00:00:00\+00:00 > max_age_hours 2 \[fail\]"),
        ("{check: freshness, column: day, max_age_hours: 24}", r"freshness\(day\): newest 2026-11-25T00:00:00\+00:00 is 48.0 h old"),
        ("{check: freshness, column: ts, max_age_hours: 1, relative_to: now}", r"freshness\(ts\): newest .* is 16.0 h old at 2026-11-27T12:00:00"),
        ("{check: freshness, column: text, max_age_hours: 1}", r"rule freshness\(text\): column 'text' is string; freshness needs a date or timestamp"),
        ("{check: freshness, column: nope, max_age_hours: 1}", r"rule freshness\(nope\): column 'nope' is not in the transform's output"),
    ],
)
def test_run_rules_fail_the_run_naming_the_bound(tmp_path: Path, rule: str, message: str) -> None:
    layout, extracted = staged_run(tmp_path, TIMES, rejected=1)
    with pytest.raises(DataQualityError, match=message):
        validate_run(spec_with(f"[{rule}]"), layout, extracted, run_date=dt.date(2026, 11, 26), now=dt.datetime(2026, 11, 27, 12, tzinfo=UTC))


def test_run_rules_within_bounds_pass_and_warn_rules_only_warn(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path, TIMES, rejected=1)
    spec = spec_with("[{check: row_count, min: 1, max: 3}, {check: freshness, column: ts, max_age_hours: 5}, "
                     "{check: row_count, min: 10, severity: warn}, {check: freshness, column: day, max_age_hours: 1, severity: warn}]")
    result = validate_run(spec, layout, extracted, run_date=dt.date(2026, 11, 26))
    assert result.valid == 2 and result.passed
    assert result.warnings == [
        "row_count: 3 rows < min 10 [warn]",
        "freshness(day): newest 2026-11-25T00:00:00+00:00 is 48.0 h old at 2026-11-27T00:00:00+00:00 > max_age_hours 1 [warn]",
    ]


def test_freshness_without_values_or_run_date_is_named(tmp_path: Path) -> None:
    layout, extracted = staged_run(tmp_path, TIMES.slice(0, 0), rejected=0)
    with pytest.raises(DataQualityError, match=r"freshness\(ts\): no values to judge \[fail\]"):
        validate_run(spec_with("[{check: freshness, column: ts, max_age_hours: 1}]"), layout, extracted, run_date=dt.date(2026, 11, 26))
    with pytest.raises(DataQualityError, match=r"relative_to run_date, but the run's date is unknown"):
        validate_run(spec_with("[{check: freshness, column: ts, max_age_hours: 1}]"), layout, extracted)


# --- the spec's rule syntax -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("[{check: not_null, column: a, min: 1}]", r"quality.rules\[0\]: Value error, check 'not_null' does not take min"),
        ("[{check: format, column: a}]", "check 'format' needs format"),
        ("[{check: format, column: a, format: phone}]", r"quality.rules\[0\].format: Input should be 'date', 'email', 'iso_timestamp' or 'uuid'"),
        ("[{check: type, column: a, type: integer}]", r"quality.rules\[0\].type: Input should be"),
        ("[{check: references, column: a, source: customers}]", "check 'references' needs source_column"),
        ("[{check: references, column: a, source: nowhere, source_column: b}]", r"quality.rules\[0\].source: 'nowhere' is not one of the sources \(s, customers\)"),
        ("[{check: unique, columns: [a], against_target: t}]", r"quality.rules\[0\].against_target: 't' is not a postgres target \(none declared\)"),
        ("[{check: row_count, severity: warn}]", "check 'row_count' needs min or max"),
        ("[{check: row_count, min: 1, severity: quarantine}]", "check 'row_count' judges the whole run: severity must be 'fail' or 'warn'"),
        ("[{check: row_count, min: 10, max: 1}]", "min 10.0 is greater than max 1.0"),
        ("[{check: freshness, column: ts}]", "check 'freshness' needs max_age_hours"),
        ("[{check: freshness, column: ts, max_age_hours: 0}]", r"max_age_hours: Input should be greater than 0"),
        ("[{check: freshness, column: ts, max_age_hours: 1, relative_to: tomorrow}]", r"relative_to: Input should be 'run_date' or 'now'"),
        ("[{check: range, column: a, min: 2020-01-01, max: 5}]", "min and max must both be numbers or both be dates"),
        ("[{check: nonsense, column: a}]", r"quality.rules\[0\].check: Input should be 'not_null'"),
    ],
)
def test_rule_mistakes_in_the_spec_name_the_field(rules: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spec_with(rules)


def test_run_rules_default_to_fail_and_row_rules_to_quarantine() -> None:
    spec = spec_with("[{check: row_count, min: 1}, {check: freshness, column: ts, max_age_hours: 1}, {check: not_null, column: a}]")
    assert [r.severity for r in spec.quality.rules] == ["fail", "fail", "quarantine"]
    assert [r.label for r in spec.quality.rules] == ["row_count", "freshness(ts)", "not_null(a)"]
