"""Properties of the ladder over random clocks and action sequences (hypothesis).

Clock jumps of up to 40 days make scans catch up; closure requests pause the
rectify deadline and rejections move it. After every scan: nothing is left
due, a repeated scan at the same moment adds nothing, and the scan sent at
most one ladder event for the item (one running deadline). Over the whole
history: no step fired (or was skipped) twice for one armed deadline, none
fired for a deadline that was not running then (another state, another due
date, or paused under review), none before its moment, and the honest record
never went back.
"""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.db import unit_of_work
from app.deadlines.schedule import is_paused, running_deadline, step_times
from app.deadlines.store import load_calendar
from app.events.models import Event
from app.items.models import HistoryEntry, Item
from app.settings import get_settings
from app.workflow.registry import registry

SYSTEM = "system:scheduler"
LADDER_EVENTS = ("item.reminder", "item.overdue", "item.escalated")
DEADLINE_OF_STATE = {"assigned": "accept", "rectifying": "rectify"}
PAUSING, RESUMING = {"submit"}, {"reject", "verify", "reassign"}
BASE = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=24 * 40)),
        st.tuples(
            st.just("act"),
            st.sampled_from(
                ["accept", "reassign", "extend", "submit", "reject", "finish", "reopen", "return"]
            ),
        ),
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture
def world(api):
    api.unit("city", "某市")
    api.unit("a", "甲单位", parent="city")
    api.unit("b", "乙单位", parent="city")
    return {"sup": api.key("supervisor"), "a": api.key("unit", "a"), "b": api.key("unit", "b")}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def history(engine, item_id: int) -> list[HistoryEntry]:
    with unit_of_work(write=False, engine=engine) as s:
        return list(
            s.scalars(
                select(HistoryEntry)
                .where(HistoryEntry.item_id == item_id)
                .order_by(HistoryEntry.seq)
            )
        )


def ladder_events(engine, item_id: int) -> int:
    with unit_of_work(write=False, engine=engine) as s:
        return s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.item_id == item_id, Event.type.in_(LADDER_EVENTS))
        )


def record(engine, item_id: int) -> tuple[int, bool]:
    with unit_of_work(write=False, engine=engine) as s:
        item = s.get(Item, item_id)
        return item.max_escalation_level, item.was_overdue


def check_nothing_left_due(engine, item_id: int, now: datetime) -> None:
    with unit_of_work(write=False, engine=engine) as s:
        item = s.get(Item, item_id)
        wf = registry.get(item.workflow_name, item.workflow_version)
        running = running_deadline(item, wf)
        if running is None or is_paused(item, running[0]):
            assert item.next_check_at is None
            assert item.light == ("paused" if running else "none")
            return
        times = step_times(wf, *running, load_calendar(s), get_settings().tz)
        due = [step.name for step, at in times if at <= now]
        assert item.ladder_fired >= len(due), (item.ladder_deadline, due, item.ladder_fired)
        pending = times[item.ladder_fired :]
        assert item.next_check_at == (pending[0][1] if pending else None)
        assert item.next_check_at is None or item.next_check_at > now


def check_history(entries: list[HistoryEntry]) -> None:
    """Replay the history: which deadline ran when, and what the ladder did to it."""
    dates: dict[str, str | None] = {"accept": None, "rectify": None}
    paused, arm, seen = False, 0, set()
    for e in entries:
        if "accept_due_date" in e.data:  # an entry that set a deadline
            dates = {"accept": e.data["accept_due_date"], "rectify": e.data["due_date"]}
            if "paused_workdays" not in e.data:  # a review-pause shift keeps the ladder
                arm, seen = arm + 1, set()
        paused = (paused or e.action in PAUSING) and e.action not in RESUMING
        if e.actor != SYSTEM:
            continue
        kind = e.data["deadline"]
        assert DEADLINE_OF_STATE.get(e.from_state) == kind, e
        assert not (paused and kind == "rectify"), f"fired under review: {e}"
        assert e.data["due_date"] == dates[kind], (e, dates)  # not after its deadline ended
        assert datetime.fromisoformat(e.data["scheduled_at"]) <= e.at
        names = [*e.data.get("skipped", []), e.action]
        assert not seen & set(names), f"step passed twice for one deadline: {e}"
        seen |= set(names)


def perform(api, world, iid: int, action: str, today: datetime) -> None:
    future = (today + timedelta(days=20)).date().isoformat()
    units = [world["a"], world["b"]]
    sup = world["sup"]
    if action == "accept":
        for tok in units:
            api.act(iid, "accept", tok, expect=None)
    elif action == "return":
        for tok in units:
            api.act(iid, "return", tok, expect=None, comment="非本单位职责")
        api.act(iid, "assign", sup, expect=None, unit_code="a")
    elif action == "reassign":
        api.act(iid, "reassign", sup, expect=None, unit_code="b", comment="改派")
    elif action == "extend":
        for tok in units:
            body = {"due_date": future, "reason": "申请延期"}
            r = api.post(f"/items/{iid}/extensions", token=tok, expect=None, json=body)
            if r.status_code == 201:
                approve = f"/items/{iid}/extensions/{r.json()['id']}/approve"
                api.post(approve, token=sup, json={}, expect=200)
    elif action in ("submit", "finish"):
        for tok in units:
            api.evidence(iid, tok, expect=None)
            api.act(iid, "submit", tok, expect=None, comment="整改完成")
        if action == "finish":
            api.act(iid, "verify", sup, expect=None)
            api.act(iid, "close", sup, expect=None)
    elif action == "reject":
        api.act(iid, "reject", sup, expect=None, comment="佐证不足，退回重整")
    elif action == "reopen":
        api.act(iid, "reopen", sup, expect=None, comment="回头看发现反弹", due_date=future)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(start_days=st.integers(0, 150), due_in=st.integers(0, 25), plan=steps)
def test_ladder_fires_each_step_once_only_while_its_deadline_runs(
    api, engine, world, start_days, due_in, plan
):
    now = BASE + timedelta(days=start_days)
    api.set_clock(iso(now))
    iid = api.item(world["sup"])["id"]
    due = (now + timedelta(days=due_in)).astimezone(get_settings().tz).date().isoformat()
    api.act(iid, "assign", world["sup"], unit_code="a", due_date=due)
    level, was_overdue = record(engine, iid)
    for kind, arg in plan:
        if kind == "act":
            perform(api, world, iid, arg, now)
        else:
            now += timedelta(hours=arg)
            api.set_clock(iso(now))
            events = ladder_events(engine, iid)
            api.post("/admin/scheduler/tick", expect=200)
            after = ladder_events(engine, iid)
            assert after - events <= 1  # at most one event per scan, item and deadline
            check_nothing_left_due(engine, iid, now)
            entries = len(history(engine, iid))
            api.post("/admin/scheduler/tick", expect=200)
            assert len(history(engine, iid)) == entries and ladder_events(engine, iid) == after
        new_level, new_was_overdue = record(engine, iid)
        assert new_level >= level and new_was_overdue >= was_overdue  # the record never goes back
        level, was_overdue = new_level, new_was_overdue
    check_history(history(engine, iid))
    assert api.get(f"/items/{iid}/history/verify", expect=200).json()["ok"] is True
