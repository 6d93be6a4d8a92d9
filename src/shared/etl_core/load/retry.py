"""Exponential back-off with full jitter, bounded in attempts, for a target's own retries.

Used where the SDK cannot retry for us: items a DynamoDB batch left unprocessed come back in
a successful response, so botocore never sees a failure to retry.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Backoff:
    attempts: int = 8
    base_seconds: float = 0.05
    max_seconds: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)], so retrying writers spread out."""
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))

    def wait(self, attempt: int) -> None:
        self.sleep(self.delay(attempt))
