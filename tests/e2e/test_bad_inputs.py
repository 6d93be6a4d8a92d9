"""The bad-input corpus: every kind of bad input, through the real local runtime, end to end.

Each case writes a small raw landing zone and a pipeline spec of its own (the runtime is
pointed at them with PIPELINES_URI and RAW_URI in a SAM --env-vars file), runs one
execution on the virtual clock, and expects one of two outcomes:

- FAILED, with the error's name and a cause that names the file, field or row at fault;
- SUCCEEDED, with each bad row in quarantine beside the run (its origin and its reason),
  and the counts balanced: extracted = valid + quarantined + deduplicated, the quarantine
  files holding exactly the rows counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest

RUN = {"pipeline": "shop", "run_date": "2026-11-26"}

HEADER = "order_id,customer_id,order_ts,status,quantity,email,zip,ship_day"
GOOD_ROWS = [
    "1,10,2026-11-26 10:00:00,placed,1,a@x.com,10115,26/11/2026",
    "2,11,2026-11-26 11:00:00,shipped,2,b@x.com,10117,26/11/2026",
    "3,10,2026-11-26 12:00:00,placed,3,c@x.com,80331,27/11/2026",
    "4,12,2026-11-26 13:00:00,delivered,4,d@x.com,20095,28/11/2026",
]
CUSTOMERS = "\n".join(json.dumps({"customer_id": c, "country": k}) for c, k in ((10, "DE"), (11, "FR"), (12, "SE"))) + "\n"

SPEC = """\
pipeline: shop
sources:
  - name: orders
    type: s3
    uri: "{{raw_uri}}/orders/{{run_date}}/"
    format: csv
    columns: {{order_id: int64, customer_id: int64, order_ts: timestamp, status: string, quantity: int32, email: string, zip: string, ship_day: string}}
  - name: customers
    type: s3
    uri: "{{raw_uri}}/customers.jsonl"
    format: jsonl
    columns: {{customer_id: int64, country: string}}
transform: {{sql: shop.sql, driving_source: orders}}
quality:
  max_quarantine_ratio: 0.5
  corrections: {corrections}
  rules: {rules}
targets:
  - {{name: processed, type: lake_parquet, uri: "{{lake_uri}}/processed/shop"}}
"""

AGGREGATE = """\
  - {{name: totals, type: lake_aggregate, uri: "{{lake_uri}}/aggregated/shop", group_by: [status], aggregates: [{{column: {column}, function: sum, name: total}}]}}
"""

SQL = """\
SELECT o.order_id, o.customer_id, c.country AS customer_country, o.order_ts, o.status, o.quantity,
       o.email, o.zip, o.ship_day, o._origin
