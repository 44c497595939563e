"""The hash-chained history: verified after a lifecycle, tampering detected by seq.

The module shares one database per backend; each test tampers only with its own item.
"""

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, select, text, update
from sqlmodel import Session

from app.items.history import GENESIS, _canonical, _canonical_dumps, compute_hash
from app.items.models import HistoryEntry, Item, Light
from tests.factories import DUE, make_world

LIFECYCLE = [
    "create", "assign", "accept", "evidence", "submit", "reject", "evidence", "submit",
    "verify", "close", "reopen",
]  # fmt: skip


@pytest.fixture(scope="module")
def world(shared_api):
    return make_world(shared_api)


@pytest.fixture
def engine(world):
    return world.api.engine


@pytest.fixture
def lived(world):
    """A new item that went through a full lifecycle and back: 11 history entries."""
    api = world.api
    item = world.item_in("review_pending")
    iid = item["id"]
    api.act(iid, "reject", world.sup, comment="佐证材料不充分")
    api.evidence(iid, world.unit)
    api.act(iid, "submit", world.unit, comment="已补充材料")
    api.act(iid, "verify", world.sup)
    api.act(iid, "close", world.sup)
    api.act(iid, "reopen", world.sup, comment="回头看发现反弹", due_date=DUE)
    return world, iid


def _entry(session, item_id: int, seq: int) -> HistoryEntry:
    return session.scalars(
        select(HistoryEntry).where(HistoryEntry.item_id == item_id, HistoryEntry.seq == seq)
    ).one()


def _rewrite_with_a_valid_hash(engine, item_id: int, seq: int, comment: str) -> None:
    """Alter an entry and recompute its own hash, as a careful forger would."""
    with Session(engine) as session, session.begin():
        entry = _entry(session, item_id, seq)
        entry.comment = comment
        entry.hash = compute_hash(entry)


def verification(api, iid) -> dict:
    return api.get(f"/items/{iid}/history/verify", expect=200).json()


def test_history_after_a_full_lifecycle_is_complete_and_verifies(lived):
    world, iid = lived
    history = world.api.history(iid, world.viewer)
    assert [h["action"] for h in history] == LIFECYCLE
    assert [h["seq"] for h in history] == list(range(1, len(LIFECYCLE) + 1))
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert all(len(h["hash"]) == 64 for h in history)
    assert len({h["hash"] for h in history}) == len(history)
    assert history[0]["from_state"] is None and history[0]["to_state"] == "found"
    for before, after in zip(history, history[1:], strict=False):
        assert after["from_state"] == before["to_state"]
    assert history[5]["comment"] == "佐证材料不充分"
    assert history[-1]["data"]["due_date"] == DUE  # an entry that sets a deadline names it
    assert history[1]["data"]["accept_due_date"] and history[2]["data"]["due_date"]
    assert verification(world.api, iid) == {"ok": True, "entries": 11, "broken_seq": None}


def test_refusals_and_reads_write_no_history(lived):
    world, iid = lived
    before = world.api.history(iid)
    world.api.act(iid, "verify", world.sup, expect=409)
    world.api.act(iid, "accept", world.viewer, expect=403)
    world.api.act(iid, "reassign", world.sup, expect=422)
    world.api.get(f"/items/{iid}/actions", token=world.unit)
    assert world.api.history(iid) == before


def test_an_update_of_a_comment_in_the_database_is_reported_at_its_seq(lived, engine):
    world, iid = lived
    with engine.begin() as conn:
        n = conn.execute(
            text("UPDATE history_entry SET comment = :c WHERE item_id = :i AND seq = 3"),
            {"c": "已签收（事后篡改）", "i": iid},
        ).rowcount
    assert n == 1
    assert verification(world.api, iid) == {"ok": False, "entries": 11, "broken_seq": 3}


