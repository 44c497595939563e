"""GET /events: commit order, an always-present cursor, filters and unit scope."""

import pytest

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import real_now
from app.db import unit_of_work
from app.events.outbox import QUEUE_LIMIT, emit
from app.items.schemas import ItemCreate
from app.items.service import new_item


def feed(api, token="admin", **params) -> dict:
    return api.get("/events", params=params, token=token, expect=200).json()


def test_pages_oldest_first_and_the_cursor_only_moves_forward(api):
    empty = feed(api)
    assert empty["data"] == [] and empty["next_cursor"]
    ids = [api.item()["id"] for _ in range(5)]

    seen, cursor = [], empty["next_cursor"]
    for expected in (2, 2, 1, 0):
        page = feed(api, after=cursor, limit=2)
        assert len(page["data"]) == expected and page["next_cursor"]
        seen += page["data"]
        cursor = page["next_cursor"]
    assert [e["subject"] for e in seen] == [f"items/{i}" for i in ids]
    assert [e["type"] for e in seen] == ["item.created"] * 5
    assert len({e["id"] for e in seen}) == 5

    assert feed(api, after=cursor)["data"] == []
    newer = api.item()["id"]
    page = feed(api, after=cursor)
    assert [e["subject"] for e in page["data"]] == [f"items/{newer}"]
    assert feed(api, after=page["next_cursor"])["data"] == []


def test_envelopes_are_cloudevents(api):
    api.unit("court")
    iid = api.item(title="项目审批材料不全")["id"]
    api.act(iid, "assign", unit_code="court")
    (created, transitioned, assigned) = feed(api)["data"]
    for env in (created, transitioned, assigned):
        assert env["specversion"] == "1.0" and env["source"] == "/rectify"
        assert env["datacontenttype"] == "application/json"
        assert env["subject"] == f"items/{iid}" and env["time"].endswith("Z")
    assert created["data"]["item"]["title"] == "项目审批材料不全"
    assert transitioned["data"]["action"] == "assign"
    assert (transitioned["data"]["from_state"], transitioned["data"]["to_state"]) == (
        "found",
        "assigned",
    )
    assert assigned["type"] == "item.assigned"


def test_filters_by_type_and_subject_and_skips_past_what_does_not_match(api):
    api.unit("court")
    a, b = api.item()["id"], api.item()["id"]
    api.act(a, "assign", unit_code="court")
    page = feed(api, type="item.assigned")
    assert [(e["type"], e["subject"]) for e in page["data"]] == [("item.assigned", f"items/{a}")]
    both = feed(api, type="item.created,item.assigned")
    assert len(both["data"]) == 3
    assert [e["type"] for e in feed(api, subject=f"items/{b}")["data"]] == ["item.created"]

    cursor = feed(api, type="item.closed")["next_cursor"]
    api.item()
    api.act(b, "withdraw", comment="重复")
    page = feed(api, type="item.closed", after=cursor)
    assert [e["subject"] for e in page["data"]] == [f"items/{b}"]


def test_unit_keys_see_only_their_subtree(api):
    api.unit("city")
    api.unit("court", parent="city")
    api.unit("bureau")
    city = api.key("unit", "city")
    x, y = api.item()["id"], api.item()["id"]
    api.act(x, "assign", unit_code="court")
    api.act(y, "assign", unit_code="bureau")
    subjects = {e["subject"] for e in feed(api, token=city)["data"]}
    assert subjects == {f"items/{x}"}
    assert len(feed(api, token=api.key("viewer"))["data"]) == 6


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("cursor", ["garbage", "ZDox", "!!"])
def test_a_bad_cursor_is_400(api, cursor):
    r = api.get("/events", params={"after": cursor}, expect=400)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_limits_and_auth(api):
    api.get("/events", token=None, expect=401)
    api.get("/events", params={"limit": 0}, expect=400)
    api.get("/events", params={"limit": 501}, expect=400)


def test_a_rolled_back_change_leaves_no_event(api, engine):
    caller = Caller(key_id=1, name="test", role=Role.admin)
    with pytest.raises(RuntimeError), unit_of_work(engine=engine) as session:
        new_item(session, caller, ItemCreate(title="回滚的问题", source="audit"))
        emit(session, "item.reminder", subject="items/0", at=real_now(), data={})
        raise RuntimeError("the change fails after its events were written")
    assert feed(api)["data"] == []
    assert api.get("/items", expect=200).json()["data"] == []
    with unit_of_work(engine=engine) as session:
        new_item(session, caller, ItemCreate(title="提交的问题", source="audit"))
    assert [e["type"] for e in feed(api)["data"]] == ["item.created"]


def test_a_transactions_events_are_written_together_in_the_order_emitted(api, engine):
    types = ["item.reminder", "item.overdue", "item.supervised", "item.summoned"]
    with unit_of_work(engine=engine) as session:
        for n, type_ in enumerate(types):
            emit(session, type_, subject="items/0", at=real_now(), data={"n": n, "说明": "督办"})
    got = feed(api)["data"]
    assert [e["type"] for e in got] == types
    assert [e["data"] for e in got] == [{"n": n, "说明": "督办"} for n in range(len(types))]


def test_a_session_reused_after_a_rollback_does_not_write_the_dropped_events(api, engine):
    with unit_of_work(engine=engine) as session:
        emit(session, "item.reminder", subject="items/0", at=real_now(), data={})
        session.rollback()
        emit(session, "item.overdue", subject="items/0", at=real_now(), data={})
    assert [e["type"] for e in feed(api)["data"]] == ["item.overdue"]


def test_a_transaction_with_more_events_than_the_queue_holds_writes_them_all_in_order(api, engine):
    n = QUEUE_LIMIT * 2 + 3
    with unit_of_work(engine=engine) as session:
        for i in range(n):
            emit(session, "item.reminder", subject=f"items/{i}", at=real_now(), data={"i": i})
    seen, cursor = [], None
    while True:
        page = feed(api, limit=500, **({"after": cursor} if cursor else {}))
        seen += [e["data"]["i"] for e in page["data"]]
        cursor = page["next_cursor"]
        if len(page["data"]) < 500:
            break
    assert seen == list(range(n))
    with pytest.raises(RuntimeError), unit_of_work(engine=engine) as session:
        for i in range(QUEUE_LIMIT + 1):
            emit(session, "item.overdue", subject=f"items/{i}", at=real_now(), data={})
        raise RuntimeError("fails after the first rows were written")
    assert feed(api, after=cursor)["data"] == []