FROM orders AS o LEFT JOIN customers AS c ON c.customer_id = o.customer_id
"""


def orders(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def spec(rules: str = "[]", corrections: str = "[]") -> str:
    return SPEC.format(rules=rules, corrections=corrections)


@dataclass(frozen=True)
class Case:
    """One bad input and the outcome it must have."""

    id: str
    orders: str | bytes | None = orders(*GOOD_ROWS)  # None: no orders object for the run at all
    customers: str | None = CUSTOMERS
    spec: str = spec()
    sql: str | None = SQL
    run: object = field(default_factory=lambda: dict(RUN))
    #: FAILED: the error name and fragments its cause must contain.
    error: str | None = None
    cause: tuple[str, ...] = ()
    #: SUCCEEDED: (quarantine file, origin suffix, reason fragment) that must be present.
    quarantined: tuple[tuple[str, str, str], ...] = ()
    counts: dict = field(default_factory=dict)


CASES = [
    # --- malformed rows: quarantined at extract with file:line and why ---------------------
    Case("csv-too-few-fields", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed"),
         quarantined=(("extract-orders", "orders.csv:6", "malformed CSV line: expected 8 fields, found 4"),)),
    Case("csv-too-many-fields", orders(GOOD_ROWS[0], GOOD_ROWS[1] + ",surplus", *GOOD_ROWS[2:]),
         quarantined=(("extract-orders", "orders.csv:3", "expected 8 fields, found 9"),)),
    Case("csv-truncated-last-line", orders(*GOOD_ROWS).rstrip("\n") + "\n5,10,2026-11",
         quarantined=(("extract-orders", "orders.csv:6", "expected 8 fields, found 3"),)),
    Case("wrong-type-int", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,two,e@x.com,10115,26/11/2026"),
         quarantined=(("extract-orders", "orders.csv:6", "column quantity: 'two' is not a valid int32"),)),
    Case("int-overflow", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,99999999999,e@x.com,10115,26/11/2026"),
         quarantined=(("extract-orders", "orders.csv:6", "'99999999999' is not a valid int32"),)),
    Case("wrong-type-timestamp", orders(*GOOD_ROWS, "5,10,2026-13-45 10:00:00,placed,1,e@x.com,10115,26/11/2026"),
         quarantined=(("extract-orders", "orders.csv:6", "column order_ts: '2026-13-45 10:00:00' is not a valid timestamp"),)),
    Case("bad-json-line", customers=CUSTOMERS + "not json at all\n",
         quarantined=(("extract-customers", "customers.jsonl:4", "malformed JSON line"),)),
    Case("json-line-not-an-object", customers=CUSTOMERS + "[1, 2]\n",
         quarantined=(("extract-customers", "customers.jsonl:4", "expected a JSON object, found list"),)),
    Case("json-wrong-type", customers=CUSTOMERS + '{"customer_id": "abc", "country": "PL"}\n',
         quarantined=(("extract-customers", "customers.jsonl:4", "column customer_id: 'abc' is not a valid int64"),)),
    Case("crlf-line-endings-are-fine", orders(*GOOD_ROWS).replace("\n", "\r\n"), counts={"valid": 4}),
    # --- whole files that cannot be read: the run fails naming the file --------------------
    Case("empty-file", "", error="SourceError", cause=("orders/2026-11-26/orders.csv", "cannot read as CSV")),
    Case("header-only-file-is-zero-rows", orders(), counts={"extracted": 0, "valid": 0}),
    Case("header-only-below-row-count", orders(), spec=spec("[{check: row_count, min: 1}]"),
         error="DataQualityError", cause=("row_count: 0 rows < min 1 [fail]",)),
    Case("missing-column", orders(*[r.rsplit(",", 1)[0] for r in GOOD_ROWS], header=HEADER.rsplit(",", 1)[0]),
         error="SourceError", cause=("orders.csv", "ship_day")),
    Case("wrong-encoding", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,1,m\xfcller@x.com,10115,26/11/2026").encode("latin-1"),
         error="SourceError", cause=("orders.csv", "encoding 'utf8'")),
    Case("missing-source", None, error="SourceNotFound", cause=("no object or prefix", "orders/2026-11-26")),
    Case("missing-lookup-source", customers=None, error="SourceNotFound", cause=("customers.jsonl",)),
    # --- invalid execution input: Plan refuses it, naming the field ------------------------
    Case("input-missing-pipeline", run={"run_date": "2026-11-26"}, error="InputError", cause=("must be a JSON object with a string 'pipeline'",)),
    Case("input-bad-run-date", run={"pipeline": "shop", "run_date": "26/11/2026"}, error="InputError", cause=("run_date: Input should be a valid date",)),
    Case("input-not-an-object", run=["shop"], error="InputError", cause=("the execution input must be a JSON object with a string 'pipeline'",)),
    Case("input-pipeline-not-a-string", run={"pipeline": 7}, error="InputError", cause=("must be a JSON object with a string 'pipeline'",)),
    Case("input-unknown-field", run={**RUN, "colour": "red"}, error="InputError", cause=("colour: Extra inputs are not permitted",)),
    Case("input-bad-run-id", run={**RUN, "run_id": "../../etc"}, error="InputError", cause=("run_id: Value error, must match",)),
    Case("unknown-pipeline", run={"pipeline": "nope", "run_date": "2026-11-26"}, error="SpecError", cause=("unknown pipeline 'nope'", "known: shop")),
    # --- invalid specs: each mistake names the file and the field --------------------------
    Case("spec-not-yaml", spec=spec() + "  bad: [unclosed\n", error="SpecError", cause=("shop.yaml: not valid YAML",)),
    Case("spec-not-a-mapping", spec="- pipeline: shop\n", error="SpecError", cause=("shop.yaml: a spec must be a mapping",)),
    Case("spec-bad-format", spec=spec().replace("format: csv", "format: xml"), error="SpecError", cause=("shop.yaml: sources[0]", "format")),
    Case("spec-bad-column-type", spec=spec().replace("quantity: int32", "quantity: integer"), error="SpecError", cause=("shop.yaml: sources[0]", "columns.quantity")),
    Case("spec-rule-missing-field", spec=spec("[{check: regex, column: email}]"), error="SpecError", cause=("shop.yaml: quality.rules[0]", "check 'regex' needs pattern")),
    Case("spec-rule-field-that-does-not-apply", spec=spec("[{check: not_null, column: email, max: 3}]"), error="SpecError", cause=("quality.rules[0]", "does not take max")),
    Case("spec-unknown-check", spec=spec("[{check: sometimes, column: email}]"), error="SpecError", cause=("quality.rules[0].check",)),
    Case("spec-reference-to-unknown-source", spec=spec("[{check: references, column: customer_id, source: clients, source_column: id}]"),
         error="SpecError", cause=("quality.rules[0].source: 'clients' is not one of the sources",)),
    Case("spec-correction-two-fixes", spec=spec(corrections="[{trim: [status], dedupe: {key: [order_id]}}]"),
         error="SpecError", cause=("quality.corrections[0]", "exactly one of")),
    Case("spec-missing-sql", sql=None, error="SpecError", cause=("shop.yaml: transform.sql: no file at",)),
    Case("spec-named-for-another-pipeline", spec=spec().replace("pipeline: shop", "pipeline: other"), error="SpecError", cause=("says 'other'",)),
    # --- spec mistakes found against the transform's columns, at Plan, before any write ---------
    Case("sql-that-does-not-run", sql="SELECT nope FROM orders", error="SpecError", cause=("shop.sql: Binder Error", "nope")),
    Case("rule-on-a-column-the-transform-lacks", spec=spec("[{check: not_null, column: country}]"),
         error="SpecError", cause=("shop.yaml: quality.rules[0].column: 'country' not in the transform's output",)),
    Case("rule-whose-type-cannot-work", spec=spec("[{check: range, column: status, min: 1}]"),
         error="SpecError", cause=("shop.yaml: quality.rules[0]: rule range(status): cannot be applied to column 'status' (string)",)),
    Case("reference-to-a-column-the-source-lacks", spec=spec("[{check: references, column: customer_id, source: customers, source_column: id}]"),
         error="SpecError", cause=("shop.yaml: quality.rules[0]", "source 'customers' has no column 'id'")),
    Case("correction-of-a-column-the-transform-lacks", spec=spec(corrections="[{trim: [state]}]"),
         error="SpecError", cause=("shop.yaml: quality.corrections[0]", "'state'")),
    Case("freshness-of-a-text-column", spec=spec("[{check: freshness, column: status, max_age_hours: 2}]"),
         error="SpecError", cause=("shop.yaml: quality.rules[0].column: 'status' is string; freshness needs a date or timestamp",)),
    Case("partition-column-the-transform-lacks", spec=spec().replace('uri: "{lake_uri}/processed/shop"}', 'uri: "{lake_uri}/processed/shop", partition_by: [order_day]}'),
         error="SpecError", cause=("shop.yaml: targets[0].partition_by: 'order_day' not in the transform's output",)),
    Case("aggregate-of-a-misspelled-column", spec=spec() + AGGREGATE.format(column="quantty"),
         error="SpecError", cause=("shop.yaml: targets[1].aggregates[0].column: 'quantty' not in the transform's output",)),
    Case("sum-of-a-text-column", spec=spec() + AGGREGATE.format(column="status"),
         error="SpecError", cause=("shop.yaml: targets[1].aggregates[0].function: sum of 'status' (string) cannot be computed",)),
    Case("key-the-transform-lacks", spec=spec().replace("driving_source: orders}", "driving_source: orders, key: [id]}"),
         error="SpecError", cause=("shop.yaml: transform.key: 'id' not in the transform's output",)),
    Case("sql-without-origin", sql=SQL.replace(", o._origin", ""),
         error="SpecError", cause=("shop.sql: the SELECT must carry _origin (add orders._origin)",)),
    # --- rule failures of each kind: the row is quarantined with a human reason ------------
    Case("not-null", orders(*GOOD_ROWS, "5,,2026-11-26 10:00:00,placed,1,e@x.com,10115,26/11/2026"), spec=spec("[{check: not_null, column: customer_id}]"),
         quarantined=(("validate", "orders.csv:6", "not_null(customer_id): null [quarantine]"),)),
    Case("duplicate-key", orders(*GOOD_ROWS, GOOD_ROWS[1]), spec=spec("[{check: unique, columns: [order_id]}]"),
         quarantined=(("validate", "orders.csv:6", "unique(order_id): 2 repeats "),)),
    Case("accepted-values", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,lost,1,e@x.com,10115,26/11/2026"),
         spec=spec("[{check: accepted_values, column: status, values: [placed, shipped, delivered]}]"),
         quarantined=(("validate", "orders.csv:6", "accepted_values(status): 'lost' not in"),)),
    Case("range", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,0,e@x.com,10115,26/11/2026"), spec=spec("[{check: range, column: quantity, min: 1, max: 100}]"),
         quarantined=(("validate", "orders.csv:6", "range(quantity): 0 < min 1 [quarantine]"),)),
    Case("regex", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,1,e@x.com,ABCDE,26/11/2026"), spec=spec(r"[{check: regex, column: zip, pattern: '^\d{5}$'}]"),
         quarantined=(("validate", "orders.csv:6", "regex(zip): 'ABCDE' does not match"),)),
    Case("format-email", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,1,e at x.com,10115,26/11/2026"), spec=spec("[{check: format, column: email, format: email}]"),
         quarantined=(("validate", "orders.csv:6", "format(email): 'e at x.com' is not an email address"),)),
    Case("format-warn-keeps-the-row", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,1,e at x.com,10115,26/11/2026"),
         spec=spec("[{check: format, column: email, format: email, severity: warn}]"), counts={"valid": 5, "warned": 1},
         quarantined=(("warned", "orders.csv:6", "is not an email address [warn]"),)),
    Case("type-conformance", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,1,e@x.com,1O115,26/11/2026"), spec=spec("[{check: type, column: zip, type: int64}]"),
         quarantined=(("validate", "orders.csv:6", "type(zip): '1O115' is not a valid int64"),)),
    Case("orphan-reference", orders(*GOOD_ROWS, "5,99,2026-11-26 10:00:00,placed,1,e@x.com,10115,26/11/2026"),
         spec=spec("[{check: references, column: customer_id, source: customers, source_column: customer_id}]"),
         quarantined=(("validate", "orders.csv:6", "references(customer_id): 99 not in customers.customer_id"),)),
    Case("row-count-above-max", spec=spec("[{check: row_count, max: 2}]"), error="DataQualityError", cause=("row_count: 4 rows > max 2 [fail]",)),
    Case("stale-data", spec=spec("[{check: freshness, column: order_ts, max_age_hours: 2}]"),
         error="DataQualityError", cause=("freshness(order_ts): newest 2026-11-26T13:00:00+00:00 is 11.0 h old", "max_age_hours 2")),
    Case("fail-severity-row-rule", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,0,e@x.com,10115,26/11/2026"),
         spec=spec("[{check: range, column: quantity, min: 1, severity: fail}]"),
         error="DataQualityError", cause=("orders.csv:6: range(quantity): 0 < min 1 [fail]",)),
    Case("quarantine-share-above-the-gate", orders(*GOOD_ROWS[:1], *[f"{i},10,2026-11-26 10:00:00,lost,1,e@x.com,10115,26/11/2026" for i in (5, 6)]),
         spec=spec("[{check: accepted_values, column: status, values: [placed]}]"),
         error="DataQualityError", cause=("2 of 3 rows quarantined", "limit 0.5")),
    # --- corrections: fixed rows pass, unfixable ones are quarantined, duplicates counted ----
    Case("trim-and-lower-fix-status", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,  PLACED ,1,e@x.com,10115,26/11/2026"),
         spec=spec("[{check: accepted_values, column: status, values: [placed, shipped, delivered]}]",
                   "[{trim: status}, {case: {columns: status, to: lower}}]"), counts={"valid": 5, "quarantined": 0}),
    Case("cast-with-format-fails-for-impossible-dates", orders(*GOOD_ROWS, "5,10,2026-11-26 10:00:00,placed,1,e@x.com,10115,31/02/2026"),
         spec=spec(corrections="[{cast: {column: ship_day, to: date, format: '%d/%m/%Y'}}]"),
         quarantined=(("validate", "orders.csv:6", "cast(ship_day): '31/02/2026' is not a valid date in format '%d/%m/%Y' [quarantine]"),)),
    Case("dedupe-keeps-the-latest", orders(*GOOD_ROWS, "2,11,2026-11-26 18:00:00,delivered,2,b@x.com,10117,26/11/2026"),
         spec=spec("[{check: unique, columns: [order_id]}]", "[{dedupe: {key: [order_id], keep_latest_by: order_ts}}]"),
         counts={"valid": 4, "quarantined": 0, "deduplicated": 1},
         quarantined=(("dedupe", "orders.csv:3", "dedupe(order_id): superseded by "),)),
]


def write_case(root: Path, case: Case) -> Path:
    """The landing zone, the spec folder and the env file pointing the functions at them."""
    raw, pipelines = root / "raw", root / "pipelines"
    pipelines.mkdir(parents=True)
    (pipelines / "shop.yaml").write_text(case.spec)
    if case.sql is not None:
        (pipelines / "shop.sql").write_text(case.sql)
    if case.orders is not None:
        day = raw / "orders" / "2026-11-26"
        day.mkdir(parents=True)
        data = case.orders if isinstance(case.orders, bytes) else case.orders.encode()
        (day / "orders.csv").write_bytes(data)
    raw.mkdir(exist_ok=True)
    if case.customers is not None:
        (raw / "customers.jsonl").write_text(case.customers)
    env = {
        "Parameters": {
            "LAKE_URI": "${ETL_HOME}/lake",
            "RAW_URI": str(raw),
            "PIPELINES_URI": str(pipelines),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "RECOVERY_DELAY_SECONDS": "0",
            # load records and run leases: the runtime's local DynamoDB, as in local.env.json
            "AWS_ENDPOINT_URL_DYNAMODB": "${ETL_DYNAMODB_ENDPOINT}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        },
        "LoadFunction": {"WAREHOUSE_DSN": "${ETL_WAREHOUSE_DSN}"},
        "ValidateFunction": {"WAREHOUSE_DSN": "${ETL_WAREHOUSE_DSN}"},  # for unique ... against_target
    }
    env_file = root / "env.json"
    env_file.write_text(json.dumps(env))
    return env_file


def validation_of(result) -> dict:
    """The Validate task's result, from the execution history (it carries what the summary leaves out)."""
    for event in reversed(result.history):
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "Validate":
            return json.loads(details["output"])["validation"]
    raise AssertionError("the execution never left Validate")


