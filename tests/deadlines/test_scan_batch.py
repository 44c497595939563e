"""The scan's set work per batch gives what firing the items one by one gives.

Two identical groups of items, a mixed batch each: reminders, overdue,
ladder steps, a catch-up over the National Day holiday, a level already
reached by hand, a paused deadline, a measure going overdue, and (on
PostgreSQL) an item a request holds locked while the scan runs. Group B is
fired item by item with the single-item ladder (``fire_due_steps``, the
ORM path the scan used before); then the scan fires group A as a batch. The
two groups must end with the same item fields, the same history entries and
the same events, and every history chain and anchor must verify.
"""

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from app.db import is_postgres, unit_of_work
from app.deadlines.batch import WRITTEN
from app.deadlines.ladder import fire_due_steps
from app.deadlines.scan import run_scan
from app.deadlines.store import load_calendar
from app.events.models import Event
from app.items import history
from app.items.models import HistoryEntry, Item
from app.settings import get_settings
from app.workflow.registry import registry

CREATED = "2026-09-21T02:00:00Z"  # a Monday, before the National Day holiday
SCAN = "2026-11-06T16:00:00Z"
SCAN_AT = datetime(2026, 11, 6, 16, tzinfo=UTC)


def _group(api, sup, court) -> dict[str, int]:
    """One item of each kind; the keys name what the scan should find."""
    ids = {}

    def rectifying(name, due):
        iid = api.item(sup, title=f"整改 {name}")["id"]
        api.act(iid, "assign", sup, unit_code="court", due_date=due)
        api.act(iid, "accept", court)
        ids[name] = iid
        return iid

    rectifying("holiday_catch_up", "2026-09-30")  # every step passed across the holiday
    rectifying("supervise", "2026-10-30")
    rectifying("overdue", "2026-11-05")
    rectifying("reminder", "2026-11-10")
    rectifying("not_due", "2026-12-31")
    iid = rectifying("by_hand", "2026-10-30")
    api.post(f"/admin/items/{iid}/escalate", token=sup, json={"level": 2, "reason": "提级督办"})
    iid = ids["accept"] = api.item(sup, title="整改 accept")["id"]
    api.act(iid, "assign", sup, unit_code="court", due_date="2026-12-31")  # accept deadline runs
    iid = rectifying("paused", "2026-11-05")
    api.evidence(iid, court)
    api.act(iid, "submit", court, comment="已整改")
    iid = rectifying("measure", "2026-12-31")
    api.post(
        f"/items/{iid}/measures",
        json={"title": "完善制度", "kind": "deadline", "due_date": "2026-11-03"},
        token=sup,
        expect=201,
    )
    iid = ids["tags"] = api.item(sup, title="整改 tags", tags=["重点", "复查"])["id"]
    api.act(iid, "assign", sup, unit_code="court", due_date="2026-11-05")
    return ids


def _make_paused_due(engine, iid):
    """A paused item whose check came due (as a deadline change once left one):
    the scan only refreshes it."""
    with engine.begin() as c:
        c.execute(update(Item).where(Item.id == iid).values(next_check_at=SCAN_AT))


def _fire_one_by_one(engine, ids):
    with unit_of_work(engine=engine) as s:
        cal, tz = load_calendar(s), get_settings().tz
        for iid in sorted(ids):
            item = s.get(Item, iid)
            if item.next_check_at is None or item.next_check_at > SCAN_AT:
                continue
            wf = registry.get(item.workflow_name, item.workflow_version)
            fire_due_steps(s, item, wf, cal, tz, SCAN_AT)


def _same_across_groups(data: dict) -> dict:
    """Without the ids that differ between the two groups (a measure's)."""
    data = {k: v for k, v in data.items() if k != "measure_id"}
    if "measure" in data:
        data["measure"] = {k: v for k, v in data["measure"].items() if k not in {"id", "item_id"}}
    return data


def _outcome(s, iid) -> dict:
    item = s.get(Item, iid)
    fields = {
        name: getattr(item, name)
        for name in WRITTEN
        if name not in {"history_hash", "history_mac", "updated_at"}
    }
    entries = [
        (e.seq, e.actor, e.action, e.from_state, e.to_state, _same_across_groups(e.data))
        for e in history.entries(s, iid)
        if e.actor == "system:scheduler"
    ]
    events = []
    for e in s.scalars(select(Event).where(Event.item_id == iid).order_by(Event.id)):
        if e.time >= SCAN_AT:
            data = _same_across_groups(e.data)
            shown = {k: v for k, v in data.pop("item").items() if k not in {"id", "number"}}
            events.append((e.type, e.subject == f"items/{iid}", e.unit_code, data, shown))
    return {"fields": fields, "history": entries, "events": events}


