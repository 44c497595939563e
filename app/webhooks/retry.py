"""Backoff between webhook delivery tries."""

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

MAX_RETRY_AFTER_S = 24 * 60 * 60.0


class _Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a delivery again.

    After ``n`` tries (``n`` >= 1) the next one waits
    ``delays[n - 1] * (1 + U(-jitter, +jitter))`` seconds, ``U`` uniform; after
    ``len(delays) + 1`` tries there is no next one and the delivery has failed.
    The jitter spreads retries of many deliveries that failed together.
    """

    delays: tuple[float, ...]
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if any(not math.isfinite(d) or d < 0 for d in self.delays):
            raise ValueError("retry delays must be finite and not negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("retry jitter must be in [0, 1)")

    @classmethod
    def from_setting(cls, value: str, jitter: float = 0.1) -> "RetryPolicy":
        """Parse a comma-separated list of seconds, e.g. ``"5,30,300"``."""
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            delays = tuple(float(p) for p in parts)
        except ValueError as exc:
            raise ValueError(
                f"invalid retry schedule {value!r}: expected seconds like 5,30,300"
            ) from exc
        return cls(delays=delays, jitter=jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(self, attempt: int, rng: _Uniform = random) -> float | None:
        """Seconds to wait after ``attempt`` tries (1-based), or None when none are left."""
        if attempt < 1:
            raise ValueError("attempt counts tries made so far and starts at 1")
        if attempt >= self.max_attempts:
            return None
        return self.delays[attempt - 1] * (1 + rng.uniform(-self.jitter, self.jitter))


def retry_after(header_value: str | None, now: datetime) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delay-seconds or HTTP-date).

    Returns None when absent or unparseable; past dates give 0; capped at 24 hours
    so a receiver cannot park a delivery indefinitely.
    """
    if header_value is None or not header_value.strip():
        return None
    value = header_value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
