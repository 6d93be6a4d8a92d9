"""Validate: correct the transform's rows, judge the run, then every row rule in one pass.

Order matters and is fixed: corrections first (so rules judge the fixed values), run rules
next (a run that must fail fails before anything is written), then the row rules. A row is
never dropped: a failing row goes to quarantine with every rule it broke, the reasons and its
origin; a row ``dedupe`` removed goes beside it naming the row that superseded it. The
counts must balance, or the run stops: extracted = valid + quarantined + deduplicated.

Files beside the run (``layout.quarantine_root``): ``validate.parquet`` (quarantined rows),
``dedupe.parquet`` (superseded rows), ``warned.parquet`` (rows kept, flagged by warn rules),
each with ``_rules`` (labels), ``_reasons`` (text) and ``_stage``.

Validate streams: the transformed rows are read and judged batch by batch and every output
file is appended to as they go, so memory is bounded by a batch plus what run-wide checks
must remember. Checks that compare rows across the run get their facts first, from passes
over only the columns they read: ``dedupe`` verdicts (corrections.plan_dedupes), ``unique``
key indexes, the rows ``references`` rules do not find, and the newest value each
``freshness`` rule judges. Key columns go to DuckDB key sets on disk (etl_core.keysets), so
memory holds the failing rows, not the run's keys. The counts and reasons are the same as
judging the whole table at once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
from array import array
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc
from aws_lambda_powertools import Logger, Tracer

from etl_core import conformance, storage
from etl_core.arrays import falses, positions
from etl_core.corrections import DedupePlan, check_corrections, correct_batch, corrected_columns, plan_dedupes
from etl_core.errors import ConservationError, DataQualityError
from etl_core.fingerprint import RowsFingerprint
from etl_core.keysets import KeySets, key_sets
from etl_core.layout import RunLayout
from etl_core.quality.references import missing_references
from etl_core.quality.row_rules import NO_LOOKUPS, Failures, Lookups, rule_failures
from etl_core.quality.run_rules import check_run_rules, fold_newest, freshness_columns
from etl_core.quality.target_keys import keys_in_target
from etl_core.quality.unique import KeyIndex
from etl_core.quality.valid_rows import ValidRows
from etl_core.reasons import ORIGIN, origins, reason, rule_of
from etl_core.settings import Settings
from etl_core.spec import Correction, PipelineSpec, PostgresTarget, Rule

logger = Logger(child=True)
tracer = Tracer()

__all__ = ["Failures", "Lookups", "ValidationResult", "Verdicts", "evaluate", "rule_failures", "validate_run"]

VALID_FILE = "part-0.parquet"
STAGE = "validate"


@dataclass(frozen=True)
class ValidationResult:
    extracted: int
    rejected_at_extract: int
    transformed: int
    deduplicated: int
    valid: int
    quarantined: int
    warned: int
    quarantine_ratio: float
    max_quarantine_ratio: float
    passed: bool
    quarantine_uri: str
    #: Correction label -> values it changed (rows it removed, for dedupe).
    corrections: dict[str, int] = field(default_factory=dict)
    #: Run rules of severity warn that the run broke, as reasons.
    warnings: list[str] = field(default_factory=list)
    #: The valid rows' fingerprint (etl_core.fingerprint): part of every load's identity.
    fingerprint: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Verdicts:
    """Per severity, the rows that broke a rule of it; per failing row, every reason."""

    quarantine: pa.Array
    warn: pa.Array
    fail: pa.Array
    reasons: dict[int, list[str]]


def evaluate(
    table: pa.Table,
    rules: list[Rule],
    lookups: Lookups = NO_LOOKUPS,
    failed_corrections: dict[int, list[str]] | None = None,
) -> Verdicts:
    """Every row rule over the batch; rows a correction could not fix start out quarantined."""
    reasons: dict[int, list[str]] = {row: list(texts) for row, texts in (failed_corrections or {}).items()}
    none = falses(table.num_rows)
    failed = pc.is_in(positions(0, table.num_rows), value_set=pa.array(sorted(reasons), pa.int64())) if reasons else none
    masks = {"quarantine": failed, "warn": none, "fail": none}
    for rule in rules:
        failures = rule_failures(table, rule, lookups)
        if not pc.any(failures.mask).as_py():
            continue  # a clean rule costs its mask and nothing more
        masks[rule.severity] = pc.or_(masks[rule.severity], failures.mask)
        failing = pc.indices_nonzero(failures.mask).to_pylist()
        for row, detail in zip(failing, failures.details(failing)):
            reasons.setdefault(row, []).append(reason(rule.label, detail, rule.severity))
    return Verdicts(masks["quarantine"], masks["warn"], masks["fail"], reasons)


def run_lookups(spec: PipelineSpec, layout: RunLayout, settings: Settings | None) -> Lookups:
    """Look-ups bound to this run: its staged sources (each column read once) and the spec's targets."""

    @functools.cache
    def staged_column(source: str, name: str, label: str) -> pa.ChunkedArray:
        parts = _staged(layout, source, name, label)
        values = pa.concat_tables([parts.schema.empty_table().select([name]), *parts.batches([name])]).column(name)
        return pa.chunked_array([pc.unique(values)], values.type)

    def target_keys(target: str, keys: pa.Table, label: str) -> pa.Table:
        postgres = spec.target(target)
        assert isinstance(postgres, PostgresTarget)  # the spec only lets against_target name postgres targets
        return keys_in_target(keys, postgres, layout.run_id, settings or Settings.from_env(), f"rule {label}")

    return Lookups(staged_column=staged_column, keys_in_target=target_keys)


