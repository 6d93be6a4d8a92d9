"""Redshift target: COPY the run's rows from S3 into a staging table, then MERGE them on the key.

Through the Redshift Data API (boto3 ``redshift-data``), not redshift-connector, because:

- no driver in the Lambda package: redshift-connector with its dependencies is 56 MB of the
  250 MB a function may unpack, most of which pyarrow already takes;
- no VPC: the Data API is an AWS endpoint, so the load function needs no VPC attachment,
  NAT or security-group path to the cluster or workgroup;
- IAM auth: the function's role obtains temporary database credentials (or reads a
  Secrets Manager secret), so no database password sits in its configuration.

``batch_execute_statement`` runs the statements as one transaction, so a failure anywhere
leaves the table as it was; the run's rows are replaced (MERGE, then the run's rows no longer
loaded are deleted), and the batch's count statement, read with ``get_statement_result``,
says how many rows the table holds for the run. It returns at once: the loader polls ``describe_statement``
for at most the target's ``max_wait_seconds`` and, past that, cancels the batch (which
rolls it back) and raises TransientError, so a timed-out load never commits behind the
pipeline's back and the retry starts clean.

The statements are the shared warehouse SQL (etl_core.load.warehouse_sql, tested on a real
PostgreSQL) plus the Redshift-only COPY. COPY reads Parquet from S3 only: a lake in a local
folder cannot feed Redshift (the local runtime's sample does not use this target). COPY
maps Parquet columns by position, so it reads the rows every target gets (internal columns
dropped, the run id added) written as one object next to the run's staged data, rather
than the validated file with its internal columns. Redshift enforces no key, so rows
without a key or sharing one are refused before anything is sent (etl_core.load.keys).
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from etl_core import storage
from etl_core.aws import client
from etl_core.errors import TargetError, TransientError
from etl_core.layout import RunLayout
from etl_core.load.aws import target_errors
from etl_core.load.keys import require_unique_keys
from etl_core.load.rows import Rows
from etl_core.load.warehouse_sql import STAGING_TABLE, quote_ident, warehouse_load
from etl_core.settings import Settings
from etl_core.spec.targets import IAM_ROLE_ARN, RedshiftTarget

ROLE_ENV = "REDSHIFT_COPY_ROLE_ARN"

#: Data API answers that mean "too busy now", not "wrong".
_TRANSIENT_CODES = frozenset({
    "ActiveStatementsExceededException", "ActiveSessionsExceededException",
    "ActiveWaitingRequestsExceededException", "BatchExecuteStatementException",
})

#: Redshift's serializable isolation conflict (error 1023): another transaction won; retrying wins.
_SERIALIZATION_CONFLICT = re.compile(r"\b1023\b|serializable isolation violation", re.IGNORECASE)

#: What COPY's FROM may name: an S3 object or prefix, nothing that could close the quoted literal.
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^'\\\x00-\x1f\x7f]+")


def copy_source(layout: RunLayout, target: RedshiftTarget) -> str:
    """Where the rows COPY reads are written: beside the run's staged data, on S3."""
    return storage.join(layout.run_root, "load", target.name, "rows.parquet")


