"""When a call is tried again: 429 and 503, honouring Retry-After, a bounded number of times.

Unlike wxc_sdk (which retries 429 forever) a policy always has a finite number of attempts
and a maximum delay. A server that asks for a longer pause than the maximum is not waited
for: the caller gets the 429 or 503 at once, which is more useful than a retry sure to fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Which answers are retried, how often and how long to wait in between.

    Args:
        attempts: the most times one request is sent, the first included (1 = never retry).
        max_delay: the longest pause in seconds; a longer Retry-After is not waited for.
        statuses: the HTTP statuses that are retried.
        backoff: the pause before the first retry when the answer has no usable
            Retry-After; it doubles with each retry, up to `max_delay`.
        clock: the current time, for Retry-After given as an HTTP-date.
    """

    attempts: int = 3
    max_delay: float = 60.0
    statuses: frozenset[int] = frozenset({429, 503})
    backoff: float = 1.0
    clock: Callable[[], datetime] = field(default=_utcnow, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.max_delay < 0 or self.backoff < 0:
            raise ValueError("max_delay and backoff must not be negative")

    def delay(self, attempt: int, status: int, retry_after: str | None) -> float | None:
        """Return the seconds to wait before sending attempt `attempt + 1`, or None to stop."""
        if status not in self.statuses or attempt >= self.attempts:
            return None
        asked = parse_retry_after(retry_after, self.clock()) if retry_after else None
        if asked is None:
            return min(self.backoff * 2.0 ** (attempt - 1), self.max_delay)
        return asked if asked <= self.max_delay else None


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Return the seconds a Retry-After header asks for (delta-seconds or HTTP-date).

    None when the value is neither; a date in the past means no wait.
    """
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
