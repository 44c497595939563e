"""The database unreachable: 503 problem+json with Retry-After, never 500, and the
service recovers by itself. A private PostgreSQL cluster is stopped and started
under load (the shared one is never touched)."""

import logging
import threading
import time
from collections import Counter

import httpx
import pytest

from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import ADMIN_TOKEN, _set_env
from tests.hostile import private_pg
from tests.live import LiveServer

pytestmark = pytest.mark.skipif(
    not private_pg.available(), reason="needs PostgreSQL 15's binaries and root (runuser)"
)


@pytest.fixture
def cluster():
    made = private_pg.PrivateCluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


def test_a_stopped_database_is_503_and_the_service_recovers(cluster, monkeypatch, tmp_path, caplog):
    """And the embedded worker says the outage once and the recovery once, in one line
    each: not a traceback a round from each of its delivery lanes."""
    caplog.set_level(logging.INFO, logger="rectify.worker")
    upgrade(cluster.url)
    _set_env(monkeypatch, cluster.url, tmp_path)
    engine = make_engine(cluster.url)
    seen: Counter = Counter()
    bad: list[str] = []
    stop = threading.Event()
    phase = {"name": "up"}

    def load(n: int) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                if n % 2:
                    r = client.post(
                        "/api/v1/items", json={"title": "停机", "source": "audit"}, headers=headers
                    )
                else:
                    r = client.get("/api/v1/items", headers=headers)
                seen[(phase["name"], r.status_code)] += 1
                if r.status_code == 503:
                    problem = r.json()
                    if not (
                        r.headers["content-type"].startswith("application/problem+json")
                        and r.headers.get("retry-after", "").isdigit()
                        and problem["status"] == 503
                    ):
                        bad.append(f"{r.headers} {r.text}")
                elif r.status_code not in (200, 201):
                    bad.append(f"{phase['name']} {r.status_code} {r.text[:300]}")
                time.sleep(0.02)

    try:
        with LiveServer(create_app(engine, migrate=False, worker=True)) as server:
            threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            time.sleep(1.5)
            cluster.stop()
            phase["name"] = "down"
            time.sleep(3)
            # a new token is checked at the door while the database is down: 503 too
            r = httpx.post(
                server.url + "/api/v1/items",
                json={"title": "x", "source": "audit"},
                headers={"Authorization": "Bearer rk_never_seen_before"},
            )
            assert r.status_code == 503 and r.headers["retry-after"], r.text
            cluster.start()
            phase["name"] = "back"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                seen[("back", 201)] < 5 or "reachable again" not in caplog.text
            ):
                time.sleep(0.2)
            stop.set()
            for t in threads:
                t.join(timeout=60)
            assert httpx.get(server.url + "/readyz").status_code == 200
    finally:
        stop.set()
        engine.dispose()
    assert bad == [], bad[:5]
    assert seen[("down", 503)] > 0, seen
    assert seen[("back", 201)] >= 5 and seen[("back", 200)] > 0, seen
    assert not any(status == 500 for (_phase, status) in seen), seen
    said = [r for r in caplog.records if r.name == "rectify.worker"]
    assert [r.getMessage().split(" (")[0] for r in said] == [
        "the database is out of reach",
        "the database is reachable again",
    ], [(r.levelname, r.getMessage()[:200]) for r in said]
    assert not any(r.exc_info for r in said)
