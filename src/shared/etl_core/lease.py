"""One execution per (pipeline, run) at a time: a lease in DynamoDB, with an owner and an expiry.

Two executions of one run share ``staging/<pipeline>/<run_id>/``: one Transform would delete
``transformed/`` while the other validates it. So every stage that touches a run's staged
data first *holds* the run's lease: a conditional put that succeeds when no lease exists,
when this execution already owns it (a retry, a redrive: the same ``$$.Execution.Id``), or
when the owner's lease has expired (a killed execution stops renewing it). Otherwise the
stage raises ``RunInProgress``, which the state machine retries with bounded back-off and
then reports. Each hold renews the expiry, so the lease lives as long as the execution keeps
working; Finalize releases it on success and the failure path releases it before the
execution fails (a conditional delete: only the owner's lease).

The lease is an item of the idempotency table (key ``id``, TTL attribute ``expiration``, as
Powertools' records), so no second table is needed and DynamoDB's TTL clears stale ones.
An invocation outside an execution (a test event without ``execution_id``) holds nothing.
"""
from __future__ import annotations

import datetime as dt
import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from etl_core.aws import client
from etl_core.errors import InputError, RunInProgress, TransientError
from etl_core.settings import DEFAULT_LEASE_SECONDS, Settings

#: The lease item's key: one per pipeline and run.
KEY_PREFIX = "run-lease"

def lease_key(pipeline: str, run_id: str) -> str:
    return f"{KEY_PREFIX}#{pipeline}#{run_id}"


@dataclass(frozen=True)
class RunLease:
    table: str
    pipeline: str
    run_id: str
    owner: str
    seconds: int = DEFAULT_LEASE_SECONDS
    api: Any = None
    now: Callable[[], float] = field(default=time.time, repr=False)

    def _api(self) -> Any:
        return self.api or client("dynamodb")

    @property
    def _what(self) -> str:
        return f"pipeline {self.pipeline!r} run {self.run_id!r}"

    def hold(self) -> None:
        """Take or renew the lease for ``owner``; RunInProgress if another live execution holds it."""
        now = int(self.now())
        try:
            self._api().put_item(
                TableName=self.table,
                Item={
                    "id": {"S": lease_key(self.pipeline, self.run_id)},
                    "owner": {"S": self.owner},
                    "expiration": {"N": str(now + self.seconds)},
                    "pipeline": {"S": self.pipeline},
                    "run_id": {"S": self.run_id},
                },
                ConditionExpression="attribute_not_exists(id) OR #owner = :owner OR #expiration < :now",
                ExpressionAttributeNames={"#owner": "owner", "#expiration": "expiration"},
                ExpressionAttributeValues={":owner": {"S": self.owner}, ":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise self._unreachable(exc) from exc
            holder = exc.response.get("Item") or {}
            raise RunInProgress(self._held_by(holder)) from None
        except BotoCoreError as exc:
            raise self._unreachable(exc) from exc

    def release(self) -> None:
        """Give the lease up if ``owner`` still holds it (a lease taken over after expiry is not ours)."""
        try:
            self._api().delete_item(
                TableName=self.table,
                Key={"id": {"S": lease_key(self.pipeline, self.run_id)}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": self.owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise self._unreachable(exc) from exc
        except BotoCoreError as exc:
            raise self._unreachable(exc) from exc

    def _held_by(self, holder: dict) -> str:
        owner = holder.get("owner", {}).get("S", "another execution")
        expires = holder.get("expiration", {}).get("N")
        until = f" until {dt.datetime.fromtimestamp(int(expires), dt.timezone.utc).isoformat()}" if expires else ""
        return (
            f"{self._what} is being processed by execution {owner} (lease{until}); this execution waits for it, "
            "or redrive that execution if it was stopped"
        )

    def _unreachable(self, exc: BaseException) -> TransientError:
        return TransientError(f"{self._what}: the run lease in DynamoDB table {self.table} cannot be written: {exc}")


def run_lease(settings: Settings, pipeline: str, run_id: str, owner: str | None) -> RunLease | None:
    """The lease of a stage invoked by an execution (``owner`` = ``$$.Execution.Id``), or None outside one."""
    if not owner:
        return None
    if not settings.idempotency_table:
        raise InputError("set IDEMPOTENCY_TABLE: the function holds the run's lease in that DynamoDB table")
    return RunLease(settings.idempotency_table, pipeline, run_id, owner, settings.run_lease_seconds)


F = TypeVar("F", bound=Callable[..., dict])


def holds_run(release: bool = False) -> Callable[[F], F]:
    """Wrap a stage ``fn(event, context)`` so it holds the run's lease first (and, with
    ``release``, gives it up after succeeding: Finalize, the last stage of a run)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def stage(event: Any, context: Any) -> dict:
            lease = run_lease(Settings.from_env(), event.pipeline, event.run_id, event.execution_id)
            if lease is not None:
                lease.hold()
            result = fn(event, context)
            if lease is not None and release:
                lease.release()
            return result

        return stage  # type: ignore[return-value]

    return decorate
