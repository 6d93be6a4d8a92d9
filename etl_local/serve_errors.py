"""The error every `etl serve` API answers with: AWS's error code and message."""
from __future__ import annotations


class ApiError(Exception):
    """An AWS error response: ``code`` becomes ``__type``; 400 unless said otherwise."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
