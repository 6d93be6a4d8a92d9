"""Quality models: the rules Validate applies and the quality gate's threshold."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from etl_core.spec.base import Strict as _Strict


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


