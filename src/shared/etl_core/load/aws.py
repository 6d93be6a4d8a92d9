"""AWS failures of a target, named for how the pipeline reacts to them.

The classification is the connectors' (etl_core.aws: throttling, 5xx and
connection failures are transient); what a source calls a permanent source error is, for
a target, a TargetError.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from etl_core.aws import as_etl_error
from etl_core.errors import TargetError, TransientError


@contextmanager
def target_errors(what: str, transient_codes: frozenset[str] = frozenset()) -> Iterator[None]:
    """Raise AWS errors inside as TransientError or TargetError naming ``what``; ``transient_codes`` adds service-specific ones."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in transient_codes:
            raise TransientError(f"{what}: {code}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
        raise _as_target_error(exc, what) from exc
    except BotoCoreError as exc:
        raise _as_target_error(exc, what) from exc


def _as_target_error(exc: BaseException, what: str) -> TransientError | TargetError:
    error = as_etl_error(exc, what)
    return error if isinstance(error, TransientError) else TargetError(str(error))
