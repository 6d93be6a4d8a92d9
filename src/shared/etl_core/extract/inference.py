"""Schema inference for file sources whose spec declares no columns.

The first object decides: its column names and the types Arrow infers from a sample of it
map onto the spec's type names, and the rest of the run is typed, staged and quarantined
exactly as if the spec had declared them.
"""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl_core import storage
from etl_core.errors import SourceError
from etl_core.spec import FileSource

SAMPLE_BYTES = 1 << 20
SAMPLE_RECORDS = 1000


def type_name(arrow_type: pa.DataType) -> str:
    """The spec type that holds values of an inferred Arrow type."""
    if pa.types.is_integer(arrow_type):
        return "int64"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float64"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_nested(arrow_type):
        return "json"
    return "string"


def _sample_schema(uri: str, source: FileSource) -> pa.Schema:
    fs, path = storage.resolve(uri)
    if source.format == "parquet":
        return pq.read_schema(path, filesystem=fs)
    with fs.open_input_stream(path, compression="detect") as stream:
        if source.format == "csv":
            options = source.csv
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=SAMPLE_BYTES, encoding=options.encoding),
                parse_options=pacsv.ParseOptions(delimiter=options.delimiter, quote_char=options.quote_char,
                                                 invalid_row_handler=lambda row: "skip"),
            )
            return reader.schema
        records = []
        for line in stream.read(SAMPLE_BYTES).splitlines()[:SAMPLE_RECORDS]:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the extract quarantines it, with its line number
            if isinstance(record, dict):
                records.append(record)
        return pa.Table.from_pylist(records).schema


def infer_columns(source: FileSource, uri: str) -> dict[str, str]:
    objects = storage.list_files(uri)
    if not objects:
        raise SourceError(f"source {source.name!r}: {uri} holds no objects to infer a schema from")
    try:
        schema = _sample_schema(objects[0], source)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise SourceError(f"source {source.name!r}: cannot infer a schema from {objects[0]}: {exc}") from exc
    if not schema.names:
        raise SourceError(f"source {source.name!r}: {objects[0]} has no columns to infer (declare them in the spec)")
    return {field.name: type_name(field.type) for field in schema}