def quarantine_files(home: Path) -> dict[str, list[dict]]:
    folder = home / "lake" / "quarantine" / "shop" / "2026-11-26"
    return {path.stem: pq.read_table(path).to_pylist() for path in sorted(folder.glob("*.parquet"))}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, make_runtime, tmp_path: Path) -> None:
    runtime = make_runtime(env_file=write_case(tmp_path / "case", case))
    result = runtime.run(case.run)

    if case.error is not None:
        assert (result.status, result.error) == ("FAILED", case.error), (result.error, result.cause)
        for fragment in case.cause:
            assert fragment in result.cause, f"{fragment!r} not in cause {result.cause!r}"
        if case.error in ("SpecError", "InputError"):  # refused at Plan: nothing was written under the lake
            lake = runtime.home / "lake"
            assert not lake.exists() or not [p for p in lake.rglob("*") if p.is_file()], sorted(lake.rglob("*"))
        return

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    validation = validation_of(result)
    assert validation["extracted"] == validation["valid"] + validation["quarantined"] + validation["deduplicated"]
    counts = result.output["counts"]
    assert (counts["extracted"], counts["valid"], counts["quarantined"]) == (
        validation["extracted"], validation["valid"], validation["quarantined"])
    for name, expected in case.counts.items():
        assert validation[name] == expected, (name, validation)
    files = quarantine_files(runtime.home)
    assert len(files.get("extract-orders", [])) + len(files.get("validate", [])) == validation["quarantined"]
    assert len(files.get("dedupe", [])) == validation["deduplicated"]
    assert len(files.get("warned", [])) == validation["warned"]
    for name, origin, reason in case.quarantined:
        rows = files.get(name, [])
        assert any(r["_origin"].endswith(origin) and reason in r["_reasons"] for r in rows), (name, origin, reason, rows)


