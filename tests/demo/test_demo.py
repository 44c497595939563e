"""The demo: the city's proportions, a year of plausible history, reports that add up."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.deadlines.calendar import WorkdayCalendar
from app.demo import data as demo_data
from app.demo import load_demo
from app.demo.plan import OUTCOMES, Planner, joint_campaigns
from app.settings import get_settings
from tests.ledger.conftest import CLOCK, sheet_rows

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MEASURES = ("total", "open", "closed", "rectified", "overdue")


@pytest.fixture(scope="module")
def year():
    return Planner(2024, WorkdayCalendar(), get_settings().tz, NOW).items()


def test_the_year_has_the_citys_proportions(year):
    assert Counter(p.source for p in year) == {
        "inspection": 512,
        "assessment": 94,
        "hotline": 136,
        "talk": 33 + 255,
        "petition": 80,
        "audit": 6,
        "analysis": 20,
        "other": 37,
    }
    talks = Counter(p.campaign for p in year if p.source == "talk")
    assert talks == {"述责述廉问题交办": 33, "一把手谈话": 255}
    assert Counter(p.campaign for p in year)["重点项目专项监督"] == 94
    projects = joint_campaigns()
    assert len(set(projects)) == 100
    assert {p.campaign for p in year if p.source == "inspection"} <= set(projects)
    outcomes = Counter(p.outcome for p in year)
    outcomes["found"] += outcomes["merged"]  # repeat calls: new orders merged into earlier ones
    assert outcomes["closed"] > len(year) / 2
    for outcome, n in OUTCOMES.items():
        assert outcomes[outcome] >= n - 1, outcome
    road = next(p for p in year if p.source == "audit")
    assert (road.unit, road.outcome) == ("gaoxin", "overdue_3") and "高新区道路" in road.title


def test_hotline_orders_have_types_callbacks_redos_and_duplicates(year):
    orders = [p for p in year if p.source == "hotline"]
    assert {p.type for p in orders} == {"complaint", "report", "suggestion", "help", "consult"}
    assert all(p.type is None for p in year if p.source != "hotline")
    results = Counter(
        s.fields["satisfaction"] for p in orders for s in p.steps if s.action == "callback"
    )
    assert results["satisfied"] > sum(results.values()) / 2 and results["dissatisfied"] >= 2
    assert not any(s.action == "close" for p in orders for s in p.steps)
    merged = [p for p in orders if p.outcome == "merged"]
    assert merged and all(p.steps[-1].action == "merge" for p in merged)


def test_every_step_is_in_the_past_year_in_order(year):
    for plan in year:
        times = [s.at for s in plan.steps]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert NOW - timedelta(days=366) < times[0] and times[-1] < NOW
        assert plan.steps[0].action == "create"


def test_units_form_two_levels_with_the_named_bodies():
    top = demo_data.COUNTIES + demo_data.DEPARTMENTS
    codes = [c for c, _ in top] + [c for c, _, _ in demo_data.SUBUNITS]
    assert len(codes) == len(set(codes)) == 87 and len(demo_data.COUNTIES) == 15
    assert {p for _, _, p in demo_data.SUBUNITS} <= {c for c, _ in top}
    names = {n for _, n in top}
    assert "高新技术产业开发区" in names
    assert {"市中级人民法院", "市审计局", "市委组织部", "市城市建设投资集团有限公司"} <= names


def _hand_count(items: list[dict], today: date) -> dict:
    rectified = [i for i in items if i["closed_at"] and i["resolution"] == "rectified"]
    was_due = [
        i
        for i in items
        if i["resolution"] != "withdrawn"
        and (i in rectified or (i["due_date"] and date.fromisoformat(i["due_date"]) < today))
    ]
    dated = [i for i in rectified if i["due_date"]]
    assert all(i["on_time"] is not None for i in dated)
    assert all(i["on_time"] is None for i in items if i not in dated)
    on_time = [i for i in dated if i["on_time"]]  # request in time, rectify deadline never red
    return {
        "total": len(items),
        "by_state": Counter(i["state"] for i in items),
        "closed": sum(1 for i in items if i["closed_at"]),
        "rectified": len(rectified),
        "overdue": sum(1 for i in items if i["light"] == "red"),
        "rectification_rate": round(len(rectified) / len(was_due), 4),
        "on_time_rate": round(len(on_time) / len(dated), 4),
    }


def test_demo_loads_and_its_reports_add_up(api, engine):
    api.set_clock(CLOCK)
    message = load_demo(engine, scale=0.12)
    assert message.startswith("demo: loaded 87 units and 140 items")
    assert load_demo(engine) == "demo: the database is not empty; nothing loaded"
    assert api.get("/admin/clock", expect=200).json()["now"] == "2026-03-02T02:00:00Z"
    assert get_settings().test_clock is True

    items = api.all_items()
    summary = api.get("/reports/summary", expect=200).json()
    assert sum(summary["by_state"].values()) == summary["total"] == len(items) == 140
    expected = _hand_count(items, date(2026, 3, 2))
    assert {k: summary[k] for k in expected if k != "by_state"} == {
        k: v for k, v in expected.items() if k != "by_state"
    }
    assert summary["by_state"] == {**dict.fromkeys(summary["by_state"], 0), **expected["by_state"]}
    assert summary["open"] == summary["total"] - summary["closed"]
    rows = api.get("/reports/units", expect=200).json()["data"]
    assert len([r for r in rows if r["unit_code"]]) == 87
    for key in MEASURES:
        assert sum(r[key] for r in rows) == summary[key], key

    red = Counter(i["escalation_level"] for i in items if i["light"] == "red")
    assert {1, 2, 3} <= set(red)
    assert summary["by_state"]["closed"] > len(items) / 2
    assert {"found", "assigned", "rectifying", "verified"} <= {
        s for s, n in summary["by_state"].items() if n
    }
    assert any(i["review_pending"] for i in items)

    actions = Counter()
    for item in items:
        assert api.get(f"/items/{item['id']}/history/verify").json()["ok"] is True
        history = api.get(f"/items/{item['id']}/history").json()["data"]
        actions.update(h["action"] for h in history)
        times = [h["at"] for h in history]
        assert times == sorted(times) and times[-1] < "2026-03-02T02:00:00Z"
    assert {"reopen", "reject", "return", "overdue", "supervise", "summon"} <= set(actions)

    ledger = sheet_rows(api.get("/items/export", expect=200).content)
    assert len(ledger) == 141

    # plans: inspection and audit findings with co-units and 2-5 measures each
    planned = [i for i in items if i["measures_summary"]["total"]]
    assert planned and {i["source"] for i in planned} <= {"inspection", "audit"}
    assert all(2 <= i["measures_summary"]["total"] <= 5 and i["co_unit_codes"] for i in planned)
    assert all(not i["measures_summary"]["open"] for i in planned if i["review_pending"])
    kinds, statuses, reports = Counter(), Counter(), 0
    for item in planned:
        for m in api.get(f"/items/{item['id']}/measures").json()["data"]:
            kinds[m["kind"]] += 1
            statuses[m["status"], m["light"]] += 1
            assert m["unit_code"] in [item["unit_code"], *item["co_unit_codes"]]
            reports += m["latest_progress"] is not None
    assert set(kinds) == {"immediate", "deadline", "long_term"}
    assert statuses["ongoing", "none"] and statuses["done", "none"] and statuses["open", "red"]
    assert reports > len(planned)
    assert {"measure_create", "measure_progress", "measure_complete", "measure_overdue"} <= set(
        actions
    )
    assert summary["measures"]["total"] == sum(i["measures_summary"]["total"] for i in items)

    # rows written from the year's final values: the co-unit index rows mirror the
    # lists, and each item's newest evidence is the one the fresh-evidence rule reads
    with engine.connect() as conn:
        links = set(conn.execute(text("SELECT item_id, unit_code FROM item_co_unit")).all())
        newest = dict(
            conn.execute(text("SELECT item_id, max(id) FROM evidence GROUP BY item_id")).all()
        )
        latest = dict(conn.execute(text("SELECT id, evidence_latest FROM item")).all())
    assert links == {(i["id"], c) for i in items for c in i["co_unit_codes"]}
    assert links and newest
    assert latest == {i["id"]: newest.get(i["id"], 0) for i in items}
