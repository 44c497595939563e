"""Deliveries to a real receiver on 127.0.0.1, driven one worker round at a time."""

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from app.clock import real_now
from app.db import unit_of_work
from app.settings import get_settings
from app.webhooks import delivery as engine_module
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.webhooks.transport import PinnedTransport, pinned
from tests.webhooks.conftest import deliver, subscribe

LIFECYCLE_TYPES = [
    "item.created",
    "item.transitioned",
    "item.assigned",
    "item.transitioned",
    "item.transitioned",
    "item.submitted",
    "item.transitioned",
    "item.verified",
    "item.transitioned",
    "item.closed",
]


@pytest.fixture
def world(api):
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("bureau", "市审计局")
    api.set_clock("2026-03-02T02:00:00Z")
    return {"sup": api.key("supervisor"), "court": api.key("unit", "court")}


def lifecycle(api, world) -> int:
    iid = api.item(world["sup"], title="征地拆迁补偿款发放不及时")["id"]
    api.act(iid, "assign", world["sup"], unit_code="court", due_date="2026-03-31")
    api.act(iid, "accept", world["court"])
    api.evidence(iid, world["court"])
    api.act(iid, "submit", world["court"], comment="已全部发放到位")
    api.act(iid, "verify", world["sup"])
    api.act(iid, "close", world["sup"])
    return iid


def retry_now(engine) -> None:
    """Let the time pass until every pending delivery is due."""
    with unit_of_work(engine=engine) as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(next_attempt_at=real_now())
        )


def deliveries(api, sub_id: int, **params) -> list[dict]:
    return api.get(f"/webhooks/{sub_id}/deliveries", params=params, expect=200).json()["data"]


def test_every_transition_of_a_lifecycle_arrives_signed_as_cloudevents(
    api, world, engine, receiver
):
    sub = subscribe(api, receiver)
    iid = lifecycle(api, world)
    deliver(engine)

    got = receiver.delivered()
    assert [r.json["type"] for r in got] == LIFECYCLE_TYPES
    transitions = [r.json["data"] for r in got if r.json["type"] == "item.transitioned"]
    assert [(t["action"], t["from_state"], t["to_state"]) for t in transitions] == [
        ("assign", "found", "assigned"),
        ("accept", "assigned", "rectifying"),
        ("submit", "rectifying", "rectifying"),
        ("verify", "rectifying", "verified"),
        ("close", "verified", "closed"),
    ]
    assert got[-1].json["data"]["item"]["state"] == "closed"
    assert got[0].json["data"]["item"]["title"] == "征地拆迁补偿款发放不及时"
    for r in got:
        assert r.verify(sub["secret"]) == r.json
        assert r.headers["content-type"] == "application/json"
        env = r.json
        assert set(env) == {
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "datacontenttype",
            "data",
        }
        assert env["specversion"] == "1.0"
        assert env["id"].startswith("evt_") and env["source"] == "/rectify"
        assert env["subject"] == f"items/{iid}"
        assert env["datacontenttype"] == "application/json"
        assert datetime.fromisoformat(env["time"]).utcoffset() == timedelta(0)
        assert env["time"].endswith("Z")
    assert len({r.webhook_id for r in got}) == len(got)
    assert {d["status"] for d in deliveries(api, sub["id"])} == {"delivered"}


def test_failing_three_times_then_delivered_on_the_fourth_with_the_same_id(
    api, engine, receiver, fast_retries
):
    sub = subscribe(api, receiver)
    receiver.plan("/hook", 500, 503, 502)
    api.item()
    deliver(engine)

    tries = receiver.received()
    assert [r.answered for r in tries] == [500, 503, 502, 200]
    assert len({r.webhook_id for r in tries}) == 1
    assert len({r.body for r in tries}) == 1
    for r in tries:
        r.verify(sub["secret"])
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "delivered" and d["attempts"] == 4 and d["last_status_code"] == 200
    assert d["webhook_id"] == tries[0].webhook_id and d["next_attempt_at"] is None
    detail = api.get(f"/webhooks/{sub['id']}/deliveries/{d['id']}", expect=200).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 503, 502, 200]


def test_always_failing_ends_failed_and_redeliver_succeeds_after_recovery(
    api, engine, receiver, fast_retries
):
    sub = subscribe(api, receiver)
    receiver.always("/hook", 500)
    api.item()
    deliver(engine)
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "failed" and d["attempts"] == 4 and d["next_attempt_at"] is None
    assert d["last_status_code"] == 500 and d["last_error"].startswith("HTTP 500")
    assert len(receiver.received()) == 4

    receiver.always("/hook", 200)
    r = api.post(f"/webhooks/{sub['id']}/deliveries/{d['id']}/redeliver", expect=202).json()
    assert r["status"] == "pending"
    deliver(engine)
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "delivered" and d["attempts"] == 5
    assert len({r.webhook_id for r in receiver.received()}) == 1
    assert receiver.received()[-1].answered == 200


