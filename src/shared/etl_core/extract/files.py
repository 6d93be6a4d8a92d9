"""Reading S3 objects (or local files) as batches of text rows, remembering each row's origin.

Every row carries ``_origin`` (object URI and line, or row number for Parquet) from here to
the quarantine, so a rejected row can always be traced back to the byte it came from.
Malformed lines and undecodable records are returned as rejects instead of failing the read.
"""
from __future__ import annotations

import json
from typing import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl_core import storage
from etl_core.errors import SourceError
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.records import text_value
from etl_core.spec import FileSource

BATCH_ROWS = 64 * 1024


def _csv_batches(uri: str, source: FileSource) -> Iterator[TextBatch]:
    columns = list(source.columns)
    options = source.csv
    bad: dict[int, tuple[str, str]] = {}

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad[row.number] = (row.text, f"expected {row.expected_columns} fields, found {row.actual_columns}")
        return "skip"

    fs, path = storage.resolve(uri)
    stream = fs.open_input_stream(path, compression="detect")
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=4 << 20,
                encoding=options.encoding,
                column_names=None if options.header else columns,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter, quote_char=options.quote_char, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                include_columns=columns,
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
        raise SourceError(f"{uri}: cannot read as CSV (encoding {options.encoding!r}, columns {columns}): {exc}") from exc
    line = 2 if options.header else 1
    with stream:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise SourceError(f"{uri}: cannot read as CSV (encoding {options.encoding!r}) near line {line}: {exc}") from exc
            origins = []
            for _ in range(batch.num_rows):
                while line in bad:
                    line += 1
                origins.append(f"{uri}:{line}")
                line += 1
            text = TextBatch(pa.Table.from_batches([batch]), origins)
            for number in sorted(n for n in bad if n < line):
                raw, reason = bad.pop(number)
                text.reject_origins.append(f"{uri}:{number}")
                text.reject_raws.append(raw)
                text.reject_reasons.append(f"malformed CSV line: {reason}")
            yield text
    if bad:  # malformed lines after the last good row
        tail = TextBatch(pa.table({c: pa.array([], pa.string()) for c in columns}), [])
        for number in sorted(bad):
            raw, reason = bad[number]
            tail.reject_origins.append(f"{uri}:{number}")
            tail.reject_raws.append(raw)
            tail.reject_reasons.append(f"malformed CSV line: {reason}")
        yield tail


def _jsonl_batches(uri: str, source: FileSource) -> Iterator[TextBatch]:
    columns = list(source.columns)
    fs, path = storage.resolve(uri)

    def empty() -> tuple[dict[str, list], TextBatch]:
        return {c: [] for c in columns}, TextBatch(pa.table({}), [])

    values, text = empty()
    with fs.open_input_stream(path, compression="detect") as stream:
        for number, raw_line in enumerate(stream.read().splitlines(), start=1):
            if not raw_line.strip():
                continue
            origin = f"{uri}:{number}"
            try:
                record = json.loads(raw_line.decode(source.csv.encoding))
                if not isinstance(record, dict):
                    raise ValueError(f"expected a JSON object, found {type(record).__name__}")
            except (ValueError, UnicodeDecodeError) as exc:
                text.reject_origins.append(origin)
                text.reject_raws.append(raw_line.decode("utf8", errors="replace"))
                text.reject_reasons.append(f"malformed JSON line: {exc}")
                continue
            for c in columns:
                values[c].append(text_value(record.get(c)))
            text.origins.append(origin)
            if len(text.origins) >= BATCH_ROWS:
                text.table = pa.table({c: pa.array(values[c], pa.string()) for c in columns})
                yield text
                values, text = empty()
    text.table = pa.table({c: pa.array(values[c], pa.string()) for c in columns})
    yield text


def _parquet_batches(uri: str, source: FileSource) -> Iterator[TextBatch]:
    columns = list(source.columns)
    fs, path = storage.resolve(uri)
    with fs.open_input_file(path) as handle:
        try:
            parquet = pq.ParquetFile(handle)
        except pa.ArrowInvalid as exc:
            raise SourceError(f"{uri}: not a Parquet file: {exc}") from exc
        missing = [c for c in columns if c not in parquet.schema_arrow.names]
        if missing:
            raise SourceError(f"{uri}: missing declared column(s) {', '.join(missing)}; found {parquet.schema_arrow.names}")
        offset = 0
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            table = pa.table({c: pa.array([text_value(v) for v in batch.column(c).to_pylist()], pa.string()) for c in columns})
            yield TextBatch(table, [f"{uri}#row={offset + i + 1}" for i in range(batch.num_rows)])
            offset += batch.num_rows


READERS = {"csv": _csv_batches, "jsonl": _jsonl_batches, "parquet": _parquet_batches}


def read_files(source: FileSource, ctx: ExtractContext) -> Iterator[TextBatch]:
    """Batches from every object at the source's URI (an object, or every object under a prefix)."""
    uri = ctx.uri
    objects = storage.list_files(uri)
    if not objects:
        raise SourceError(f"source {source.name!r}: {uri} holds no objects")
    for obj in objects:
        yield from READERS[source.format](obj, source)
