"""Executions kept on disk, so they can be listed, inspected and reported after the process ends.

One JSON file per execution, holding what DescribeExecution and GetExecutionHistory
would return on AWS.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ExecutionStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def save(self, description: dict[str, Any], history: list[dict[str, Any]]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(description["name"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"execution": description, "events": history}, indent=1, default=str))
        tmp.replace(path)
        return path

    def load(self, name_or_arn: str) -> dict[str, Any]:
        name = name_or_arn.rsplit(":", 1)[-1]
        path = self._path(name)
        if not path.exists():
            raise KeyError(f"no execution {name!r} in {self.folder} (see `etl executions`)")
        return json.loads(path.read_text())

    def list(self) -> list[dict[str, Any]]:
        if not self.folder.exists():
            return []
        found = [json.loads(p.read_text())["execution"] for p in self.folder.glob("*.json")]
        return sorted(found, key=lambda e: e["startDate"], reverse=True)
