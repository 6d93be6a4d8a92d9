"""A spec checked against the columns its transform produces, before any data moves.

The transform's output columns and types are derived without reading data: DuckDB describes
the spec's SQL over empty tables shaped as the sources will be staged (declared columns plus
``_origin``). Every column a correction, rule, key, partition, aggregate or target names is
then checked against that shape by running the very code Validate and Load run, on zero
rows: a missing column or a type a check cannot work with fails here, as a ``SpecError``
naming the file and the field, instead of after the lake and the warehouse were written.

Sources whose columns are only known once read (an ``s3`` source without ``columns``, or
``json`` columns the Flatten step expands) cannot be described at Plan; the Transform stage
runs the same check on the staged shapes before it writes anything.

DuckDB is imported only when a description is needed: it ships in the Plan and Transform
functions, not in the shared layer (README, "Package size").
"""
from __future__ import annotations

from typing import Callable

import pyarrow as pa

from etl_core import storage
from etl_core.corrections import check_corrections
from etl_core.errors import DataQualityError, SpecError, TargetError
from etl_core.extract import ORIGIN
from etl_core.load.aggregates import aggregate_rows
from etl_core.load.rows import RUN_COLUMN
from etl_core.quality.row_rules import Lookups, rule_failures
from etl_core.schema import arrow_schema
from etl_core.spec import PipelineSpec, spec_uri


def declared_schemas(spec: PipelineSpec) -> dict[str, pa.Schema] | None:
    """Each source's staged shape from its declaration, or None when one is only known after Extract."""
    if spec.data_type == "semi_structured" or any(source.columns is None for source in spec.sources):
        return None
    return {source.name: arrow_schema(source.columns).append(ORIGIN) for source in spec.sources}


def describe_transform(sql: str, sources: dict[str, pa.Schema], sql_where: str) -> pa.Schema:
    """The SQL's output columns and types, computed over empty tables (no data is read)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, schema in sources.items():
            con.register(name, schema.empty_table())
        return con.sql(sql).limit(0).to_arrow_table().schema
    except duckdb.Error as exc:
        raise SpecError(f"{sql_where}: {str(exc).strip()}") from None
    finally:
        con.close()


def _problem(field: str, check: Callable[[], object], meaning: str | None = None) -> str | None:
    """Run the code a later stage runs, on zero rows; its error, if any, as a problem of ``field``."""
    try:
        check()
    except (DataQualityError, TargetError, SpecError, pa.ArrowException, KeyError) as exc:
        return f"{field}: {meaning}: {exc}" if meaning else f"{field}: {exc}"
    return None


def _temporal(data_type: pa.DataType) -> bool:
    return pa.types.is_timestamp(data_type) or pa.types.is_date(data_type)


def _missing(columns: list[str], shape: pa.Schema) -> list[str]:
    return [c for c in columns if c not in shape.names]


def _columns_exist(field: str, columns: list[str], shape: pa.Schema) -> str | None:
    missing = _missing(columns, shape)
    if not missing:
        return None
    return f"{field}: {', '.join(map(repr, missing))} not in the transform's output ({', '.join(shape.names)})"


def check_output(spec: PipelineSpec, where: str, output: pa.Schema, sources: dict[str, pa.Schema], sql_where: str) -> None:
    """Raise one SpecError listing every problem of the spec against the transform's ``output``."""
    problems: list[str | None] = []
    if ORIGIN.name not in output.names:
        problems.append(
            f"{sql_where}: the SELECT must carry {ORIGIN.name} (add {spec.driving_source}.{ORIGIN.name}) "
            "so quarantined rows keep their origin"
        )
    problems.append(_columns_exist("transform.key", spec.transform.key, output))
    shape = output.empty_table()
    for index, correction in enumerate(spec.quality.corrections):
        before = shape
        problem = _problem(f"quality.corrections[{index}]", lambda: check_corrections(before, [correction]))
        problems.append(problem)
        if problem is None:
            shape = check_corrections(before, [correction])
    problems += _rule_problems(spec, shape, sources)
    problems += _target_problems(spec, shape.schema)
    found = [f"{where}: {p}" if not p.startswith(sql_where) else p for p in problems if p]
    if found:
        raise SpecError("\n".join(found))


