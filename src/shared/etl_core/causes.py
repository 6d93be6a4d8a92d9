"""Causes for people: what the execution's final error, the DLQ message, the notification and the
CLI say about a failure.

Step Functions records a failed Lambda task as AWS gives it: the error name, and a cause that
is Lambda's JSON (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``). That raw form
stays where AWS keeps it, in the task's history events (and the function's log). A person
reading an e-mail or a queue needs the error type and a short message naming the file, field
or row, so the error handler turns every caught error into ``{"Error", "Cause"}`` of that
shape: the message alone, without a traceback, without source file paths, redacted, bounded.
"""
from __future__ import annotations

import json
import re

from etl_core.redaction import redact

#: A cause a person reads is short; the full story is in the history and the log.
MAX_CAUSE_CHARS = 1000

_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*?(?=\n\S|\Z)", re.DOTALL)
_FRAME = re.compile(r"\s*File \"[^\"]*\", line \d+(?:, in [^\n|]*)?(?:\n {4}[^\n]*)?")
#: Paths of Python sources (``/var/task/app.py``, ``/opt/python/etl_core/x.py``): shown by file name only.
_SOURCE_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+)+[\\/]([\w.-]+\.py[cw]?)\b")


def _message(cause: str) -> str:
    """The message inside a cause: Lambda's ``errorMessage``, a job run's error, or the text itself."""
    try:
        body = json.loads(cause)
    except ValueError:
        return cause
    if not isinstance(body, dict):
        return cause
    for key in ("errorMessage", "ErrorMessage", "Cause", "cause"):
        if isinstance(body.get(key), str):
            return body[key]
    run = body.get("JobRun")
    if isinstance(run, dict) and isinstance(run.get("StateDetails"), str):
        return run["StateDetails"]
    return cause


def for_people(cause: str | None, limit: int = MAX_CAUSE_CHARS, one_line: bool = False) -> str:
    """A short, redacted message with no stack trace and no source paths, from any cause.

    The one reading of a cause for people: the error handler's ``Cause`` (DLQ, notification, the
    execution's end) and the CLI's progress and summary lines (``one_line``, and its own ``limit``).
    """
    text = _message(cause or "")
    text = _TRACEBACK.sub("", text)
    text = _FRAME.sub("", text)
    text = _SOURCE_PATH.sub(r"\1", text)
    text = redact(text).strip()
    if one_line:
        text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def error_for_people(error: str, cause: str | None) -> dict[str, str]:
    """``{"Error", "Cause"}`` as a person reads it: the error type and the short message."""
    return {"Error": redact(error), "Cause": for_people(cause)}
