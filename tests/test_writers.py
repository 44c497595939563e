"""SQLite's write turns (app/writers.py): first come, first served; a wait that runs
out is the outage answer (503), never "database is locked"."""

import asyncio

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.db import make_engine
from app.writers import WriteTurns, turns_for


def test_writers_take_turns_in_arrival_order():
    async def scenario() -> list[int]:
        turns = WriteTurns()
        order: list[int] = []
        holder = turns.turn()
        await holder.__aenter__()

        async def writer(n: int) -> None:
            async with turns.turn():
                order.append(n)
                await asyncio.sleep(0)

        tasks = []
        for n in range(8):
            tasks.append(asyncio.create_task(writer(n)))
            await asyncio.sleep(0)  # each one queues before the next arrives
        await holder.__aexit__(None, None, None)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == list(range(8))


def test_one_writer_holds_the_turn_at_a_time():
    async def scenario() -> int:
        turns = WriteTurns()
        inside, most = 0, 0

        async def writer() -> None:
            nonlocal inside, most
            async with turns.turn():
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.001)
                inside -= 1

        await asyncio.gather(*(writer() for _ in range(20)))
        return most

    assert asyncio.run(scenario()) == 1


def test_a_wait_that_runs_out_is_the_outage_error_and_leaves_the_queue():
    async def scenario() -> None:
        turns = WriteTurns(wait_s=0.05)
        async with turns.turn():
            with pytest.raises(PoolTimeout, match="for a turn to write"):
                async with turns.turn():
                    pass
        async with turns.turn():  # the one that gave up holds nothing
            pass

    asyncio.run(scenario())


def test_only_sqlite_has_a_queue(tmp_path):
    sqlite = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    postgres = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert isinstance(turns_for(sqlite), WriteTurns)
    assert turns_for(postgres) is None
    sqlite.dispose()
    postgres.dispose()
