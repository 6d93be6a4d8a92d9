"""Executions kept on disk, so they can be listed, inspected, reported and redriven later.

One JSON file per finished execution, holding what DescribeExecution and
GetExecutionHistory would return on AWS plus the failure point a redrive needs. While an
execution runs, its events are also journaled line by line, so a process that dies (even
by SIGKILL) leaves a RUNNING record whose history shows where it stopped.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO


class ExecutionStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def _journal_path(self, name: str) -> Path:
        return self.folder / f"{name}.events.jsonl"

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, default=str))
        tmp.replace(path)

    def begin(self, description: dict[str, Any]) -> TextIO:
        """Record a RUNNING execution; returns the journal its events are appended to."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write(self._path(description["name"]), {"execution": {**description, "status": "RUNNING"}, "events": []})
        return self._journal_path(description["name"]).open("a", buffering=1)

    def save(self, description: dict[str, Any], history: list[dict[str, Any]], redrive: dict[str, Any] | None = None) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(description["name"])
        self._write(path, {"execution": description, "events": history, "redrive": redrive})
        self._journal_path(description["name"]).unlink(missing_ok=True)
        return path

    def load(self, name_or_arn: str) -> dict[str, Any]:
        """The stored record; a RUNNING one gets the events its journal holds so far."""
        name = name_or_arn.rsplit(":", 1)[-1]
        path = self._path(name)
        if not path.exists():
            raise KeyError(f"no execution {name!r} in {self.folder} (see `etl executions`)")
        record = json.loads(path.read_text())
        journal = self._journal_path(name)
        if record["execution"]["status"] == "RUNNING" and journal.exists():
            record["events"] = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
        return record

    def list(self) -> list[dict[str, Any]]:
        if not self.folder.exists():
            return []
        found = [json.loads(p.read_text())["execution"] for p in self.folder.glob("*.json")]
        return sorted(found, key=lambda e: e["startDate"], reverse=True)
