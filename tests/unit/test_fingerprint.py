"""The rows' fingerprint: a load's identity, so it must name exactly the published rows."""
from __future__ import annotations

import pyarrow as pa

from etl_core import fingerprint
from etl_core.fingerprint import RowsFingerprint

ROWS = pa.table({"id": pa.array(range(10), pa.int64()), "note": [None, "a", "b", None, "c", "d", "e", "f", "g", "h"],
                 "_origin": [f"f.csv:{i + 2}" for i in range(10)]})


def digest(*tables: pa.Table) -> str:
    fp = RowsFingerprint(ROWS.schema)
    for table in tables:
        fp.update(table)
    return fp.hexdigest()


def test_batching_does_not_change_the_fingerprint(monkeypatch) -> None:
    monkeypatch.setattr(fingerprint, "BLOCK_ROWS", 4)  # blocks smaller than the rows, to cross block edges
    whole = digest(ROWS)
    assert digest(ROWS.slice(0, 3), ROWS.slice(3, 5), ROWS.slice(8)) == whole
    assert digest(*(ROWS.slice(i, 1) for i in range(10))) == whole


def test_origins_do_not_count_but_every_value_does() -> None:
    base = digest(ROWS)
    assert digest(ROWS.set_column(2, "_origin", pa.array([f"f.csv:{i + 3}" for i in range(10)]))) == base
    assert digest(ROWS.set_column(1, "note", pa.array([None, "a", "b", "", "c", "d", "e", "f", "g", "h"]))) != base  # NULL is not ""
    assert digest(ROWS.slice(0, 9)) != base
    assert digest(ROWS.slice(0, 9), ROWS.slice(9).set_column(0, "id", pa.array([99], pa.int64()))) != base
    assert digest(ROWS.cast(pa.schema([("id", pa.int32()), ("note", pa.string()), ("_origin", pa.string())]))) != base
