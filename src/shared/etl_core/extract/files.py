"""Reading S3 objects (or local files) as batches of text rows, remembering each row's origin.

Every row carries ``_origin`` (object URI and line, or row number for Parquet) from here to
the quarantine, so a rejected row can always be traced back to the byte it came from.
Malformed lines and undecodable records are returned as rejects instead of failing the read.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl_core import storage
from etl_core.arrays import positions
from etl_core.background import read_ahead
from etl_core.errors import SourceError
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.csv_lines import RecordLines, blank_rows_readable, holds_line_break
from etl_core.extract.records import text_value
from etl_core.spec import CsvOptions, FileSource

BATCH_ROWS = 64 * 1024

#: Bytes pyarrow's CSV reader parses at a time (a batch is about this much text).
CSV_BLOCK_BYTES = 4 << 20


def _header(uri: str, options: CsvOptions) -> list[str]:
    """The names in the file's header record (a UTF-8 byte-order mark is not part of the first)."""
    fs, path = storage.resolve(uri)
    with fs.open_input_stream(path, compression="detect") as raw:
        text = io.TextIOWrapper(raw, encoding=options.encoding, errors="replace", newline="")
        names = next(csv.reader(text, delimiter=options.delimiter, quotechar=options.quote_char), [])
    return [names[0].removeprefix("\ufeff"), *names[1:]] if names else []


def _open_csv(uri: str, options: CsvOptions, columns: list[str], read: list[str], on_invalid,
              blank_rows: bool) -> tuple[pacsv.CSVStreamingReader, object]:
    fs, path = storage.resolve(uri)
    stream = fs.open_input_stream(path, compression="detect")
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False,  # pyarrow numbers records (for the rejects) only when it reads on one thread
                block_size=CSV_BLOCK_BYTES,
                encoding=options.encoding,
                column_names=None if options.header else columns,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter,
                quote_char=options.quote_char,
                newlines_in_values=True,  # a quoted field may span lines
                ignore_empty_lines=not blank_rows,  # a blank line as a row: records keep their line numbers (csv_lines)
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in read},
                include_columns=read,
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except BaseException:
        stream.close()
        raise
    return reader, stream


def _record_numbers(first: int, rows: int, bad: dict[int, tuple[str, str]]) -> tuple[pa.Array, list[int]]:
    """pyarrow's record numbers of a batch's ``rows`` good rows, the first of them no earlier than
    record ``first``, and the skipped (malformed) records among or before them, in order."""
    skipped = sorted(n for n in bad if n >= first)
    if not skipped or skipped[0] >= first + rows:  # the usual case: no malformed record in the way
        return positions(first, rows), []
    pieces, taken, at, left = [], [], first, rows
    for number in skipped:
        if number - at >= left:
            break
        pieces.append(positions(at, number - at))
        left -= number - at
        taken.append(number)
        at = number + 1
    pieces.append(positions(at, left))
    return pa.concat_arrays(pieces), taken


def _csv_batches(uri: str, source: FileSource) -> Iterator[TextBatch]:
    """pyarrow parses the values; each record's first physical line comes column-wise from
    csv_lines.RecordLines (see there for how lines stay exact when a value spans lines)."""
    columns = list(source.columns)
    options = source.csv
    bad: dict[int, tuple[str, str]] = {}  # record number (as pyarrow counts, header included) -> (text, why)
    # pyarrow reports a malformed record while it parses, on the reading thread (see _parsed): here
    # until the batch it was met in is handed over with them.
    met: dict[int, tuple[str, str]] = {}

    def on_invalid(row: pacsv.InvalidRow) -> str:
        met[row.number] = (row.text, f"expected {row.expected_columns} fields, found {row.actual_columns}")
        return "skip"

    lines = RecordLines(uri, options, blank_rows=blank_rows_readable(uri, options))
    # A line break in a column the spec leaves out moves lines too: such columns are read (and checked) as well.
    extra = [n for n in _header(uri, options) if n not in columns] if options.header and lines.column_wise else []
    try:
        try:
            reader, stream = _open_csv(uri, options, columns, columns + extra, on_invalid, lines.blank_rows)
        except (pa.ArrowInvalid, pa.ArrowKeyError):
            if not extra:
                raise
            extra = []  # the header read otherwise than pyarrow reads it: its lines come from the csv module
            lines.follow_quotes()
            reader, stream = _open_csv(uri, options, columns, columns, on_invalid, lines.blank_rows)
    except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
        lines.close()
        raise SourceError(f"{uri}: cannot read as CSV (encoding {options.encoding!r}, columns {columns}): {exc}") from exc
    prefix = f"{uri}:"
    parsed = read_ahead(_parsed(reader, met))
    with stream, contextlib.closing(lines), contextlib.closing(parsed):
        if options.header:
            if holds_line_break([pa.array(reader.schema.names, pa.string())]):
                lines.follow_quotes()
            lines.take(1)
        while True:
            try:
                batch, malformed = next(parsed)
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise SourceError(f"{uri}: cannot read as CSV (encoding {options.encoding!r}) after record {lines.records}: {exc}") from exc
            bad.update(malformed)
            table = pa.Table.from_batches([batch])
            first = lines.records + 1
            numbers, skipped = _record_numbers(first, batch.num_rows, bad)
            if lines.column_wise and (holds_line_break(table.columns) or any("\n" in t or "\r" in t for t, _ in bad.values())):
                lines.follow_quotes()
            count = (int(numbers[-1].as_py()) if len(numbers) else skipped[-1] if skipped else first - 1) - first + 1
            found = lines.take(count)
            good = found if not skipped else found.take(pc.subtract(numbers, first))
            if lines.blank_rows:
                table, good = _without_blank_lines(table, numbers, good, lines)
            text = TextBatch(table.select(columns), _origins(prefix, good))
            if skipped:
                _reject(text, uri, bad, skipped, found.take(pa.array([n - first for n in skipped], pa.int64())))
            yield text
        bad.update(met)  # the reading thread has ended: met holds what the last read found
        if bad:  # malformed records after the last good row
            tail = TextBatch(pa.table({c: pa.array([], pa.string()) for c in columns}), [])
            skipped = sorted(bad)
            first = lines.records + 1
            if lines.column_wise and any("\n" in t or "\r" in t for t, _ in bad.values()):
                lines.follow_quotes()
            found = lines.take(skipped[-1] - first + 1)
            _reject(tail, uri, bad, skipped, found.take(pa.array([n - first for n in skipped], pa.int64())))
            yield tail


