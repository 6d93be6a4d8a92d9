"""Rows that cannot go on are kept, with where they came from and every reason, never dropped."""
from __future__ import annotations

import pyarrow as pa

#: Rows rejected before they have a typed shape keep their raw text.
RAW_REJECT_SCHEMA = pa.schema(
    [("_origin", pa.string()), ("_raw", pa.string()), ("_reasons", pa.string()), ("_stage", pa.string())]
)


def raw_rejects(origins: list[str], raws: list[str], reasons: list[str], stage: str) -> pa.Table:
    return pa.table(
        {"_origin": origins, "_raw": raws, "_reasons": reasons, "_stage": [stage] * len(origins)},
        schema=RAW_REJECT_SCHEMA,
    )
