"""POST /items/batch: one action on many items, each in its own transaction; 催办 (urge)."""

import pytest
from sqlalchemy import select

from app.db import unit_of_work
from app.events.models import Event
from tests.factories import DUE, assert_problem, make_world

pytestmark = pytest.mark.db


@pytest.fixture
def world(api):
    return make_world(api)


def _batch(api, token, action, ids, expect=200, **fields):
    return api.post(
        "/items/batch", json={"action": action, "ids": ids, **fields}, token=token, expect=expect
    )


def _events(api, type_: str) -> list[int]:
    with unit_of_work(write=False, engine=api.engine) as session:
        return list(session.scalars(select(Event.item_id).where(Event.type == type_)))


def test_a_batch_of_200_with_3_refusals_gives_197_successes_and_3_problems(world):
    api = world.api
    ids = [api.item(world.sup)["id"] for _ in range(200)]
    found = ids[10], ids[99]
    assigned = [i for i in ids if i not in found]
    api.post(
        "/items/batch",
        json={"action": "assign", "ids": assigned, "unit_code": "court", "due_date": DUE},
        token=world.sup,
        expect=200,
    )
    missing = 10**9
    body = _batch(
        api, world.sup, "urge", [*ids[:150], missing, *ids[150:]][:200], comment="请加快整改进度"
    ).json()
    # 200 ids: 197 urgeable, two still `found`, one that does not exist
    assert body["succeeded"] == 197 and body["failed"] == 3
    refused = {r["id"]: r for r in body["results"] if r["status"] != 200}
    assert set(refused) == {*found, missing}
    for item_id in found:
        problem = refused[item_id]["problem"]
        assert refused[item_id]["status"] == 409 and problem["status"] == 409
        assert problem["allowed_actions"] is not None and problem["type"].endswith(
            "action-not-allowed"
        )
    assert refused[missing]["status"] == 404
    ok = [r for r in body["results"] if r["status"] == 200]
    assert all(r["item"]["state"] == "assigned" for r in ok)
    assert [r["id"] for r in body["results"]] == [*ids[:150], missing, *ids[150:]][:200]
    assert sorted(_events(api, "item.urged")) == sorted(r["id"] for r in ok)


def test_urge_changes_no_state_and_leaves_a_history_entry_and_an_event(world):
    api = world.api
    item = world.item_in("rectifying")
    before = api.get(f"/items/{item['id']}", expect=200).json()
    after = api.act(item["id"], "urge", world.sup, comment="请于本周内报送进展").json()
    assert after["state"] == "rectifying" and after["version"] == before["version"] + 1
    for key in ("due_date", "light", "escalation_level", "review_pending", "unit_code"):
        assert after[key] == before[key]
    last = api.history(item["id"])[-1]
    assert (last["action"], last["from_state"], last["to_state"]) == (
        "urge",
        "rectifying",
        "rectifying",
    )
    assert last["comment"] == "请于本周内报送进展"
    assert _events(api, "item.urged") == [item["id"]]
    assert api.get(f"/items/{item['id']}/history/verify", expect=200).json()["ok"]


@pytest.mark.parametrize("state", ["found", "verified", "closed_rectified"])
def test_urge_is_refused_outside_assigned_and_rectifying(world, state):
    item = world.item_in(state)
    body = assert_problem(world.api.act(item["id"], "urge", world.sup, expect=None), 409)
    assert "urge" not in body["allowed_actions"]


def test_only_a_supervisor_urges_and_a_batch_keeps_each_refusal_its_own(world):
    api = world.api
    item = world.item_in("assigned")
    assert_problem(api.act(item["id"], "urge", world.unit, expect=None), 403)
    body = _batch(api, world.unit, "urge", [item["id"]]).json()
    assert body["failed"] == 1 and body["results"][0]["status"] == 403
    names = [
        a["name"]
        for a in api.get(f"/items/{item['id']}/actions", token=world.sup).json()["actions"]
    ]
    assert "urge" in names


def test_a_batch_transition_runs_the_same_guards_and_events_as_a_single_one(world):
    api = world.api
    with_evidence = world.item_in("rectifying")
    without = api.item_in(
        "assigned", sup=world.sup, unit=world.unit, unit_code="court", due_date=DUE
    )
    api.act(without["id"], "accept", world.unit)
    body = _batch(
        api, world.unit, "submit", [with_evidence["id"], without["id"]], comment="已整改到位"
    ).json()
    statuses = {r["id"]: r["status"] for r in body["results"]}
    assert statuses == {with_evidence["id"]: 200, without["id"]: 422}
    assert _events(api, "item.submitted") == [with_evidence["id"]]
    assert api.get(f"/items/{without['id']}", expect=200).json()["review_pending"] is False


