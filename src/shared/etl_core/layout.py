"""Where each stage keeps a run's data in the lake: the same keys on S3 and in a folder.

Every stage derives its locations from (lake, pipeline, run_id) alone, so a stage can be
re-run, redriven or run on another engine (Lambda or Glue) without being told paths.
"""
from __future__ import annotations

from dataclasses import dataclass

from etl_core.storage import join


@dataclass(frozen=True)
class RunLayout:
    lake_uri: str
    pipeline: str
    run_id: str

    @property
    def run_root(self) -> str:
        return join(self.lake_uri, "staging", self.pipeline, self.run_id)

    @property
    def manifest(self) -> str:
        return join(self.run_root, "_manifest.json")

    def staged_source(self, source: str) -> str:
        return join(self.run_root, "sources", source)

    @property
    def transformed(self) -> str:
        return join(self.run_root, "transformed")

    @property
    def validated(self) -> str:
        return join(self.run_root, "valid")

    @property
    def quarantine_root(self) -> str:
        return join(self.lake_uri, "quarantine", self.pipeline, self.run_id)

    def quarantine(self, stage: str) -> str:
        return join(self.quarantine_root, f"{stage}.parquet")
