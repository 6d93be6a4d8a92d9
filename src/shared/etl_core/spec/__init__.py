"""Pipeline specs: one YAML file per dataset names its sources, SQL, rules and targets.

A spec is validated completely before any work starts, and every problem names the file
and the field (``orders.yaml: sources[0].format: ...``) so a data engineer can fix it
without reading code.
"""
from __future__ import annotations

from typing import Annotated

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from etl_core import storage
from etl_core.errors import SpecError
from etl_core.spec.base import DataType, TypeName
from etl_core.spec.base import Strict as _Strict
from etl_core.spec.paths import PIPELINE_NAME, check_sql_path, confine
from etl_core.spec.rules import Correction, Quality, Rule
from etl_core.spec.sources import CsvOptions, FileSource, Source
from etl_core.spec.targets import (
    Aggregate,
    AggregateTarget,
    LakeTarget,
    PostgresTarget,
    Target,
)


class Transform(_Strict):
    sql: Annotated[str, AfterValidator(check_sql_path)] = Field(description="file in the pipelines folder holding the SELECT")
    driving_source: str | None = None
    key: list[str] = []
    data_type: DataType | None = Field(None, description="routing; derived from the sources when absent")


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
        self.quality.check_names(
            sources=[s.name for s in self.sources], postgres_targets=[t.name for t in self.targets if t.type == "postgres"]
        )
        return self

    @property
    def data_type(self) -> DataType:
        """Streams go the micro-batch path, nested JSON is flattened first, the rest is plain SQL."""
        if self.transform.data_type:
            return self.transform.data_type
        if any(s.type == "kinesis" for s in self.sources):
            return "streaming"
        if any(t == "json" for s in self.sources for t in (s.columns or {}).values()):
            return "semi_structured"
        return "structured"

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
    where = f"{spec_uri(pipelines_uri, spec.pipeline)}: transform.sql"
    uri = confine(storage.join(pipelines_uri, check_sql_path(spec.transform.sql)), spec.transform.sql, {"pipelines": pipelines_uri}, where)
    if not storage.exists(uri):
        raise SpecError(f"{where}: no file at {uri}")
    return storage.read_bytes(uri).decode()


def confined_uri(spec: PipelineSpec, field: str, template: str, roots: dict[str, str], **values: str) -> str:
    """``template`` expanded, and checked to lie under one of ``roots`` (or the s3:// bucket it names)
    before anything reads or writes there; errors name ``<pipeline>.yaml: <field>``."""
    return confine(expand(template, **values), template, roots, f"{spec.pipeline}.yaml: {field}")


def expand(template: str, **values: str) -> str:
    """Fill ``{raw_uri}``-style placeholders in a spec URI, naming any unknown one."""
    try:
        return template.format(**values)
    except KeyError as exc:
        raise SpecError(f"unknown placeholder {{{exc.args[0]}}} in {template!r}; known: {', '.join(sorted(values))}") from None


__all__ = [
    "Aggregate", "AggregateTarget", "Correction", "CsvOptions", "FileSource", "LakeTarget", "PIPELINE_NAME", "PipelineSpec", "PostgresTarget",
    "DataType", "Quality", "Rule", "Source", "Target", "Transform", "TypeName", "confined_uri", "expand", "load_spec", "load_sql", "parse_spec", "spec_uri",
]
