"""The rows' fingerprint: a load's identity, so it must name exactly the published rows."""
from __future__ import annotations

import datetime
import decimal

import pyarrow as pa
import pytest

from etl_core.fingerprint import RowsFingerprint

ROWS = pa.table({"id": pa.array(range(10), pa.int64()), "note": [None, "a", "b", None, "c", "d", "e", "f", "g", "h"],
                 "_origin": [f"f.csv:{i + 2}" for i in range(10)]})


def digest(*tables: pa.Table) -> str:
    fp = RowsFingerprint(ROWS.schema)
    for table in tables:
        fp.update(table)
    return fp.hexdigest()


def test_batching_does_not_change_the_fingerprint() -> None:
    whole = digest(ROWS)
    assert digest(ROWS.slice(0, 3), ROWS.slice(3, 5), ROWS.slice(8)) == whole
    assert digest(*(ROWS.slice(i, 1) for i in range(10))) == whole
    assert digest(pa.concat_tables([ROWS.slice(0, 4), ROWS.slice(4)])) == whole  # chunks within one table


def test_what_lies_under_a_null_does_not_count() -> None:
    """Arrow leaves a null's slot undefined: two arrays equal as values must hash alike."""
    ids = pa.array(range(10), pa.int64())
    garbage_ids = pa.Array.from_buffers(pa.int64(), 10, [pa.array([v != 3 for v in range(10)]).buffers()[1], ids.buffers()[1]])
    zeroed_ids = pa.array([None if v == 3 else v for v in range(10)], pa.int64())
    assert garbage_ids.to_pylist() == zeroed_ids.to_pylist()
    notes = pa.array(["aa", "bb", "cc"])
    garbage_notes = pa.Array.from_buffers(pa.string(), 3, [pa.array([True, False, True]).buffers()[1], *notes.buffers()[1:]])
    plain_notes = pa.array(["aa", None, "cc"])

    def one(column: pa.Array) -> str:
        fp = RowsFingerprint(pa.schema([("c", column.type)]))
        fp.update(pa.table({"c": column}))
        return fp.hexdigest()

    assert one(garbage_ids) == one(zeroed_ids)
    assert one(garbage_notes) == one(plain_notes)
    assert one(plain_notes.slice(1)) == one(pa.array([None, "cc"]))  # an offset into the buffers


@pytest.mark.parametrize("column", [
    pa.array([1.5, None, -0.25]),
    pa.array([True, None, False]),
    pa.array([datetime.date(2026, 11, 26), None, datetime.date(1970, 1, 1)]),
    pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-2.00")], pa.decimal128(18, 2)),
    pa.array([datetime.datetime(2026, 11, 26, 1, 2, 3), None, datetime.datetime(2000, 1, 1)], pa.timestamp("us", tz="UTC")),
    pa.array([b"\x00", None, b"ab"], pa.binary()),
    pa.array([[1, 2], None, []]),
    pa.array([{"a": 1}, None, {"a": 2}]),
    pa.array(["x", None, "y"]).dictionary_encode(),
])
def test_every_type_is_hashed_and_every_value_counts(column: pa.Array) -> None:
    def one(values: pa.Array) -> str:
        fp = RowsFingerprint(pa.schema([("c", values.type)]))
        fp.update(pa.table({"c": values}))
        return fp.hexdigest()

    base = one(column)
    assert one(pa.concat_arrays([column.slice(0, 1), column.slice(1)])) == base
    swapped = column.take(pa.array([2, 1, 0]))
    assert one(swapped) != base
    assert one(column.slice(0, 2)) != base


def test_origins_do_not_count_but_every_value_does() -> None:
    base = digest(ROWS)
    assert digest(ROWS.set_column(2, "_origin", pa.array([f"f.csv:{i + 3}" for i in range(10)]))) == base
    assert digest(ROWS.set_column(1, "note", pa.array([None, "a", "b", "", "c", "d", "e", "f", "g", "h"]))) != base  # NULL is not ""
    assert digest(ROWS.slice(0, 9)) != base
    assert digest(ROWS.slice(0, 9), ROWS.slice(9).set_column(0, "id", pa.array([99], pa.int64()))) != base
    assert digest(ROWS.cast(pa.schema([("id", pa.int32()), ("note", pa.string()), ("_origin", pa.string())]))) != base


def test_the_same_rows_in_another_order_are_another_load() -> None:
    """Decided, not overlooked: the fingerprint names the rows as they are published, in their
    order (the lake's files hold them in that order, and hashing a multiset would cost a hash per
    row instead of a pass over each column's buffers). An engine that returns a run's unchanged
    rows in another order therefore makes a re-run load again, replacing the run's rows with the
    same rows: more work, never other data. The Lambda engine's order is that of the transformed
    file, so its unchanged re-runs are skipped (tests/e2e/test_rerun.py)."""
    reordered = ROWS.take(pa.array(range(9, -1, -1)))
    assert sorted(reordered.to_pylist(), key=lambda row: row["id"]) == ROWS.to_pylist()
    assert digest(reordered) != digest(ROWS)


def test_an_error_while_hashing_is_raised_not_lost() -> None:
    """Hashing runs on a thread of its own: what fails there must still fail the fingerprint."""
    fp = RowsFingerprint(ROWS.schema)
    fp.update(ROWS.slice(0, 5))
    fp.update(ROWS.drop_columns(["note"]).slice(5))  # no "note" column to hash
    with pytest.raises(KeyError, match="note"):
        fp.hexdigest()


def test_many_batches_in_flight_keep_their_order() -> None:
    """Batches waiting for the hashing thread are hashed in the order they were fed."""
    rows = pa.table({"id": pa.array(range(5000), pa.int64()), "note": [str(i) for i in range(5000)], "_origin": ["x"] * 5000})
    fp = RowsFingerprint(rows.schema)
    for start in range(0, 5000, 7):
        fp.update(rows.slice(start, 7))
    whole = RowsFingerprint(rows.schema)
    whole.update(rows)
    reordered = RowsFingerprint(rows.schema)
    reordered.update(rows.slice(7))
    reordered.update(rows.slice(0, 7))
    assert fp.hexdigest() == whole.hexdigest() != reordered.hexdigest()
