"""The /webhooks API: admin only, safe targets, known events, secrets shown once."""

import pytest

from app.settings import get_settings
from tests.webhooks.conftest import deliver, sqlite_only, subscribe

PUBLIC_FIELDS = {
    "id",
    "url",
    "events",
    "unit_code",
    "description",
    "enabled",
    "disabled_reason",
    "created_at",
}


@pytest.fixture
def no_allow_list(monkeypatch, engine):
    monkeypatch.setenv("RECTIFY_WEBHOOK_ALLOWED_NETWORKS", "")
    get_settings.cache_clear()


def test_create_shows_the_secret_once(api, receiver):
    api.unit("court")
    created = subscribe(
        api,
        receiver,
        events=["item.overdue", "item.escalated"],
        unit_code="court",
        description="法院OA对接",
    )
    assert set(created) == PUBLIC_FIELDS | {"secret"}
    assert created["secret"].startswith("whsec_") and len(created["secret"]) >= 6 + 32
    assert created["events"] == ["item.overdue", "item.escalated"]
    assert created["unit_code"] == "court" and created["description"] == "法院OA对接"
    assert created["enabled"] is True and created["disabled_reason"] is None

    one = api.get(f"/webhooks/{created['id']}", expect=200).json()
    assert set(one) == PUBLIC_FIELDS
    listed = api.get("/webhooks", expect=200).json()
    assert listed["count"] == 1 and "secret" not in listed["data"][0]
    assert subscribe(api, receiver)["secret"] != created["secret"]


def test_only_admins_manage_webhooks(api, receiver):
    sup = api.key("supervisor")
    body = {"url": receiver.url(), "events": ["*"]}
    api.post("/webhooks", json=body, token=sup, expect=403)
    api.get("/webhooks", token=sup, expect=403)
    api.get("/webhooks", token=None, expect=401)
    sub = subscribe(api, receiver)
    api.get(f"/webhooks/{sub['id']}/deliveries", token=sup, expect=403)
    api.post(f"/webhooks/{sub['id']}/rotate-secret", token=sup, expect=403)


@sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["item.overdue", "item.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"events": ["webhook.test"]}, "events"),
        ({"unit_code": "nowhere"}, "unit_code"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
    ],
)
def test_invalid_subscriptions_are_422(api, receiver, body, field):
    r = api.post("/webhooks", json={"url": receiver.url(), "events": ["*"], **body}, expect=422)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in r.json()["errors"]}


@sqlite_only
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "file:///etc/passwd",
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.1/hook",
    ],
)
def test_unsafe_targets_are_refused_without_the_allow_list(api, no_allow_list, url):
    r = api.post("/webhooks", json={"url": url, "events": ["*"]}, expect=422)
    (error,) = r.json()["errors"]
    assert error["field"] == "url" and error["message"]
    assert api.get("/webhooks", expect=200).json()["count"] == 0


def test_patch_edits_and_rechecks_the_target(api, receiver):
    sub = subscribe(api, receiver)
    path = f"/webhooks/{sub['id']}"
    got = api.patch(path, json={"events": ["item.closed"], "description": "x"}, expect=200).json()
    assert got["events"] == ["item.closed"] and got["description"] == "x"
    r = api.patch(path, json={"url": "http://169.254.169.254/latest"}, expect=422)
    assert r.json()["errors"][0]["field"] == "url"
    api.patch(path, json={"events": ["nope"]}, expect=422)
    api.patch(path, json={"enabled": None}, expect=422)
    for not_json_bool in (0, "false"):  # JSON's true/false only, as the schema says
        api.patch(path, json={"enabled": not_json_bool}, expect=422)
    got = api.patch(path, json={"enabled": False}, expect=200).json()
    assert got["enabled"] is False and got["disabled_reason"] == "disabled by an admin"
    assert api.get(path, expect=200).json()["url"] == receiver.url()


def test_delete_removes_the_subscription_and_its_deliveries(api, engine, receiver):
    sub = subscribe(api, receiver)
    api.item()
    deliver(engine)
    api.call("DELETE", f"/webhooks/{sub['id']}", expect=204)
    api.get(f"/webhooks/{sub['id']}", expect=404)
    api.get(f"/webhooks/{sub['id']}/deliveries", expect=404)
    api.call("DELETE", f"/webhooks/{sub['id']}", expect=404)
    api.item()
    assert deliver(engine)[0]["attempted"] == 0


def test_deliveries_page_newest_first(api, engine, receiver):
    sub = subscribe(api, receiver, events=["item.created"])
    for _ in range(5):
        api.item()
    deliver(engine)
    path = f"/webhooks/{sub['id']}/deliveries"
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(path, params=params, expect=200).json()
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [d["id"] for d in seen]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True)
    assert set(seen[0]) >= {
        "id",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "created_at",
    }
    assert api.get(path, params={"status": "failed"}, expect=200).json()["data"] == []
    api.get(path, params={"cursor": "garbage"}, expect=400)
    api.get(f"{path}/999999", expect=404)
    api.post(f"{path}/999999/redeliver", expect=404)
    api.get("/webhooks/999999/deliveries", expect=404)