def test_410_disables_the_subscription(api, engine, receiver):
    sub = subscribe(api, receiver)
    receiver.plan("/hook", 410)
    api.item()
    deliver(engine)
    got = api.get(f"/webhooks/{sub['id']}", expect=200).json()
    assert got["enabled"] is False and "410" in got["disabled_reason"]
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "failed"

    api.item()
    deliver(engine)
    assert len(receiver.received()) == 1
    api.post(f"/webhooks/{sub['id']}/test", expect=409)

    got = api.patch(f"/webhooks/{sub['id']}", json={"enabled": True}, expect=200).json()
    assert got["enabled"] is True and got["disabled_reason"] is None
    api.item()
    deliver(engine)
    assert [r.answered for r in receiver.received()] == [410, 200]


def test_unit_scoped_subscription_hears_only_its_subtree(api, world, engine, receiver):
    city = subscribe(api, receiver, "/city", unit_code="city")
    bureau = subscribe(api, receiver, "/bureau", events=["item.assigned"], unit_code="bureau")
    court_item = api.item(world["sup"])["id"]
    bureau_item = api.item(world["sup"])["id"]
    api.act(court_item, "assign", world["sup"], unit_code="court", due_date="2026-03-31")
    api.act(bureau_item, "assign", world["sup"], unit_code="bureau", due_date="2026-03-31")
    deliver(engine)

    city_got = receiver.delivered("/city")
    assert [r.json["type"] for r in city_got] == ["item.transitioned", "item.assigned"]
    assert {r.json["subject"] for r in city_got} == {f"items/{court_item}"}
    for r in city_got:
        r.verify(city["secret"])
    bureau_got = receiver.delivered("/bureau")
    assert [(r.json["type"], r.json["subject"]) for r in bureau_got] == [
        ("item.assigned", f"items/{bureau_item}")
    ]
    bureau_got[0].verify(bureau["secret"])


def test_retry_after_is_honoured_on_429(api, engine, receiver):
    sub = subscribe(api, receiver)
    receiver.plan("/hook", (429, {"Retry-After": "7200"}))
    api.item()
    deliver(engine)
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "pending" and d["last_status_code"] == 429
    detail = api.get(f"/webhooks/{sub['id']}/deliveries/{d['id']}", expect=200).json()
    tried = datetime.fromisoformat(detail["attempt_log"][0]["at"])
    assert datetime.fromisoformat(d["next_attempt_at"]) >= tried + timedelta(seconds=7200)


def test_an_items_events_stay_in_order_behind_a_failing_one(api, engine, receiver):
    sub = subscribe(api, receiver)
    first = api.item()["id"]
    receiver.plan("/hook", 500)
    deliver(engine)
    api.patch(f"/items/{first}", json={"title": "新标题"}, expect=200)
    api.act(first, "withdraw", comment="重复立项")
    other = api.item()["id"]
    deliver(engine)
    assert [r.json["subject"] for r in receiver.delivered()] == [f"items/{other}"]

    retry_now(engine)
    deliver(engine)
    got = [(r.json["subject"], r.json["type"]) for r in receiver.delivered()]
    assert got == [
        (f"items/{other}", "item.created"),
        (f"items/{first}", "item.created"),
        (f"items/{first}", "item.transitioned"),
        (f"items/{first}", "item.closed"),
    ]
    assert {d["status"] for d in deliveries(api, sub["id"])} == {"delivered"}


def test_five_days_of_failure_disable_the_subscription(api, engine, receiver):
    sub = subscribe(api, receiver)
    receiver.always("/hook", 500)
    api.item()
    deliver(engine)
    assert api.get(f"/webhooks/{sub['id']}", expect=200).json()["enabled"] is True
    with unit_of_work(engine=engine) as session:
        session.execute(
            update(WebhookSubscription).values(failing_since=real_now() - timedelta(days=5))
        )
    retry_now(engine)
    deliver(engine)
    got = api.get(f"/webhooks/{sub['id']}", expect=200).json()
    assert got["enabled"] is False and "5 days" in got["disabled_reason"]

    got = api.patch(f"/webhooks/{sub['id']}", json={"enabled": True}, expect=200).json()
    receiver.always("/hook", 200)
    with unit_of_work(write=False, engine=engine) as session:
        assert session.get(WebhookSubscription, sub["id"]).failing_since is None
    retry_now(engine)
    deliver(engine)
    assert receiver.delivered()


