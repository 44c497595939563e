"""Properties of the ladder over random clocks and action sequences (hypothesis).

After every scan: each item has fired exactly the steps due by now for its
running deadline (none skipped), a scan fires each step once (a repeated scan
at the same moment adds nothing), and no ladder entry was written for a state
without that deadline.
"""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.db import unit_of_work
from app.deadlines.schedule import running_deadline, step_times
from app.deadlines.store import load_calendar
from app.items.models import HistoryEntry, Item
from app.settings import get_settings
from app.workflow.registry import registry

LADDER = {"reminder", "overdue", "supervise", "summon"}
DEADLINE_OF_STATE = {"assigned": "accept", "rectifying": "rectify"}
BASE = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=24 * 12)),
        st.tuples(
            st.just("act"),
            st.sampled_from(["accept", "reassign", "extend", "finish", "reopen", "return"]),
        ),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def world(api):
    api.unit("city", "某市")
    api.unit("a", "甲单位", parent="city")
    api.unit("b", "乙单位", parent="city")
    return {"sup": api.key("supervisor"), "a": api.key("unit", "a"), "b": api.key("unit", "b")}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ladder_entries(engine, item_id: int) -> list[HistoryEntry]:
    with unit_of_work(write=False, engine=engine) as s:
        rows = s.scalars(
            select(HistoryEntry).where(HistoryEntry.item_id == item_id).order_by(HistoryEntry.seq)
        )
        return [h for h in rows if h.action in LADDER]


def check_none_skipped(engine, item_id: int, now: datetime) -> None:
    with unit_of_work(write=False, engine=engine) as s:
        item = s.get(Item, item_id)
        wf = registry.get(item.workflow_name, item.workflow_version)
        running = running_deadline(item, wf)
        if running is None:
            assert item.next_check_at is None
            return
        times = step_times(wf, running[1], load_calendar(s), get_settings().tz)
        due = [step.name for step, at in times if at <= now]
        assert item.ladder_fired == len(due), (item.ladder_deadline, due, item.ladder_fired)


def perform(api, world, iid: int, action: str, today: datetime) -> None:
    future = (today + timedelta(days=20)).date().isoformat()
    unit_tokens = [world["a"], world["b"]]
    if action == "accept":
        for tok in unit_tokens:
            api.act(iid, "accept", tok, expect=None)
    elif action == "return":
        for tok in unit_tokens:
            api.act(iid, "return", tok, expect=None, comment="非本单位职责")
        api.act(iid, "assign", world["sup"], expect=None, unit_code="a")
    elif action == "reassign":
        api.act(iid, "reassign", world["sup"], expect=None, unit_code="b", comment="改派")
    elif action == "extend":
        for tok in unit_tokens:
            r = api.post(
                f"/items/{iid}/extensions",
                token=tok,
                expect=None,
                json={"due_date": future, "reason": "申请延期"},
            )
            if r.status_code == 201:
                api.post(
                    f"/items/{iid}/extensions/{r.json()['id']}/approve",
                    token=world["sup"],
                    json={},
                    expect=200,
                )
    elif action == "finish":
        for tok in unit_tokens:
            api.evidence(iid, tok, expect=None)
            api.act(iid, "submit", tok, expect=None, comment="整改完成")
        api.act(iid, "verify", world["sup"], expect=None)
        api.act(iid, "close", world["sup"], expect=None)
    elif action == "reopen":
        api.act(iid, "reopen", world["sup"], expect=None, comment="回头看发现反弹", due_date=future)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(start_days=st.integers(0, 150), due_in=st.integers(0, 25), plan=steps)
def test_ladder_fires_each_due_step_once_and_only_in_deadline_states(
    api, engine, world, start_days, due_in, plan
):
    now = BASE + timedelta(days=start_days)
    api.set_clock(iso(now))
    iid = api.item(world["sup"])["id"]
    due = (now + timedelta(days=due_in)).astimezone(get_settings().tz).date().isoformat()
    api.act(iid, "assign", world["sup"], unit_code="a", due_date=due)
    for kind, arg in plan:
        if kind == "act":
            perform(api, world, iid, arg, now)
            continue
        now += timedelta(hours=arg)
        api.set_clock(iso(now))
        before = len(ladder_entries(engine, iid))
        api.post("/admin/scheduler/tick", expect=200)
        after = len(ladder_entries(engine, iid))
        check_none_skipped(engine, iid, now)
        api.post("/admin/scheduler/tick", expect=200)
        assert len(ladder_entries(engine, iid)) == after >= before  # nothing fires twice
    for entry in ladder_entries(engine, iid):
        assert DEADLINE_OF_STATE.get(entry.from_state) == entry.data["deadline"], entry
    assert api.get(f"/items/{iid}/history/verify", expect=200).json()["ok"] is True
