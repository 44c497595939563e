"""The scan's batch writes the bytes the single-item path writes.

The batch renders each event's item (``fast_json.item_text``), the history
hashes (``history.chain_hasher``) and the columns' stored forms itself, not
through pydantic, ``history.append`` and ``outbox.emit``; these tests hold
each of those equal to the path it replaces, on varied items, and the stored
text of a batch's rows equal to what the single-item path stores.
"""

import time
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Text, cast, select, text

from app.db import json_text, unit_of_work
from app.deadlines import batch as batch_module
from app.deadlines.batch import LISTS
from app.events.outbox import _event_id, event_ids
from app.items.anchor import head_mac, head_macs
from app.items.fast_json import FIELDS, item_text
from app.items.history import GENESIS, chain_hasher, compute_hash
from app.items.models import Item
from app.items.schemas import ItemPublic
from app.items.writer import item_json
from tests.deadlines.test_scan_batch import (
    CREATED,
    SCAN,
    _fire_one_by_one,
    _group,
    _make_paused_due,
)

AT = datetime(2026, 11, 6, 16, 0, 0, 120000, tzinfo=UTC)


def test_the_fields_are_the_public_models():
    assert tuple(name for name, _kind in FIELDS) == tuple(ItemPublic.model_fields)


def _item(**values) -> Item:
    base = {
        "id": 7,
        "number": "ZG-7",
        "title": "整改",
        "description": "",
        "source": "audit",
        "severity": "normal",
        "state": "rectifying",
        "workflow_name": "rectification",
        "workflow_version": 1,
        "light": "yellow",
        "created_at": datetime(2026, 9, 21, 2, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 6, 16, tzinfo=UTC),
    }
    return Item(**{**base, **values})


ODD_ITEMS = [
    {},
    {
        "title": 'quotes " and \\ back\\slash, tab\t, newline\n, \x01 control, 表情 😀',
        "description": "多行\r\n说明 </script>",
        "category": "财务",
        "unit_code": "court",
        "campaign": "巡视 2026",
        "review_pending": True,
        "resolution": "rectified",
        "due_date": date(2026, 12, 31),
        "accept_due_date": date(2026, 10, 1),
        "escalation_level": 2,
        "max_escalation_level": 3,
        "was_overdue": True,
        "on_time": False,
        "version": 12,
        "tags": ["重点", 'a "tag"', "x"],
        "external_ref": "EXT-1",
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 2, 3, 4, 5, 400000, tzinfo=UTC),
        "closed_at": datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC),
        "co_unit_codes": ["district", "bureau"],
        "responsible_person": "张三",
        "responsible_leader": "李四",
        "measures_total": 5,
        "measures_open": 1,
        "measures_done": 2,
        "measures_ongoing": 1,
        "measures_overdue": 1,
        "type": "complaint",
        "satisfaction": "basically_satisfied",
        "redo_count": 2,
        "duplicate_of": 3,
        "duplicate_count": 4,
        "light": "red",
        "source": "hotline",
        "severity": "critical",
        "workflow_name": "hotline",
        "workflow_version": 3,
    },
    {"on_time": True, "light": "paused", "review_pending": False, "tags": ["只有一个"]},
    {"light": "none", "id": 2_147_483_647, "number": "ZG-2147483647", "title": "x" * 500},
]


def test_item_text_is_the_json_of_item_json_for_varied_items():
    for values in ODD_ITEMS:
        item = _item(**values)
        row = [getattr(item, c.name) for c in Item.__table__.c]
        assert item_text(row) == json_text(item_json(item)), values
        as_text = [  # a SQLite row of the batch: the list columns as their JSON text
            json_text(v) if c.name in {"tags", "co_unit_codes"} else v
            for c, v in zip(Item.__table__.c, row, strict=True)
        ]
        assert item_text(as_text) == json_text(item_json(item)), values


def test_item_text_of_stored_items_is_the_json_of_item_json(api, engine):
    """Items as the API made them, read as the scan reads them (all columns: the scan
    leaves out some that item_text does not show and one that it sets)."""
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("district", "某区")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED)
    ids = _group(api, sup, court)
    api.patch(
        f"/items/{ids['tags']}",
        json={"responsible_person": "张三", "category": "财务", "campaign": "巡视"},
        token=sup,
        expect=200,
    )
    api.patch(f"/items/{ids['reminder']}", json={"co_unit_codes": ["district"]}, expect=200)
    with unit_of_work(write=False, engine=engine) as s:
        columns = [cast(c, Text) if c.name in LISTS else c for c in Item.__table__.c]
        rows = s.connection().execute(select(*columns).where(Item.id.in_(ids.values())))
        for row in rows.all():
            assert item_text(row) == json_text(item_json(s.get(Item, row.id))), row.id


ENTRIES = [
    {"action": "reminder", "from_state": "rectifying", "to_state": "rectifying", "data": {}},
    {
        "action": "summon",
        "from_state": "accepted",
        "to_state": "accepted",
        "comment": '注释 "quoted" {braces} {item_id} \n',
        "data": {
            "deadline": "rectify",
            "due_date": "2026-09-30",
            "skipped": ["reminder", "overdue", "督办"],
            "note": "{seq} {prev_hash} \\",
            "when": date(2026, 1, 1),  # not JSON: written by ``default=str``
        },
    },
    {"action": "x", "from_state": None, "to_state": None, "data": {"n": "\x00seq"}},
]


