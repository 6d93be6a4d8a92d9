"""Configuration read from the environment, the one seam between AWS and the local stand-ins.

Handlers never ask "am I local?": on AWS the template sets s3:// URIs and ARNs, locally the
runtime sets folder paths and a PostgreSQL DSN, and the same code follows whichever it gets.
"""
from __future__ import annotations

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
        )

    def require_lake(self) -> str:
        if not self.lake_uri:
            from etl_core.errors import InputError

            raise InputError("LAKE_URI is not set: the function's environment must name the lake bucket or folder")
        return self.lake_uri
