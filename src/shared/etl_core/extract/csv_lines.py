"""The physical line on which each CSV record starts, computed column-wise, never per row.

pyarrow parses a CSV's values but reports no line numbers. Records are separated by CR, LF
or CRLF outside quotes; a blank line is not a record (pyarrow and Python's csv module both
skip it). So as long as no record spans lines, record *k* starts on the *k*-th non-blank
physical line, and those lines are found in the raw bytes with Arrow compute: the positions
of the LF (and CR) bytes of each block, one vector operation per block.

A record spans lines only through a line break inside a quoted value, which the parsed value
then holds. The reader checks each batch's values for one (``holds_line_break``, a scan of
the columns' data buffers); from the first batch with one, the lines come from Python's csv
module instead, which follows quoted fields across lines. Encodings in which CR and LF are
not single bytes of their own use the csv module from the start. Both count lines the same
way, so an origin is the same whichever way it was found, and exact either way.

Most files need no scan at all: when pyarrow is asked to read each blank line as a row
(``ignore_empty_lines=False``; an all-null row, as an all-empty record would be), its record
*k* is the *k*-th physical line until a value spans lines, so the lines are the record numbers.
Only a batch with an all-null row asks which of those rows are blank lines (``blank``): then
the raw bytes are scanned, as far as that row, once. A file that begins with a line break reads
its header from the first non-blank line, so it is scanned as above.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from etl_core import storage
from etl_core.arrays import positions
from etl_core.errors import SourceError
from etl_core.spec import CsvOptions

csv.field_size_limit(sys.maxsize)  # a quoted field is as long as the data makes it; pyarrow sets no limit either

#: Raw bytes scanned at a time.
BLOCK_BYTES = 4 << 20

_LF, _CR = pa.scalar(10, pa.uint8()), pa.scalar(13, pa.uint8())
_BOM = codecs.BOM_UTF8
#: A blank line between two LFs. The re module finds it in about 60% of the time of ``in``
#: (whose search steps about three bytes at a time when the needle's bytes are that common).
_BLANK_LINE = re.compile(b"\n\n")


def _byte_lines(encoding: str) -> bool:
    """Whether CR and LF are bytes of their own in ``encoding`` (UTF-8, Latin-1, cp1252... but not UTF-16)."""
    try:
        return "\r\n".encode(encoding) == b"\r\n" and b"x\r\n".decode(encoding) == "x\r\n"
    except (LookupError, UnicodeError):
        return False


def _utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return False


def _as_bytes(data: bytes) -> pa.Array:
    """The bytes as a uint8 array, without a copy."""
    return pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)])


def _plain_breaks(data: bytes, final: bool) -> int | None:
    """How many line breaks ``data`` holds if none of its lines is blank and every CR is part of
    a CRLF (the usual file): then found by counting, a few memory scans; else None."""
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n") or (not final and data.endswith(b"\r")):
            return None
        if data.startswith(b"\r\n") or b"\n\r\n" in data:
            return None
    if data.startswith(b"\n") or _BLANK_LINE.search(data):
        return None
    return data.count(b"\n")


def _line_breaks(data: bytes, final: bool) -> tuple[pa.Array, pa.Array, int]:
    """Where each line break of ``data`` starts and ends (CRLF is one break), and how many bytes
    they cover; a CR at the very end of a block that is not the last is left for the next block
    (it may be the start of a CRLF)."""
    arr = _as_bytes(data)
    lf = pc.indices_nonzero(pc.equal(arr, _LF)).cast(pa.int64())
    if b"\r" not in data:
        end = int(lf[-1].as_py()) + 1 if len(lf) else 0
        return lf, lf, end
    cr = pc.indices_nonzero(pc.equal(arr, _CR)).cast(pa.int64())
    if not final and data.endswith(b"\r"):
        cr = cr.slice(0, len(cr) - 1)  # decided with the next block
    # A CR followed by LF is the start of a CRLF; any other CR is a break of its own.
    after_cr = pc.take(arr, pc.min_element_wise(pc.add(cr, 1), len(data) - 1))
    lone = cr.filter(pc.or_(pc.not_equal(after_cr, _LF), pc.equal(cr, len(data) - 1)))
    before_lf = pc.take(arr, pc.max_element_wise(pc.subtract(lf, 1), 0))
    lf_starts = pc.if_else(pc.and_(pc.equal(before_lf, _CR), pc.greater(lf, 0)), pc.subtract(lf, 1), lf)
    ends = pa.concat_arrays([lf, lone])
    starts = pa.concat_arrays([lf_starts, lone])
    order = pc.sort_indices(ends)
    ends, starts = ends.take(order), starts.take(order)
    end = int(ends[-1].as_py()) + 1 if len(ends) else 0
    return starts, ends, end


class _NonBlankLines:
    """The numbers of the non-blank physical lines of a file, in order, found block by block."""

    def __init__(self, uri: str, encoding: str) -> None:
        fs, path = storage.resolve(uri)
        self._stream = fs.open_input_stream(path, compression="detect")
        self._strip_bom = _utf8(encoding)  # pyarrow drops a UTF-8 byte-order mark
        self._carry = b""  # the bytes of a line not yet ended
        self._lines = 0  # physical lines ended so far
        self._found: list[pa.Array] = []
        self._available = 0
        self._done = False

    def through(self, line: int) -> pa.Array:
        """The non-blank lines up to ``line`` (int64, ascending) not given yet."""
        while not self._done and self._last() < line:
            self._scan()
        found = [f for f in self._found if len(f)]
        if not found:
            return pa.array([], pa.int64())
        whole = pa.concat_arrays(found) if len(found) != 1 else found[0]
        cut = int(pc.sum(pc.less_equal(whole, line)).as_py() or 0)  # ascending: the first ``cut`` are <= line
        self._found = [whole.slice(cut)]
        self._available -= cut
        return whole.slice(0, cut)

    def _last(self) -> int:
        return next((int(f[-1].as_py()) for f in reversed(self._found) if len(f)), 0)

    def take(self, count: int) -> pa.Array | None:
        """The next ``count`` non-blank lines' numbers (int64), or None if the file has fewer."""
        while self._available < count and not self._done:
            self._scan()
        if self._available < count:
            return None
        found = pa.concat_arrays(self._found) if len(self._found) != 1 else self._found[0]
        self._found = [found.slice(count)]
        self._available -= count
        return found.slice(0, count)

    def _scan(self) -> None:
        block = self._stream.read(BLOCK_BYTES)
        final = not block
        if self._strip_bom and self._lines == 0 and not self._carry and block.startswith(_BOM):
            block = block[len(_BOM):]
        data = self._carry + block if self._carry else block
        breaks = _plain_breaks(data, final)
        if breaks is not None:  # no blank line in the block: its lines are consecutive
            used = data.rfind(b"\n") + 1
            self._add(positions(self._lines + 1, breaks))
            self._lines += breaks
            self._carry = data[used:]
            if final:
                self._finish()
            return
        starts, ends, used = _line_breaks(data, final)
        if len(ends):
            # Line i runs from the end of break i-1 to the start of break i; it is blank when empty.
            previous_ends = pa.concat_arrays([pa.array([-1], pa.int64()), ends.slice(0, len(ends) - 1)])
            non_blank = pc.indices_nonzero(pc.greater(pc.subtract(starts, previous_ends), 1)).cast(pa.int64())
            self._add(pc.add(non_blank, self._lines + 1))
            self._lines += len(ends)
        self._carry = data[used:]
        if final:
            self._finish()

    def _finish(self) -> None:
        self._done = True
        self._stream.close()
        if self._carry:  # a last line without a line break
            self._lines += 1
            self._add(pa.array([self._lines], pa.int64()))
            self._carry = b""

    def _add(self, lines: pa.Array) -> None:
        if len(lines):
            self._found.append(lines)
            self._available += len(lines)

    def close(self) -> None:
        self._stream.close()