def _without_blank_lines(table: pa.Table, numbers: pa.Array, good: pa.Array, lines: RecordLines) -> tuple[pa.Table, pa.Array]:
    """The batch without the rows pyarrow read from blank lines (``numbers``: the rows' record
    numbers, ``good``: their lines). Such a row is all null, as is a record of empty values, so
    only all-null rows are asked about, and a batch in which some column has no null has none."""
    if not table.num_rows or any(column.null_count == 0 for column in table.columns):
        return table, good
    all_null = pc.is_null(table.column(0))
    for column in table.columns[1:]:
        all_null = pc.and_(all_null, pc.is_null(column))
    candidates = pc.indices_nonzero(all_null)
    if not len(candidates):
        return table, good
    blank = candidates.filter(lines.blank(numbers.take(candidates)))
    if not len(blank):
        return table, good
    keep = pc.invert(pc.is_in(positions(0, table.num_rows), value_set=blank))
    return table.filter(keep), good.filter(keep)


def _parsed(reader: pacsv.CSVStreamingReader, met: dict[int, tuple[str, str]]) -> Iterator[tuple[pa.RecordBatch, dict[int, tuple[str, str]]]]:
    """Each batch pyarrow parses, with the malformed records met while parsing it (and before).
    Run by background.read_ahead: pyarrow parses the next block on the second core while this one
    is numbered, cast and staged."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        malformed = dict(met)
        met.clear()
        yield batch, malformed


def _origins(prefix: str, lines: pa.Array) -> pa.Array:
    """``<uri>:<line>`` for each line, built by Arrow compute: the prefix inserted before each
    line's digits, which takes about half the CPU of joining a scalar and the digits element-wise."""
    return pc.binary_replace_slice(pc.cast(lines, pa.string()), start=0, stop=0, replacement=prefix)


def _reject(text: TextBatch, uri: str, bad: dict[int, tuple[str, str]], numbers: list[int], lines: pa.Array) -> None:
    """Move the malformed records ``numbers`` into the batch's rejects, at their first lines."""
    for number, line in zip(numbers, lines.to_pylist()):
        raw, reason = bad.pop(number)
        text.reject_origins.append(f"{uri}:{line}")
        text.reject_raws.append(raw)
        text.reject_reasons.append(f"malformed CSV line: {reason}")


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
        prefix = f"{uri}#row="
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            table = pa.table({c: as_text(batch.column(c)) for c in columns})
            yield TextBatch(table, _origins(prefix, positions(offset + 1, batch.num_rows)))
            offset += batch.num_rows


def _arrow_text_is_python_text(data_type: pa.DataType) -> bool:
    """Types whose Arrow cast to text is exactly records.text_value's text (not floats: ``1`` vs
    ``1.0``; not times: a space vs ``T``), so they need no Python object per value."""
    return (pa.types.is_integer(data_type) or pa.types.is_boolean(data_type) or pa.types.is_date32(data_type)
            or pa.types.is_decimal(data_type) or pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def as_text(values: pa.Array) -> pa.Array:
    """A Parquet column as the text the extract cast reads (records.text_value's text)."""
    if _arrow_text_is_python_text(values.type):
        return pc.cast(values, pa.string())
    return pa.array([text_value(v) for v in values.to_pylist()], pa.string())


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
