"""SQLite's writers take turns on the event loop, before they take a thread or a connection.

SQLite has one writer at a time. Left to itself, every concurrent write request
takes a worker thread and a pooled connection and then polls the file's lock in
SQLite's busy handler (sleeping up to 100 ms between polls, first come not first
served). With 45 writers beside a large import the connection pool ran dry and
requests failed with 503 on its timeout, and the import itself could lose the
lock race for minutes. A queue of *threads* (a ``threading.Semaphore`` in the
unit of work) was tried before and deadlocked: the queued writers held every
worker thread the lock holder needed to finish.

So on SQLite a write request waits for its turn here first, as an asyncio
waiter (no thread, no connection: waiting costs nothing), in arrival order;
only with its turn does it take a thread and a connection, and it gives the
turn back after its commit. ``WRITE_TURNS`` requests hold a turn at once: one,
since SQLite would serialize them anyway and a handoff on the event loop is
immediate where SQLite's busy handler sleeps. Reads never queue (WAL: readers
do not wait for the writer). Where the turn is taken: the request's write
session (``deps.get_session``), the transition and batch endpoints
(``deps.in_unit_of_work``, ``items.router.batch``) and the ledger import's write
phase, after its file has been parsed and checked (``ledger.router``). Other
processes on the same file (a ``rectify worker``, the CLI) and the embedded
worker's jobs are not in the queue: they still meet the requests in SQLite's
busy handler, which waits ``db.SQLITE_BUSY_TIMEOUT_MS``.

A request that waits longer than ``TURN_WAIT_S`` for its turn is 503 with
``Retry-After`` (the outage answer), never "database is locked". PostgreSQL
locks rows, not the database: there is no queue there.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

import anyio
from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout

WRITE_TURNS = 1
TURN_WAIT_S = 600.0
"""How long a write request waits for its turn before it is 503: longer than any
legitimate import's write phase (a 100,000-row file writes in well under a minute)."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class WriteTurns:
    """A fair (FIFO) semaphore of ``capacity`` turns, one per event loop: an app may be
    served by several loops one after another (test clients), never at once."""

    def __init__(self, capacity: int = WRITE_TURNS, wait_s: float = TURN_WAIT_S) -> None:
        self.capacity = capacity
        self.wait_s = wait_s
        self._by_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.Semaphore] = (
            WeakKeyDictionary()
        )

    def _semaphore(self) -> anyio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = anyio.Semaphore(self.capacity, fast_acquire=True)
        return semaphore

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        semaphore = self._semaphore()
        try:
            with anyio.fail_after(self.wait_s):
                await semaphore.acquire()
        except TimeoutError:
            raise PoolTimeout(f"waited {self.wait_s:.0f} s for a turn to write") from None
        try:
            yield
        finally:
            semaphore.release()


def turns_for(engine: Engine) -> WriteTurns | None:
    """The queue an app over ``engine`` needs: SQLite's one writer, or none."""
    return WriteTurns() if engine.dialect.name == "sqlite" else None


@asynccontextmanager
async def write_turn(request: Request) -> AsyncIterator[None]:
    """Hold this app's write turn (on SQLite; nothing to wait for elsewhere)."""
    turns: WriteTurns | None = getattr(request.app.state, "write_turns", None)
    if turns is None:
        yield
        return
    async with turns.turn():
        yield


async def write_turn_dependency(request: Request) -> AsyncIterator[None]:
    """Dependency: a request that may write waits for its turn before its session
    (sub-dependency of ``get_session``, so it runs on the event loop first and is
    given back after the session's commit)."""
    if request.method in READ_METHODS:
        yield
        return
    async with write_turn(request):
        yield
