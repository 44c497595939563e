"""The happy path over HTTP, as a front end drives it."""

import pytest


@pytest.fixture
def world(api):
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.set_clock("2026-03-02T02:00:00Z")
    return {
        "sup": api.key("supervisor"),
        "unit": api.key("unit", "court"),
        "viewer": api.key("viewer"),
    }


def test_full_lifecycle_round_trips_chinese_and_chains_history(api, world):
    item = api.item(
        world["sup"], title="征地拆迁补偿款发放不及时", description="群众反映：补偿款拖欠三个月"
    )
    assert item["state"] == "found" and item["number"].startswith("2026-")
    assert item["title"] == "征地拆迁补偿款发放不及时"
    iid = item["id"]

    r = api.act(iid, "assign", world["sup"], unit_code="court", due_date="2026-03-31")
    assert r.json()["state"] == "assigned" and r.json()["accept_due_date"] == "2026-03-05"
    assert r.headers["etag"] == '"2"'
    assert api.act(iid, "accept", world["unit"]).json()["state"] == "rectifying"
    api.evidence(iid, world["unit"])
    r = api.act(iid, "submit", world["unit"], comment="已全部发放到位")
    assert r.json()["review_pending"] is True
    r = api.act(iid, "verify", world["sup"])
    assert r.json()["state"] == "verified" and r.json()["review_pending"] is False
    r = api.act(iid, "close", world["sup"])
    body = r.json()
    assert body["state"] == "closed" and body["resolution"] == "rectified" and body["closed_at"]

    hist = api.get(f"/items/{iid}/history", expect=200).json()["data"]
    assert [h["action"] for h in hist] == [
        "create",
        "assign",
        "accept",
        "evidence",
        "submit",
        "verify",
        "close",
    ]
    assert [h["seq"] for h in hist] == list(range(1, 8))
    assert api.get(f"/items/{iid}/history/verify", expect=200).json() == {
        "ok": True,
        "entries": 7,
        "broken_seq": None,
    }
