"""One way to address storage: a URI that is either ``s3://bucket/key`` or a local path.

pyarrow's file systems give S3 and local folders the same API, so every stage reads and
writes through here and the lake layout is identical on AWS and on a laptop.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from functools import lru_cache
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from etl_core.background import InOrder, read_ahead
from etl_core.errors import SourceNotFound, naming
from etl_core.settings import Settings


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


@lru_cache(maxsize=None)
def _s3() -> pafs.S3FileSystem:
    # An endpoint override lets the same code reach a local S3 emulator in tests.
    settings = Settings.from_env()
    endpoint, region = settings.s3_endpoint, settings.aws_region
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        return pafs.S3FileSystem(endpoint_override=host, scheme=scheme, region=region)
    return pafs.S3FileSystem(region=region)


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The file system and in-file-system path for a URI (``s3://``, ``file://`` or a path)."""
    if uri.startswith("s3://"):
        return _s3(), uri[len("s3://"):]
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def exists(uri: str) -> bool:
    fs, path = resolve(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def size_of(uri: str) -> int:
    """Bytes under a URI: one object's size, or the sum over every object below a prefix."""
    fs, path = resolve(uri)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        return int(info.size or 0)
    if info.type == pafs.FileType.Directory:
        return sum(int(f.size or 0) for f in fs.get_file_info(pafs.FileSelector(path, recursive=True)) if f.type == pafs.FileType.File)
    raise SourceNotFound(f"no object or prefix at {uri}")


def list_files(uri: str, suffix: str = "") -> list[str]:
    """Every object below a prefix (or the object itself), sorted, as URIs of the same scheme."""
    fs, path = resolve(uri)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise SourceNotFound(f"no object or prefix at {uri}")
    prefix = uri[: len(uri) - len(path)] if uri.startswith("s3://") else ""
    if info.type == pafs.FileType.File:
        return [prefix + path]
    found = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    return sorted(
        prefix + f.path
        for f in found
        if f.type == pafs.FileType.File and f.path.endswith(suffix) and not _hidden(f.path[len(path):])
    )


#: What names an object still being written, which listings skip (``_hidden``).
_TEMPORARY = ".tmp-"


def _temporary(path: str) -> str:
    """A unique sibling of ``path`` to write before the move that publishes it."""
    return f"{path}{_TEMPORARY}{uuid.uuid4().hex}"


def _hidden(relative: str) -> bool:
    """Markers and leftovers (``_SUCCESS``, ``_temporary/``, ``.tmp`` files) are not data."""
    return any(part.startswith(("_", ".")) or _TEMPORARY in part for part in relative.strip("/").split("/"))


def read_bytes(uri: str) -> bytes:
    fs, path = resolve(uri)
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read()
    except FileNotFoundError as exc:
        raise SourceNotFound(f"no object at {uri}") from exc


@contextlib.contextmanager
def _reading(uri: str) -> Iterator[None]:
    """Arrow's error for an object it cannot read (a damaged page: "Corrupt Lz4 compressed data",
    "Deserializing page header failed"; a truncated footer: "Parquet magic bytes not found")
    names no object: this one does, as the same kind of error."""
    try:
        with naming(uri, "read"):
            yield
    except pa.ArrowInvalid as exc:
        raise pa.ArrowInvalid(f"cannot read {uri}: {exc}") from exc


@contextlib.contextmanager
def _publishing(fs: pafs.FileSystem, tmp: str, uri: str) -> Iterator[None]:
    """A failed write leaves no temporary file behind, and its OS error (a full disk, a
    read-only or denied folder) names the object it was writing."""
    with naming(uri, "write"):
        try:
            yield
        except BaseException:
            try:
                if fs.get_file_info(tmp).type == pafs.FileType.File:
                    fs.delete_file(tmp)
            except OSError:
                pass  # the first failure is the one to report
            raise


def write_bytes(uri: str, data: bytes) -> None:
    """Write whole or not at all: a temporary sibling then a move (a rename locally, a copy on S3)."""
    fs, path = resolve(uri)
    tmp = _temporary(path)
    with _publishing(fs, tmp, uri):
        fs.create_dir(os.path.dirname(path), recursive=True)
        with fs.open_output_stream(tmp) as out:
            out.write(data)
        fs.move(tmp, path)


def copy_object(source: str, uri: str) -> None:
    """Publish a copy of the object ``source`` at ``uri``, whole or not at all: a server-side copy
    on S3 (atomic there); locally a hard link (or a copy) to a temporary sibling, then a move.
    Nothing rewrites an object in place (every write is a temporary object then a move), so a
    link is as good as a copy."""
    fs, path = resolve(uri)
    _, source_path = resolve(source)
    tmp = _temporary(path)
    with _publishing(fs, tmp, uri):
        fs.create_dir(os.path.dirname(path), recursive=True)
        if not isinstance(fs, pafs.LocalFileSystem):
            fs.copy_file(source_path, path)
            return
        try:
            os.link(source_path, tmp)
        except OSError:
            fs.copy_file(source_path, tmp)
        fs.move(tmp, path)


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def write_json(uri: str, value: Any) -> None:
    write_bytes(uri, json.dumps(value, indent=2, sort_keys=True, default=str).encode())


def delete_prefix(uri: str) -> None:
    fs, path = resolve(uri)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir(path)
    elif fs.get_file_info(path).type == pafs.FileType.File:
        fs.delete_file(path)


def write_parquet(uri: str, table: pa.Table) -> None:
    """One Parquet object, written atomically so a crash never leaves half a file to read."""
    fs, path = resolve(uri)
    tmp = _temporary(path)
    with _publishing(fs, tmp, uri):
        fs.create_dir(os.path.dirname(path), recursive=True)
        pq.write_table(table, tmp, filesystem=fs, compression="zstd")
        fs.move(tmp, path)


#: Rows per batch when a stage streams Parquet: big enough for vectorised work to dominate,
#: small enough that a batch of wide rows stays a few tens of MB.
BATCH_ROWS = 64 * 1024


def _parquet_paths(uri: str) -> tuple[pafs.FileSystem, list[str]]:
    fs, _ = resolve(uri)
    files = list_files(uri, suffix=".parquet")
    if not files:
        raise SourceNotFound(f"no Parquet objects at {uri}")
    return fs, [f[len("s3://"):] if f.startswith("s3://") else f for f in files]


def local_parquet_files(uri: str, workdir: str) -> list[str]:
    """The Parquet objects at ``uri`` as local files: the files themselves when the URI is
    local, else streamed copies under ``workdir`` (Lambda's /tmp), so an engine that reads
    local Parquet best (DuckDB's own reader) gets the same input from S3 and from a folder."""
    fs, paths = _parquet_paths(uri)
    if isinstance(fs, pafs.LocalFileSystem):
        return paths
    folder = tempfile.mkdtemp(dir=workdir)  # one per URI: object names repeat across sources
    copies = []
    for index, path in enumerate(paths):
        copy = os.path.join(folder, f"{index:05d}-{os.path.basename(path)}")
        pafs.copy_files(path, copy, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
        copies.append(copy)
    return copies


def read_parquet(uri: str) -> pa.Table:
    """A Parquet object or every Parquet object under a prefix, as one table (small inputs only)."""
    fs, paths = _parquet_paths(uri)
    return pq.ParquetDataset(paths, filesystem=fs).read()


class ParquetParts:
    """The Parquet objects at a URI read as one stream of batches, as often as a stage needs.

    Only the footers are read up front (schema, row count); ``batches`` reads row group by
    row group, and only the columns asked for, so a pass over two key columns of a wide
    table reads two columns.
    """

    def __init__(self, uri: str, batch_rows: int | None = None) -> None:
        self.uri = uri
        self.batch_rows = batch_rows or BATCH_ROWS
        self._fs, self._paths = _parquet_paths(uri)
        #: The objects read, as URIs, in the order their rows come.
        self.objects = [f"s3://{p}" if uri.startswith("s3://") else p for p in self._paths]
        footers = []
        for path, name in zip(self._paths, self.objects):
            with _reading(name):
                footers.append(pq.read_metadata(path, filesystem=self._fs))
        self.schema: pa.Schema = footers[0].schema.to_arrow_schema()
        self.num_rows = sum(f.num_rows for f in footers)
        #: (object, row group, its first row in the run, its rows), in run order: where ``rows`` finds a row.
        self._groups: list[tuple[str, int, int, int]] = []
        #: The row group column ``rows`` read last: ((object, group, column), values).
        self._last_group: tuple[tuple[str, int, str], pa.ChunkedArray] | None = None
        start = 0
        for path, footer in zip(self._paths, footers):
            for group in range(footer.num_row_groups):
                rows = footer.row_group(group).num_rows
                self._groups.append((path, group, start, rows))
                start += rows

    def batches(self, columns: list[str] | None = None, start: int = 0) -> Iterator[pa.Table]:
        """Every row (from run row ``start`` on), in file then row order, as tables of at most
        ``batch_rows`` rows; the next batch is decoded (on another thread) while the caller works on this one."""
        return read_ahead(self._batches(columns, start))

    def rows(self, column: str, first: int, count: int) -> pa.Array:
        """One column's values for run rows ``first`` to ``first + count - 1``, read from the row
        groups that hold them: for a stage that reads a column only for the few batches that need it."""
        pieces: list[pa.Array] = []
        for path, group, start, rows in self._groups:
            if start + rows <= first or start >= first + count:
                continue
            values = self._group_column(path, group, column)
            lo = max(first - start, 0)
            pieces.extend(values.slice(lo, min(first + count - start, rows) - lo).chunks)
        field = self.schema.field(column)
        return pa.concat_arrays([p.cast(field.type) for p in pieces]) if pieces else pa.array([], field.type)

    def _group_column(self, path: str, group: int, column: str) -> pa.ChunkedArray:
        """One row group's column, decoded once for consecutive ``rows`` calls within the group.

        A stage asks for the rows of one batch at a time, and a row group may hold many batches
        (Spark writes groups of about a million rows, sixteen of Validate's batches): without the
        last group kept, every batch that needs ``_origin`` decoded its whole group again."""
        key = (path, group, column)
        if self._last_group is None or self._last_group[0] != key:
            with self._fs.open_input_file(path) as handle:
                values = pq.ParquetFile(handle).read_row_group(group, columns=[column]).column(column)
            self._last_group = (key, values)
        return self._last_group[1]

    def _batches(self, columns: list[str] | None, start: int) -> Iterator[pa.Table]:
        schema = self.schema if columns is None else pa.schema([self.schema.field(c) for c in columns])
        for path, name in zip(self._paths, self.objects):
            groups = [(group, first, rows) for at, group, first, rows in self._groups if at == path and first + rows > start]
            if not groups:
                continue
            with self._fs.open_input_file(path) as handle:
                parquet = pq.ParquetFile(handle)
                # One reader per row group: pyarrow's pre-buffering (coalesced reads, what S3 needs)
                # keeps every range it read until its reader ends, so one reader over the whole
                # object grew with the object (about 2 MB a batch: 2 GB at 60 million rows).
                for group, first, _ in groups:
                    skip = max(start - first, 0)  # rows of the group before ``start``
                    batches = parquet.iter_batches(batch_size=self.batch_rows, columns=columns, row_groups=[group])
                    while True:
                        with _reading(name):
                            batch = next(batches, None)
                        if batch is None:
                            break
                        if skip >= batch.num_rows:
                            skip -= batch.num_rows
                            continue
                        yield pa.Table.from_batches([batch.slice(skip)]).cast(schema)
                        skip = 0


#: How stages write the run's intermediate objects (staged, transformed, valid, quarantine).
#: These are read whole by the next stage, never filtered, so neither dictionaries (a hash
#: of every value, given up on columns such as ``_origin`` where every value differs) nor
#: min/max statistics (a comparison of every value) earn their cost: without them a write
#: takes about half the CPU.
#:
#: The codec is LZ4 (Parquet's LZ4_RAW, which pyarrow, DuckDB and Spark 3.5 (the template's Glue 5.0) read)
#: rather than zstd: each staged object is written once and read by one to three stages
#: (the transformed object by Validate and by each Load branch), and at scale 1 (6 million
#: lineitem rows, 19 columns) LZ4 takes about 3 s less CPU to write and 1.5 s less to read
#: than zstd (level 1) per object, for objects 1.8 times as large (389 MB against 213 MB):
#: staging lives for a run, in the same region as the functions, so bytes cost less than the
#: CPU seconds every stage would otherwise spend. Uncompressed would save another 1-2 s of CPU
#: but makes objects six times as large (1.2 GB at scale 1), too much for Lambda's /tmp.
#:
#: Decimals of precision up to 18 are stored as Parquet INT32/INT64 (still the same decimal
#: type when read) rather than big-endian 16-byte arrays, which every value is byte-swapped
#: into and out of: reading such columns back takes about a quarter less CPU.
#:
#: Pages are Parquet's data page V2 (in the format since 2.0; pyarrow, DuckDB and Spark's
#: parquet-mr read it), whose levels are stored beside the compressed values rather than
#: compressed together with them, so a page is not first assembled in one more buffer; and the
#: column writer takes values 64k at a time rather than 1,024 (a page then holds up to a batch,
#: a few MB). Writing lineitem takes about 15% less CPU (30 row groups of 33k rows, best of 7:
#: 0.388 -> 0.328 s) for the same bytes; reading back costs the same in pyarrow and DuckDB.
STAGING_WRITE = {"compression": "lz4", "use_dictionary": False, "write_statistics": False, "store_decimal_as_integer": True,
                 "data_page_version": "2.0", "write_batch_size": 64 * 1024}


def _stored_as_integers(field: pa.Field) -> bool:
    """Whether Parquet stores the column's values as INT32/INT64: integers, dates, times,
    timestamps, durations, and (with ``store_decimal_as_integer``) decimals of up to 18 digits."""
    kind = field.type
    return (
        pa.types.is_integer(kind) or pa.types.is_date(kind) or pa.types.is_time(kind)
        or pa.types.is_timestamp(kind) or pa.types.is_duration(kind)
        or (pa.types.is_decimal(kind) and kind.precision <= 18)
    )


def staging_write(schema: pa.Schema) -> dict[str, Any]:
    """``STAGING_WRITE`` for one schema: its integer-stored top-level columns are written with
    DELTA_BINARY_PACKED (bit-packed differences between neighbouring values) rather than PLAIN.

    PLAIN hands LZ4 eight bytes a value, mostly zeros or repeats LZ4 must search for; the
    packed differences (keys that grow, dates and prices within a small range) are a few bits
    a value. At scale 1 (lineitem's 13 such columns, 6 million rows) they take about a third
    less CPU to write, a fifth less for pyarrow to read, no more for DuckDB, and 115 MB instead
    of 254 MB. The values and the types read back are the same; Spark (3.3 and later) reads
    the encoding too. Strings stay PLAIN: the DELTA_*_BYTE_ARRAY encodings cost more CPU both ways.
    """
    packed = {field.name: "DELTA_BINARY_PACKED" for field in schema if _stored_as_integers(field)}
    return {**STAGING_WRITE, "column_encoding": packed} if packed else dict(STAGING_WRITE)


#: Row groups of a staged object read back by prefix (``ParquetSink``'s ``row_groups_per_object``):
#: at stages' 64k-row batches about 8 million rows, 4 MB of a writer's metadata at most.
ROW_GROUPS_PER_OBJECT = 128
#: The most rows ``pq.ParquetWriter.write_table`` puts in one row group by default.
_ROW_GROUP_LIMIT = 1024 * 1024


def rolled_name(path: str, index: int) -> str:
    """The name of a sink's ``index``-th object: the path itself first, then ``<name>.r000001.parquet``
    and on, which sort after it and in order (a listing reads the objects in the order written)."""
    return path if index == 0 else f"{path.removesuffix('.parquet')}.r{index:06d}.parquet"


class ParquetSink:
    """Streams record batches into Parquet objects that appear only when complete.

    Stages write batch by batch so memory stays bounded by the batch, not the input; each object
    is published by a move at close, so readers never see a partial file.

    Encoding and compressing a batch (pyarrow releases the GIL for it) runs on a thread of its
    own while the stage prepares the next batch, so a stage uses a second core instead of
    waiting; at most ``WRITES_AHEAD`` batches wait to be written, in order. A write's error is
    raised by the next ``write`` or by ``close``.

    ``row_groups_per_object``: where the rows are read back as every object under their prefix
    (``ParquetParts``), a new object is begun after so many row groups (``rolled_name``). A
    writer keeps each row group's metadata until it closes, about 28 KB a row group of lineitem's
    19 columns: one object of scale 10's 916 row groups held 26 MB more at its end than at its
    start, and 15 MB more again to write its footer (Transform over ten times scale 1's rows, in
    process: peak 350-352 MB in one object, 343 MB rolled). The caller must clear the prefix
    first: a run with fewer objects than the last would otherwise leave the last one's extra
    objects to be read.
    """

    WRITES_AHEAD = 2

    def __init__(self, uri: str, schema: pa.Schema, *, row_groups_per_object: int | None = None) -> None:
        self.uri = uri
        self.schema = schema
        self.rows = 0
        self._fs, self._path = resolve(uri)
        folder = os.path.dirname(self._path)
        self._made_folder = self._fs.get_file_info(folder).type == pafs.FileType.NotFound
        self._fs.create_dir(folder, recursive=True)
        self._limit = row_groups_per_object
        #: (temporary, final) path of each object begun, in order; the last is being written.
        self._objects: list[tuple[str, str]] = []
        self._groups = 0
        self._writer = self._begin()
        self._writes = InOrder("parquet-sink", self.WRITES_AHEAD)
        self._closed = False

    def _begin(self) -> pq.ParquetWriter:
        final = rolled_name(self._path, len(self._objects))
        tmp = _temporary(final)
        self._objects.append((tmp, final))
        return pq.ParquetWriter(tmp, self.schema, filesystem=self._fs, **staging_write(self.schema))

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._writes.submit(self._write, table)
        self.rows += table.num_rows

    def _write(self, table: pa.Table) -> None:
        if self._limit and self._groups == self._limit:
            self._writer.close()
            self._writer, self._groups = self._begin(), 0
        self._writer.write_table(table.cast(self.schema))
        self._groups += -(-table.num_rows // _ROW_GROUP_LIMIT)  # write_table's row groups: 1Mi rows at most

    def close(self) -> None:
        self._writes.drain()
        self._writer.close()
        self._closed = True
        for tmp, final in self._objects:
            self._fs.move(tmp, final)

    def abort(self) -> None:
        """Drop the partial object, and the folder if this sink made it, so a failed stage leaves nothing."""
        with contextlib.suppress(Exception):
            self._writes.drain()
        if not self._closed:
            with contextlib.suppress(Exception):
                self._writer.close()
        for tmp, _ in self._objects:
            if self._fs.get_file_info(tmp).type != pafs.FileType.NotFound:
                self._fs.delete_file(tmp)
        folder = os.path.dirname(self._path)
        if self._made_folder and not self._fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
            self._fs.delete_dir(folder)

    def __enter__(self) -> "ParquetSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:
            self.abort()  # a write that failed late, or the close itself: nothing is left behind
            raise