def test_chain_hasher_is_compute_hash():
    heads = [(1, 1, GENESIS), (2_147_483_647, 12345, "ab" * 32), (3, 2, 'odd "head"'), (4, 9, "")]
    for fields in ENTRIES:
        hash_of = chain_hasher(at=AT, actor="system:scheduler", **fields)
        for item_id, seq, prev in heads:
            entry = {
                "comment": None,
                **fields,
                "at": AT,
                "actor": "system:scheduler",
                "item_id": item_id,
                "seq": seq,
                "prev_hash": prev,
            }
            assert hash_of(item_id, seq, prev) == compute_hash(entry), (fields, prev)


def test_head_macs_is_head_mac():
    for key in (b"k" * 64, "密钥".encode(), b"x"):
        mac = head_macs(key)
        for item_id, seq, head in ((1, 1, GENESIS), (2_147_483_647, 99, "ab" * 32)):
            assert mac(item_id, seq, head) == head_mac(key, item_id, seq, head)


def test_event_ids_are_uuid7s_in_the_order_they_are_handed_out():
    before = time.time_ns() // 1_000_000
    made = event_ids(200)
    handed = [made.pop() for _ in range(200)]
    ids = handed + [_event_id() for _ in range(600)]  # emit's: made ahead
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == 800
    assert handed == sorted(handed)  # time first: they land on the unique index's end
    for event_id in ids:
        assert event_id.startswith("evt_") and len(event_id) == 36
        parsed = uuid.UUID(event_id[4:])
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert parsed.hex == event_id[4:]
        assert parsed.int >> 80 <= after  # the Unix time in milliseconds, first
    assert all(before <= uuid.UUID(event_id[4:]).int >> 80 for event_id in handed)


def _stored(engine, ids: dict[str, int]) -> dict:
    """The stored text of what the scan wrote for the items: their moved columns,
    history entries and events (ids and numbers replaced by the item's name; not the
    measures' entries and events, which differ by the measures' ids and are not the
    batch's)."""
    got = {}
    with engine.connect() as c:
        for name, iid in ids.items():
            number = c.execute(text("SELECT number FROM item WHERE id = :i"), {"i": iid}).scalar()

            def same(value, iid=iid, number=number, name=name):
                value = "" if value is None else str(value)
                return (
                    value.replace(f'"id":{iid},', f'"id":"{name}",')
                    .replace(f'"{number}"', '"number"')
                    .replace(f"items/{iid}", f"items/{name}")
                )

            item = c.execute(
                text(
                    "SELECT CAST(updated_at AS TEXT), CAST(next_check_at AS TEXT), light, "
                    "ladder_fired, escalation_level, max_escalation_level, "
                    "CAST(was_overdue AS TEXT), version FROM item WHERE id = :i"
                ),
                {"i": iid},
            ).one()
            entries = c.execute(
                text(
                    "SELECT seq, CAST(at AS TEXT), actor, action, from_state, to_state, "
                    "comment, CAST(data AS TEXT) FROM history_entry "
                    "WHERE item_id = :i AND actor = 'system:scheduler' "
                    "AND action <> 'measure_overdue' ORDER BY seq"
                ),
                {"i": iid},
            ).all()
            events = c.execute(
                text(
                    "SELECT type, subject, unit_code, CAST(co_unit_codes AS TEXT), "
                    "CAST(time AS TEXT), CAST(data AS TEXT), CAST(dispatched AS TEXT) "
                    "FROM event WHERE item_id = :i AND type <> 'measure.overdue' AND time >= :t "
                    "ORDER BY id"
                ),
                {"i": iid, "t": SCAN_AT_TEXT[c.dialect.name]},
            ).all()
            got[name] = {
                "item": tuple(item),
                "history": [tuple(e) for e in entries],
                "events": [tuple(same(v) for v in e) for e in events],
            }
    return got


SCAN_AT_TEXT = {"sqlite": "2026-11-06 16:00:00", "postgresql": "2026-11-06 16:00:00+00"}


def test_the_batch_stores_the_text_the_single_item_path_stores(api, engine, monkeypatch):
    """(Written in parts of 3 items on PostgreSQL: the parts' statements pipelined.)"""
    monkeypatch.setattr(batch_module, "PART", 3)
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    api.unit("district", "某区")
    sup, court = api.key("supervisor"), api.key("unit", "court")
    api.set_clock(CREATED.replace("Z", ".000250Z"))  # the event's created_at: micros shown
    a, b = _group(api, sup, court), _group(api, sup, court)
    for group in (a, b):
        for name in ("overdue", "holiday_catch_up"):
            api.patch(f"/items/{group[name]}", json={"co_unit_codes": ["district"]}, expect=200)
        api.patch(
            f"/items/{group['tags']}",
            json={"responsible_person": '张"三', "category": "财务\n", "campaign": "巡视"},
            token=sup,
            expect=200,
        )
    api.set_clock(SCAN)
    _make_paused_due(engine, a["paused"])
    _make_paused_due(engine, b["paused"])

    _fire_one_by_one(engine, b.values())
    api.post("/admin/scheduler/tick", expect=200)

    batch, single = _stored(engine, a), _stored(engine, b)
    fired = [name for name in a if batch[name]["history"]]
    assert len(fired) >= 6 and any(batch[name]["events"] for name in fired)
    assert any("district" in str(batch[name]["events"]) for name in fired)
    assert any('"created_at":"2026-09-21T02:00:00.000250Z"' in str(batch[n]["events"]) for n in a)
    for name in a:
        assert batch[name] == single[name], name
