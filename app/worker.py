"""The worker: webhook delivery rounds and deadline scans until told to stop.

Runs embedded in ``rectify serve`` or alone as ``rectify worker``. Several
delivery lanes run side by side, so one slow receiver holding a round open
(up to the 15 s timeout) does not hold up everyone else. A failing job is
logged and the loop goes on; the database out of reach is said once, in one line,
and once more when it is back (not a traceback a round from every lane).
"""

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
from sqlalchemy import Engine

from app.db import get_engine
from app.deadlines.scan import run_scan
from app.errors import OUTAGE_ERRORS
from app.preflight import one_line
from app.settings import get_settings
from app.webhooks import delivery
from app.webhooks.transport import delivery_client

log = logging.getLogger("rectify.worker")
SHUTDOWN_GRACE_S = 20.0


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Worker:
    def __init__(
        self,
        engine: Engine | None = None,
        *,
        tick_s: float = 1.0,
        lanes: int = 4,
        batch: int = 100,
        scan_interval_s: float | None = None,
    ) -> None:
        self.engine = engine or get_engine()
        self.tick_s = tick_s
        self.lanes = lanes
        self.batch = batch
        self.scan_interval_s = scan_interval_s or get_settings().scan_interval_s
        self.database_down = False

    def _failed(self, what: str) -> None:
        """Log the exception being handled: an outage once, anything else in full."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OUTAGE_ERRORS):
            log.exception("%s failed", what)
        elif not self.database_down:
            self.database_down = True
            log.warning(
                "the database is out of reach (%s); retrying",
                one_line(getattr(exc, "orig", None) or exc),
            )

    def _succeeded(self) -> None:
        if self.database_down:
            self.database_down = False
            log.warning("the database is reachable again")

    async def run(self, stop: asyncio.Event) -> None:
        client = delivery_client(delivery.TIMEOUT_S)
        try:
            await asyncio.gather(
                *(self._deliveries(stop, client) for _ in range(self.lanes)), self._scans(stop)
            )
        finally:
            await client.aclose()

    async def _deliveries(self, stop: asyncio.Event, client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            busy = False
            try:
                result = await delivery.run_once(self.engine, client, self.batch)
                busy = result["attempted"] >= self.batch or result["fanned_out"] > 0
                self._succeeded()
            except Exception:
                self._failed("webhook delivery round")
            if busy:
                await asyncio.sleep(0)
            else:
                await _pause(stop, self.tick_s)

    async def _scans(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.scan)
                self._succeeded()
            except Exception:
                self._failed("deadline scan")
            await _pause(stop, self.scan_interval_s)

    def scan(self) -> dict:
        """One deadline scan."""
        return run_scan(self.engine)


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the worker stopped unexpectedly", exc_info=task.exception())


@asynccontextmanager
async def embedded(engine: Engine) -> AsyncIterator[asyncio.Task]:
    """Run a Worker as a task of the current event loop for the duration of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(engine).run(stop), name="rectify-worker")
    task.add_done_callback(_log_crash)
    try:
        yield task
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, SHUTDOWN_GRACE_S)
        except TimeoutError:
            log.warning("the worker did not stop within %s s; cancelled it", SHUTDOWN_GRACE_S)
        except Exception:
            pass


def run_worker_process(engine: Engine | None = None) -> None:
    """Run the worker in this process until SIGTERM or SIGINT."""

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker started")
        await Worker(engine or get_engine()).run(stop)
        log.info("worker stopped")

    asyncio.run(_main())