def copy_role(target: RedshiftTarget) -> str:
    role = target.iam_role or Settings.from_env().redshift_copy_role_arn
    if not role:
        raise TargetError(f"target {target.name!r}: COPY needs an IAM role: set iam_role in the spec or {ROLE_ENV}")
    if not re.fullmatch(IAM_ROLE_ARN, role):
        raise TargetError(f"target {target.name!r}: {role!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return role


def copy_statement(s3_uri: str, iam_role: str) -> str:
    """COPY the staging table from Parquet on S3. Both values are checked to be a plain S3
    URI and a role ARN: COPY takes them only as literals, never as bound parameters."""
    if not _S3_URI.fullmatch(s3_uri):
        raise TargetError(f"Redshift COPY reads from S3 only: {s3_uri!r} is not a plain s3://bucket/key URI")
    if not re.fullmatch(IAM_ROLE_ARN, iam_role):
        raise TargetError(f"{iam_role!r} is not an IAM role ARN")
    return f"COPY {quote_ident(STAGING_TABLE)} FROM '{s3_uri}' IAM_ROLE '{iam_role}' FORMAT AS PARQUET"


def batch_statements(schema: pa.Schema, target: RedshiftTarget, s3_uri: str, iam_role: str, run_id: str) -> list[str]:
    """The one transaction sent to the Data API: prepare, COPY, MERGE, prune the run's rows
    no longer loaded, count the run's rows (``COUNT_STATEMENT`` from the end), drop the staging table."""
    load = warehouse_load(target.table, schema, target.key, "redshift", run_id)
    return [*load.prepare, copy_statement(s3_uri, iam_role), load.merge, load.prune, load.count, load.cleanup]


#: Where the count is in a batch: the second statement from its end.
COUNT_STATEMENT = -2


def rows_held(api: Any, target: RedshiftTarget, statement_id: str, statements: int) -> int:
    """The count statement's answer: sub-statements of a batch are ``<batch id>:<n>``, from 1."""
    with target_errors(f"target {target.name!r}: Redshift Data API", _TRANSIENT_CODES):
        result = api.get_statement_result(Id=f"{statement_id}:{statements + COUNT_STATEMENT + 1}")
    return int(result["Records"][0][0]["longValue"])


def _connection(target: RedshiftTarget) -> dict[str, str]:
    params = {"Database": target.database}
    if target.workgroup:
        params["WorkgroupName"] = target.workgroup
    else:
        params["ClusterIdentifier"] = target.cluster_identifier
    if target.db_user:
        params["DbUser"] = target.db_user
    if target.secret_arn:
        params["SecretArn"] = target.secret_arn
    return params


def _failure(target: RedshiftTarget, statement_id: str, described: dict) -> TargetError | TransientError:
    message = described.get("Error") or "no error message"
    failed = [i for i, sub in enumerate(described.get("SubStatements", []), 1) if sub.get("Status") == "FAILED"]
    where = f" (statement {failed[0]} of {len(described['SubStatements'])})" if failed else ""
    text = f"target {target.name!r}: table {target.table}: Redshift rejected batch {statement_id}{where}: {message}"
    return TransientError(text) if _SERIALIZATION_CONFLICT.search(message) else TargetError(text)


def _cancel(api: Any, statement_id: str) -> str:
    try:
        api.cancel_statement(Id=statement_id)
    except (ClientError, BotoCoreError) as exc:
        return f"cancelling it failed ({exc}); it may still commit, which a re-run's MERGE makes harmless"
    return "cancelled, so it rolls back"


def run_batch(
    api: Any,
    target: RedshiftTarget,
    sqls: list[str],
    statement_name: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Send the statements as one transaction and wait, boundedly, for the outcome; the batch's id."""
    what = f"target {target.name!r}: Redshift Data API"
    with target_errors(what, _TRANSIENT_CODES):
        statement_id = api.batch_execute_statement(Sqls=sqls, StatementName=statement_name, **_connection(target))["Id"]
    deadline = clock() + target.max_wait_seconds
    interval = 0.25
    while True:
        with target_errors(what, _TRANSIENT_CODES):
            described = api.describe_statement(Id=statement_id)
        status = described["Status"]
        if status == "FINISHED":
            return statement_id
        if status == "FAILED":
            raise _failure(target, statement_id, described)
        if status == "ABORTED":
            raise TargetError(f"{what}: batch {statement_id} was aborted (cancelled by a user or a WLM rule)")
        remaining = deadline - clock()
        if remaining <= 0:
            raise TransientError(
                f"{what}: batch {statement_id} still {status} after {target.max_wait_seconds} s; {_cancel(api, statement_id)}"
            )
        sleep(min(interval, remaining))
        interval = min(interval * 2, 5.0)


def merge_into_redshift(rows: Rows | pa.Table, target: RedshiftTarget, layout: RunLayout, api: Any | None = None) -> dict:
    """Load the run's rows into the target's table; ``api`` is a redshift-data client (made if not given)."""
    rows = Rows.of(rows, layout.run_id)
    require_unique_keys(rows, target.key, target.name)
    uri = copy_source(layout, target)
    if not uri.startswith("s3://"):
        raise TargetError(
            f"target {target.name!r}: Redshift COPY reads from S3 only, but the run's data is at {uri} "
            "(LAKE_URI must be an s3:// bucket to load Redshift)"
        )
    sqls = batch_statements(rows.schema, target, uri, copy_role(target), layout.run_id)
    fs, path = storage.resolve(uri)
    # Streamed batch by batch; on S3 the (multipart) object appears whole at close or not at all.
    # Snappy is COPY's most portable codec.
    with pq.ParquetWriter(path, rows.schema, filesystem=fs, compression="snappy", coerce_timestamps="us") as writer:
        for batch in rows.batches():
            writer.write_batch(batch)
    name = f"etl:{layout.pipeline}:{layout.run_id}:{target.name}"[:500]
    api = api or client("redshift-data")
    statement_id = run_batch(api, target, sqls, name)
    return {"rows": rows_held(api, target, statement_id, len(sqls)), "table": target.table, "statement_id": statement_id}
