"""Does text conform: to a named format (date, email, ...), to a strptime format, to a type.

Shared by the quality rules (``format``, ``type``) and the corrections (``cast``), so a value
a rule calls a valid date is exactly a value a cast turns into one. Functions take flat
arrays (see ``flat``) and return boolean masks, True where a non-null value does not
conform; nulls always conform (that is ``not_null``'s business).
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from etl_core.arrays import positions
from etl_core.schema import ARROW_TYPES, cast_by_halves, cast_text

_EMAIL = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}$"
_UUID = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$"
)
#: Leading zeros of a number, so that ``1/2/2026`` and ``01/02/2026`` compare equal.
_LEADING_ZEROS = (r"\b0+(\d)", r"\1")

#: How a format rule describes a value that fails it.
FORMAT_NAMES = {
    "date": "a date (YYYY-MM-DD)",
    "email": "an email address",
    "iso_timestamp": "an ISO 8601 timestamp",
    "uuid": "a UUID",
}


def is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type)


def flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array, so masks computed from it line up with other flat arrays."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _broken(values: pa.Array, conforms: pa.Array) -> pa.Array:
    """True where a value is present and does not conform (a null ``conforms`` counts as not)."""
    return pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(conforms, False)))


def parse_time(values: pa.Array, fmt: str) -> tuple[pa.Array, pa.Array]:
    """Text to timestamps with a strptime format, strictly; returns (timestamps, mask of failures).

    Arrow's strptime rolls impossible dates over (``31/02/2026`` becomes 3 March), so a value
    conforms only if printing the timestamp back with the same format gives the same text,
    leading zeros aside. Failed values become null.
    """
    parsed = pc.strptime(values, format=fmt, unit="us", error_is_null=True)
    if "%z" in fmt or "%Z" in fmt:  # printed back in UTC, so the text differs by design
        return parsed, _broken(values, pc.is_valid(parsed))
    printed = pc.replace_substring_regex(pc.strftime(parsed, format=fmt), *_LEADING_ZEROS)
    given = pc.replace_substring_regex(values, *_LEADING_ZEROS)
    bad = _broken(values, pc.equal(printed, given))
    return pc.if_else(bad, pa.scalar(None, parsed.type), parsed), bad


def format_failures(values: pa.Array, name: str) -> pa.Array:
    """Values that are not in the named format (see FORMAT_NAMES)."""
    if name in ("date", "iso_timestamp"):
        shape = pc.match_substring_regex(values, _DATE if name == "date" else _ISO_TIMESTAMP)
        day = parse_time(pc.utf8_slice_codeunits(values, 0, 10), "%Y-%m-%d")[1]
        return pc.or_(_broken(values, shape), day)
    return _broken(values, pc.match_substring_regex(values, _EMAIL if name == "email" else _UUID))


def type_failures(values: pa.Array, type_name: str) -> pa.Array:
    """Values the extract stage could not cast to ``type_name`` (same casting, see schema.cast_text).

    Arrow casts a whole array or raises, so the bad values are found by halving: one cast
    when every value is good, about k·log(n) casts for k bad values.
    """
    target = ARROW_TYPES[type_name]
    _, bad = cast_by_halves(values, lambda v: cast_text(v, target), target)
    return pc.is_in(positions(0, len(values)), value_set=pa.array(bad, pa.int64()))


def cast_conforming(values: pa.Array, type_name: str) -> tuple[pa.Array, pa.Array]:
    """Text cast to ``type_name``, non-conforming values as null; returns (typed, mask of failures)."""
    bad = type_failures(values, type_name)
    kept = pc.if_else(bad, pa.scalar(None, pa.string()), pc.cast(values, pa.string()))
    return cast_text(kept, ARROW_TYPES[type_name]), bad
