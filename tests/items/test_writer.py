"""The item writer: one change is one version step, its history entry is on the chain
the written row carries, its events carry the item as written; a block that raises
has appended and bumped nothing."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import now
from app.db import unit_of_work
from app.errors import NotFound
from app.events.models import Event
from app.items import history
from app.items.models import Item
from app.items.schemas import ItemCreate
from app.items.service import new_item
from app.items.writer import change, column_values, get_item, get_item_as, get_item_to_change
from app.units.models import Unit

SUPERVISOR = Caller(0, "sup", Role.supervisor)


@pytest.fixture
def item_id(api, engine) -> int:
    """An item in ``found`` (the app, loaded by ``api``, holds the workflows)."""
    with unit_of_work(engine=engine) as s:
        return new_item(s, SUPERVISOR, ItemCreate(title="台账不规范", source="audit")).id


@pytest.mark.parametrize("write", ["update", "flush"])
def test_a_change_is_one_version_its_entry_and_its_events(engine, item_id, write):
    with unit_of_work(engine=engine) as s:
        item = get_item(s, SUPERVISOR, item_id, lock=True)
        version, seq = item.version, item.history_seq
        with change(s, item, at=now(s), write=write) as edit:
            item.title = "台账已规范"
            edit.record("edit", actor="tester", data={"changed": {"title": "台账已规范"}})
            edit.emit("item.escalated", level=1)
            edit.emit("item.urged")
        assert item.version == version + 1 and item.history_seq == seq + 1

    with unit_of_work(write=False, engine=engine) as s:
        row = s.get(Item, item_id)
        assert (row.title, row.version, row.history_seq) == ("台账已规范", version + 1, seq + 1)
        assert history.verify(s, row) == (True, seq + 1, None)
        last = history.entries(s, item_id)[-1]
        assert (last.action, last.from_state, last.to_state) == ("edit", "found", "found")
        events = list(s.scalars(select(Event).where(Event.item_id == item_id).order_by(Event.id)))
        assert [e.type for e in events] == ["item.created", "item.escalated", "item.urged"]
        assert {e.data["item"]["version"] for e in events[1:]} == {version + 1}
        assert events[1].data["level"] == 1


def test_a_block_that_raises_appends_and_bumps_nothing(engine, item_id):
    with unit_of_work(engine=engine) as s:
        item = get_item(s, SUPERVISOR, item_id, lock=True)
        version = item.version
        with pytest.raises(RuntimeError), change(s, item, at=now(s)) as edit:
            edit.record("edit", actor="tester")
            edit.emit("item.urged")
            raise RuntimeError("refused half-way")
        assert item.version == version
        assert history.count(s, item_id) == 1  # the creation only


def test_an_item_changed_twice_in_one_transaction_keeps_one_chain(engine, item_id):
    with unit_of_work(engine=engine) as s:
        item = get_item(s, SUPERVISOR, item_id, lock=True)
        for n in (1, 2):
            with change(s, item, at=now(s), write="flush") as edit:
                item.tags = [f"第{n}次"]
                edit.record("edit", actor="tester", data={"n": n})
    with unit_of_work(write=False, engine=engine) as s:
        row = s.get(Item, item_id)
        assert row.version == 3 and row.tags == ["第2次"]
        assert history.verify(s, row) == (True, 3, None)


def test_a_flushed_change_of_an_item_an_update_let_go_is_refused_before_it_records(engine, item_id):
    """The bug class behind a broken chain: a ``write="update"`` change writes the row
    and lets the item go; a ``flush`` change of that copy would append history that the
    row's head never follows."""
    with unit_of_work(engine=engine) as s:
        item = get_item(s, SUPERVISOR, item_id, lock=True)
        with change(s, item, at=now(s)) as edit:
            edit.record("edit", actor="tester")
        let_go = pytest.raises(RuntimeError, match="does not hold")
        with let_go, change(s, item, at=now(s), write="flush") as edit:
            edit.record("edit", actor="tester")
    with unit_of_work(write=False, engine=engine) as s:
        row = s.get(Item, item_id)
        assert history.verify(s, row) == (True, 2, None)


def test_one_history_entry_per_change(engine, item_id):
    with unit_of_work(engine=engine) as s:
        item = get_item(s, SUPERVISOR, item_id, lock=True)
        twice = pytest.raises(RuntimeError, match="one history entry")
        with twice, change(s, item, at=now(s)) as c:
            c.record("edit", actor="tester")
            c.record("edit", actor="tester")


def test_a_write_the_database_refuses_is_sqlalchemys_error_and_writes_nothing(engine, item_id):
    """An update's writes go out together (on PostgreSQL in one pipeline, whose error
    comes at its end, outside SQLAlchemy): the error is still SQLAlchemy's -- what the
    error handlers know (an outage's OperationalError is a 503) -- and the
    transaction writes nothing."""
    with pytest.raises(IntegrityError), unit_of_work(engine=engine) as s:
        item = get_item(s, SUPERVISOR, item_id, lock=True)
        item.history_seq -= 1  # the next entry's seq is taken: (item_id, seq) is unique
        with change(s, item, at=now(s)) as edit:
            item.title = "台账已规范"
            edit.record("edit", actor="tester")
            edit.emit("item.urged")
    with unit_of_work(write=False, engine=engine) as s:
        row = s.get(Item, item_id)
        assert (row.title, row.version) == ("台账不规范", 1)
        assert history.count(s, item_id) == 1
        assert s.scalars(select(Event.type).where(Event.item_id == item_id)).all() == [
            "item.created"
        ]


def test_an_item_loaded_to_change_is_the_orm_load_outside_the_session(api, engine):
    """``get_item_to_change`` (the transition's load, through Core) gives what the ORM's
    locked load gives -- every column, the lead flag by scope, 404 out of scope -- as an
    item outside the session, which a change then writes by its one UPDATE."""
    lead, co, other = (api.unit()["code"] for _ in range(3))
    with unit_of_work(engine=engine) as s:
        lead_path, co_path, other_path = (s.get(Unit, code).path for code in (lead, co, other))
    iid = api.item()["id"]
    api.act(iid, "assign", unit_code=lead, co_unit_codes=[co], due_date="2027-03-31")
    callers = {
        "admin": (Caller(0, "sup", Role.supervisor), True),
        "lead": (Caller(0, "u", Role.unit, lead, lead_path), True),
        "co": (Caller(0, "u", Role.unit, co, co_path), False),
    }
    for name, (caller, is_lead) in callers.items():
        with unit_of_work(engine=engine) as s:
            item, lead_flag = get_item_to_change(s, caller, iid)
            assert item not in s, name
            loaded, orm_lead = get_item_as(s, caller, iid, lock=True)
            assert (lead_flag, orm_lead) == (is_lead, is_lead), name
            assert column_values(item) == column_values(loaded), name
    stranger = Caller(0, "u", Role.unit, other, other_path)
    with unit_of_work(engine=engine) as s, pytest.raises(NotFound):
        get_item_to_change(s, stranger, iid)

    with unit_of_work(engine=engine) as s:
        item, _ = get_item_to_change(s, SUPERVISOR, iid)
        with change(s, item, at=now(s)) as edit:
            item.title = "台账已规范"
            edit.record("edit", actor="tester", data={"changed": {"title": "台账已规范"}})
    with unit_of_work(engine=engine) as s:
        stored = s.get(Item, iid)
        assert (stored.title, stored.version) == ("台账已规范", item.version)
        assert history.verify(s, stored)[0]
