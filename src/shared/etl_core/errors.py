"""Errors the domain raises, named for how the pipeline must react to them.

The class name becomes the Step Functions error name (Lambda reports the exception type),
so the state machine's Retry/Catch and the error handler's classification key on these
names. Keep them stable: renaming one is a breaking change to the deployed definition.
"""
from __future__ import annotations

import contextlib
from typing import Iterator


class EtlError(Exception):
    """Base of every error the pipeline raises on purpose."""


class InputError(EtlError):
    """The event or execution input is malformed; re-running the same input cannot help."""


class SpecError(EtlError):
    """A pipeline spec is missing or invalid; the message names the file and the field."""


class SourceNotFound(EtlError):
    """A source object, prefix or table does not exist (permanent until someone lands it)."""


class SourceError(EtlError):
    """A source exists but cannot be read as declared (wrong format, unusable schema)."""


class TransientError(EtlError):
    """A failure worth retrying: throttling, timeouts, connection resets, 5xx answers."""


class DataQualityError(EtlError):
    """The run's data failed the spec's quality gate; fixing the data, not retrying, helps."""


class TargetError(EtlError):
    """A target rejected the load for a reason retrying will not fix (schema, permissions)."""


class RunInProgress(EtlError):
    """Another execution holds the run's lease (etl_core.lease); waiting for it to finish helps."""


class ConservationError(EtlError):
    """Rows appeared or vanished between stages: the run must not publish its counts."""


@contextlib.contextmanager
def naming(path: str, doing: str) -> Iterator[None]:
    """An OS error inside says which file or object it hit (``cannot write s3://b/k: No space
    left on device``): pyarrow's own messages for a failed write or read ("Error writing bytes
    to file", "Corrupt Lz4 compressed data") name none. Same errno, so the same OSError kind;
    an error that names ``path`` already passes as it is. ``doing``: "write", "read"."""
    try:
        yield
    except OSError as exc:
        if path in str(exc):
            raise
        raise OSError(exc.errno, f"cannot {doing} {path}: {exc.strerror or exc}") from exc
