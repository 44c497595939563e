"""The worker loop: delivers on its own, runs scans, survives failing jobs."""

import asyncio

from fastapi.testclient import TestClient

from app.main import create_app
from app.webhooks import delivery
from app.worker import Worker
from tests.webhooks.conftest import subscribe, wait_until


async def _run_until(worker: Worker, done, timeout: float = 15.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout)


def test_the_worker_delivers_and_stops_when_told(api, engine, receiver):
    sub = subscribe(api, receiver)
    for _ in range(3):
        api.item()
    worker = Worker(engine, tick_s=0.05, scan_interval_s=3600)
    asyncio.run(_run_until(worker, lambda: len(receiver.delivered()) == 3))
    for r in receiver.delivered():
        r.verify(sub["secret"])


def test_a_failing_round_is_logged_and_the_loop_goes_on(engine, monkeypatch, caplog):
    calls = []

    async def flaky(engine, client=None, limit=100):
        calls.append(limit)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return {"fanned_out": 0, "attempted": 0}

    monkeypatch.setattr(delivery, "run_once", flaky)
    worker = Worker(engine, tick_s=0.01, lanes=1, scan_interval_s=3600)
    asyncio.run(_run_until(worker, lambda: len(calls) >= 3))
    assert "webhook delivery round failed" in caplog.text


def test_scans_run_on_their_interval_and_survive_errors(engine, monkeypatch, caplog):
    scans = []

    def run_scan(engine_arg):
        scans.append(engine_arg)
        if len(scans) == 1:
            raise RuntimeError("scan failed")
        return {"checked": 0, "fired": {}}

    monkeypatch.setattr("app.worker.run_scan", run_scan)
    worker = Worker(engine, tick_s=0.5, lanes=1, scan_interval_s=0.01)
    asyncio.run(_run_until(worker, lambda: len(scans) >= 3))
    assert all(e is engine for e in scans)
    assert "deadline scan failed" in caplog.text


def test_the_server_embeds_the_worker(api, engine, receiver):
    subscribe(api, receiver)
    app = create_app(engine, migrate=False, worker=True)
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/items",
            json={"title": "嵌入式工作进程", "source": "audit"},
            headers=api.headers(api.admin_token),
        )
        assert r.status_code == 201
        wait_until(lambda: len(receiver.delivered()) == 1, what="the embedded worker's delivery")
    assert receiver.delivered()[0].json["data"]["item"]["title"] == "嵌入式工作进程"
