"""Validate: correct the transform's rows, judge the run, then every row rule in one pass.

Order matters and is fixed: corrections first (so rules judge the fixed values), run rules
next (a run that must fail fails before anything is written), then the row rules. A row is
never dropped: a failing row goes to quarantine with every rule it broke, the reasons and its
origin; a row ``dedupe`` removed goes beside it naming the row that superseded it. The
counts must balance, or the run stops: extracted = valid + quarantined + deduplicated.

Files beside the run (``layout.quarantine_root``): ``validate.parquet`` (quarantined rows),
``dedupe.parquet`` (superseded rows), ``warned.parquet`` (rows kept, flagged by warn rules),
each with ``_rules`` (labels), ``_reasons`` (text) and ``_stage``.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from etl_core import storage
from etl_core.corrections import apply_corrections
from etl_core.errors import ConservationError, DataQualityError
from etl_core.layout import RunLayout
from etl_core.quality.row_rules import NO_LOOKUPS, Failures, Lookups, rule_failures
from etl_core.quality.run_rules import check_run_rules
from etl_core.quality.target_keys import keys_in_target
from etl_core.reasons import origins, reason, rule_of
from etl_core.settings import Settings
from etl_core.spec import PipelineSpec, PostgresTarget, Rule

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
    index = pa.array(range(table.num_rows), pa.int64())
    reasons: dict[int, list[str]] = {row: list(texts) for row, texts in (failed_corrections or {}).items()}
    none = pa.array([False] * table.num_rows, pa.bool_())
    masks = {"quarantine": pc.is_in(index, value_set=pa.array(sorted(reasons), pa.int64())), "warn": none, "fail": none}
    for rule in rules:
        failures = rule_failures(table, rule, lookups)
        masks[rule.severity] = pc.or_(masks[rule.severity], failures.mask)
        failing = pc.indices_nonzero(failures.mask).to_pylist()
        for row, detail in zip(failing, failures.details(failing)):
            reasons.setdefault(row, []).append(reason(rule.label, detail, rule.severity))
    return Verdicts(masks["quarantine"], masks["warn"], masks["fail"], reasons)


def run_lookups(spec: PipelineSpec, layout: RunLayout, settings: Settings | None) -> Lookups:
    """Look-ups bound to this run: its staged sources (each read once) and the spec's targets."""

    @functools.cache
    def staged(source: str) -> pa.Table:
        return storage.read_parquet(layout.staged_source(source))

    def staged_column(source: str, name: str, label: str) -> pa.ChunkedArray:
        table = staged(source)
        if name not in table.column_names:
            raise DataQualityError(
                f"rule {label}: source {source!r} has no column {name!r} (staged columns {table.column_names})"
            )
        return table.column(name)

    def target_keys(target: str, keys: pa.Table, label: str) -> pa.Table:
        postgres = spec.target(target)
        assert isinstance(postgres, PostgresTarget)  # the spec only lets against_target name postgres targets
        return keys_in_target(keys, postgres, layout.run_id, settings or Settings.from_env(), f"rule {label}")

    return Lookups(staged_column=staged_column, keys_in_target=target_keys)


def _annotated(table: pa.Table, rows: list[int], reasons: dict[int, list[str]]) -> pa.Table:
    """The given rows with their rule labels, reasons and stage, as quarantine files hold them."""
    picked = table.take(pa.array(rows, pa.int64()))
    texts = [reasons[row] for row in rows]
    return (
        picked.append_column("_rules", pa.array([[rule_of(t) for t in ts] for ts in texts], pa.list_(pa.string())))
        .append_column("_reasons", pa.array(["; ".join(ts) for ts in texts], pa.string()))
        .append_column("_stage", pa.array([STAGE] * len(rows), pa.string()))
    )


def _examples(table: pa.Table, rows: list[int], reasons: dict[int, list[str]]) -> list[str]:
    return [f"{origin}: {'; '.join(reasons[row])}" for origin, row in zip(origins(table, rows), rows)]


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
    table = storage.read_parquet(layout.transformed)
    expected = driving["rows_staged"]
    if table.num_rows != expected:
        raise ConservationError(
            f"transform of pipeline {spec.pipeline!r} turned {expected} staged {spec.driving_source!r} rows into "
            f"{table.num_rows}; the SQL must keep one row per driving row (use quality rules to reject rows)"
        )
    corrected = apply_corrections(table, spec.quality.corrections)
    table = corrected.table
    warnings = check_run_rules(
        spec.pipeline,
        [r for r in spec.quality.rules if not r.is_row_rule],
        table,
        rows_read=driving["rows_read"],
        run_date=run_date,
        now=now or dt.datetime.now(dt.timezone.utc),
    )
    row_rules = [r for r in spec.quality.rules if r.is_row_rule]
    verdicts = evaluate(table, row_rules, run_lookups(spec, layout, settings), corrected.failures)
    if pc.any(verdicts.fail).as_py():
        failing = pc.indices_nonzero(verdicts.fail).to_pylist()
        raise DataQualityError(
            f"pipeline {spec.pipeline!r}: {len(failing)} row(s) broke a severity 'fail' rule, "
            f"e.g. {_examples(table, failing[:5], verdicts.reasons)}"
        )
    bad_rows = pc.indices_nonzero(verdicts.quarantine).to_pylist()
    warned_rows = pc.indices_nonzero(pc.and_(verdicts.warn, pc.invert(verdicts.quarantine))).to_pylist()
    superseded = corrected.superseded
    valid = table.filter(pc.invert(verdicts.quarantine))
    storage.write_parquet(layout.quarantine(STAGE), _annotated(table, bad_rows, verdicts.reasons))
    storage.write_parquet(layout.quarantine("warned"), _annotated(table, warned_rows, verdicts.reasons))
    storage.write_parquet(
        layout.quarantine("dedupe"),
        _annotated(superseded, list(range(superseded.num_rows)), dict(enumerate([t] for t in corrected.superseded_by))),
    )
    storage.write_parquet(storage.join(layout.validated, VALID_FILE), valid)

    quarantined = driving["rows_rejected"] + len(bad_rows)
    deduplicated = superseded.num_rows
    if driving["rows_read"] != valid.num_rows + quarantined + deduplicated:
        raise ConservationError(
            f"rows read {driving['rows_read']} != valid {valid.num_rows} + quarantined {quarantined}"
            f" + deduplicated {deduplicated}"
        )
    ratio = quarantined / driving["rows_read"] if driving["rows_read"] else 0.0
    return ValidationResult(
        extracted=driving["rows_read"],
        rejected_at_extract=driving["rows_rejected"],
        transformed=expected,
        deduplicated=deduplicated,
        valid=valid.num_rows,
        quarantined=quarantined,
        warned=len(warned_rows),
        quarantine_ratio=round(ratio, 6),
        max_quarantine_ratio=spec.quality.max_quarantine_ratio,
        passed=ratio <= spec.quality.max_quarantine_ratio,
        quarantine_uri=layout.quarantine_root,
        corrections=corrected.counts,
        warnings=warnings,
    )