def _staged(layout: RunLayout, source: str, name: str, label: str) -> storage.ParquetParts:
    """The staged source a references rule reads, which must have the column it names."""
    parts = storage.ParquetParts(layout.staged_source(source))
    if name not in parts.schema.names:
        raise DataQualityError(f"rule {label}: source {source!r} has no column {name!r} (staged columns {parts.schema.names})")
    return parts


def _annotated(table: pa.Table, rows: list[int], reasons: dict[int, list[str]]) -> pa.Table:
    """The given rows with their rule labels, reasons and stage, as quarantine files hold them."""
    picked = table.take(pa.array(rows, pa.int64()))
    texts = [reasons[row] for row in rows]
    return (
        picked.append_column("_rules", pa.array([[rule_of(t) for t in ts] for ts in texts], pa.list_(pa.string())))
        .append_column("_reasons", pa.array(["; ".join(ts) for ts in texts], pa.string()))
        .append_column("_stage", pa.array([STAGE] * len(rows), pa.string()))
    )


def _examples(table: pa.Table, rows: list[int], reasons: dict[int, list[str]], first_row: int) -> list[str]:
    return [f"{origin}: {'; '.join(reasons[row])}" for origin, row in zip(origins(table, rows, first_row), rows)]


@dataclass
class _RunFacts:
    """What judging the run needs before its first batch: each unique rule's key set (in
    ``sets``), the rows each references rule finds missing, and the newest value of each column
    a freshness rule judges."""

    sets: KeySets | None
    unique: list[tuple[Rule, str, pa.Schema]]
    missing: list[tuple[Rule, array]]
    newest: dict[str, Any]

    def key_indexes(self, lookups: Lookups) -> Callable[[Rule], KeyIndex]:
        """The unique rules' indexes (looking keys up in targets now, after the run rules passed)."""
        assert self.sets is not None or not self.unique
        indexes = [(rule, KeyIndex.out_of_core(rule, self.sets, table, keys, lookups.keys_in_target))  # type: ignore[arg-type]
                   for rule, table, keys in self.unique]
        return lambda rule: next(index for indexed, index in indexes if indexed is rule)

    def missing_rows(self, rule: Rule) -> array | None:
        """The run rows whose value a references rule did not find (None: the rule was not judged here)."""
        return next((rows for judged, rows in self.missing if judged is rule), None)


def _key_set_rules(spec: PipelineSpec) -> bool:
    """Whether the run compares keys across rows (and so needs a key set)."""
    return any(r.check in ("unique", "references") for r in spec.quality.rules) or any(
        c.dedupe is not None for c in spec.quality.corrections
    )


def _run_facts(parts: storage.ParquetParts, shape: pa.Table, corrections: list[Correction], plan: DedupePlan, rules: list[Rule],
               sets: KeySets | None, layout: RunLayout) -> _RunFacts:
    """One pass over the corrected rows, reading only the columns unique, references and freshness
    rules judge: key columns go to key sets, the newest values are folded in."""
    unique = [r for r in rules if r.check == "unique" and all(c in shape.column_names for c in r.columns)]
    references = [r for r in rules if r.check == "references" and r.column in shape.column_names]
    newest: dict[str, Any] = dict.fromkeys(freshness_columns(rules, shape))
    keyed = [(r, f"unique{n}", r.columns) for n, r in enumerate(unique)]
    keyed += [(r, f"references{n}", [r.column]) for n, r in enumerate(references)]
    assert sets is not None or not keyed
    for _, table, names in keyed:
        sets.create(table, shape.select(names).schema)  # type: ignore[union-attr]
    columns = list(dict.fromkeys([*(c for _, _, names in keyed for c in names), *newest]))
    if columns:
        first_row = 0
        for batch in corrected_columns(corrections, plan, parts.batches, columns):
            fold_newest(newest, batch)
            for _, table, names in keyed:
                sets.append(table, pa.table({n: conformance.flat(batch.column(n)) for n in names}), first_row)  # type: ignore[union-attr]
            first_row += batch.num_rows
    missing = [
        (rule, missing_references(sets, f"references{n}", rule, _staged(layout, rule.source, rule.source_column, rule.label),  # type: ignore[arg-type]
                                  shape.schema.field(rule.column).type))
        for n, rule in enumerate(references)
    ]
    return _RunFacts(sets, [(r, f"unique{n}", shape.select(r.columns).schema) for n, r in enumerate(unique)], missing, newest)


