"""The PostgreSQL pool keeps its connections: steady load opens none.

A connection opened under load is a new PostgreSQL backend process whose caches are
cold and whose prepared statements are gone; with the old pool (10 kept, 20 more
in bursts) 16 concurrent transitions opened 31 a second (bench/transition_throughput.py).
"""

import threading

import pytest
from sqlalchemy import event, text

from app.db import POSTGRES_MAX_OVERFLOW, make_engine
from app.settings import get_settings

ROUNDS = 5


def _opened_over_rounds(engine, holders: int) -> list[int]:
    """Connections opened by each of ``ROUNDS`` rounds in which ``holders`` threads
    all hold a connection at once, then all give it back."""
    opened = [0]
    event.listen(engine, "connect", lambda *_: opened.__setitem__(0, opened[0] + 1))
    per_round: list[int] = []
    all_holding = threading.Barrier(holders)
    all_returned = threading.Barrier(  # counts the round before any thread goes on
        holders, action=lambda: per_round.append(opened[0] - sum(per_round))
    )
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            for _ in range(ROUNDS):
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                    all_holding.wait(timeout=30)
                all_returned.wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001 -- reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=hold) for _ in range(holders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return per_round


def test_steady_load_as_large_as_the_pool_opens_no_connection(settings_env, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's connections are open files; its pool is sized in app.db")
    holders = get_settings().database_pool_size
    engine = make_engine(database_url)
    try:
        opened = _opened_over_rounds(engine, holders)
    finally:
        engine.dispose()
    assert opened == [holders] + [0] * (ROUNDS - 1)


def test_a_burst_past_the_pool_is_served_and_closed_after(settings_env, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's connections are open files; its pool is sized in app.db")
    holders = get_settings().database_pool_size + POSTGRES_MAX_OVERFLOW
    engine = make_engine(database_url)
    try:
        opened = _opened_over_rounds(engine, holders)
        assert engine.pool.checkedin() == get_settings().database_pool_size
    finally:
        engine.dispose()
    # each round's burst beyond the pool opens its connections again
    assert opened == [holders] + [POSTGRES_MAX_OVERFLOW] * (ROUNDS - 1)