def test_the_batch_scan_gives_what_firing_one_by_one_gives(api, engine):
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED)
    a, b = _group(api, sup, court), _group(api, sup, court)
    api.set_clock(SCAN)
    _make_paused_due(engine, a["paused"])
    _make_paused_due(engine, b["paused"])

    _fire_one_by_one(engine, b.values())
    result = api.post("/admin/scheduler/tick", expect=200).json()

    with unit_of_work(write=False, engine=engine) as s:
        for name in a:
            assert _outcome(s, a[name]) == _outcome(s, b[name]), name
        found = {name: _outcome(s, a[name]) for name in a}
        assert history.verify_all(s)["ok"]
    # The batch was mixed: every kind of step, a catch-up, a covered level, a pause.
    actions = {n: [h[2] for h in found[n]["history"]] for n in found}
    assert actions["holiday_catch_up"] == ["summon"]
    assert found["holiday_catch_up"]["history"][0][5]["skipped"] == [
        "reminder",
        "overdue",
        "supervise",
    ]
    assert actions["supervise"] == ["supervise"] and actions["overdue"] == ["overdue"]
    assert actions["reminder"] == ["reminder"] and actions["not_due"] == []
    assert actions["accept"] == ["overdue"]  # the accept ladder's last step
    assert "by hand" in found["by_hand"]["history"][0][5]["note"]
    assert [e[0] for e in found["by_hand"]["events"]] == []  # covered: no second notice
    assert found["paused"]["fields"]["light"] == "paused" and not found["paused"]["history"]
    assert found["paused"]["fields"]["next_check_at"] is None
    assert [e[0] for e in found["measure"]["events"]] == ["measure.overdue"]
    assert found["overdue"]["fields"]["was_overdue"] is True
    assert result["fired"]["measure.overdue"] == 2  # group B's measure was left to the scan too
    assert run_scan(engine)["checked"] == 0


def test_batches_of_two_give_what_firing_one_by_one_gives(api, engine):
    """Each batch starts after the last item of the one before (its ``next_check_at``,
    read on SQLite as the stored text, and id): nothing is fired twice or left out."""
    api.unit("court", "市中级人民法院")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED)
    a, b = _group(api, sup, court), _group(api, sup, court)
    api.set_clock(SCAN)
    _fire_one_by_one(engine, b.values())
    result = run_scan(engine, batch=2)
    assert result["checked"] >= 8 and sum(result["fired"].values()) >= 7
    with unit_of_work(write=False, engine=engine) as s:
        for name in a:
            assert _outcome(s, a[name]) == _outcome(s, b[name]), name
        assert history.verify_all(s)["ok"]
    assert run_scan(engine)["checked"] == 0


def test_an_item_locked_by_a_request_is_left_for_the_next_scan(api, engine):
    """PostgreSQL: SKIP LOCKED passes over a row a request holds; the next scan fires
    it, once. (SQLite has one writer: a scan waits for the request instead.)"""
    if not is_postgres_engine(engine):
        return
    api.unit("court", "市中级人民法院")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED)
    ids = _group(api, sup, court)
    api.set_clock(SCAN)
    held, release = threading.Event(), threading.Event()

    def hold():
        with engine.begin() as c:
            c.execute(text("SELECT id FROM item WHERE id = :id FOR UPDATE"), {"id": ids["overdue"]})
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    try:
        first = run_scan(engine)
    finally:
        release.set()
        holder.join()
    assert _scheduler_steps(engine, ids["overdue"]) == []  # passed over, not lost
    assert first["fired"]["summon"] == 1  # the rest of the batch fired
    second = run_scan(engine)
    assert {k: v for k, v in second["fired"].items() if v} == {"overdue": 1}
    assert _scheduler_steps(engine, ids["overdue"]) == ["overdue"]
    assert run_scan(engine)["checked"] == 0
    with unit_of_work(write=False, engine=engine) as s:
        assert history.verify_all(s)["ok"]


def _scheduler_steps(engine, iid) -> list[str]:
    with unit_of_work(write=False, engine=engine) as s:
        return s.scalars(
            select(HistoryEntry.action)
            .where(HistoryEntry.item_id == iid, HistoryEntry.actor == "system:scheduler")
            .order_by(HistoryEntry.seq)
        ).all()


def is_postgres_engine(engine) -> bool:
    with unit_of_work(write=False, engine=engine) as s:
        return is_postgres(s)


