"""Where incremental sources resume: watermarks and checkpoints, advanced only by a successful run.

Extract *stages* a candidate state next to the staged data
(``staging/<pipeline>/<run_id>/sources/<source>/_state.json``); Finalize, which runs only
after every Load succeeded, *commits* it to ``state/<pipeline>/<source>.json``, the only
state a connector reads. A failed run therefore leaves the committed state as it was, and
the next run reads the same rows again.

A candidate remembers the committed state it started from (``previous``). Committing it
over a state that has since moved on (another run committed in between, or an old run is
finalized late) would move the mark backwards, so such a candidate is reported as stale
and not committed: the next run then starts from the newer state.
"""
from __future__ import annotations

import pyarrow.fs as pafs
from aws_lambda_powertools import Logger, Tracer

from etl_core import storage
from etl_core.errors import SourceNotFound
from etl_core.layout import RunLayout

logger = Logger(child=True)
tracer = Tracer()

STATE_FILE = "_state.json"


def staged_uri(layout: RunLayout, source: str) -> str:
    return storage.join(layout.staged_source(source), STATE_FILE)


def committed_uri(layout: RunLayout, source: str) -> str:
    return storage.join(layout.lake_uri, "state", layout.pipeline, f"{source}.json")


def _read(uri: str) -> dict | None:
    try:
        return storage.read_json(uri)
    except SourceNotFound:
        return None


def committed_state(layout: RunLayout, source: str) -> dict | None:
    """The state the last successful run committed for ``source``, or None before the first."""
    record = _read(committed_uri(layout, source))
    return None if record is None else record["state"]


def stage_state(layout: RunLayout, source: str, state: dict, previous: dict | None) -> None:
    """Stage the state this run reached, read from ``previous`` (what ``committed_state`` gave)."""
    storage.write_json(
        staged_uri(layout, source),
        {"pipeline": layout.pipeline, "source": source, "run_id": layout.run_id, "previous": previous, "state": state},
    )


def _staged_sources(layout: RunLayout) -> list[str]:
    fs, path = storage.resolve(storage.join(layout.run_root, "sources"))
    entries = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(e.base_name for e in entries if e.type == pafs.FileType.Directory)


@tracer.capture_method
def commit_run_state(layout: RunLayout) -> dict:
    """Commit every state the run staged; idempotent. Returns ``{"committed": {...}, "stale": {...}}``."""
    committed: dict[str, dict] = {}
    stale: dict[str, str] = {}
    for source in _staged_sources(layout):
        candidate = _read(staged_uri(layout, source))
        if candidate is None:
            continue
        current = _read(committed_uri(layout, source))
        if current is not None and current["run_id"] != layout.run_id and current["state"] != candidate["previous"]:
            stale[source] = (
                f"run {current['run_id']!r} committed {current['state']} after this run read from {candidate['previous']}; "
                "not moving the state back"
            )
            logger.warning("source state not committed", extra={"source": source, "reason": stale[source]})
            continue
        storage.write_json(
            committed_uri(layout, source),
            {"pipeline": layout.pipeline, "source": source, "run_id": layout.run_id, "state": candidate["state"]},
        )
        committed[source] = candidate["state"]
    return {"committed": committed, "stale": stale}