def test_the_target_is_checked_again_at_send_time(api, engine, receiver, monkeypatch):
    sub = subscribe(api, receiver)
    monkeypatch.setenv("RECTIFY_WEBHOOK_ALLOWED_NETWORKS", "")
    get_settings.cache_clear()
    api.item()
    deliver(engine)
    assert receiver.received() == []
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "pending" and d["attempts"] == 1 and d["last_status_code"] is None
    assert "loopback" in d["last_error"]


def test_a_receiver_slower_than_the_timeout_is_retried(api, engine, receiver, monkeypatch):
    monkeypatch.setattr(engine_module, "TIMEOUT_S", 0.2)
    sub = subscribe(api, receiver)
    receiver.hold("/hook")
    api.item()
    deliver(engine)
    receiver.release("/hook")
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "pending" and d["last_error"] == "timed out after 0.2 s"


def test_rotation_signs_with_both_secrets_during_the_grace_period(api, engine, receiver):
    sub = subscribe(api, receiver)
    rotated = api.post(f"/webhooks/{sub['id']}/rotate-secret", expect=200).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != sub["secret"]
    api.item()
    deliver(engine)
    (got,) = receiver.delivered()
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    got.verify(sub["secret"])
    got.verify(rotated["secret"])

    with unit_of_work(engine=engine) as session:
        session.execute(update(WebhookSubscription).values(previous_secret_expires_at=real_now()))
    api.item()
    deliver(engine)
    latest = receiver.delivered()[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    latest.verify(rotated["secret"])


def test_test_ping_goes_to_that_subscription_only(api, engine, receiver):
    sub = subscribe(api, receiver, "/a")
    subscribe(api, receiver, "/b")
    queued = api.post(f"/webhooks/{sub['id']}/test", expect=202).json()
    assert queued["event_type"] == "webhook.test" and queued["status"] == "pending"
    deliver(engine)
    (got,) = receiver.delivered()
    assert got.path == "/a" and got.json["type"] == "webhook.test"
    assert got.json["subject"] == f"webhooks/{sub['id']}" and got.json["specversion"] == "1.0"
    got.verify(sub["secret"])
    (d,) = deliveries(api, sub["id"])
    assert d["status"] == "delivered" and d["webhook_id"] == got.webhook_id


def test_attempts_are_recorded(api, engine, receiver, fast_retries):
    subscribe(api, receiver)
    receiver.plan("/hook", 500)
    api.item()
    deliver(engine)
    with unit_of_work(write=False, engine=engine) as session:
        rows = list(session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
    assert [a.status_code for a in rows] == [500, 200]
    assert all(a.duration_ms >= 0 and a.at.tzinfo is not None for a in rows)


def test_the_transport_never_dials_an_unpinned_host(receiver):
    async def go():
        async with httpx.AsyncClient(transport=PinnedTransport()) as client:
            with pytest.raises(httpx.HTTPError):
                await client.post(receiver.url(), content=b"{}")
            with pinned("example.invalid", receiver.port, "127.0.0.1"):
                r = await client.post(f"http://example.invalid:{receiver.port}/x", content=b"{}")
            return r

    assert asyncio.run(go()).status_code == 200
    (got,) = receiver.received()
    assert got.headers["host"] == f"example.invalid:{receiver.port}"


def test_a_claim_leases_the_delivery_for_the_configured_time(api, engine, receiver, monkeypatch):
    monkeypatch.setenv("RECTIFY_DELIVERY_LEASE_S", "25")
    get_settings.cache_clear()
    subscribe(api, receiver, events=["item.created"])
    api.item()
    with unit_of_work(engine=engine) as session:
        engine_module.fan_out(session, 100)
    moment = real_now()
    with unit_of_work(engine=engine) as session:
        jobs = engine_module.claim(session, 10, moment)
    assert len(jobs) == 1
    with unit_of_work(write=False, engine=engine) as session:
        (leased,) = session.scalars(select(WebhookDelivery)).all()
    assert leased.next_attempt_at == moment + timedelta(seconds=25)


def test_a_lease_shorter_than_a_send_can_take_is_refused(monkeypatch):
    monkeypatch.setenv("RECTIFY_DELIVERY_LEASE_S", "10")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="delivery_lease_s"):
        get_settings()
    get_settings.cache_clear()