@dataclass
class _Outputs:
    """The run's four files, appended to batch by batch, and what went into them."""

    valid: ValidRows
    quarantined: storage.ParquetSink
    warned: storage.ParquetSink
    superseded: storage.ParquetSink
    fingerprint: RowsFingerprint
    counts: dict[str, int]
    failing: int = 0
    examples: list[str] = field(default_factory=list)


def _open_outputs(stack: contextlib.ExitStack, layout: RunLayout, parts: storage.ParquetParts, shape: pa.Table, superseded: pa.Table,
                  labels: list[str]) -> _Outputs:
    """Sinks that publish at the end of a successful run and vanish if it fails."""
    annotated = _annotated(shape, [], {}).schema

    def sink(uri: str, schema: pa.Schema) -> storage.ParquetSink:
        return stack.enter_context(storage.ParquetSink(uri, schema))

    storage.delete_prefix(layout.validated)  # a previous attempt may have published more valid objects than this one
    return _Outputs(
        valid=stack.enter_context(ValidRows(storage.join(layout.validated, VALID_FILE), shape.schema, parts)),
        quarantined=sink(layout.quarantine(STAGE), annotated),
        warned=sink(layout.quarantine("warned"), annotated),
        superseded=sink(layout.quarantine("dedupe"), _annotated(superseded, [], {}).schema),
        fingerprint=RowsFingerprint(shape.schema),
        counts=dict.fromkeys(labels, 0),
    )


def _origin_unread(spec: PipelineSpec, schema: pa.Schema) -> bool:
    """Whether judging a batch can leave its ``_origin`` unread until a row of it goes somewhere
    other than an unchanged valid batch: no correction (which may move or replace rows), no
    ``unique`` rule (which remembers where a key first came from), no rule on ``_origin`` itself.
    At scale 1 that column is about a quarter of the transformed object's bytes and of the CPU
    its reading takes, for the few batches whose origins are ever shown."""
    read_by_rules = {c for r in spec.quality.rules for c in [r.column, *r.columns]}
    return (ORIGIN in schema.names and not spec.quality.corrections and ORIGIN not in read_by_rules
            and not any(r.check == "unique" for r in spec.quality.rules))


def _with_origins(parts: storage.ParquetParts, first_row: int, table: pa.Table) -> pa.Table:
    """A batch read without ``_origin`` (its first row run row ``first_row``) with it again, in the object's column order."""
    columns = {**dict(zip(table.column_names, table.columns)), ORIGIN: parts.rows(ORIGIN, first_row, table.num_rows)}
    return pa.Table.from_arrays([columns[n] for n in parts.schema.names], schema=parts.schema)


def _judge_batch(out: _Outputs, batch: pa.Table, spec: PipelineSpec, plan: DedupePlan, lookups: Lookups, first_row: int,
                 complete: Callable[[pa.Table], pa.Table] | None = None) -> int:
    """Correct and judge one batch (run row ``first_row`` first) into the outputs; returns the rows kept.
    ``complete``: the batch was read without columns only its written rows need (``_origin_unread``)
    and adds them, called only when a row of the batch is written or shown."""
    corrected = correct_batch(batch, spec.quality.corrections, plan, first_row)
    for label, count in corrected.counts.items():
        out.counts[label] += count
    table = corrected.table
    row_rules = [r for r in spec.quality.rules if r.is_row_rule]
    verdicts = evaluate(table, row_rules, lookups, corrected.failures)
    if complete is not None and (pc.any(verdicts.quarantine).as_py() or pc.any(verdicts.warn).as_py()
                                 or pc.any(verdicts.fail).as_py() or not out.valid.defers):
        table = complete(table)  # no correction: the corrected table is the batch, row for row
    failing = pc.indices_nonzero(verdicts.fail).to_pylist()
    if failing:
        out.failing += len(failing)
        out.examples += _examples(table, failing[: 5 - len(out.examples)], verdicts.reasons, lookups.first_row)
    if out.failing:  # the run fails: nothing is published, only the failing rows still count
        return table.num_rows
    bad_rows = pc.indices_nonzero(verdicts.quarantine).to_pylist()
    warned_rows = pc.indices_nonzero(pc.and_(verdicts.warn, pc.invert(verdicts.quarantine))).to_pylist()
    kept = table.filter(pc.invert(verdicts.quarantine)) if bad_rows else table
    superseded = corrected.superseded
    out.valid.write(kept, unchanged=not bad_rows and not superseded.num_rows and not any(corrected.counts.values()))
    out.fingerprint.update(kept.cast(pa.schema([out.valid.schema.field(n) for n in kept.column_names])))  # without _origin if unread
    out.quarantined.write(_annotated(table, bad_rows, verdicts.reasons))
    out.warned.write(_annotated(table, warned_rows, verdicts.reasons))
    reasons = dict(enumerate([t] for t in corrected.superseded_by))
    out.superseded.write(_annotated(superseded, list(range(superseded.num_rows)), reasons))
    return table.num_rows


