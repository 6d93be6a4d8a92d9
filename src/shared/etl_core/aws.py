"""AWS clients for the connectors, and AWS failures named the way the pipeline reacts to them.

Clients use botocore's standard retry mode (throttling and 5xx retried with back-off), and
boto3 reads ``AWS_ENDPOINT_URL`` itself, so tests point the same code at a local emulator.
What is left after botocore's retries becomes a TransientError (worth a Step Functions
retry), SourceNotFound or SourceError (permanent), named after the resource.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from etl_core import redaction
from etl_core.errors import EtlError, SourceError, SourceNotFound, TransientError

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)

_TRANSIENT_CODES = {
    "ThrottlingException", "Throttling", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "LimitExceededException", "KMSThrottlingException", "InternalServerError", "InternalFailure",
    "ServiceUnavailable", "RequestTimeout", "ExpiredIteratorException",
}
_NOT_FOUND_CODES = {"ResourceNotFoundException", "TableNotFoundException"}


def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def as_etl_error(exc: BaseException, what: str) -> EtlError:
    """The pipeline's error for an AWS failure on ``what`` (a stream, a table, a secret)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = f"{what}: {code}: {exc.response.get('Error', {}).get('Message', exc)}"
        if code in _NOT_FOUND_CODES:
            return SourceNotFound(message)
        if code in _TRANSIENT_CODES or status >= 500:
            return TransientError(message)
        return SourceError(message)
    if isinstance(exc, BotoCoreError):  # connection failures and timeouts
        return TransientError(f"{what}: {exc}")
    return SourceError(f"{what}: {exc}")


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise as_etl_error(exc, what) from exc


#: Keys of a JSON secret whose values are secret themselves (host, port, user names are not).
_SECRET_KEYS = re.compile(r"pass|token|secret|key|credential|auth", re.IGNORECASE)


def _register_secret(text: str) -> None:
    """Register a fetched secret for redaction: the whole text, and each secret-named field of a JSON one."""
    redaction.register(text)
    try:
        value = json.loads(text)
    except ValueError:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and _SECRET_KEYS.search(str(key)):
                redaction.register(item)


def secret_text(arn: str) -> str:
    """A secret's string, through Powertools parameters (cached for five minutes), registered for
    redaction as soon as it is fetched (etl_core.redaction)."""
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(arn, max_age=300)
    except parameters.exceptions.GetParameterError as exc:
        # Powertools wraps the SDK's error; the original (and its error code) is the context.
        raise as_etl_error(exc.__context__ or exc, f"secret {arn}") from exc
    text = value.decode() if isinstance(value, bytes) else value
    _register_secret(text)
    return text


def secret_json(arn: str, required: tuple[str, ...]) -> dict:
    """A JSON secret with its ``required`` keys; an error names the keys, never the values."""
    try:
        value = json.loads(secret_text(arn))
    except ValueError:
        raise SourceError(f"secret {arn}: not JSON (expected an object with {', '.join(required)})") from None
    missing = [k for k in required if not isinstance(value, dict) or k not in value]
    if missing:
        raise SourceError(f"secret {arn}: missing key(s) {', '.join(missing)}")
    return value


def rds_conninfo(arn: str) -> str:
    """A libpq DSN from an RDS-style secret ({host, port, dbname, username, password})."""
    import psycopg

    secret = secret_json(arn, ("host", "username", "password"))
    return psycopg.conninfo.make_conninfo(
        host=secret["host"],
        port=secret.get("port", 5432),
        dbname=secret.get("dbname", "postgres"),
        user=secret["username"],
        password=secret["password"],
    )
