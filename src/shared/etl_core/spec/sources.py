"""Source models: one per connector type, chosen by ``type`` in the spec.

Every model names its ``columns`` (declared types; the connector yields them as text, the
extract stage casts them) and says where it reads in ``uri``, the string the plan expands
and hands to Extract (a storage URI for files, a URL for HTTP, a descriptive name otherwise).
"""
from __future__ import annotations

import urllib.parse
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, field_validator, model_validator

from etl_core.spec.base import PartName, StorageUri, TypeName
from etl_core.spec.base import Strict as _Strict


class _Columns(_Strict):
    name: PartName
    columns: dict[str, TypeName]

    @field_validator("columns")
    @classmethod
    def _columns_present(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and not value:
            raise ValueError("declare at least one column")
        return value


class _Records(_Columns):
    """Sources of JSON-like records (APIs, streams, tables without a fixed schema).

    A declared column is looked up as a dotted path, so ``customer.address.city`` reads a
    nested field (a key containing the dots is found too). A record missing a declared
    field is quarantined with the field's name, unless the column is listed in
    ``optional`` (then it is null): a renamed field never turns silently into nulls.
    """

    optional: list[str] = []
    batch_rows: int = Field(10_000, ge=1, le=100_000, description="rows per batch and per request to the source")

    @model_validator(mode="after")
    def _optional_declared(self) -> "_Records":
        unknown = [c for c in self.optional if c not in self.columns]
        if unknown:
            raise ValueError(f"optional names undeclared column(s): {', '.join(unknown)}")
        return self


class CsvOptions(_Strict):
    delimiter: str = ","
    header: bool = True
    quote_char: str = '"'
    encoding: str = "utf8"


class FileSource(_Columns):
    """Objects in S3 (or a local folder): one object or every object under a prefix.

    Without ``columns`` the schema is inferred from the first object (CSV: its first block;
    JSON lines: its first 1,000 records; Parquet: its schema); later rows that do not fit
    the inferred types are quarantined like any bad value, so drift is visible, not silent.
    """

    columns: dict[str, TypeName] | None = None  # type: ignore[assignment]
    type: Literal["s3"] = "s3"
    uri: StorageUri
    format: Literal["csv", "jsonl", "parquet"]
    csv: CsvOptions = CsvOptions()


class PostgresSource(_Columns):
    """The rows of a query on RDS PostgreSQL, streamed through a server-side cursor.

    Connection: ``secret_arn`` (Secrets Manager JSON with host, port, dbname, username,
    password) if given, else the DSN in the environment variable ``dsn_env``.

    The query may use ``%(run_date)s``; a literal ``%`` is written ``%%``. With a
    ``watermark_column`` the load is incremental: the connector runs
    ``SELECT * FROM (<query>) AS q WHERE q.<col> > %(watermark)s ORDER BY q.<col>``, bound to
    the high-water mark of the last *successful* run (on the first run, without the WHERE),
    and stages the highest value it read as the next one. Rows whose watermark is NULL are
    read by the first run only, and a row later inserted with a value equal to the mark is
    not read: make the column strictly increasing (a sequence, a commit timestamp).
    Origins are ``postgres:<name>#<key_column>=<value>``, or ``#row=<n>`` without a key.
    """

    type: Literal["postgres"]
    query: str = Field(min_length=1)
    dsn_env: str = "SOURCE_DSN"
    secret_arn: str | None = None
    watermark_column: str | None = None
    key_column: str | None = None
    batch_rows: int = Field(10_000, ge=1, le=1_000_000, description="rows fetched from the cursor at a time")

    @property
    def uri(self) -> str:
        return f"postgres:{self.name}"


class HttpAuth(_Strict):
    """A bearer token or basic credentials, from Secrets Manager or (locally) an environment variable.

    A bearer secret is the token itself or JSON ``{"token": ...}``; a basic secret is JSON
    ``{"username": ..., "password": ...}``, or ``user:password`` in the environment variable.
    """

    type: Literal["bearer", "basic"]
    secret_arn: str | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> "HttpAuth":
        if (self.secret_arn is None) == (self.env is None):
            raise ValueError("give exactly one of secret_arn or env")
        return self


class Pagination(_Strict):
    """How to ask for the next page.

    ``page``: ``param`` (default ``page``) counts from ``start``; ``offset``: ``param``
    (default ``offset``) advances by the records received; both stop at an empty page or,
    when ``size`` is given (sent as ``size_param``), at a short one. ``cursor``: the value at
    ``cursor_path`` in the body is sent as ``param`` (default ``cursor``) until it is absent.
    ``link``: follow the RFC 5988 ``Link: <...>; rel="next"`` header until there is none.
    """

    style: Literal["none", "page", "offset", "cursor", "link"] = "none"
    param: str | None = None
    start: int = 1
    size: int | None = Field(None, ge=1)
    size_param: str | None = None
    cursor_path: str | None = None
    max_pages: int = Field(10_000, ge=1, description="a bound, so an API that never stops cannot loop forever")

    @model_validator(mode="after")
    def _complete(self) -> "Pagination":
        if self.style == "cursor" and not self.cursor_path:
            raise ValueError("cursor pagination needs cursor_path (where the next cursor is in the body)")
        if self.style == "offset" and not (self.size and self.size_param):
            raise ValueError("offset pagination needs size and size_param (the page size the API is asked for)")
        if (self.size is None) != (self.size_param is None):
            raise ValueError("give size and size_param together")
        return self

    @property
    def query_param(self) -> str:
        return self.param or {"page": "page", "offset": "offset", "cursor": "cursor"}.get(self.style, "")


class HttpRetry(_Strict):
    """Retries of 429, 5xx and connection failures; ``Retry-After`` is honoured up to ``max_delay_seconds``."""

    attempts: int = Field(5, ge=1, le=20)
    max_delay_seconds: float = Field(30, ge=0)


def _http_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} must be an http:// or https:// URL with a host")
    return value


