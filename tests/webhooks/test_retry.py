import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.webhooks.retry import MAX_RETRY_AFTER_S, RetryPolicy, retry_after

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class FixedUniform:
    """Always returns one end of the range (or the middle)."""

    def __init__(self, where: str) -> None:
        self.where = where

    def uniform(self, a: float, b: float) -> float:
        return {"low": a, "high": b, "mid": (a + b) / 2}[self.where]


def test_from_setting() -> None:
    policy = RetryPolicy.from_setting("5, 30,300")
    assert policy.delays == (5.0, 30.0, 300.0)
    assert policy.jitter == 0.1
    assert policy.max_attempts == 4


@pytest.mark.parametrize("value", ["5,x", "5,-1", "inf"])
def test_from_setting_rejects_bad_values(value: str) -> None:
    with pytest.raises(ValueError):
        RetryPolicy.from_setting(value)


def test_empty_schedule_means_a_single_try() -> None:
    policy = RetryPolicy.from_setting("")
    assert policy.max_attempts == 1
    assert policy.next_delay(1) is None


@pytest.mark.parametrize(
    ("attempt", "where", "expected"),
    [
        (1, "mid", 5.0),
        (1, "low", 4.5),
        (1, "high", 5.5),
        (2, "mid", 30.0),
        (3, "high", 330.0),
        (4, "mid", None),
        (9, "mid", None),
    ],
)
def test_next_delay(attempt: int, where: str, expected: float | None) -> None:
    policy = RetryPolicy((5, 30, 300))
    assert policy.next_delay(attempt, FixedUniform(where)) == pytest.approx(expected)


def test_next_delay_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError):
        RetryPolicy((5,)).next_delay(0)


@pytest.mark.parametrize("jitter", [-0.1, 1.0])
def test_jitter_bounds(jitter: float) -> None:
    with pytest.raises(ValueError):
        RetryPolicy((5,), jitter=jitter)


@given(
    delays=st.lists(st.floats(0, 1e6), min_size=1, max_size=8),
    jitter=st.floats(0, 0.99),
    attempt=st.integers(1, 12),
    seed=st.integers(0, 2**32),
)
def test_next_delay_stays_within_jitter(
    delays: list[float], jitter: float, attempt: int, seed: int
) -> None:
    policy = RetryPolicy(tuple(delays), jitter)
    delay = policy.next_delay(attempt, random.Random(seed))
    if attempt > len(delays):
        assert delay is None
    else:
        base = delays[attempt - 1]
        assert delay is not None
        assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("120", 120.0),
        (" 0 ", 0.0),
        ("999999", MAX_RETRY_AFTER_S),
        (format_datetime(NOW + timedelta(minutes=2), usegmt=True), 120.0),
        (format_datetime(NOW - timedelta(minutes=2), usegmt=True), 0.0),
        (format_datetime(NOW + timedelta(days=3), usegmt=True), MAX_RETRY_AFTER_S),
        ("Sat, 01 Mar 2025 09:00:00 +0100", 0.0),
        ("Sat, 01 Mar 2025 08:00:30 -0000", 30.0),
    ],
)
def test_retry_after(header: str | None, expected: float | None) -> None:
    assert retry_after(header, NOW) == expected
