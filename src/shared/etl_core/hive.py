"""Hive-partitioned Parquet (``col=value/`` folders), written in the calling thread.

pyarrow's ``dataset.write_dataset`` writes the same layout, but its C++ dataset writer
opens files and writes batches as tasks on its IO thread pool; when opening a file fails
(a full disk, a denied or throttled S3 request, a crash injected by a test), a write
already queued for that file can still run against the writer that was never opened, and
the process dies with a segmentation fault instead of an error (pyarrow 26.0.1, in
``DatasetWriterFileQueue::WriteNext``; reproduced with a plain local file system whose
open fails with EISDIR). Here every file is opened, written and closed by the caller's
thread through ``pyarrow.parquet.ParquetWriter``, so any failure is an ordinary exception
and the folders are named by pyarrow's own ``HivePartitioning.format`` (same escaping,
same ``__HIVE_DEFAULT_PARTITION__`` for nulls), so readers see exactly what
``write_dataset`` would have written.
"""
from __future__ import annotations

import contextlib
import posixpath
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from etl_core.arrays import positions

_ROW = "__etl_row"


@contextlib.contextmanager
def _naming(path: str) -> Iterator[None]:
    """An OS error (a full disk, a read-only or denied folder) says which file it hit: pyarrow's
    own message for a failed write ("Error writing bytes to file") names none."""
    try:
        yield
    except OSError as exc:
        if path in str(exc):
            raise
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from exc


class _PartitionFile:
    """One partition's file: rows are buffered up to a row group, then written."""

    def __init__(self, fs: pafs.FileSystem, path: str, schema: pa.Schema, row_group_rows: int) -> None:
        self.path = path
        self._row_group_rows = row_group_rows
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        with _naming(path):
            fs.create_dir(posixpath.dirname(path), recursive=True)
            self._writer = pq.ParquetWriter(path, schema, filesystem=fs)

    def add(self, rows: pa.Table) -> None:
        self._pending.append(rows)
        self._pending_rows += rows.num_rows
        if self._pending_rows >= self._row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if self._pending_rows:
            with _naming(self.path):
                self._writer.write_table(pa.concat_tables(self._pending), row_group_size=max(self._pending_rows, 1))
        self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        self._flush()
        with _naming(self.path):
            self._writer.close()

    def abandon(self) -> None:
        """Release the file after a failure elsewhere; what it holds is discarded by the caller's retry."""
        self._pending = []
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - the first failure is the one reported
            pass


def _key_filter(keys: dict[str, pa.Scalar]) -> ds.Expression:
    expression = None
    for column, value in keys.items():
        term = ds.field(column).is_null() if not value.is_valid else ds.field(column) == value
        expression = term if expression is None else expression & term
    return expression


def _split(table: pa.Table, partition_by: list[str]) -> Iterable[tuple[dict[str, pa.Scalar], pa.Table]]:
    """The batch's rows per partition key, each group in input order (one hash pass, no per-key filter)."""
    numbered = table.append_column(_ROW, positions(0, table.num_rows))
    groups = numbered.group_by(partition_by, use_threads=False).aggregate([(_ROW, "list")])
    rows = groups.column(f"{_ROW}_list")
    for index in range(groups.num_rows):
        keys = {column: groups.column(column)[index] for column in partition_by}
        yield keys, table.take(rows[index].values)


def write_hive_partitions(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    fs: pafs.FileSystem,
    root: str,
    partition_by: list[str],
    basename: str,
    row_group_rows: int,
) -> list[str]:
    """Write the batches as one file named ``basename`` per partition under ``root``; return the
    files' paths. Partition columns live in the folder names, not in the files. Memory holds
    at most ``row_group_rows`` rows per partition seen so far."""
    data_schema = pa.schema([f for f in schema if f.name not in partition_by], metadata=schema.metadata)
    partitioning = ds.partitioning(pa.schema([schema.field(c) for c in partition_by]), flavor="hive") if partition_by else None
    files: dict[tuple[Any, ...], _PartitionFile] = {}
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            table = pa.Table.from_batches([batch], schema=schema)
            groups = _split(table, partition_by) if partition_by else [({}, table)]
            for keys, rows in groups:
                identity = tuple(value.as_py() for value in keys.values())
                if identity not in files:
                    folder = partitioning.format(_key_filter(keys))[0] if partitioning else ""
                    path = posixpath.join(root, folder, basename) if folder else posixpath.join(root, basename)
                    files[identity] = _PartitionFile(fs, path, data_schema, row_group_rows)
                files[identity].add(rows.drop_columns(partition_by) if partition_by else rows)
        for file in files.values():
            file.close()
    except BaseException:
        for file in files.values():
            file.abandon()
        raise
    return [file.path for file in files.values()]

