"""Arrays every batch needs (row positions, all-false masks), made by Arrow, not from Python objects.

``pa.array(range(n))`` builds a Python int per row (about 12 ms per 64k rows); over a run of
millions of rows in every stage that is seconds of per-row Python on the hot path. Positions
are slices of one counting array (grown as needed) shifted by Arrow compute instead.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

_counting = pa.array([], pa.int64())


def positions(start: int, count: int) -> pa.Array:
    """``start, start + 1, ..., start + count - 1`` as int64."""
    global _counting
    if count > len(_counting):
        size = max(count, 2 * len(_counting), 1 << 16)
        _counting = pa.array(range(size), pa.int64())  # once per size, doubling
    counted = _counting.slice(0, count)
    return counted if start == 0 else pc.add(counted, pa.scalar(start, pa.int64()))


def falses(count: int) -> pa.Array:
    """``count`` false values."""
    return pa.repeat(pa.scalar(False), count)


def trues(count: int) -> pa.Array:
    """``count`` true values."""
    return pa.repeat(pa.scalar(True), count)
