"""Pipeline specs: one YAML file per dataset names its sources, SQL, rules and targets.

A spec is validated completely before any work starts, and every problem names the file
and the field (``orders.yaml: sources[0].format: ...``) so a data engineer can fix it
without reading code.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from etl_core import storage
from etl_core.errors import SpecError

PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
#: Column types a spec may declare; they map onto Arrow types in etl_core.schema.
TypeName = Literal["string", "int32", "int64", "float64", "bool", "date", "timestamp", "decimal(10,2)", "decimal(18,2)"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    delimiter: str = ","
    header: bool = True
    quote_char: str = '"'
    encoding: str = "utf8"


class FileSource(_Strict):
    """Objects in S3 (or a local folder): one object or every object under a prefix."""

    name: str
    type: Literal["s3"] = "s3"
    uri: str
    format: Literal["csv", "jsonl", "parquet"]
    csv: CsvOptions = CsvOptions()
    columns: dict[str, TypeName]

    @field_validator("columns")
    @classmethod
    def _columns_present(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("declare at least one column")
        return value


Source = Annotated[Union[FileSource], Field(discriminator="type")]


class Transform(_Strict):
    sql: str = Field(description="file next to the spec holding the SELECT")
    driving_source: str | None = None
    key: list[str] = []


class Rule(_Strict):
    """One quality rule; which fields apply depends on ``check``."""

    check: Literal["not_null", "unique", "accepted_values", "range", "regex"]
    column: str | None = None
    columns: list[str] = []
    values: list[Any] = []
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    severity: Literal["quarantine", "warn", "fail"] = "quarantine"

    @model_validator(mode="after")
    def _fields_for_check(self) -> "Rule":
        needs = {
            "not_null": ("column",),
            "unique": ("columns",),
            "accepted_values": ("column", "values"),
            "range": ("column",),
            "regex": ("column", "pattern"),
        }[self.check]
        missing = [f for f in needs if not getattr(self, f)]
        if missing:
            raise ValueError(f"check '{self.check}' needs {', '.join(missing)}")
        if self.check == "range" and self.min is None and self.max is None:
            raise ValueError("check 'range' needs min or max")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regular expression: {exc}") from exc
        return self

    @property
    def label(self) -> str:
        target = self.column or ",".join(self.columns)
        return f"{self.check}({target})"


class Quality(_Strict):
    max_quarantine_ratio: float = Field(0.05, ge=0, le=1)
    rules: list[Rule] = []


class LakeTarget(_Strict):
    """Valid rows as Parquet, partitioned by the spec's columns (S3 processed)."""

    name: str
    type: Literal["lake_parquet"]
    uri: str
    partition_by: list[str] = []


class Aggregate(_Strict):
    column: str | None = None
    function: Literal["sum", "count", "mean", "min", "max", "count_distinct"]
    name: str


class AggregateTarget(_Strict):
    """A grouped summary of the valid rows (S3 aggregated)."""

    name: str
    type: Literal["lake_aggregate"]
    uri: str
    group_by: list[str]
    aggregates: list[Aggregate]


class PostgresTarget(_Strict):
    """A table in RDS PostgreSQL (or the local embedded PostgreSQL), upserted by key."""

    name: str
    type: Literal["postgres"]
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    key: list[str]


Target = Annotated[Union[LakeTarget, AggregateTarget, PostgresTarget], Field(discriminator="type")]


class PipelineSpec(_Strict):
    pipeline: str
    description: str = ""
    sources: list[Source]
    transform: Transform
    quality: Quality = Quality()
    targets: list[Target]

    @model_validator(mode="after")
    def _consistent(self) -> "PipelineSpec":
        if not PIPELINE_NAME.match(self.pipeline):
            raise ValueError(f"pipeline name {self.pipeline!r} must match {PIPELINE_NAME.pattern}")
        for kind, items in (("sources", self.sources), ("targets", self.targets)):
            names = [item.name for item in items]
            if not names:
                raise ValueError(f"{kind}: declare at least one")
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind}: names must be unique, repeated: {', '.join(dupes)}")
        driving = self.transform.driving_source
        if driving is not None and driving not in {s.name for s in self.sources}:
            raise ValueError(f"transform.driving_source {driving!r} is not one of the sources")
        return self

    @property
    def driving_source(self) -> str:
        return self.transform.driving_source or self.sources[0].name

    def source(self, name: str) -> FileSource:
        for source in self.sources:
            if source.name == name:
                return source
        raise SpecError(f"pipeline {self.pipeline!r} has no source named {name!r}")

    def target(self, name: str) -> LakeTarget | AggregateTarget | PostgresTarget:
        for target in self.targets:
            if target.name == name:
                return target
        raise SpecError(f"pipeline {self.pipeline!r} has no target named {name!r}")


def _format_errors(where: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
        lines.append(f"{where}: {field or '<top>'}: {err['msg']}")
    return "\n".join(lines)


def parse_spec(text: str, where: str) -> PipelineSpec:
    """Parse and validate spec text; ``where`` names the file in every error."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{where}: a spec must be a mapping with pipeline, sources, transform, targets")
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_errors(where, exc)) from None


def spec_uri(pipelines_uri: str, pipeline: str) -> str:
    if not PIPELINE_NAME.match(pipeline):
        raise SpecError(f"pipeline name {pipeline!r} must match {PIPELINE_NAME.pattern}")
    return storage.join(pipelines_uri, f"{pipeline}.yaml")


def load_spec(pipelines_uri: str, pipeline: str) -> PipelineSpec:
    uri = spec_uri(pipelines_uri, pipeline)
    if not storage.exists(uri):
        known = sorted(u.rsplit("/", 1)[-1][: -len(".yaml")] for u in storage.list_files(pipelines_uri, ".yaml")) if storage.exists(pipelines_uri) else []
        raise SpecError(f"unknown pipeline {pipeline!r}: no spec at {uri} (known: {', '.join(known) or 'none'})")
    spec = parse_spec(storage.read_bytes(uri).decode(), uri)
    if spec.pipeline != pipeline:
        raise SpecError(f"{uri}: pipeline: says {spec.pipeline!r}, but the file is named for {pipeline!r}")
    return spec


def load_sql(pipelines_uri: str, spec: PipelineSpec) -> str:
    uri = storage.join(pipelines_uri, spec.transform.sql)
    if not storage.exists(uri):
        raise SpecError(f"{spec_uri(pipelines_uri, spec.pipeline)}: transform.sql: no file at {uri}")
    return storage.read_bytes(uri).decode()


def expand(template: str, **values: str) -> str:
    """Fill ``{raw_uri}``-style placeholders in a spec URI, naming any unknown one."""
    try:
        return template.format(**values)
    except KeyError as exc:
        raise SpecError(f"unknown placeholder {{{exc.args[0]}}} in {template!r}; known: {', '.join(sorted(values))}") from None