def _origin(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError(f"{value!r} must be an origin: http(s)://host[:port], without a path, query or credentials")
    return value


class HttpSource(_Records):
    """JSON records from an HTTP API, page by page; ``url`` may use ``{run_date}``.

    ``records_path`` is the dotted path to the records array in each page's body (empty:
    the body is the array). Origins are ``<page url>#record=<n>``.

    Next pages (``link`` pagination) and redirects are followed over http(s) only, and only
    to the origin of ``url`` or one listed in ``allowed_origins``; credentials (``auth`` and
    ``headers``) are sent only there, so an API cannot steer the token to another host. A
    response larger than ``max_response_bytes`` fails the source rather than the function.
    """

    type: Literal["http"]
    url: Annotated[str, AfterValidator(_http_url)]
    allowed_origins: list[Annotated[str, AfterValidator(_origin)]] = Field(
        [], description="origins besides url's that pages and redirects may lead to, e.g. https://cdn.example.com")
    max_response_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="a bound on one page's body")
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    records_path: str = ""
    pagination: Pagination = Pagination()
    auth: HttpAuth | None = None
    retry: HttpRetry = HttpRetry()
    requests_per_second: float | None = Field(None, gt=0)
    timeout_seconds: float = Field(30, gt=0)

    @property
    def uri(self) -> str:
        return self.url


class KinesisSource(_Records):
    """JSON records of a Kinesis stream, every shard from the last committed checkpoint to the tip.

    Checkpoints (the last sequence number read per shard) advance only when the run
    succeeds. Origins are ``kinesis:<stream>/<shard id>#<sequence number>``.
    """

    type: Literal["kinesis"]
    stream: str
    batch_rows: int = Field(10_000, ge=1, le=10_000, description="rows per batch and GetRecords limit")

    @property
    def uri(self) -> str:
        return f"kinesis:{self.stream}"


class DynamoDBSource(_Records):
    """Every item of a DynamoDB table, by a parallel scan of ``segments`` segments.

    Numbers keep their exact digits, sets become JSON arrays (sorted), binary becomes
    base64, maps and lists become JSON (or are read field by field with dotted columns).
    Origins are ``dynamodb:<table>#<primary key as JSON>``.
    """

    type: Literal["dynamodb"]
    table: str
    segments: int = Field(4, ge=1, le=64)
    consistent_read: bool = False

    @property
    def uri(self) -> str:
        return f"dynamodb:{self.table}"


Source = Annotated[
    Union[FileSource, PostgresSource, HttpSource, KinesisSource, DynamoDBSource], Field(discriminator="type")
]