@tracer.capture_method
def validate_run(
    spec: PipelineSpec,
    layout: RunLayout,
    extracted: list[dict],
    *,
    run_date: dt.date | None = None,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> ValidationResult:
    """Validate the run's transformed rows; ``run_date``/``now`` anchor freshness, ``settings`` reach targets."""
    driving = next((e for e in extracted if e["source"] == spec.driving_source), None)
    if driving is None:
        raise ConservationError(f"no extract result for the driving source {spec.driving_source!r}")
    parts = storage.ParquetParts(layout.transformed)
    expected = driving["rows_staged"]
    if parts.num_rows != expected:
        raise ConservationError(
            f"transform of pipeline {spec.pipeline!r} turned {expected} staged {spec.driving_source!r} rows into "
            f"{parts.num_rows}; the SQL must keep one row per driving row (use quality rules to reject rows)"
        )
    corrections = spec.quality.corrections
    empty = parts.schema.empty_table()
    shape = check_corrections(empty, corrections)
    with contextlib.ExitStack() as keys:  # the run's key sets live on disk until the rules have what they need
        sets = keys.enter_context(key_sets(settings)) if _key_set_rules(spec) else None
        plan = plan_dedupes(corrections, parts.schema, parts.batches, sets)
        facts = _run_facts(parts, shape, corrections, plan, spec.quality.rules, sets, layout)
        warnings = check_run_rules(
            spec.pipeline,
            [r for r in spec.quality.rules if not r.is_row_rule],
            shape,
            facts.newest,
            rows_read=driving["rows_read"],
            run_date=run_date,
            now=now or dt.datetime.now(dt.timezone.utc),
        )
        lookups = run_lookups(spec, layout, settings)
        lookups = dataclasses.replace(lookups, run_keys=facts.key_indexes(lookups), run_missing=facts.missing_rows)
    with contextlib.ExitStack() as stack:
        out = _open_outputs(stack, layout, parts, shape, correct_batch(empty, corrections, plan).superseded, [c.label for c in corrections])
        first_row = kept = 0
        lazy = _origin_unread(spec, parts.schema)
        restart = True
        while restart:
            # Batches leave _origin unread while the valid rows are only counted; once they are
            # written every batch needs it, and the rest is read whole again.
            lazy, restart = lazy and out.valid.defers, False
            with contextlib.closing(parts.batches([n for n in parts.schema.names if n != ORIGIN] if lazy else None, first_row)) as batches:
                for batch in batches:
                    complete = functools.partial(_with_origins, parts, first_row) if lazy else None
                    kept += _judge_batch(out, batch, spec, plan, dataclasses.replace(lookups, first_row=kept), first_row, complete)
                    first_row += batch.num_rows
                    if lazy and not out.valid.defers:
                        restart = True
                        break
        if out.failing:
            raise DataQualityError(
                f"pipeline {spec.pipeline!r}: {out.failing} row(s) broke a severity 'fail' rule, e.g. {out.examples}"
            )
    valid = out.valid.rows
    quarantined = driving["rows_rejected"] + out.quarantined.rows
    deduplicated = out.superseded.rows
    if driving["rows_read"] != valid + quarantined + deduplicated:
        raise ConservationError(
            f"rows read {driving['rows_read']} != valid {valid} + quarantined {quarantined} + deduplicated {deduplicated}"
        )
    ratio = quarantined / driving["rows_read"] if driving["rows_read"] else 0.0
    if ratio > spec.quality.max_quarantine_ratio:
        logger.warning("quarantine ratio over the spec's limit", extra={"ratio": ratio, "limit": spec.quality.max_quarantine_ratio})
    return ValidationResult(
        extracted=driving["rows_read"],
        rejected_at_extract=driving["rows_rejected"],
        transformed=expected,
        deduplicated=deduplicated,
        valid=valid,
        quarantined=quarantined,
        warned=out.warned.rows,
        quarantine_ratio=round(ratio, 6),
        max_quarantine_ratio=spec.quality.max_quarantine_ratio,
        passed=ratio <= spec.quality.max_quarantine_ratio,
        quarantine_uri=layout.quarantine_root,
        corrections=out.counts,
        warnings=warnings,
        fingerprint=out.fingerprint.hexdigest(),
    )
