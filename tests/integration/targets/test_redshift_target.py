"""The Redshift target: exact statement text, and the Data API conversation.

AWS APIs emulated here: the Redshift Data API (``redshift-data``: BatchExecuteStatement,
DescribeStatement, CancelStatement) by botocore's ``Stubber`` — moto does not implement
BatchExecuteStatement — which checks every request against the service's model and answers
what the API documents; S3 (where COPY reads the rows) by moto in server mode. The SQL that
Redshift shares with PostgreSQL runs on a real PostgreSQL in test_warehouse_sql.py.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber

from etl_core import storage
from etl_core.errors import SpecError, TargetError, TransientError
from etl_core.layout import RunLayout
from etl_core.load.redshift import batch_statements, copy_statement, merge_into_redshift, run_batch
from etl_core.spec import parse_spec
from etl_core.spec.targets import RedshiftTarget

ROLE = "arn:aws:iam::123456789012:role/etl-redshift-copy"
TARGET = RedshiftTarget(name="warehouse", type="redshift", workgroup="etl", database="dev", table="analytics.orders", key=["order_id"])
ROWS = pa.table(
    {
        "order_id": pa.array([1, 2], pa.int64()),
        "note": ["plain", None],
        "amount": pa.array([Decimal("1.50"), None], pa.decimal128(18, 2)),
        "day": pa.array([dt.date(2026, 11, 26)] * 2, pa.date32()),
        "at": pa.array([dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)] * 2, pa.timestamp("us", tz="UTC")),
        "ok": [True, None],
        "qty": pa.array([3, 4], pa.int32()),
        "price": [0.5, 2.0],
        "etl_run_id": ["2026-11-26"] * 2,
    }
)
COLUMNS = ('"order_id" bigint, "note" varchar(65535), "amount" numeric(18,2), "day" date, "at" timestamptz, "ok" boolean, '
           '"qty" integer, "price" double precision, "etl_run_id" varchar(65535)')
SOURCE = "s3://lake/staging/orders/2026-11-26/load/warehouse/rows.parquet"
EXPECTED_BATCH = [
    'CREATE SCHEMA IF NOT EXISTS "analytics"',
    f'CREATE TABLE IF NOT EXISTS "analytics"."orders" ({COLUMNS}, PRIMARY KEY ("order_id"))',
    f'CREATE TEMP TABLE "etl_staging" ({COLUMNS})',
    f"COPY \"etl_staging\" FROM '{SOURCE}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
    'MERGE INTO "analytics"."orders" USING "etl_staging" AS "s" ON "analytics"."orders"."order_id" = "s"."order_id"'
    ' WHEN MATCHED THEN UPDATE SET "note" = "s"."note", "amount" = "s"."amount", "day" = "s"."day", "at" = "s"."at",'
    ' "ok" = "s"."ok", "qty" = "s"."qty", "price" = "s"."price", "etl_run_id" = "s"."etl_run_id"'
    ' WHEN NOT MATCHED THEN INSERT ("order_id", "note", "amount", "day", "at", "ok", "qty", "price", "etl_run_id")'
    ' VALUES ("s"."order_id", "s"."note", "s"."amount", "s"."day", "s"."at", "s"."ok", "s"."qty", "s"."price", "s"."etl_run_id")',
    # the run's rows the corrected load no longer has go; the count is what the table then holds for the run
    'DELETE FROM "analytics"."orders" WHERE "analytics"."orders"."etl_run_id" = \'2026-11-26\''
    ' AND NOT EXISTS (SELECT 1 FROM "etl_staging" AS "s" WHERE "analytics"."orders"."order_id" = "s"."order_id")',
    'SELECT count(*) FROM "analytics"."orders" WHERE "analytics"."orders"."etl_run_id" = \'2026-11-26\'',
    'DROP TABLE "etl_staging"',
]
STATEMENT_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"


def data_api() -> tuple[object, Stubber]:
    api = boto3.client("redshift-data", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return api, Stubber(api)


def described(status: str, **extra) -> dict:
    return {"Id": STATEMENT_ID, "Status": status, **extra}


# --- exact text -----------------------------------------------------------------------------


def test_the_batch_text_is_exact() -> None:
    assert batch_statements(ROWS.schema, TARGET, SOURCE, ROLE, "2026-11-26") == EXPECTED_BATCH


def test_copy_text_is_exact_and_hostile_names_stay_quoted() -> None:
    assert copy_statement("s3://my-lake/a b/x.parquet", ROLE) == (
        "COPY \"etl_staging\" FROM 's3://my-lake/a b/x.parquet' IAM_ROLE 'arn:aws:iam::123456789012:role/etl-redshift-copy' FORMAT AS PARQUET"
    )
    hostile = pa.schema([("id", pa.int64()), ('x"; DROP TABLE t; --', pa.string())])
    target = RedshiftTarget.model_construct(**{**TARGET.model_dump(), "table": 'we"ird.t', "key": ["id"]})
    batch = batch_statements(hostile.append(pa.field("etl_run_id", pa.string())), target, SOURCE, ROLE, "r1")
    assert batch[1] == ('CREATE TABLE IF NOT EXISTS "we""ird"."t" ("id" bigint, "x""; DROP TABLE t; --" varchar(65535), '
                        '"etl_run_id" varchar(65535), PRIMARY KEY ("id"))')
    assert batch[4].endswith('VALUES ("s"."id", "s"."x""; DROP TABLE t; --", "s"."etl_run_id")')


@pytest.mark.parametrize("uri", ["/home/me/lake/rows.parquet", "s3://lake/it's.parquet", "s3://lake/a\\b", "s3://lake/a\nb"])
def test_copy_refuses_what_is_not_a_plain_s3_uri(uri: str) -> None:
    with pytest.raises(TargetError, match="reads from S3 only"):
        copy_statement(uri, ROLE)


def test_copy_refuses_what_is_not_a_role_arn() -> None:
    with pytest.raises(TargetError, match="is not an IAM role ARN"):
        copy_statement(SOURCE, "arn:aws:iam::123456789012:role/x' CREDENTIALS 'y")


# --- the Data API conversation (Stubber) -----------------------------------------------------


def test_one_batch_is_sent_and_polled_until_finished() -> None:
    api, stub = data_api()
    stub.add_response(
        "batch_execute_statement",
        {"Id": STATEMENT_ID},
        {"Sqls": EXPECTED_BATCH, "StatementName": "etl:orders:2026-11-26:warehouse", "WorkgroupName": "etl", "Database": "dev"},
    )
    for status in ("SUBMITTED", "STARTED", "FINISHED"):
        stub.add_response("describe_statement", described(status), {"Id": STATEMENT_ID})
    sleeps: list[float] = []
    with stub:
        assert run_batch(api, TARGET, EXPECTED_BATCH, "etl:orders:2026-11-26:warehouse", sleep=sleeps.append) == STATEMENT_ID
    stub.assert_no_pending_responses()
    assert sleeps == [0.25, 0.5]


def test_a_provisioned_cluster_is_addressed_with_its_user() -> None:
    target = RedshiftTarget(name="w", type="redshift", cluster_identifier="c1", db_user="etl", database="dev", table="t", key=["id"])
    api, stub = data_api()
    stub.add_response("batch_execute_statement", {"Id": STATEMENT_ID},
                      {"Sqls": ["SELECT 1"], "StatementName": "n", "ClusterIdentifier": "c1", "DbUser": "etl", "Database": "dev"})
    stub.add_response("describe_statement", described("FINISHED"), {"Id": STATEMENT_ID})
    with stub:
        run_batch(api, target, ["SELECT 1"], "n", sleep=lambda s: None)


def test_a_failed_batch_is_a_target_error_with_redshifts_message() -> None:
    api, stub = data_api()
    stub.add_response("batch_execute_statement", {"Id": STATEMENT_ID})
    subs = [{"Id": f"{STATEMENT_ID}:{i}", "Status": s} for i, s in enumerate(["FINISHED"] * 3 + ["FAILED", "ABORTED", "ABORTED"], 1)]
    error = "ERROR: Spectrum Scan Error. File 'rows.parquet' has an incompatible Parquet schema for column 'note'"
    stub.add_response("describe_statement", described("FAILED", Error=error, SubStatements=subs))
    with stub, pytest.raises(TargetError, match=r"Redshift rejected batch .* \(statement 4 of 6\): ERROR: Spectrum Scan Error") as raised:
        run_batch(api, TARGET, EXPECTED_BATCH, "n", sleep=lambda s: None)
    assert not isinstance(raised.value, TransientError)


def test_a_serialization_conflict_is_transient() -> None:
    api, stub = data_api()
    stub.add_response("batch_execute_statement", {"Id": STATEMENT_ID})
    stub.add_response("describe_statement", described("FAILED", Error="ERROR: 1023 DETAIL: Serializable isolation violation on table"))
    with stub, pytest.raises(TransientError, match="Serializable isolation violation"):
        run_batch(api, TARGET, EXPECTED_BATCH, "n", sleep=lambda s: None)


@pytest.mark.parametrize("code, error", [
    ("ThrottlingException", TransientError),
    ("ActiveStatementsExceededException", TransientError),
    ("InternalServerException", TransientError),
    ("ValidationException", TargetError),
])
def test_api_errors_are_named_for_the_reaction(code: str, error: type) -> None:
    api, stub = data_api()
    stub.add_client_error("batch_execute_statement", service_error_code=code, service_message="no", http_status_code=500 if "Internal" in code else 400)
    with stub, pytest.raises(error, match=f"target 'warehouse': Redshift Data API: {code}"):
        run_batch(api, TARGET, EXPECTED_BATCH, "n", sleep=lambda s: None)


def test_a_batch_outlasting_the_wait_is_cancelled_and_transient() -> None:
    target = TARGET.model_copy(update={"max_wait_seconds": 10})
    api, stub = data_api()
    stub.add_response("batch_execute_statement", {"Id": STATEMENT_ID})
    now = [0.0]
    for _ in range(6):  # 0.25 + 0.5 + 1 + 2 + 4 + 2.25 (the rest of the wait) = 10 s
        stub.add_response("describe_statement", described("STARTED"))
    stub.add_response("describe_statement", described("STARTED"))
    stub.add_response("cancel_statement", {"Status": True}, {"Id": STATEMENT_ID})

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with stub, pytest.raises(TransientError, match="still STARTED after 10 s; cancelled, so it rolls back"):
        run_batch(api, target, EXPECTED_BATCH, "n", sleep=sleep, clock=lambda: now[0])
    stub.assert_no_pending_responses()
    assert now[0] == 10


def test_an_aborted_batch_is_a_target_error() -> None:
    api, stub = data_api()
    stub.add_response("batch_execute_statement", {"Id": STATEMENT_ID})
    stub.add_response("describe_statement", described("ABORTED"))
    with stub, pytest.raises(TargetError, match="was aborted"):
        run_batch(api, TARGET, EXPECTED_BATCH, "n", sleep=lambda s: None)


# --- the whole load: rows to S3 (moto server), batch to the Data API (Stubber) ----------------


def test_the_load_writes_the_rows_to_s3_then_sends_the_batch(lake_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDSHIFT_COPY_ROLE_ARN", ROLE)
    api, stub = data_api()
    stub.add_response("batch_execute_statement", {"Id": STATEMENT_ID},
                      {"Sqls": EXPECTED_BATCH, "StatementName": "etl:orders:2026-11-26:warehouse", "WorkgroupName": "etl", "Database": "dev"})
    stub.add_response("describe_statement", described("FINISHED"))
    count_statement = f"{STATEMENT_ID}:{len(EXPECTED_BATCH) - 1}"  # sub-statements count from 1: the count is last but one
    stub.add_response("get_statement_result", {"Records": [[{"longValue": 2}]], "TotalNumRows": 1}, {"Id": count_statement})
    with stub:
        result = merge_into_redshift(ROWS, TARGET, RunLayout(lake_bucket, "orders", "2026-11-26"), api=api)
    stub.assert_no_pending_responses()
    assert result == {"rows": 2, "table": "analytics.orders", "statement_id": STATEMENT_ID}
    fs, path = storage.resolve(SOURCE)
    assert pq.read_table(path, filesystem=fs).equals(ROWS)  # the very columns, in the order the staging table declares


def test_the_spec_role_wins_over_the_environment(lake_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDSHIFT_COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/from-env")
    api, stub = data_api()
    expected = [s.replace(ROLE, "arn:aws:iam::123456789012:role/from-spec") for s in EXPECTED_BATCH]
    stub.add_response("batch_execute_statement", {"Id": STATEMENT_ID},
                      {"Sqls": expected, "StatementName": "etl:orders:2026-11-26:warehouse", "WorkgroupName": "etl", "Database": "dev"})
    stub.add_response("describe_statement", described("FINISHED"))
    stub.add_response("get_statement_result", {"Records": [[{"longValue": 2}]]}, {"Id": f"{STATEMENT_ID}:{len(expected) - 1}"})
    with stub:
        merge_into_redshift(ROWS, TARGET.model_copy(update={"iam_role": "arn:aws:iam::123456789012:role/from-spec"}),
                            RunLayout(lake_bucket, "orders", "2026-11-26"), api=api)


def test_a_local_lake_cannot_feed_redshift(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDSHIFT_COPY_ROLE_ARN", ROLE)
    api, stub = data_api()
    with stub, pytest.raises(TargetError, match=r"reads from S3 only, but the run's data is at /.*LAKE_URI must be an s3://"):
        merge_into_redshift(ROWS, TARGET, RunLayout(str(tmp_path), "orders", "2026-11-26"), api=api)
    assert not any(tmp_path.iterdir())


def test_without_a_role_nothing_is_sent(lake_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDSHIFT_COPY_ROLE_ARN", raising=False)
    api, stub = data_api()
    with stub, pytest.raises(TargetError, match="COPY needs an IAM role: set iam_role in the spec or REDSHIFT_COPY_ROLE_ARN"):
        merge_into_redshift(ROWS, TARGET, RunLayout(lake_bucket, "orders", "2026-11-26"), api=api)


@pytest.mark.parametrize("rows, message", [
    (pa.concat_tables([ROWS, ROWS.slice(0, 1)]), r"duplicate keys within one load: 1 key\(s\) repeat, e.g. \{'order_id': 1\} appears 2 times"),
    (ROWS.set_column(0, "order_id", pa.array([1, None], pa.int64())), "1 row\\(s\\) have no value in key column 'order_id'"),
    (ROWS.drop_columns(["order_id"]), r"key column\(s\) \['order_id'\] not in the rows' columns"),
])
def test_rows_redshift_would_not_key_are_refused_before_anything_is_sent(lake_bucket: str, rows: pa.Table, message: str) -> None:
    api, stub = data_api()
    with stub, pytest.raises(TargetError, match=message):
        merge_into_redshift(rows, TARGET, RunLayout(lake_bucket, "orders", "2026-11-26"), api=api)
    assert not storage.exists("s3://lake/staging")


# --- the spec ---------------------------------------------------------------------------------

SPEC = """pipeline: p
sources: [{name: s, type: s3, uri: x, format: csv, columns: {id: int64}}]
transform: {sql: p.sql}
targets:
  - %s
