"""What every source connector yields, and what it is given to read with.

A connector reads its system in batches and yields rows as text columns (so that one bad
value costs one row, not the batch) with each row's origin, plus the records it could not
even parse. Typing, staging and quarantine are the same for every connector.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from etl_core.layout import RunLayout
from etl_core.settings import Settings


@dataclass(frozen=True)
class ExtractContext:
    """Where and for which run a connector reads: the source's expanded URI, the run's layout."""

    uri: str
    layout: RunLayout
    settings: Settings
    run_date: str


@dataclass
class TextBatch:
    """Rows of one object as text (``table``) with their origins, plus the rows rejected so far.

    ``origins`` is a list for connectors that meet rows one at a time, or a string array for
    those that read whole columns (CSV: built by Arrow compute, no Python string per row)."""

    table: pa.Table
    origins: list[str] | pa.Array
    reject_origins: list[str] = field(default_factory=list)
    reject_raws: list[str] = field(default_factory=list)
    reject_reasons: list[str] = field(default_factory=list)


