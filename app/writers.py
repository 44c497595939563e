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

A write that is one call -- a transition, a batch, an import's write phase
(``run_write``) -- does not take a worker thread with its turn: it is queued for
the process's one SQLite writer thread, which takes the turn for every write
queued by then and runs them back to back. A turn handed from request to request
costs two thread hand-offs each (the event loop wakes the next waiter, which
sends its work to a worker thread, which hands the result back before the turn
is given on), and the one writer waits through both: with the turn per request,
transitions kept the core 94-97 % busy and ran at 94-97 % of the bare endpoint's
rate; through the writer thread, 101-103 % (bench/transition_throughput.py).

A request that waits longer than ``TURN_WAIT_S`` for its turn is 503 with
``Retry-After`` (the outage answer), never "database is locked". PostgreSQL
locks rows, not the database: there is no queue there.
"""

import asyncio
import contextvars
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import anyio
from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool

WRITE_TURNS = 1
TURN_WAIT_S = 600.0
"""How long a write request waits for its turn before it is 503: longer than any
legitimate import's write phase (a 100,000-row file writes in well under a minute)."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")

_WRITER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rectify-sqlite-writer")
"""The process's one thread for queued SQLite writes (``WriteTurns.run``)."""


class _Queued:
    """Writes queued for the writer thread on one event loop, and the drain under way
    for them (``WriteTurns._drain``), if any."""

    def __init__(self) -> None:
        self.jobs: deque[tuple[contextvars.Context, Callable[[], Any], asyncio.Future]] = deque()
        self.draining: asyncio.Task | None = None


class WriteTurns:
    """A fair (FIFO) semaphore of ``capacity`` turns, one per event loop: an app may be
    served by several loops one after another (test clients), never at once. ``turn``
    holds one on the event loop; ``run`` queues a write of one call for the writer
    thread, which holds the turn for it."""

    def __init__(self, capacity: int = WRITE_TURNS, wait_s: float = TURN_WAIT_S) -> None:
        self.capacity = capacity
        self.wait_s = wait_s
        self._by_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.Semaphore] = (
            WeakKeyDictionary()
        )
        self._queued: WeakKeyDictionary[asyncio.AbstractEventLoop, _Queued] = WeakKeyDictionary()

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

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` -- a whole write transaction -- in a turn, on the writer thread.

        Queued in arrival order; the writes queued when the writer's turn comes all run
        in it, one after another. A write whose request is gone (cancelled) before it
        starts is not run; one that started runs to its end, as in a worker thread."""
        loop = asyncio.get_running_loop()
        queued = self._queued.get(loop)
        if queued is None:
            queued = self._queued[loop] = _Queued()
        done: asyncio.Future = loop.create_future()
        queued.jobs.append((contextvars.copy_context(), fn, done))
        if queued.draining is None:
            queued.draining = loop.create_task(self._drain(queued))
        return await done

    async def _drain(self, queued: _Queued) -> None:
        """Take the turn for the writes queued so far and run them on the writer thread;
        again for those queued meanwhile, until none is left."""
        loop = asyncio.get_running_loop()
        try:
            while queued.jobs:
                try:
                    async with self.turn():
                        jobs = list(queued.jobs)
                        queued.jobs.clear()
                        try:
                            await loop.run_in_executor(_WRITER_THREAD, _run_all, loop, jobs)
                        except BaseException as exc:  # none is left waiting for ever
                            _fail(jobs, exc)
                            raise
                except PoolTimeout as exc:  # the turn never came: every write waiting fails
                    _fail(queued.jobs, exc)
                    queued.jobs.clear()
        finally:
            queued.draining = None


def _run_all(loop: asyncio.AbstractEventLoop, jobs: list) -> None:
    """On the writer thread: each write in turn, its outcome handed to its request."""
    for ctx, fn, done in jobs:
        if done.cancelled():
            continue
        try:
            result = ctx.run(fn)
        except BaseException as exc:  # noqa: BLE001 -- the request raises it
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, result, None)


def _fail(jobs, exc: BaseException) -> None:
    for _ctx, _fn, done in jobs:
        if not done.done():
            if isinstance(exc, asyncio.CancelledError):
                done.cancel()
            else:
                done.set_exception(exc)


def _settle(done: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if done.done():  # its request was cancelled meanwhile
        return
    if exc is None:
        done.set_result(result)
    else:
        done.set_exception(exc)


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


async def run_write(request: Request, fn: Callable[[], T]) -> T:
    """Run ``fn``, a whole write transaction in one call: on SQLite in a write turn on
    the writer thread (``WriteTurns.run``), elsewhere in a worker thread."""
    turns: WriteTurns | None = getattr(request.app.state, "write_turns", None)
    if turns is None:
        return await run_in_threadpool(fn)
    return await turns.run(fn)


async def write_turn_dependency(request: Request) -> AsyncIterator[None]:
    """Dependency: a request that may write waits for its turn before its session
    (sub-dependency of ``get_session``, so it runs on the event loop first and is
    given back after the session's commit)."""
    if request.method in READ_METHODS:
        yield
        return
    async with write_turn(request):
        yield