def test_a_batch_that_fails_to_write_writes_nothing(api, engine, monkeypatch):
    """A statement of the batch that fails (here: a history row already holds the seq an
    entry takes) fails the scan and leaves every item of the batch as it was, with no
    history and no event; on PostgreSQL the error comes back from the pipeline, a part
    of the batch after the first was sent."""
    from app.deadlines import batch as batch_module

    monkeypatch.setattr(batch_module, "PART", 2)
    api.unit("court", "市中级人民法院")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED)
    ids = _group(api, sup, court)
    api.set_clock(SCAN)
    due = [ids[name] for name in ("holiday_catch_up", "supervise", "overdue", "reminder")]
    with unit_of_work(engine=engine) as s:
        before = {iid: s.get(Item, iid).version for iid in due}
        events_before = s.scalar(select(func.count()).select_from(Event))
        blocked = s.get(Item, ids["reminder"])
        s.add(
            HistoryEntry(
                item_id=blocked.id,
                seq=blocked.history_seq + 1,
                at=SCAN_AT,
                actor="test",
                action="blocker",
                data={},
                prev_hash=blocked.history_hash,
                hash="0" * 64,
            )
        )
    with pytest.raises(IntegrityError):
        run_scan(engine)
    with unit_of_work(write=False, engine=engine) as s:
        assert {iid: s.get(Item, iid).version for iid in due} == before
        assert s.scalar(select(func.count()).select_from(Event)) == events_before
        assert _scheduler_steps(engine, ids["overdue"]) == []
    with engine.begin() as c:
        c.execute(text("DELETE FROM history_entry WHERE action = 'blocker'"))
    assert run_scan(engine)["fired"]["reminder"] == 1
    with unit_of_work(write=False, engine=engine) as s:
        assert history.verify_all(s)["ok"]


def test_a_batch_is_written_with_a_few_statements_whatever_its_steps(api, engine, monkeypatch):
    """Items of many shapes (steps, deadlines, levels, a pause) in one batch: the items,
    their history and their events are written with one statement each, not one per
    step or item (a catch-up after downtime mixes every step and due date)."""
    from app.deadlines import bulk

    sent: list[str] = []
    execute = bulk.Writer.execute

    def counted(self, sql, params):
        sent.append(sql.split()[0] + " " + sql.split()[2 if sql.startswith("INSERT") else 1])
        return execute(self, sql, params)

    monkeypatch.setattr(bulk.Writer, "execute", counted)
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED)
    ids = _group(api, sup, court)
    api.set_clock(SCAN)
    _make_paused_due(engine, ids["paused"])
    fired = run_scan(engine)["fired"]
    assert sum(fired.values()) >= 7 and len({k for k, v in fired.items() if v}) >= 4
    assert sorted(sent) == ["INSERT event", "INSERT history_entry", "UPDATE item", "UPDATE item"]


def test_a_batch_updates_only_the_columns_its_steps_move(api, engine, monkeypatch):
    """Reminders move neither the level nor the overdue flags: the batch's UPDATE leaves
    those columns (and their indexes) alone, and the items end as firing them one by one
    leaves them; a batch with a step that raises the level sets it."""
    from app.deadlines import bulk

    updates: list[str] = []
    execute = bulk.Writer.execute

    def seen(self, sql, params):
        if sql.startswith("UPDATE"):
            updates.append(sql.split(" WHERE ")[0])
        return execute(self, sql, params)

    monkeypatch.setattr(bulk.Writer, "execute", seen)
    api.unit("court", "市中级人民法院")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED)
    reminded = []
    for _ in range(3):
        iid = api.item(sup, title="整改 reminder")["id"]
        api.act(iid, "assign", sup, unit_code="court", due_date="2026-11-10")
        api.act(iid, "accept", court)
        reminded.append(iid)
    api.set_clock(SCAN)
    _fire_one_by_one(engine, reminded[:1])
    result = run_scan(engine)
    assert {k: v for k, v in result["fired"].items() if v} == {"reminder": 2}
    assert len(updates) == 1 and " light =" in updates[0] and " history_mac =" in updates[0]
    for name in ("escalation_level", "max_escalation_level", "was_overdue"):
        assert f" {name} =" not in updates[0]
    with unit_of_work(write=False, engine=engine) as s:
        for iid in reminded[1:]:
            assert _outcome(s, iid) == _outcome(s, reminded[0])
        assert [h[2] for h in _outcome(s, reminded[1])["history"]] == ["reminder"]

    updates.clear()
    api.set_clock(CREATED)
    _group(api, sup, court)
    api.set_clock(SCAN)  # a mixed batch: a summon, a supervise ... raise the level
    run_scan(engine)
    assert " escalation_level =" in updates[0]
