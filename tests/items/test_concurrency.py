"""Concurrency through a real server: the row lock, and keyset pages under inserts."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.auth.models import Role
from app.auth.service import Caller
from app.db import unit_of_work
from app.items.schemas import ItemCreate
from app.items.service import new_item
from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.factories import BASE, Api, make_world
from tests.live import LiveServer

PARALLEL = 20


@pytest.fixture
def live(engine):
    with LiveServer(create_app(engine, migrate=False)) as server:
        yield server


@pytest.fixture
def live_api(live):
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield Api(client, ADMIN_TOKEN)


def _race(url: str, n: int, request) -> list[httpx.Response]:
    """``n`` threads, one connection each, released together by a barrier."""
    barrier = threading.Barrier(n)

    def one(_i):
        with httpx.Client(base_url=url, timeout=60) as client:
            client.get("/healthz")  # connect before the start line
            barrier.wait()
            return request(client)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("if_match", [True, False], ids=["if-match", "no-if-match"])
def test_parallel_verifies_exactly_one_wins(live, live_api, if_match):
    world = make_world(live_api)
    item = world.item_in("review_pending")
    iid, version = item["id"], item["version"]
    headers = {"Authorization": f"Bearer {world.sup}"}
    if if_match:
        headers["If-Match"] = f'"{version}"'

    responses = _race(
        live.url,
        PARALLEL,
        lambda c: c.post(
            f"{BASE}/items/{iid}/transitions",
            json={"action": "verify", "comment": "验收通过"},
            headers=headers,
        ),
    )

    statuses = Counter(r.status_code for r in responses)
    loser = 412 if if_match else 409
    assert statuses == {200: 1, loser: PARALLEL - 1}, [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.json()["state"] == "verified" and winner.json()["version"] == version + 1
    assert winner.headers["etag"] == f'"{version + 1}"'
    for r in responses:
        if r.status_code != 200:
            assert r.headers["content-type"].startswith("application/problem+json")
    history = live_api.history(iid)
    assert [h["action"] for h in history].count("verify") == 1
    assert live_api.get(f"/items/{iid}/history/verify").json()["ok"] is True
    got = live_api.get(f"/items/{iid}").json()
    assert (got["state"], got["version"]) == ("verified", version + 1)


def test_parallel_creates_with_one_idempotency_key_make_one_item(live, live_api):
    sup = live_api.key("supervisor")
    body = {"title": "并发幂等", "source": "hotline", "campaign": "idem-race"}
    headers = {"Authorization": f"Bearer {sup}", "Idempotency-Key": "race-1"}

    responses = _race(live.url, 8, lambda c: c.post(f"{BASE}/items", json=body, headers=headers))

    ok = [r for r in responses if r.status_code == 201]
    assert ok and all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in ok}) == 1
    listed = live_api.get("/items", params={"campaign": "idem-race"}).json()["data"]
    assert len(listed) == 1


def _bulk_insert(engine, n: int) -> list[int]:
    caller = Caller(key_id=0, name="bulk-loader", role=Role.supervisor)
    with unit_of_work(engine=engine) as session:
        return [
            new_item(session, caller, ItemCreate(title=f"批量问题{i:04d}", source="audit")).id
            for i in range(n)
        ]


def _pages(api: Api, limit: int, between=lambda: None) -> list[int]:
    seen, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = api.get("/items", params=params, expect=200).json()
        seen += [i["id"] for i in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        between()


def test_keyset_pages_over_1000_items_return_each_once_also_while_items_are_created(
    engine, live, live_api
):
    ids = set(_bulk_insert(engine, 1000))
    for limit in (37, 500):
        seen = _pages(live_api, limit)
        assert len(seen) == 1000 and set(seen) == ids, limit
        assert seen == sorted(seen, reverse=True)

    sup = live_api.key("supervisor")
    stop, created = threading.Event(), threading.Semaphore(0)
    made: list[int] = []
    errors: list[BaseException] = []

    def creator():
        try:
            with httpx.Client(base_url=live.url, timeout=60) as client:
                while not stop.is_set():
                    r = client.post(
                        f"{BASE}/items",
                        json={"title": "翻页期间新建", "source": "hotline"},
                        headers={"Authorization": f"Bearer {sup}"},
                    )
                    assert r.status_code == 201, r.text
                    made.append(r.json()["id"])
                    created.release()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            created.release()

    thread = threading.Thread(target=creator)
    thread.start()
    try:
        # at least one item is created between any two pages
        seen = _pages(live_api, 50, between=lambda: created.acquire(timeout=60))
    finally:
        stop.set()
        thread.join(timeout=60)

    assert not errors, errors
    assert len(made) >= 1000 // 50 - 1
    assert len(seen) == len(set(seen)), "an item came back twice"
    assert ids <= set(seen), f"missing: {sorted(ids - set(seen))[:10]}"
    assert set(seen) - ids <= set(made)
    assert seen == sorted(seen, reverse=True)
