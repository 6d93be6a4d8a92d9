"""Reading S3 objects (or local files) as batches of text rows, remembering each row's origin.

Every row carries ``_origin`` (object URI and line, or row number for Parquet) from here to
the quarantine, so a rejected row can always be traced back to the byte it came from.
Malformed lines and undecodable records are returned as rejects instead of failing the read.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from typing import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl_core import storage
from etl_core.errors import SourceError
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.records import text_value
from etl_core.spec import CsvOptions, FileSource

BATCH_ROWS = 64 * 1024

csv.field_size_limit(sys.maxsize)  # a quoted field is as long as the data makes it; pyarrow sets no limit either


def _record_lines(uri: str, options: CsvOptions) -> Iterator[int]:
    """The physical line on which each CSV record starts (1-based; the header is a record, a
    blank line is not), as Python's csv module counts them while it follows quoted fields
    across lines. pyarrow's reader parses the values but reports no line numbers, and counting
    one line per row drifts by one per blank line and per line break inside a quoted field.
    Decoding problems are left to pyarrow's reader, which reports them."""
    fs, path = storage.resolve(uri)
    with fs.open_input_stream(path, compression="detect") as raw:
        text = io.TextIOWrapper(raw, encoding=options.encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=options.delimiter, quotechar=options.quote_char)
        after = 0
        for record in reader:
            if record:
                yield after + 1
            after = reader.line_num


class _Lines:
    """The records' first lines, taken in record order (pyarrow numbers records the same way)."""

    def __init__(self, uri: str, options: CsvOptions) -> None:
        self.uri = uri
        self._lines = _record_lines(uri, options)
        self.record = 0

    def next(self) -> int:
        line = next(self._lines, None)
        if line is None:
            raise SourceError(f"{self.uri}: record {self.record + 1} has no line: the file changed while it was read")
        self.record += 1
        return line


def _reject(text: TextBatch, uri: str, bad: dict[int, tuple[str, str]], lines: _Lines, number: int) -> None:
    """Move malformed record ``number`` into the batch's rejects, at its first line."""
    while lines.record < number - 1:
        lines.next()
    raw, reason = bad.pop(number)
    text.reject_origins.append(f"{uri}:{lines.next()}")
    text.reject_raws.append(raw)
    text.reject_reasons.append(f"malformed CSV line: {reason}")


def _csv_batches(uri: str, source: FileSource) -> Iterator[TextBatch]:
    columns = list(source.columns)
    options = source.csv
    bad: dict[int, tuple[str, str]] = {}  # record number (as pyarrow counts, header included) -> (text, why)

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
                delimiter=options.delimiter,
                quote_char=options.quote_char,
                newlines_in_values=True,  # a quoted field may span lines
                invalid_row_handler=on_invalid,
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
    lines = _Lines(uri, options)
    if options.header:
        lines.next()
    with stream:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise SourceError(f"{uri}: cannot read as CSV (encoding {options.encoding!r}) after record {lines.record}: {exc}") from exc
            text = TextBatch(pa.Table.from_batches([batch]), [])
            for _ in range(batch.num_rows):
                while lines.record + 1 in bad:  # pyarrow skipped it: it precedes this row
                    _reject(text, uri, bad, lines, lines.record + 1)
                text.origins.append(f"{uri}:{lines.next()}")
            yield text
    if bad:  # malformed records after the last good row
        tail = TextBatch(pa.table({c: pa.array([], pa.string()) for c in columns}), [])
        for number in sorted(bad):
            _reject(tail, uri, bad, lines, number)
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
                record = json.loads(raw_line.decode("utf-8-sig" if number == 1 and source.csv.encoding in UTF8 else source.csv.encoding))
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


#: Encodings whose byte-order mark (first line only) is not part of the data.
UTF8 = ("utf8", "utf-8", "UTF8", "UTF-8")

READERS = {"csv": _csv_batches, "jsonl": _jsonl_batches, "parquet": _parquet_batches}


def read_files(source: FileSource, ctx: ExtractContext) -> Iterator[TextBatch]:
    """Batches from every object at the source's URI (an object, or every object under a prefix)."""
    uri = ctx.uri
    objects = storage.list_files(uri)
    if not objects:
        raise SourceError(f"source {source.name!r}: {uri} holds no objects")
    for obj in objects:
        yield from READERS[source.format](obj, source)
