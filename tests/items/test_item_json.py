"""``public_json`` builds the item's public JSON without the pydantic model: it must be
exactly what ``ItemPublic`` makes of the item (the same dict, the same key order),
for every field type, set or null, on both backends; ``item_json_text`` (its events'
text) the same JSON's text."""

import json
from datetime import UTC, date, datetime

import pytest

from app.auth.models import Role
from app.auth.service import Caller
from app.db import json_text, unit_of_work
from app.items.models import Item, Light, Satisfaction, Severity, Source
from app.items.schemas import public_json, to_public
from app.items.writer import get_item, item_json_text
from tests.factories import ITEM_STATES, make_world

SUPERVISOR = Caller(0, "sup", Role.supervisor)


def _assert_same(item) -> None:
    expected = to_public(item).model_dump(mode="json")
    built = public_json(item)
    assert built == expected
    assert list(built) == list(expected)
    assert json.dumps(built, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    # the text its events carry: the same bytes as encoding the dict (enum members,
    # moments, lists and nulls of an item in memory included)
    assert item_json_text(item) == json_text(expected)


def _item(**columns) -> Item:
    base = dict(
        id=7,
        number="2026-000007",
        title="台账不规范",
        source=Source.audit,
        state="rectifying",
        workflow_name="rectification",
        workflow_version=1,
        created_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
        updated_at=datetime(2026, 3, 2, 2, 0, 0, 120000, tzinfo=UTC),
    )
    return Item(**{**base, **columns})


def test_every_field_set():
    _assert_same(
        _item(
            description="说明",
            category="征地",
            severity=Severity.high,
            unit_code="court",
            campaign="2026春季",
            review_pending=True,
            resolution="rectified",
            due_date=date(2026, 3, 31),
            accept_due_date=date(2026, 3, 5),
            light=Light.red,
            escalation_level=2,
            max_escalation_level=3,
            was_overdue=True,
            on_time=False,
            version=9,
            tags=["拆迁", "补偿"],
            external_ref="EXT-1",
            closed_at=datetime(2026, 4, 1, 8, 30, 15, 999999, tzinfo=UTC),
            co_unit_codes=["district", "city"],
            responsible_person="张三",
            responsible_leader="李四",
            measures_total=5,
            measures_open=1,
            measures_done=2,
            measures_ongoing=1,
            measures_overdue=1,
            type="complaint",
            satisfaction=Satisfaction.dissatisfied,
            redo_count=1,
            duplicate_of=3,
            duplicate_count=2,
        )
    )


def test_optional_fields_null_and_values_as_stored():
    """Nulls stay null; enum columns read back as plain strings (as stored)."""
    _assert_same(_item(source="inspection", severity="low", light="green", on_time=None))


@pytest.mark.parametrize("state", ITEM_STATES)
def test_items_as_the_database_returns_them(api, engine, state):
    world = make_world(api)
    iid = world.item_in(state, tags=["台账"])["id"]
    with unit_of_work(write=False, engine=engine) as session:
        _assert_same(get_item(session, SUPERVISOR, iid))
