"""Fakes for webhook tests: a real HTTP receiver on 127.0.0.1 and a worker driver."""

import asyncio
import time

import pytest

from app.settings import get_settings
from app.webhooks.delivery import run_once
from tests.receiver import Receiver

__all__ = ["Receiver"]  # tests import it from here

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For tests of request validation that no database behaviour can change."""


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fast_retries(monkeypatch, engine):
    """Retries without waiting: four tries in all."""
    monkeypatch.setenv("RECTIFY_DELIVERY_RETRY_SCHEDULE_S", "0,0,0")
    get_settings.cache_clear()


def deliver(engine, rounds: int = 50) -> list[dict]:
    """Run worker rounds until a round finds nothing to do now."""
    results = []
    for _ in range(rounds):
        result = asyncio.run(run_once(engine))
        results.append(result)
        if result == {"fanned_out": 0, "attempted": 0}:
            return results
    raise AssertionError(f"still busy after {rounds} rounds: {results[-3:]}")


def subscribe(api, receiver: Receiver, path: str = "/hook", events=("*",), **fields) -> dict:
    body = {"url": receiver.url(path), "events": list(events), **fields}
    return api.post("/webhooks", json=body, expect=201).json()


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
