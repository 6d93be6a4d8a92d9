"""Idempotency for loads: Powertools' utility over DynamoDB on AWS, over a folder locally.

Powertools ships DynamoDB and Redis persistence only; a laptop run has neither, so this
module adds a file-backed layer with the same conditional-put semantics (a record blocks a
second run unless it has expired, or it is INPROGRESS past its in-progress expiry), and
picks the layer from configuration, never from "am I local?".
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    DataRecord,
)

from etl_core.errors import InputError
from etl_core.settings import Settings


class FilePersistenceLayer(BasePersistenceLayer):
    """One JSON file per idempotency key; ``O_EXCL`` creation stands in for DynamoDB's conditional put.

    Records also name the process that wrote them: an INPROGRESS record whose process is
    gone (a local run killed mid-load) is stale at once, where on Lambda it would wait for
    the in-progress expiry (the function's timeout) before a retry may run.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / (key.replace("/", "_").replace("#", "_") + ".json")

    def _read(self, idempotency_key: str) -> tuple[DataRecord, int | None]:
        try:
            item = json.loads(self._path(idempotency_key).read_text())
        except FileNotFoundError as exc:
            raise IdempotencyItemNotFoundError from exc
        owner = item.pop("owner_pid", None)
        return DataRecord(idempotency_key=idempotency_key, **item), owner

    def _get_record(self, idempotency_key: str) -> DataRecord:
        return self._read(idempotency_key)[0]

    def _write(self, data_record: DataRecord, flags: int) -> None:
        item = {
            "status": data_record.status,
            "expiry_timestamp": data_record.expiry_timestamp,
            "in_progress_expiry_timestamp": data_record.in_progress_expiry_timestamp,
            "response_data": data_record.response_data,
            "payload_hash": data_record.payload_hash,
            "owner_pid": os.getpid(),
        }
        fd = os.open(self._path(data_record.idempotency_key), flags, 0o644)
        with os.fdopen(fd, "w") as out:
            json.dump(item, out)

    def _put_record(self, data_record: DataRecord) -> None:
        path = self._path(data_record.idempotency_key)
        try:
            self._write(data_record, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            return
        except FileExistsError:
            existing, owner = self._read(data_record.idempotency_key)
        now = time.time()
        expired = existing.expiry_timestamp is not None and existing.expiry_timestamp < now
        stuck = existing.status == "INPROGRESS" and (
            (existing.in_progress_expiry_timestamp is not None and existing.in_progress_expiry_timestamp < now * 1000)
            or (owner is not None and not _alive(owner))
        )
        if not (expired or stuck):
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        path.unlink(missing_ok=True)
        self._put_record(data_record)

    def _update_record(self, data_record: DataRecord) -> None:
        self._write(data_record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

    def _delete_record(self, data_record: DataRecord) -> None:
        self._path(data_record.idempotency_key).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def persistence_layer(settings: Settings) -> BasePersistenceLayer:
    if settings.idempotency_table:
        return DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
    if settings.idempotency_store:
        return FilePersistenceLayer(settings.idempotency_store)
    raise InputError("set IDEMPOTENCY_TABLE (DynamoDB table) or IDEMPOTENCY_STORE (folder) for the load function")


#: What a skipped load reports as its status, per target, in the execution's output.
SKIPPED = "skipped: unchanged"


def _skipped(response: dict, record: DataRecord) -> dict:
    """A load served from its record: the same rows were already loaded into this target."""
    return {**response, "status": SKIPPED}


#: A load is its run, its target (with the target's definition) and the fingerprint of its
#: rows: the same rows again are skipped, corrected rows load. A record lives a week.
LOAD_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="[pipeline, run_id, target, definition, fingerprint]",
    expires_after_seconds=7 * 24 * 3600,
    response_hook=_skipped,
)