@pytest.mark.parametrize(
    "values",
    [
        {"actor": "supervisor:someone-else"},
        {"action": "verify"},
        {"to_state": "closed"},
        {"data": {"unit_code": "district"}},
        {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        {"hash": "0" * 64},
    ],
    ids=lambda v: next(iter(v)),
)
def test_any_altered_column_is_reported_at_its_seq(lived, engine, values):
    world, iid = lived
    with engine.begin() as conn:
        conn.execute(
            update(HistoryEntry)
            .where(HistoryEntry.item_id == iid, HistoryEntry.seq == 6)
            .values(**values)
        )
    got = verification(world.api, iid)
    assert (got["ok"], got["broken_seq"]) == (False, 6)


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(lived, engine):
    world, iid = lived
    _rewrite_with_a_valid_hash(engine, iid, 4, "伪造的整改说明")
    got = verification(world.api, iid)
    assert (got["ok"], got["broken_seq"]) == (False, 5)


def test_deleting_a_middle_row_is_detected(lived, engine):
    world, iid = lived
    with engine.begin() as conn:
        conn.execute(delete(HistoryEntry).where(HistoryEntry.item_id == iid, HistoryEntry.seq == 5))
    got = verification(world.api, iid)
    # seq 6 is the first entry left whose link to the entry before it is broken
    assert got == {"ok": False, "entries": 10, "broken_seq": 6}
    assert [h["seq"] for h in world.api.history(iid)] == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]


def test_deleting_the_newest_rows_is_detected_against_the_items_head(lived, engine):
    world, iid = lived
    with engine.begin() as conn:
        conn.execute(
            delete(HistoryEntry).where(HistoryEntry.item_id == iid, HistoryEntry.seq >= 10)
        )
    # the remaining chain is intact; the item row still names seq 11 as the newest
    assert verification(world.api, iid) == {"ok": False, "entries": 9, "broken_seq": 10}


def test_rewriting_the_newest_row_with_a_recomputed_hash_is_detected(lived, engine):
    world, iid = lived
    _rewrite_with_a_valid_hash(engine, iid, 11, "伪造的回头看说明")
    assert verification(world.api, iid) == {"ok": False, "entries": 11, "broken_seq": 11}


def test_a_row_appended_behind_the_items_back_is_detected(lived, engine):
    world, iid = lived
    with Session(engine) as session, session.begin():
        newest = _entry(session, iid, 11)
        forged = HistoryEntry(
            **newest.model_dump(exclude={"id", "seq", "prev_hash", "hash"}),
            seq=12,
            prev_hash=newest.hash,
            hash="",
        )
        forged.hash = compute_hash(forged)
        session.add(forged)
    assert verification(world.api, iid) == {"ok": False, "entries": 12, "broken_seq": 12}


def test_the_items_head_follows_every_append(lived, engine):
    world, iid = lived
    with Session(engine) as session:
        item = session.get(Item, iid)
        assert (item.history_seq, item.history_hash) == (11, _entry(session, iid, 11).hash)


def test_another_items_history_is_untouched_by_tampering(lived, engine):
    world, iid = lived
    other = world.item_in("verified")
    with engine.begin() as conn:
        conn.execute(
            update(HistoryEntry)
            .where(HistoryEntry.item_id == iid, HistoryEntry.seq == 2)
            .values(comment="x")
        )
    assert verification(world.api, other["id"]) == {"ok": True, "entries": 6, "broken_seq": None}


def _fields(**values) -> dict:
    base = {
        "item_id": 7,
        "seq": 3,
        "at": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        "actor": "unit:某区联络员",
        "action": "submit",
        "from_state": "rectifying",
        "to_state": "verifying",
        "comment": None,
        "data": {},
        "prev_hash": "ab" * 32,
    }
    return {**base, **values}


ODD_ENTRIES = [
    {},
    {"comment": '已整改\n\t“引号” "quoted" back\\slash \x00\x1f\x7f \u2028 😀'},
    {"from_state": None, "action": "create", "data": {"b": 1, "a": [1, None, True, 1.5]}},
    {"data": {"due_date": date(2026, 3, 9), "z": {"y": "终", "x": datetime(2026, 1, 1)}}},
    {"at": datetime(2026, 3, 1, 8, 0, 0, 5, tzinfo=UTC), "seq": 10**12, "item_id": 0},
    {"actor": "", "action": "", "comment": "", "to_state": ""},
    {"from_state": Light.red, "to_state": Light.none},  # not a plain str: json.dumps writes it
    {"item_id": True},  # not a plain int
    {"prev_hash": GENESIS},
]


@pytest.mark.parametrize("values", ODD_ENTRIES)
def test_the_canonical_text_is_json_dumps_sorted_compact_text(values):
    entry = _fields(**values)
    assert _canonical(entry) == _canonical_dumps(entry)
    assert json.loads(_canonical(entry))["seq"] == entry["seq"]
