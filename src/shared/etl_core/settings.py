"""Configuration read from the environment, the one seam between AWS and the local stand-ins.

Handlers never ask "am I local?": on AWS the template sets s3:// URIs and ARNs, locally the
runtime sets folder paths and a PostgreSQL DSN, and the same code follows whichever it gets.
This is the only module of the domain that reads ``os.environ``: a setting read anywhere else
could not be found, documented or tested in one place.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: How long each hold of a run's lease lasts (etl_core.lease): longer than the longest stage
#: between two holds, the Glue transform's 2 h timeout.
DEFAULT_LEASE_SECONDS = 2 * 3600 + 900

#: Specs bundled next to the package: in the layer this is /opt/python/pipelines.
BUNDLED_PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"


@dataclass(frozen=True)
class Settings:
    lake_uri: str
    raw_uri: str
    pipelines_uri: str
    warehouse_dsn: str
    warehouse_secret_arn: str
    idempotency_table: str
    run_lease_seconds: int
    max_recovery_attempts: int
    recovery_delay_seconds: int
    glue_threshold_bytes: int
    emr_threshold_bytes: int
    #: Users' additions to the error handler's classification table (error name -> class).
    error_classes: dict[str, str]
    #: An S3 endpoint override (a local S3 emulator in tests); empty on AWS.
    s3_endpoint: str
    aws_region: str
    #: The role Redshift COPY assumes when a target names none.
    redshift_copy_role_arn: str
    #: Memory (MB) DuckDB may hold for a run's key sets (unique, dedupe, references,
    #: count_distinct) before it spills to ``spill_dir`` (etl_core.keysets).
    spill_memory_mb: int = 256
    #: Where key sets spill: the function's /tmp (its ephemeral storage) unless set.
    spill_dir: str = ""
    #: Connections a large first load into a PostgreSQL table COPYs over at once
    #: (etl_core.load.postgres_first_load): each COPY is one server process on one core.
    warehouse_copy_connections: int = 2

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            lake_uri=env.get("LAKE_URI", "").rstrip("/"),
            raw_uri=env.get("RAW_URI", "").rstrip("/"),
            pipelines_uri=env.get("PIPELINES_URI", "") or str(BUNDLED_PIPELINES),
            warehouse_dsn=env.get("WAREHOUSE_DSN", ""),
            warehouse_secret_arn=env.get("WAREHOUSE_SECRET_ARN", ""),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            run_lease_seconds=int(env.get("RUN_LEASE_SECONDS", str(DEFAULT_LEASE_SECONDS))),
            max_recovery_attempts=int(env.get("MAX_RECOVERY_ATTEMPTS", "2")),
            recovery_delay_seconds=int(env.get("RECOVERY_DELAY_SECONDS", "30")),
            glue_threshold_bytes=int(env.get("GLUE_THRESHOLD_BYTES", str(64 * 1024 * 1024))),
            emr_threshold_bytes=int(env.get("EMR_THRESHOLD_BYTES", str(10 * 1024**3))),
            error_classes=_json_object("ERROR_CLASSES", env.get("ERROR_CLASSES", "")),
            s3_endpoint=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "",
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            redshift_copy_role_arn=env.get("REDSHIFT_COPY_ROLE_ARN", ""),
            spill_memory_mb=int(env.get("SPILL_MEMORY_MB") or _spill_memory_mb(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""))),
            spill_dir=env.get("SPILL_DIR", ""),
            warehouse_copy_connections=max(1, int(env.get("WAREHOUSE_COPY_CONNECTIONS") or 2)),
        )

    def require_lake(self) -> str:
        if not self.lake_uri:
            from etl_core.errors import InputError

            raise InputError("LAKE_URI is not set: the function's environment must name the lake bucket or folder")
        return self.lake_uri


def _spill_memory_mb(function_memory_mb: str) -> int:
    """An eighth of the function's memory (Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE), at least 128 MB
    (below about 64 MB DuckDB's aggregates fail instead of spilling); 256 MB outside Lambda. The
    rest is the function's own: a batch of rows, Arrow, the layer."""
    return max(128, int(function_memory_mb) // 8) if function_memory_mb.isdigit() else 256


def named_variable(name: str | None) -> str:
    """The value of an environment variable a spec names (a postgres source's ``dsn_env``, an
    HTTP source's ``auth.env``): empty when unset or unnamed. Specs may only point at the
    environment, so connection strings and credentials never sit in a spec file."""
    return os.environ.get(name, "") if name else ""


def _json_object(name: str, text: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        value = exc
    if not isinstance(value, dict):
        from etl_core.errors import InputError

        raise InputError(f"{name} must be a JSON object of error name -> classification, e.g. {{\"KeyError\": \"retryable\"}}")
    return value