def _csv_module_lines(uri: str, options: CsvOptions) -> Iterator[tuple[int, bool]]:
    """The physical line on which each record starts (1-based; the header is a record) and
    whether it is a blank line, as Python's csv module counts them while it follows quoted
    fields across lines. Decoding problems are left to pyarrow's reader, which reports them."""
    fs, path = storage.resolve(uri)
    with fs.open_input_stream(path, compression="detect") as raw:
        text = io.TextIOWrapper(raw, encoding=options.encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=options.delimiter, quotechar=options.quote_char)
        after = 0
        for record in reader:
            yield after + 1, not record
            after = reader.line_num


def blank_rows_readable(uri: str, options: CsvOptions) -> bool:
    """Whether pyarrow can read this file's blank lines as rows (see the module docstring): its
    line breaks are bytes of their own, and it does not begin with one (pyarrow would take that
    blank line for the header)."""
    if not _byte_lines(options.encoding):
        return False
    fs, path = storage.resolve(uri)
    with fs.open_input_stream(path, compression="detect") as raw:
        start = raw.read(len(_BOM) + 1)
    if _utf8(options.encoding) and start.startswith(_BOM):
        start = start[len(_BOM):]
    return not start.startswith((b"\n", b"\r"))


class RecordLines:
    """The first physical line of records 1, 2, ... (as pyarrow numbers them: the header is record
    1), asked for in order, a contiguous run of records at a time.

    With ``blank_rows`` (see ``blank_rows_readable``) pyarrow reads each blank line as a record
    too, and ``blank`` tells which records are blank lines; otherwise a blank line is no record."""

    def __init__(self, uri: str, options: CsvOptions, blank_rows: bool = False) -> None:
        self.uri = uri
        self._options = options
        self.blank_rows = blank_rows
        byte_lines = _byte_lines(options.encoding)
        #: Record n starts on line n (blank_rows, until a value spans lines): no scan needed.
        self._numbered = blank_rows and byte_lines
        self._fast: _NonBlankLines | None = _NonBlankLines(uri, options.encoding) if byte_lines and not blank_rows else None
        self._exact: Iterator[tuple[int, bool]] | None = None if byte_lines else self._csv_lines()
        self._probe: _NonBlankLines | None = None  # the non-blank lines, scanned only when ``blank`` asks
        self._blank: set[int] = set()  # records of the last take the csv module found blank
        self.records = 0  # records whose lines were given

    def _csv_lines(self) -> Iterator[tuple[int, bool]]:
        lines = _csv_module_lines(self.uri, self._options)
        return lines if self.blank_rows else ((line, False) for line, blank in lines if not blank)

    @property
    def column_wise(self) -> bool:
        return self._fast is not None or self._numbered

    def follow_quotes(self) -> None:
        """From the next record on, take lines from the csv module (a value spans lines)."""
        if not self.column_wise:
            return
        self.close()
        self._fast, self._probe, self._numbered = None, None, False
        self._exact = self._csv_lines()
        for _ in range(self.records):
            next(self._exact, None)

    def take(self, count: int) -> pa.Array:
        """The lines (int64) of the next ``count`` records."""
        self._blank.clear()
        if self._numbered:
            lines = positions(self.records + 1, count)
        elif self._fast is not None:
            lines = self._fast.take(count)
        else:
            assert self._exact is not None
            found = []
            for _, (line, blank) in zip(range(count), self._exact):
                if blank:
                    self._blank.add(self.records + len(found) + 1)
                found.append(line)
            lines = pa.array(found, pa.int64()) if len(found) == count else None
        if lines is None:
            raise SourceError(f"{self.uri}: record {self.records + count} has no line: the file changed while it was read")
        self.records += count
        return lines

    def blank(self, records: pa.Array) -> pa.Array:
        """Which of these records (int64, ascending, of the last ``take``) are blank lines (blank_rows only)."""
        if not self._numbered:
            return pa.array([r in self._blank for r in records.to_pylist()], pa.bool_())
        if self._probe is None:
            self._probe = _NonBlankLines(self.uri, self._options.encoding)
        non_blank = self._probe.through(int(pc.max(records).as_py()))
        return pc.invert(pc.is_in(records, value_set=non_blank))

    def close(self) -> None:
        for scan in (self._fast, self._probe):
            if scan is not None:
                scan.close()


def holds_line_break(columns: list[pa.Array | pa.ChunkedArray]) -> bool:
    """Whether any value of these text columns holds a CR or LF, from their data buffers alone
    (the bytes between the first and the last value's offsets: one memory scan per column)."""
    for values in columns:
        for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
            large = pa.types.is_large_string(chunk.type)
            if not len(chunk) or not (large or pa.types.is_string(chunk.type)):
                continue
            _, offsets, data = chunk.buffers()
            if data is None:
                continue
            width = 8 if large else 4
            whole = memoryview(offsets)
            bounds = whole[: len(whole) - len(whole) % width].cast("q" if large else "i")
            raw = memoryview(data)[bounds[chunk.offset]:bounds[chunk.offset + len(chunk)]].tobytes()
            if b"\n" in raw or b"\r" in raw:
                return True
    return False
