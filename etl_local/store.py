"""Executions kept on disk, so they can be listed, inspected, reported and redriven later.

One JSON file per finished execution, holding what DescribeExecution and
GetExecutionHistory would return on AWS plus the failure point a redrive needs. While an
execution runs, its events are also journaled line by line, so a process that dies (even
by SIGKILL) leaves a RUNNING record whose history shows where it stopped.

One bad write must not cost more than itself:

- records are replaced atomically (a temporary sibling, fsync, rename, fsync of the folder),
  so a crash leaves the old record or the new one, never half of either;
- a journal's last line torn by a killed process is ignored with a warning (the event it
  was writing never completed), so the execution can still be redriven;
- a record that cannot be read is named and skipped by ``list`` (``etl executions``), and
  named by ``load`` (``etl history``, ``etl redrive``), never a traceback;
- a RUNNING record names the process running it, and ``begin`` refuses to start (or
  redrive) an execution whose process is still alive: two processes never run one execution;
- temporary files of processes that died are removed by the next ``begin``.
"""
from __future__ import annotations

import json
import os
import uuid
import warnings
from pathlib import Path
from typing import Any, TextIO

from etl_core.redaction import redact_data
from etl_local.names import check_execution_name


class StoreError(KeyError):
    """A record that cannot be used; the message names the file. (A KeyError, like an unknown name.)"""

    def __str__(self) -> str:
        return str(self.args[0])


class ExecutionBusy(ValueError):
    """The execution is being run by a live process."""


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), which tells a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "started": _process_start(os.getpid())}


def _alive(owner: dict[str, Any] | None) -> bool:
    if not owner or not isinstance(owner.get("pid"), int):
        return False
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = _process_start(owner["pid"])
    return started is None or owner.get("started") is None or started == owner["started"]


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` whole or not at all; OS errors name the file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from exc
    _fsync_folder(path.parent)


class ExecutionStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        #: What the last ``list`` had to skip, one line per unreadable record (for the CLI to show).
        self.skipped: list[str] = []

    def _path(self, name: str) -> Path:
        return self.folder / f"{check_execution_name(name)}.json"

    def _journal_path(self, name: str) -> Path:
        return self.folder / f"{check_execution_name(name)}.events.jsonl"

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        write_atomically(path, json.dumps(redact_data(record), indent=1, default=str))  # no secret reaches the disk

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path}: not a readable execution record ({exc}); move it away to keep its name usable") from None
        if not isinstance(record, dict) or not isinstance(record.get("execution"), dict):
            raise StoreError(f"{path}: not an execution record (no 'execution' object)")
        return record

    def _remove_orphaned_temporaries(self) -> None:
        """Temporary files whose writer died (its pid is in the name) are leftovers of a crash."""
        for tmp in self.folder.glob(".*.tmp"):
            parts = tmp.name.split(".")
            pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
            if pid is not None and pid != os.getpid() and not _alive({"pid": pid}):
                tmp.unlink(missing_ok=True)

    def begin(self, description: dict[str, Any]) -> TextIO:
        """Record a RUNNING execution owned by this process; returns the journal its events are appended to.

        Refuses (ExecutionBusy) when the execution's record is RUNNING in another live process."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._remove_orphaned_temporaries()
        path = self._path(description["name"])
        if path.exists():
            try:
                current = self._read(path)
            except StoreError:
                current = None
            owner = (current or {}).get("owner")
            if current and current["execution"].get("status") == "RUNNING" and _alive(owner) and owner["pid"] != os.getpid():
                raise ExecutionBusy(
                    f"execution {description['name']!r} is still running in process {owner['pid']}: "
                    "wait for it to end (or stop that process) before redriving it"
                )
        self._write(path, {"execution": {**description, "status": "RUNNING"}, "events": [], "owner": _owner()})
        journal = self._journal_path(description["name"])
        self._drop_torn_tail(journal)
        try:
            return journal.open("a", buffering=1, encoding="utf-8")
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write {journal}: {exc.strerror}") from exc

    @staticmethod
    def _drop_torn_tail(journal: Path) -> None:
        """A redrive appends to the journal: first cut a line its killed writer left unfinished."""
        if not journal.exists():
            return
        data = journal.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(journal, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def save(self, description: dict[str, Any], history: list[dict[str, Any]], redrive: dict[str, Any] | None = None) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(description["name"])
        self._write(path, {"execution": description, "events": history, "redrive": redrive})
        self._journal_path(description["name"]).unlink(missing_ok=True)
        return path

    def _journal_events(self, journal: Path) -> list[dict[str, Any]]:
        """The journal's events; a torn last line (the writer died mid-line) is dropped with a warning."""
        lines = [line for line in journal.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        events = []
        for number, line in enumerate(lines, start=1):
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                if number == len(lines):
                    warnings.warn(f"{journal}: ignoring its last line, torn when its process stopped mid-write ({exc})", stacklevel=3)
                    break
                raise StoreError(f"{journal}: line {number} is not a JSON event ({exc})") from None
        return events

    def load(self, name_or_arn: str) -> dict[str, Any]:
        """The stored record; a RUNNING one gets the events its journal holds so far."""
        name = name_or_arn.rsplit(":", 1)[-1]
        path = self._path(name)
        if not path.exists():
            raise KeyError(f"no execution {name!r} in {self.folder} (see `etl executions`)")
        record = self._read(path)
        journal = self._journal_path(name)
        if record["execution"].get("status") == "RUNNING" and journal.exists():
            record["events"] = self._journal_events(journal)
        return record

    def list(self) -> list[dict[str, Any]]:
        """Every readable execution, newest first; unreadable records are named in ``skipped``."""
        self.skipped = []
        if not self.folder.exists():
            return []
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(self._read(path)["execution"])
            except StoreError as exc:
                self.skipped.append(str(exc))
        return sorted(found, key=lambda e: str(e.get("startDate", "")), reverse=True)
