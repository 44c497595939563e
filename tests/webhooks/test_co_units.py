"""A subscription scoped to a co-unit's subtree hears the item's events."""

from tests.webhooks.conftest import deliver, subscribe


def test_a_co_unit_subscription_receives_the_items_events(api, engine, receiver):
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("district", "某区人民政府")
    api.unit("district-a", "某区住建局", parent="district")
    api.unit("bureau", "市审计局")
    api.set_clock("2026-03-02T02:00:00Z")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    co = subscribe(api, receiver, "/district", unit_code="district")
    subscribe(api, receiver, "/bureau", unit_code="bureau")

    iid = api.item(sup)["id"]
    api.act(
        iid, "assign", sup, unit_code="court", due_date="2026-03-31", co_unit_codes=["district-a"]
    )
    api.act(iid, "accept", court)
    body = {
        "title": "住房保障资格复核",
        "kind": "deadline",
        "due_date": "2026-03-20",
        "unit_code": "district-a",
    }
    api.post(f"/items/{iid}/measures", json=body, token=sup, expect=201)
    deliver(engine)

    got = receiver.delivered("/district")
    assert [r.json["type"] for r in got] == [
        "item.transitioned",
        "item.assigned",
        "item.transitioned",
        "measure.created",
    ]  # item.created came before district-a was a co-unit
    assert {r.json["subject"] for r in got} == {f"items/{iid}"}
    created = got[-1].verify(co["secret"])
    assert created["data"]["measure"]["unit_code"] == "district-a"
    assert created["data"]["item"]["co_unit_codes"] == ["district-a"]
    assert receiver.delivered("/bureau") == []


def test_a_subscription_names_measure_events_like_an_items(api, engine, receiver):
    """API.md lists ``measure.*`` among the events: a subscription may name them, and
    hears only those it names."""
    api.unit("court", "市中级人民法院")
    api.set_clock("2026-03-02T02:00:00Z")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    events = ["measure.created", "measure.progress", "measure.completed", "measure.overdue"]
    created = subscribe(api, receiver, "/measures", events=events)
    assert created["events"] == events

    iid = api.item(sup)["id"]
    api.act(iid, "assign", sup, unit_code="court", due_date="2026-03-31")
    api.act(iid, "accept", court)
    body = {"title": "建立复核台账", "kind": "deadline", "due_date": "2026-03-20"}
    mid = api.post(f"/items/{iid}/measures", json=body, token=sup, expect=201).json()["id"]
    progress = {"comment": "已完成一半", "percent": 50}
    api.post(f"/items/{iid}/measures/{mid}/progress", json=progress, token=court, expect=201)
    deliver(engine)

    got = [r.json["type"] for r in receiver.delivered("/measures")]
    assert got == ["measure.created", "measure.progress"]
