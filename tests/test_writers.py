"""SQLite's write turns (app/writers.py): first come, first served; a wait that runs
out is the outage answer (503), never "database is locked"; writes of one call run
back to back on the writer thread."""

import asyncio
import contextvars
import threading

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


def _job(log: list, name: str, *, wait: threading.Event | None = None, fail: bool = False):
    def run() -> str:
        if wait is not None:
            wait.wait(10)
        log.append((name, threading.current_thread().name))
        if fail:
            raise ValueError(name)
        return name

    return run


def test_queued_writes_run_back_to_back_on_the_writer_thread_in_arrival_order():
    async def scenario() -> tuple[list, list]:
        turns = WriteTurns()
        log: list = []
        holder = turns.turn()
        await holder.__aenter__()
        writes = []
        for n in range(6):
            writes.append(asyncio.create_task(turns.run(_job(log, f"w{n}"))))
            await asyncio.sleep(0)
        await holder.__aexit__(None, None, None)
        return await asyncio.gather(*writes), log

    results, log = asyncio.run(scenario())
    assert results == [f"w{n}" for n in range(6)]
    assert [name for name, _thread in log] == results
    assert {thread for _name, thread in log} == {"rectify-sqlite-writer_0"}


def test_the_writer_takes_its_turn_again_behind_writers_that_queued_meanwhile():
    """Writes queued while the writer runs wait for its next turn, after a request
    that queued for the turn before them: first come, first served."""

    async def scenario() -> list:
        turns = WriteTurns()
        log: list = []
        release = threading.Event()
        first = asyncio.create_task(turns.run(_job(log, "first", wait=release)))
        while not turns._queued or turns._queued[asyncio.get_running_loop()].jobs:
            await asyncio.sleep(0.001)  # the writer has taken "first"

        async def session_writer() -> None:
            async with turns.turn():
                log.append(("session", "loop"))

        other = asyncio.create_task(session_writer())
        await asyncio.sleep(0.01)
        later = asyncio.create_task(turns.run(_job(log, "later")))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(first, other, later)
        return [name for name, _thread in log]

    assert asyncio.run(scenario()) == ["first", "session", "later"]


def test_a_failed_write_fails_its_own_request_only():
    async def scenario() -> list:
        turns = WriteTurns()
        log: list = []
        return await asyncio.gather(
            turns.run(_job(log, "a")),
            turns.run(_job(log, "b", fail=True)),
            turns.run(_job(log, "c")),
            return_exceptions=True,
        )

    a, b, c = asyncio.run(scenario())
    assert (a, c) == ("a", "c")
    assert isinstance(b, ValueError) and str(b) == "b"


def test_a_write_whose_request_is_gone_before_it_starts_is_not_run():
    async def scenario() -> list:
        turns = WriteTurns()
        log: list = []
        release = threading.Event()
        first = asyncio.create_task(turns.run(_job(log, "first", wait=release)))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(turns.run(_job(log, "gone")))
        await asyncio.sleep(0.01)
        gone.cancel()
        release.set()
        await first
        assert (await turns.run(_job(log, "after"))) == "after"
        return [name for name, _thread in log]

    assert asyncio.run(scenario()) == ["first", "after"]


def test_a_write_sees_its_requests_context():
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    async def scenario() -> list[str]:
        turns = WriteTurns()

        async def request(n: int) -> str:
            request_id.set(f"r{n}")
            return await turns.run(request_id.get)

        return await asyncio.gather(*(request(n) for n in range(4)))

    assert asyncio.run(scenario()) == ["r0", "r1", "r2", "r3"]


def test_a_write_that_never_gets_its_turn_is_the_outage_error():
    async def scenario() -> None:
        turns = WriteTurns(wait_s=0.05)
        async with turns.turn():
            with pytest.raises(PoolTimeout, match="for a turn to write"):
                await turns.run(lambda: "never")
        assert (await turns.run(lambda: "now")) == "now"

    asyncio.run(scenario())
