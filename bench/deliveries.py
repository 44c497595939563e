"""Webhook delivery throughput: the delivery engine against a bare httpx client.

10,000 events go to one subscription on a local receiver (127.0.0.1, a
separate process). The engine runs the worker's rounds (fan-out from the
outbox, claim with lease, sign, POST, record every attempt) over a SQLite
database in a temporary directory; the bare client POSTs the same bodies
with the same concurrency and records nothing. Target: engine >= 50 % of bare.

    python bench/deliveries.py [--events 10000] [--concurrency 100]
"""

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.server import free_port  # noqa: E402


def _receiver(port: int) -> None:
    import uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the receiver did not start")


def _seed(engine, url: str, events: int) -> list[bytes]:
    from sqlalchemy import select

    from app.clock import real_now
    from app.db import unit_of_work
    from app.events.models import Event
    from app.events.outbox import emit, envelope
    from app.webhooks.delivery import body_bytes
    from app.webhooks.models import WebhookCreate
    from app.webhooks.service import create_subscription

    with unit_of_work(engine=engine) as session:
        create_subscription(session, WebhookCreate(url=url, events=["*"]))
        moment = real_now()
        for i in range(1, events + 1):
            emit(
                session,
                "item.overdue",
                subject=f"items/{i}",
                at=moment,
                item_id=i,
                unit_code="court",
                data={"deadline": "rectify", "item": {"id": i, "title": f"问题{i}：整改逾期"}},
            )
    with unit_of_work(write=False, engine=engine) as session:
        rows = session.scalars(select(Event).order_by(Event.id))
        return [body_bytes(envelope(e)) for e in rows]


async def _bare(url: str, bodies: list[bytes], concurrency: int) -> tuple[int, float]:
    import httpx

    ok = 0
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=15, limits=limits) as client:

        async def post(body: bytes) -> None:
            nonlocal ok
            async with gate:
                r = await client.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
                ok += 200 <= r.status_code < 300

        started = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        return ok, time.perf_counter() - started


async def _engine(engine, concurrency: int) -> tuple[int, float]:
    from sqlalchemy import func, select

    from app.db import unit_of_work
    from app.webhooks.delivery import TIMEOUT_S, run_once
    from app.webhooks.models import WebhookDelivery
    from app.webhooks.transport import delivery_client

    started = time.perf_counter()
    async with delivery_client(TIMEOUT_S) as client:
        while True:
            result = await run_once(engine, client, limit=concurrency)
            if result == {"fanned_out": 0, "attempted": 0}:
                break
    elapsed = time.perf_counter() - started
    with unit_of_work(write=False, engine=engine) as session:
        delivered = session.scalar(
            select(func.count()).where(WebhookDelivery.status == "delivered")
        )
    return delivered, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rectify-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    os.environ["RECTIFY_DATABASE_URL"] = db_url
    os.environ["RECTIFY_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"

    from app.db import make_engine
    from app.migrate import upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    port = free_port()
    receiver = multiprocessing.get_context("spawn").Process(
        target=_receiver, args=(port,), daemon=True
    )
    receiver.start()
    try:
        _wait_listening(port)
        url = f"http://127.0.0.1:{port}/hook"
        bodies = _seed(engine, url, args.events)
        bare_ok, bare_s = asyncio.run(_bare(url, bodies, args.concurrency))
        engine_ok, engine_s = asyncio.run(_engine(engine, args.concurrency))
    finally:
        receiver.terminate()
        receiver.join(5)
        engine.dispose()
    bare_rate, engine_rate = bare_ok / bare_s, engine_ok / engine_s
    print(f"events: {args.events}, concurrency: {args.concurrency}, receiver: {url}")
    print(f"bare httpx client: {bare_ok:>6} ok in {bare_s:6.2f} s = {bare_rate:8.0f} /s")
    print(f"delivery engine:   {engine_ok:>6} ok in {engine_s:6.2f} s = {engine_rate:8.0f} /s")
    print(f"ratio: {engine_rate / bare_rate:.0%} (target >= 50%)")
    if bare_ok != args.events or engine_ok != args.events:
        sys.exit("not every event was delivered")


if __name__ == "__main__":
    main()
