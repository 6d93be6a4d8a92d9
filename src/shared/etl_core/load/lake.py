"""Lake targets: processed rows as partitioned Parquet, and aggregates of them.

Files carry the run id in their names (``part-<run_id>-<n>.parquet``, one per partition),
so a re-run replaces exactly its own files and the lake ends up as after a single run.

Publication never shows a reader a partition with part of a run. S3 has no rename and no
multi-object transaction (a move is a copy then a delete), so the run is published in
steps that each leave complete files behind:

1. write the whole run under a hidden prefix of the target (``_publishing/``: readers,
   Athena, Spark and pyarrow skip paths starting with ``_``);
2. move each file to its place, replacing the run's file of the same name: on S3 the copy
   replaces the object atomically, locally a rename does;
3. delete the run's files the new run did not rewrite (partitions it no longer has);
4. drop the hidden prefix.

A crash before step 2 leaves the old run untouched; during steps 2-3 every partition holds
either its old file or its new one (one file per partition), never half a
file and never both; the next attempt (Step Functions retries the Load) discards the
leftovers and publishes again. Switching all partitions at one instant would need a table
format (Iceberg, Delta) over the lake.
"""
from __future__ import annotations

import os
import posixpath
import re
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from etl_core import storage
from etl_core.errors import TargetError
from etl_core.hive import write_hive_partitions
from etl_core.load.aggregates import aggregate_rows
from etl_core.load.rows import Rows
from etl_core.spec.targets import AggregateTarget

PUBLISHING_DIR = "_publishing"


def _run_files(fs: pafs.FileSystem, root: str, run_id: str) -> set[str]:
    """The run's published files, as paths relative to ``root`` (hidden folders skipped)."""
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return set()
    name = re.compile(rf"part-{re.escape(run_id)}-\d+\.parquet")
    found = set()
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        relative = posixpath.relpath(info.path, root)
        hidden = any(part.startswith(("_", ".")) for part in relative.split("/"))
        if info.type == pafs.FileType.File and not hidden and name.fullmatch(info.base_name):
            found.add(relative)
    return found


def _discard_unfinished(fs: pafs.FileSystem, publishing: str, run_id: str) -> None:
    """Remove what a crashed attempt of this run left in the hidden prefix."""
    if fs.get_file_info(publishing).type != pafs.FileType.Directory:
        return
    attempt = re.compile(rf"{re.escape(run_id)}\.[0-9a-f]{{32}}")
    for info in fs.get_file_info(pafs.FileSelector(publishing)):
        if info.type == pafs.FileType.Directory and attempt.fullmatch(info.base_name):
            fs.delete_dir(info.path)


def rows_in(fs: pafs.FileSystem, root: str, files: set[str]) -> int:
    """Rows in the given Parquet files under ``root``, from their footers."""
    return sum(pq.read_metadata(posixpath.join(root, relative), filesystem=fs).num_rows for relative in files)


def write_partitioned(rows: Rows | pa.Table, uri: str, partition_by: list[str], run_id: str) -> int:
    """Publish the rows under ``uri`` as described above; they stream through etl_core.hive's
    writer, whose memory is bounded by its chunk, not by the run. Returns the rows the run's
    published files hold, read back from their footers."""
    rows = Rows.of(rows)
    missing = [c for c in partition_by if c not in rows.column_names]
    if missing:
        raise TargetError(f"partition column(s) {missing} not in the rows' columns {rows.column_names}")
    fs, root = storage.resolve(uri)
    publishing = posixpath.join(root, PUBLISHING_DIR)
    _discard_unfinished(fs, publishing, run_id)
    staged = posixpath.join(publishing, f"{run_id}.{uuid.uuid4().hex}")
    write_hive_partitions(  # not ds.write_dataset: see etl_core.hive for the crash it has
        rows.batches(),
        rows.schema,
        fs,
        staged,
        partition_by,
        basename=f"part-{run_id}-0.parquet",
        row_group_rows=storage.BATCH_ROWS,  # no row group smaller (but a file's last): a partition waits for more rows
    )
    old = _run_files(fs, root, run_id)
    new = _run_files(fs, staged, run_id)
    for relative in sorted(new):
        destination = posixpath.join(root, relative)
        fs.create_dir(posixpath.dirname(destination), recursive=True)
        fs.move(posixpath.join(staged, relative), destination)
    for relative in sorted(old - new):
        fs.delete_file(posixpath.join(root, relative))
    if fs.get_file_info(staged).type == pafs.FileType.Directory:  # zero rows stage no file at all
        fs.delete_dir(staged)
    _drop_if_empty(fs, publishing)
    return rows_in(fs, root, _run_files(fs, root, run_id))


def _drop_if_empty(fs: pafs.FileSystem, folder: str) -> None:
    """Remove the hidden prefix once no run publishes through it. Only where a folder can be
    removed if and only if empty (rmdir): another run of the pipeline may be staging there
    right now, and a recursive delete would take its files. On S3 an empty prefix is nothing."""
    if isinstance(fs, pafs.LocalFileSystem):
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty (another run is publishing) or already gone


def write_aggregate(rows: Rows | pa.Table, uri: str, target: AggregateTarget, run_id: str) -> int:
    """One object per run, written atomically by storage.write_parquet: nothing to stage.
    Returns the aggregate rows (groups) the run's object holds, read back from its footer."""
    rows = Rows.of(rows)
    columns = target.group_by + [a.column for a in target.aggregates if a.column]
    unknown = [c for c in columns if c not in rows.column_names]
    if unknown:
        raise TargetError(f"target {target.name!r}: unknown column(s) {unknown}; rows have {rows.column_names}")
    table = aggregate_rows(rows, target)
    written = storage.join(uri, f"run_id={run_id}", "part-0.parquet")
    storage.write_parquet(written, table)
    fs, path = storage.resolve(written)
    return pq.read_metadata(path, filesystem=fs).num_rows
