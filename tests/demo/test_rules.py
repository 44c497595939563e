"""The whole demo city is valid under the engine's rules, though written in bulk.

Every history chain and its anchor verify, both workflows are in every state
and the ladder's lights and levels are all there, and the deadline scan run on
the loaded city finds nothing left to fire now, and the right things a day later.
"""

from collections import Counter

from sqlalchemy import text

from app.deadlines.scan import run_scan
from app.demo import load_demo
from app.workflow.registry import registry
from tests.ledger.conftest import CLOCK

NEXT_DAY = "2026-03-03T02:00:00Z"


def test_the_full_demo_verifies_and_covers_every_state_of_each_workflow(api, engine):
    api.set_clock(CLOCK)
    summary = load_demo(engine)
    assert summary.startswith("demo: loaded 87 units and 1173 items"), summary

    verified = api.get("/admin/history/verify", expect=200).json()
    assert verified == {"items": 1173, "ok": True, "broken": []}

    items = api.all_items()
    for name in ("rectification", "hotline"):
        states = {s.name for s in registry.latest(name).states}
        mine = [i for i in items if i["workflow"]["name"] == name]
        assert {i["state"] for i in mine} == states, name
    lights = Counter(i["light"] for i in items)
    assert set(lights) == {"green", "yellow", "red", "paused", "none"}, lights
    red = Counter(i["escalation_level"] for i in items if i["light"] == "red")
    assert {1, 2, 3} <= set(red)
    assert all(i["max_escalation_level"] >= i["escalation_level"] for i in items)

    hotline = [i for i in items if i["workflow"]["name"] == "hotline"]
    assert {i["satisfaction"] for i in hotline} >= {"satisfied", "basically_satisfied", None}
    assert any(i["redo_count"] for i in hotline) and any(i["duplicate_count"] for i in hotline)
    merged = [i for i in hotline if i["resolution"] == "duplicate"]
    assert merged and all(i["duplicate_of"] for i in merged)
    assert {i["resolution"] for i in items} >= {"rectified", "withdrawn", "duplicate", None}
    assert any(i["on_time"] is False for i in items) and any(i["on_time"] for i in items)
    # An open measure's unit is the item's lead or a co-unit (a reassign hands it over).
    with engine.connect() as conn:
        open_units = conn.execute(
            text("SELECT item_id, unit_code FROM measure WHERE status = 'open'")
        ).all()
    involved = {i["id"]: {i["unit_code"], *i["co_unit_codes"]} for i in items}
    assert open_units and [m for m in open_units if m.unit_code not in involved[m.item_id]] == []

    # Every step due by now was fired while the year played: the scan finds none.
    assert not any(run_scan(engine)["fired"].values())
    # A day later the scan fires what falls due that day, once: a second scan nothing.
    api.set_clock(NEXT_DAY)
    fired = run_scan(engine)["fired"]
    assert sum(fired.values()) > 0, fired
    assert not any(run_scan(engine)["fired"].values())
    assert api.get("/admin/history/verify", expect=200).json()["ok"] is True