"""


def test_redshift_targets_in_a_spec() -> None:
    serverless = parse_spec(SPEC % "{name: rs, type: redshift, workgroup: etl, database: dev, table: analytics.orders, key: [order_id]}", "p.yaml")
    assert serverless.targets[0] == TARGET.model_copy(update={"name": "rs"})
    provisioned = parse_spec(SPEC % ("{name: rs, type: redshift, cluster_identifier: c1, db_user: etl, database: dev, table: t, key: [id], "
                                     f"iam_role: '{ROLE}', max_wait_seconds: 300}}"), "p.yaml")
    assert provisioned.targets[0].iam_role == ROLE


@pytest.mark.parametrize("fields, message", [
    ("workgroup: w, cluster_identifier: c", "name exactly one of workgroup"),
    ("max_wait_seconds: 60", "name exactly one of workgroup"),
    ("workgroup: w, db_user: u", "db_user applies to a provisioned cluster only"),
    ("cluster_identifier: c, db_user: u, secret_arn: 'arn:aws:secretsmanager:us-east-1:1:secret:x'", "db_user or secret_arn, not both"),
    ("workgroup: w, iam_role: 'arn:aws:iam::1:role/x'", "iam_role: String should match pattern"),
])
def test_invalid_redshift_targets_name_the_problem(fields: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(SPEC % ("{name: rs, type: redshift, database: dev, table: t, key: [id], %s}" % fields), "p.yaml")