def _rule_problems(spec: PipelineSpec, shape: pa.Table, sources: dict[str, pa.Schema]) -> list[str | None]:
    def staged_column(source: str, name: str, label: str) -> pa.ChunkedArray:
        if name not in sources[source].names:
            raise DataQualityError(f"rule {label}: source {source!r} has no column {name!r} ({', '.join(sources[source].names)})")
        return pa.chunked_array([], sources[source].field(name).type)

    def no_keys(target: str, keys: pa.Table, label: str) -> pa.Table:
        return pa.table({c: pa.array([], pa.string()) for c in keys.column_names})

    lookups = Lookups(staged_column=staged_column, keys_in_target=no_keys)
    problems: list[str | None] = []
    for index, rule in enumerate(spec.quality.rules):
        field = f"quality.rules[{index}]"
        if rule.check == "row_count":
            continue
        if rule.check == "freshness":
            missing = _columns_exist(f"{field}.column", [rule.column or ""], shape.schema)
            if missing is None and not _temporal(shape.schema.field(rule.column).type):
                missing = f"{field}.column: {rule.column!r} is {shape.schema.field(rule.column).type}; freshness needs a date or timestamp"
            problems.append(missing)
            continue
        columns = rule.columns if rule.check == "unique" else [rule.column or ""]
        missing = _columns_exist(f"{field}.{'columns' if rule.check == 'unique' else 'column'}", columns, shape.schema)
        problems.append(missing or _problem(field, lambda rule=rule: rule_failures(shape, rule, lookups)))
    return problems


def _target_problems(spec: PipelineSpec, corrected: pa.Schema) -> list[str | None]:
    """Targets get the validated rows: internal ``_`` columns dropped, the run id added."""
    published = pa.schema([f for f in corrected if not f.name.startswith("_")]).append(pa.field(RUN_COLUMN, pa.string()))
    problems: list[str | None] = []
    for index, target in enumerate(spec.targets):
        field = f"targets[{index}]"
        if target.type == "lake_parquet":
            problems.append(_columns_exist(f"{field}.partition_by", target.partition_by, published))
        elif target.type == "lake_aggregate":
            problems.append(_columns_exist(f"{field}.group_by", target.group_by, published))
            for position, aggregate in enumerate(target.aggregates):
                where = f"{field}.aggregates[{position}]"
                if aggregate.column is None:
                    continue
                missing = _columns_exist(f"{where}.column", [aggregate.column], published)
                if missing or _missing(target.group_by, published):
                    problems.append(missing)
                    continue
                alone = target.model_copy(update={"aggregates": [aggregate]})
                kind = published.field(aggregate.column).type
                problems.append(_problem(
                    f"{where}.function", lambda alone=alone: aggregate_rows(published.empty_table(), alone),
                    f"{aggregate.function} of {aggregate.column!r} ({kind}) cannot be computed",
                ))
        elif getattr(target, "key", None):
            problems.append(_columns_exist(f"{field}.key", list(target.key), published))
    return problems


def check_spec(spec: PipelineSpec, sql: str, where: str, sql_where: str) -> pa.Schema | None:
    """Plan's check: the full check when every source's shape is declared; returns the transform's
    output shape, or None when it can only be checked after Extract (see the module docstring)."""
    sources = declared_schemas(spec)
    if sources is None:
        return None
    output = describe_transform(sql, sources, sql_where)
    check_output(spec, where, output, sources, sql_where)
    return output


def output_check(spec: PipelineSpec, pipelines_uri: str) -> Callable[[pa.Schema, dict[str, pa.Schema]], None]:
    """The Transform stage's check of the shapes it actually staged (see the module docstring)."""
    where = spec_uri(pipelines_uri, spec.pipeline)
    sql_where = storage.join(pipelines_uri, spec.transform.sql)
    return lambda output, sources: check_output(spec, where, output, sources, sql_where)


__all__ = ["output_check", "check_output", "check_spec", "declared_schemas", "describe_transform"]
