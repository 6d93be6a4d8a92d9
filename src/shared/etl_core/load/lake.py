"""Lake targets: processed rows as partitioned Parquet, and aggregates of them.

Files carry the run id in their names, so re-running a run first removes exactly its own
files and then writes them again: the lake ends up as after a single run.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from etl_core import storage
from etl_core.errors import TargetError
from etl_core.spec import AggregateTarget


def _remove_run_files(uri: str, run_id: str) -> None:
    fs, path = storage.resolve(uri)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return
    for info in fs.get_file_info(pafs.FileSelector(path, recursive=True)):
        if info.type == pafs.FileType.File and info.base_name.startswith(f"part-{run_id}-"):
            fs.delete_file(info.path)


def write_partitioned(rows: pa.Table, uri: str, partition_by: list[str], run_id: str) -> int:
    missing = [c for c in partition_by if c not in rows.column_names]
    if missing:
        raise TargetError(f"partition column(s) {missing} not in the rows' columns {rows.column_names}")
    _remove_run_files(uri, run_id)
    fs, path = storage.resolve(uri)
    ds.write_dataset(
        rows,
        path,
        filesystem=fs,
        format="parquet",
        partitioning=partition_by or None,
        partitioning_flavor="hive" if partition_by else None,
        basename_template=f"part-{run_id}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )
    return rows.num_rows


def write_aggregate(rows: pa.Table, uri: str, target: AggregateTarget, run_id: str) -> int:
    columns = target.group_by + [a.column for a in target.aggregates if a.column]
    unknown = [c for c in columns if c not in rows.column_names]
    if unknown:
        raise TargetError(f"target {target.name!r}: unknown column(s) {unknown}; rows have {rows.column_names}")
    aggregations = []
    names = {}
    for agg in target.aggregates:
        if agg.column is None:  # count of rows
            aggregations.append(([], "count_all"))
            names["count_all"] = agg.name
        else:
            aggregations.append((agg.column, agg.function))
            names[f"{agg.column}_{agg.function}"] = agg.name
    grouped = rows.group_by(target.group_by, use_threads=False).aggregate(aggregations)
    table = grouped.rename_columns([names.get(c, c) for c in grouped.column_names])
    table = table.select(target.group_by + [a.name for a in target.aggregates])
    table = table.sort_by([(c, "ascending") for c in target.group_by])
    storage.write_parquet(storage.join(uri, f"run_id={run_id}", "part-0.parquet"), table)
    return table.num_rows
