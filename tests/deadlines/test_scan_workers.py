"""Two scans at once split the work and fire every step exactly once (catching up:
only the highest due step fires, the passed ones are recorded as skipped)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sqlalchemy import select

from app.auth.models import Role
from app.auth.service import Caller
from app.db import unit_of_work
from app.deadlines.scan import run_scan
from app.items.models import HistoryEntry, Item
from app.items.schemas import ItemCreate, TransitionRequest
from app.items.service import new_item
from app.items.transitions import transition

SUPERVISOR = Caller(0, "sup", Role.supervisor)
UNIT = Caller(0, "unit", Role.unit, "court", "/court/")
N = 120


def test_two_concurrent_scans_fire_each_step_once(api, engine):
    api.unit("court", "法院")
    api.set_clock("2026-10-12T02:00:00Z")
    with unit_of_work(engine=engine) as s:
        for _ in range(N):
            item = new_item(s, SUPERVISOR, ItemCreate(title="逾期测试", source="audit"))
            transition(
                s,
                SUPERVISOR,
                item.id,
                TransitionRequest(action="assign", unit_code="court", due_date=date(2026, 10, 30)),
                None,
            )
            transition(s, UNIT, item.id, TransitionRequest(action="accept"), None)
    api.set_clock("2026-11-20T00:00:00Z")  # reminder, overdue, supervise and summon all due

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_scan(engine, batch=25), range(2)))

    total = {k: sum(r["fired"][k] for r in results) for k in results[0]["fired"]}
    assert total == {"overdue": 0, "reminder": 0, "summon": N, "supervise": 0}
    with unit_of_work(write=False, engine=engine) as s:
        entries = list(
            s.scalars(select(HistoryEntry).where(HistoryEntry.actor == "system:scheduler"))
        )
        assert len({e.item_id for e in entries}) == N and len(entries) == N
        assert all(e.data["skipped"] == ["reminder", "overdue", "supervise"] for e in entries)
        levels = set(s.scalars(select(Item.escalation_level)))
        assert levels == {3}
    assert run_scan(engine)["checked"] == 0