def test_a_unit_key_gets_404_for_items_outside_its_subtree(world):
    api = world.api
    item = world.item_in("assigned")
    body = _batch(api, world.district, "accept", [item["id"]]).json()
    assert body["results"][0]["status"] == 404


@pytest.mark.parametrize(
    "body",
    [
        {"action": "urge", "ids": []},
        {"action": "urge", "ids": list(range(1, 502))},
        {"action": "urge", "ids": [1, 1]},
        {"action": "urge", "ids": [1], "colour": "red"},
        {"action": "urge", "ids": [True]},  # not item 1
        {"action": "urge", "ids": ["1"]},
        {"action": "assign", "ids": [1], "unit_code": "court", "due_date": 0},  # not 1970-01-01
    ],
)
def test_malformed_batches_are_422(world, body):
    assert_problem(world.api.post("/items/batch", json=body, token=world.sup), 422)


def test_a_batch_without_a_token_is_401(world):
    r = world.api.post("/items/batch", json={"action": "urge", "ids": [1]}, token=None)
    assert_problem(r, 401)


def _event_rows(api, item_id: int) -> list[dict]:
    """The item's outbox rows as fan-out reads them, ids and the item's own names masked."""
    with unit_of_work(write=False, engine=api.engine) as session:
        rows = session.scalars(select(Event).where(Event.item_id == item_id).order_by(Event.id))
        masked = []
        for e in rows:
            data = {**e.data, "item": {**e.data["item"], "id": 0, "number": "", "title": ""}}
            masked.append(
                {
                    "type": e.type,
                    "unit_code": e.unit_code,
                    "co_unit_codes": e.co_unit_codes,
                    "time": e.time,
                    "data": data,
                }
            )
        return masked


def test_a_batch_urge_writes_what_single_urges_write_and_every_chain_verifies(world):
    api = world.api
    single, *batch = [world.item_in("assigned", title="问题：项目审批材料不全") for _ in range(4)]
    for item in (single, *batch):
        api.patch(f"/items/{item['id']}", json={"co_unit_codes": ["district"]}, expect=200)
    api.act(single["id"], "urge", world.sup, comment="请于本周内报送进展")
    body = _batch(api, world.sup, "urge", [i["id"] for i in batch], comment="请于本周内报送进展")
    assert body.json()["succeeded"] == 3
    expected_events = _event_rows(api, single["id"])
    expected_history = api.history(single["id"])
    for item, result in zip(batch, body.json()["results"], strict=True):
        after = api.get(f"/items/{item['id']}", expect=200).json()
        assert result["item"] == after
        assert after["version"] == api.get(f"/items/{single['id']}").json()["version"]
        assert _event_rows(api, item["id"]) == expected_events
        history = api.history(item["id"])
        assert [(h["seq"], h["action"], h["comment"], h["data"]) for h in history] == [
            (h["seq"], h["action"], h["comment"], h["data"]) for h in expected_history
        ]
        assert api.get(f"/items/{item['id']}/history/verify", expect=200).json()["ok"]


def test_refused_items_of_a_batch_keep_their_version_history_and_events(world):
    api = world.api
    ok, found = world.item_in("assigned"), world.item_in("found")
    before = api.get(f"/items/{found['id']}").json()
    events_before = _event_rows(api, found["id"])
    history_before = api.history(found["id"])
    body = _batch(api, world.sup, "urge", [found["id"], ok["id"], 2**31, -1]).json()
    assert [r["status"] for r in body["results"]] == [409, 200, 404, 404]
    only_missing = _batch(api, world.sup, "urge", [2**31, 10**12]).json()
    assert [r["status"] for r in only_missing["results"]] == [404, 404]
    assert api.get(f"/items/{found['id']}").json() == before
    assert _event_rows(api, found["id"]) == events_before
    assert api.history(found["id"]) == history_before
    assert api.get(f"/items/{ok['id']}/history/verify", expect=200).json()["ok"]


def test_a_batch_verify_runs_guards_and_effects_per_item(world):
    api = world.api
    pending = [world.item_in("rectifying") for _ in range(2)]
    for item in pending:
        api.evidence(item["id"], world.unit)
        api.act(item["id"], "submit", world.unit, comment="已整改到位")
    idle = world.item_in("rectifying")
    ids = [pending[0]["id"], idle["id"], pending[1]["id"]]
    body = _batch(api, world.sup, "verify", ids).json()
    assert [r["status"] for r in body["results"]] == [200, 409, 200]
    assert all(r["item"]["state"] == "verified" for r in body["results"] if r["status"] == 200)
    assert all(r["item"]["review_pending"] is False for r in body["results"] if "item" in r)
    assert sorted(_events(api, "item.verified")) == sorted(i["id"] for i in pending)
    assert api.get(f"/items/{idle['id']}").json()["state"] == "rectifying"
    for item_id in ids:
        assert api.get(f"/items/{item_id}/history/verify", expect=200).json()["ok"]