def test_the_corpus_is_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


def test_keys_already_in_the_warehouse_are_quarantined_and_reruns_stay_stable(make_runtime, tmp_path: Path) -> None:
    """``unique ... against_target``: a key an earlier run loaded is a conflict; the run's own keys are not."""
    case = Case(
        "against-target",
        orders(GOOD_ROWS[3], "5,10,2026-11-26 14:00:00,placed,1,e@x.com,10115,26/11/2026"),
        spec=spec("[{check: unique, columns: [order_id], against_target: warehouse}]").replace(
            "targets:\n", "targets:\n  - {name: warehouse, type: postgres, table: shop.orders, key: [order_id]}\n"
        ),
    )
    env_file = write_case(tmp_path / "case", case)
    earlier = tmp_path / "case" / "raw" / "orders" / "2026-11-25"
    earlier.mkdir()
    (earlier / "orders.csv").write_text(orders(*GOOD_ROWS))
    runtime = make_runtime(env_file=env_file)
    first = runtime.run({"pipeline": "shop", "run_date": "2026-11-25"})
    assert first.status == "SUCCEEDED" and first.output["counts"]["loaded"]["warehouse"] == 4, (first.error, first.cause)

    for _ in range(2):  # the second time is a re-run of the same run: its own row 5 is no conflict
        result = runtime.run(RUN)
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert (result.output["counts"]["valid"], result.output["counts"]["quarantined"]) == (1, 1)
        [row] = quarantine_files(runtime.home)["validate"]
        assert row["_origin"].endswith("orders.csv:2")
        assert row["_reasons"] == "unique(order_id): 4 already in target warehouse [quarantine]"
