"""Error classification and the bounded re-attempt decision of the error handler."""
from __future__ import annotations

import pytest

from etl_core.errors import InputError
from etl_core.recovery import classify, decide


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        ("TransientError", "", "retryable"),
        ("Lambda.TooManyRequestsException", "", "retryable"),
        ("States.Timeout", "", "retryable"),
        ("SourceNotFound", "no object", "non_retryable"),
        ("InputError", "", "non_retryable"),
        ("DataQualityError", "", "data_quality"),
        ("OperationalError", "server closed the connection: connection reset by peer", "retryable"),
        ("ClientError", "An error occurred (ThrottlingException): Rate exceeded", "retryable"),
        ("KeyError", "'x'", "non_retryable"),
        ("IdempotencyAlreadyInProgressError", "", "retryable"),
    ],
)
def test_classification(error: str, cause: str, expected: str) -> None:
    assert classify(error, cause) == expected


def test_users_extend_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERROR_CLASSES", '{"KeyError": "retryable", "TransientError": "non_retryable"}')
    assert classify("KeyError", "") == "retryable"
    assert classify("TransientError", "") == "non_retryable"


def test_reattempts_are_bounded_with_growing_delay() -> None:
    first = decide("TransientError", "", attempt=0, max_attempts=2, base_delay=10)
    second = decide("TransientError", "", attempt=first.attempt, max_attempts=2, base_delay=10)
    third = decide("TransientError", "", attempt=second.attempt, max_attempts=2, base_delay=10)
    assert (first.retry, first.attempt, first.delay_seconds) == (True, 1, 10)
    assert (second.retry, second.attempt, second.delay_seconds) == (True, 2, 20)
    assert (third.retry, third.attempt) == (False, 2)
    assert "persisted after 2 re-attempt(s)" in third.reason


def test_permanent_errors_never_retry() -> None:
    decision = decide("SpecError", "bad spec", attempt=0, max_attempts=5)
    assert decision.retry is False and decision.classification == "non_retryable"


@pytest.mark.parametrize("value", ['["KeyError"]', "{KeyError: retryable}"])
def test_a_malformed_table_extension_names_the_setting(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ERROR_CLASSES", value)
    with pytest.raises(InputError, match="ERROR_CLASSES must be a JSON object of error name -> classification"):
        classify("KeyError", "")
