"""Quality models: the corrections and rules Validate applies, and the quality gate's threshold.

Every rule names its ``check``; which other fields it takes depends on the check, and a
field that does not apply is an error (a typo'd ``max_age_hour`` or a ``min`` on a
``not_null`` would otherwise be silently ignored). Corrections are written as one-key
mappings (``- trim: [status]``) and run, in order, before the rules.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from etl_core.spec.base import Strict as _Strict
from etl_core.spec.base import TypeName

Severity = Literal["quarantine", "warn", "fail"]
Format = Literal["date", "email", "iso_timestamp", "uuid"]

#: Rules judged row by row: a failing row is quarantined, flagged (warn) or fails the run.
ROW_CHECKS = ("not_null", "unique", "accepted_values", "range", "regex", "format", "type", "references")
#: Rules judged once per run: they can only warn or fail the run.
RUN_CHECKS = ("row_count", "freshness")

#: check -> (fields it requires, fields it may also take). ``severity`` is always allowed.
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "not_null": (("column",), ()),
    "unique": (("columns",), ("against_target",)),
    "accepted_values": (("column", "values"), ()),
    "range": (("column",), ("min", "max")),
    "regex": (("column", "pattern"), ()),
    "format": (("column", "format"), ()),
    "type": (("column", "type"), ()),
    "references": (("column", "source", "source_column"), ()),
    "row_count": ((), ("min", "max")),
    "freshness": (("column", "max_age_hours"), ("relative_to",)),
}


class Rule(_Strict):
    """One quality rule; which fields apply depends on ``check``.

    ``severity`` defaults to ``quarantine`` for row rules and ``fail`` for run rules.
    """

    check: Literal[
        "not_null", "unique", "accepted_values", "range", "regex", "format", "type", "references", "row_count", "freshness"
    ]
    column: str | None = None
    columns: list[str] = []
    values: list[Any] = []
    min: float | dt.date | None = None
    max: float | dt.date | None = None
    pattern: str | None = None
    format: Format | None = None
    type: TypeName | None = None
    source: str | None = None
    source_column: str | None = None
    against_target: str | None = None
    max_age_hours: float | None = Field(None, gt=0)
    relative_to: Literal["run_date", "now"] = "run_date"
    severity: Severity = "quarantine"

    @model_validator(mode="before")
    @classmethod
    def _default_severity(cls, data: Any) -> Any:
        if isinstance(data, dict) and "severity" not in data and data.get("check") in RUN_CHECKS:
            return {**data, "severity": "fail"}
        return data

    @model_validator(mode="after")
    def _fields_for_check(self) -> "Rule":
        required, optional = _FIELDS[self.check]
        missing = [f for f in required if getattr(self, f) in (None, [])]
        if missing:
            raise ValueError(f"check '{self.check}' needs {', '.join(missing)}")
        allowed = {"check", "severity", *required, *optional}
        unexpected = sorted(f for f in self.model_fields_set if f not in allowed)
        if unexpected:
            takes = ", ".join(sorted(allowed))
            raise ValueError(f"check '{self.check}' does not take {', '.join(unexpected)} (it takes {takes})")
        if self.check in ("range", "row_count") and self.min is None and self.max is None:
            raise ValueError(f"check '{self.check}' needs min or max")
        if self.min is not None and self.max is not None and type(self.min) is not type(self.max):
            raise ValueError("min and max must both be numbers or both be dates")
        if self.min is not None and self.max is not None and self.min > self.max:  # type: ignore[operator]
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        if self.check == "row_count" and any(isinstance(b, dt.date) or (b is not None and b < 0) for b in (self.min, self.max)):
            raise ValueError("check 'row_count' bounds must be non-negative numbers")
        if self.check in RUN_CHECKS and self.severity == "quarantine":
            raise ValueError(f"check '{self.check}' judges the whole run: severity must be 'fail' or 'warn'")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regular expression: {exc}") from exc
        return self

    @property
    def is_row_rule(self) -> bool:
        return self.check in ROW_CHECKS

    @property
    def label(self) -> str:
        target = self.column or ",".join(self.columns)
        return f"{self.check}({target})" if target else self.check


# --- corrections ----------------------------------------------------------------------------

Columns = list[str]


def _as_columns(value: Any) -> Any:
    """``trim: status`` and ``trim: [status, email]`` both mean a list of columns."""
    return [value] if isinstance(value, str) else value


class CaseFix(_Strict):
    columns: Columns = Field(min_length=1)
    to: Literal["upper", "lower"]

    columns_as_list = field_validator("columns", mode="before")(_as_columns)


class CastFix(_Strict):
    """Text to a type; ``format`` (strptime, e.g. ``%d/%m/%Y``) for dates and timestamps."""

    column: str
    to: TypeName
    format: str | None = None

    @model_validator(mode="after")
    def _format_for_temporal(self) -> "CastFix":
        if self.format is not None and self.to not in ("date", "timestamp"):
            raise ValueError(f"format applies to casts to date or timestamp, not {self.to}")
        if self.format is not None and "%" not in self.format:
            raise ValueError(f"format {self.format!r} has no strptime directive (write e.g. '%d/%m/%Y')")
        return self


class DefaultFix(_Strict):
    columns: Columns = Field(min_length=1)
    value: Any

    columns_as_list = field_validator("columns", mode="before")(_as_columns)

    @field_validator("value")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("a default must not be null")
        return value


class DedupeFix(_Strict):
    """Keep one row per key: the greatest ``keep_latest_by`` (ties and no column: the last row)."""

    key: Columns = Field(min_length=1)
    keep_latest_by: str | None = None

    key_as_list = field_validator("key", mode="before")(_as_columns)


class Correction(_Strict):
    """Exactly one of the fixes, written as a one-key mapping: ``- dedupe: {key: [id]}``."""

    trim: Columns | None = None
    case: CaseFix | None = None
    cast: CastFix | None = None
    default: DefaultFix | None = None
    dedupe: DedupeFix | None = None

    trim_as_list = field_validator("trim", mode="before")(_as_columns)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Correction":
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a correction names exactly one of trim, case, cast, default, dedupe; found {', '.join(given) or 'none'}"
            )
        if self.trim == []:
            raise ValueError("trim needs at least one column")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    @property
    def columns(self) -> list[str]:
        """The columns the correction reads: what a missing-column error must name."""
        if self.trim is not None:
            return self.trim
        if self.cast is not None:
            return [self.cast.column]
        if self.dedupe is not None:
            return [*self.dedupe.key, *([self.dedupe.keep_latest_by] if self.dedupe.keep_latest_by else [])]
        return (self.case or self.default).columns  # type: ignore[union-attr]

    @property
    def label(self) -> str:
        """``trim(status)``, ``dedupe(order_id)``: the key of the correction's count."""
        named = self.dedupe.key if self.dedupe is not None else self.columns
        return f"{self.kind}({','.join(named)})"


class Quality(_Strict):
    max_quarantine_ratio: float = Field(0.05, ge=0, le=1)
    corrections: list[Correction] = []
    rules: list[Rule] = []

    @field_validator("corrections")
    @classmethod
    def _distinct_corrections(cls, value: list[Correction]) -> list[Correction]:
        labels = [c.label for c in value]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"corrections repeated (each is counted by its label): {', '.join(repeated)}")
        return value

    def check_names(self, sources: list[str], postgres_targets: list[str]) -> None:
        """Rules that name another source or a target must name one the spec declares."""
        for index, rule in enumerate(self.rules):
            if rule.source is not None and rule.source not in sources:
                raise ValueError(
                    f"quality.rules[{index}].source: {rule.source!r} is not one of the sources ({', '.join(sources)})"
                )
            if rule.against_target is not None and rule.against_target not in postgres_targets:
                raise ValueError(
                    f"quality.rules[{index}].against_target: {rule.against_target!r} is not a postgres target "
                    f"({', '.join(postgres_targets) or 'none declared'})"
                )
