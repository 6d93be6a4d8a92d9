"""Validate: every quality rule in one pass, rows split into valid and quarantined with reasons.

A failing row is never dropped: it goes to quarantine with each rule it broke and its
origin. The counts returned here are what the quality gate and the run summary use, and
they must balance: rows extracted from the driving source = valid + quarantined.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc

from etl_core import storage
from etl_core.errors import ConservationError, DataQualityError
from etl_core.layout import RunLayout
from etl_core.spec import PipelineSpec, Rule

VALID_FILE = "part-0.parquet"


@dataclass(frozen=True)
class ValidationResult:
    extracted: int
    rejected_at_extract: int
    transformed: int
    valid: int
    quarantined: int
    warned: int
    quarantine_ratio: float
    max_quarantine_ratio: float
    passed: bool
    quarantine_uri: str

    def to_dict(self) -> dict:
        return asdict(self)


def _column(table: pa.Table, rule: Rule, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise DataQualityError(f"rule {rule.label}: column {name!r} is not in the transform's output {table.column_names}")
    return table.column(name)


def rule_failures(table: pa.Table, rule: Rule) -> pa.Array:
    """A boolean mask: True where the row breaks the rule. Nulls pass every rule but not_null."""
    if rule.check == "not_null":
        return pc.is_null(_column(table, rule, rule.column)).combine_chunks()
    if rule.check == "unique":
        columns = [_column(table, rule, c) for c in rule.columns]
        keyed = pa.table({f"k{i}": c for i, c in enumerate(columns)}).append_column(
            "_row", pa.array(range(table.num_rows), pa.int64())
        )
        first = keyed.group_by([f"k{i}" for i in range(len(columns))], use_threads=False).aggregate([("_row", "min")])
        keep = pc.is_in(keyed.column("_row"), value_set=first.column("_row_min"))
        return pc.invert(keep).combine_chunks()
    column = _column(table, rule, rule.column)
    if rule.check == "accepted_values":
        failed = pc.and_(pc.invert(pc.is_in(column, value_set=pa.array(rule.values).cast(column.type))), pc.is_valid(column))
    elif rule.check == "range":
        low = pc.less(column, rule.min) if rule.min is not None else None
        high = pc.greater(column, rule.max) if rule.max is not None else None
        failed = pc.or_(low, high) if low is not None and high is not None else (low if low is not None else high)
    else:  # regex
        failed = pc.invert(pc.match_substring_regex(pc.cast(column, pa.string()), rule.pattern))
    return pc.fill_null(failed, False).combine_chunks()


def evaluate(table: pa.Table, rules: list[Rule]) -> tuple[pa.Array, pa.Array, pa.Array, dict[int, list[str]]]:
    """Masks for the quarantine / warn / fail severities and, per failing row, each rule it broke.

    Reasons are gathered from the failing rows' indices only, so their cost grows with the
    number of bad rows, not with the batch.
    """
    none = pa.array([False] * table.num_rows, pa.bool_())
    masks = {"quarantine": none, "warn": none, "fail": none}
    reasons: dict[int, list[str]] = {}
    for rule in rules:
        failed = rule_failures(table, rule)
        masks[rule.severity] = pc.or_(masks[rule.severity], failed)
        for index in pc.indices_nonzero(failed).to_pylist():
            reasons.setdefault(index, []).append(f"{rule.label} [{rule.severity}]")
    return masks["quarantine"], masks["warn"], masks["fail"], reasons


def validate_run(spec: PipelineSpec, layout: RunLayout, extracted: list[dict]) -> ValidationResult:
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
    quarantine_mask, warn_mask, fail_mask, reasons = evaluate(table, spec.quality.rules)
    if pc.any(fail_mask).as_py():
        failing = pc.indices_nonzero(fail_mask).to_pylist()[:5]
        examples = [f"{table.column('_origin')[i].as_py() if '_origin' in table.column_names else i}: {'; '.join(reasons[i])}" for i in failing]
        raise DataQualityError(f"pipeline {spec.pipeline!r}: rows broke a severity 'fail' rule, e.g. {examples}")
    bad_rows = pc.indices_nonzero(quarantine_mask).to_pylist()
    quarantined = table.take(pa.array(bad_rows, pa.int64()))
    quarantined = quarantined.append_column("_reasons", pa.array(["; ".join(reasons[i]) for i in bad_rows], pa.string()))
    quarantined = quarantined.append_column("_stage", pa.array(["validate"] * len(bad_rows), pa.string()))
    valid = table.filter(pc.invert(quarantine_mask))
    storage.write_parquet(layout.quarantine("validate"), quarantined)
    storage.write_parquet(storage.join(layout.validated, VALID_FILE), valid)
    extract_rejects = driving["rows_rejected"]
    total_quarantined = extract_rejects + quarantined.num_rows
    if driving["rows_read"] != valid.num_rows + total_quarantined:
        raise ConservationError(
            f"rows read {driving['rows_read']} != valid {valid.num_rows} + quarantined {total_quarantined}"
        )
    ratio = total_quarantined / driving["rows_read"] if driving["rows_read"] else 0.0
    return ValidationResult(
        extracted=driving["rows_read"],
        rejected_at_extract=extract_rejects,
        transformed=table.num_rows,
        valid=valid.num_rows,
        quarantined=total_quarantined,
        warned=int(pc.sum(pc.cast(pc.and_(warn_mask, pc.invert(quarantine_mask)), pa.int64())).as_py() or 0),
        quarantine_ratio=round(ratio, 6),
        max_quarantine_ratio=spec.quality.max_quarantine_ratio,
        passed=ratio <= spec.quality.max_quarantine_ratio,
        quarantine_uri=layout.quarantine_root,
    )
