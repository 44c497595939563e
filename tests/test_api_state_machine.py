"""A hypothesis state machine over the whole API: create, act, upload evidence,
merge duplicates, advance the clock, scan, deliver -- checking the invariants
after every step, over items of both workflows (rectification and hotline).

Invariants: the API agrees with a model of the workflow tables in API.md; every
item's history chain verifies and gains exactly one entry per committed action;
no ladder step fires twice for one deadline; every event reaches the webhook
receiver at least once.
"""

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from app.db import unit_of_work
from app.items import history
from app.items.models import Item
from app.settings import get_settings
from app.webhooks.delivery import run_once
from tests.webhooks.conftest import Receiver, subscribe

LADDER = {"reminder", "overdue", "supervise", "summon"}
# action: (from states, to state, role, required fields, needs review pending, needs evidence)
TABLE = {
    "assign": ({"found"}, "assigned", "supervisor", {"unit_code"}, False, False),
    "accept": ({"assigned"}, "rectifying", "unit", set(), False, False),
    "return": ({"assigned"}, "found", "unit", {"comment"}, False, False),
    "submit": ({"rectifying"}, "rectifying", "unit", {"comment"}, False, True),
    "reject": ({"rectifying"}, "rectifying", "supervisor", {"comment"}, True, False),
    "verify": ({"rectifying"}, "verified", "supervisor", set(), True, False),
    "close": ({"verified"}, "closed", "supervisor", set(), False, False),
    "withdraw": ({"found", "assigned"}, "closed", "supervisor", {"comment"}, False, False),
    "reopen": ({"closed"}, "rectifying", "supervisor", {"comment", "due_date"}, False, False),
    "reassign": (
        {"assigned", "rectifying"},
        "assigned",
        "supervisor",
        {"unit_code", "comment"},
        False,
        False,
    ),
}
# The hotline has no ``close``: its callback (回访) closes the order or, when the
# caller is dissatisfied, sends it back for redo. ``callback:<result>`` names the
# action ``callback`` sent with that result.
HOTLINE = {
    **{a: row for a, row in TABLE.items() if a != "close"},
    "callback:satisfied": ({"verified"}, "closed", "supervisor", {"satisfaction"}, False, False),
    "callback:dissatisfied": (
        {"verified"},
        "rectifying",
        "supervisor",
        {"satisfaction"},
        False,
        False,
    ),
}
TABLES = {"rectification": TABLE, "hotline": HOTLINE}
SOURCES = {"rectification": "audit", "hotline": "hotline"}
START = datetime(2026, 9, 21, 2, 0, tzinfo=UTC)


class Model:
    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.table = TABLES[workflow]
        self.state = "found"
        self.unit: str | None = None
        self.review_pending = False
        self.evidence = False
        self.duplicate_of: int | None = None
        self.entries = 1

    @property
    def duplicate(self) -> bool:
        return self.duplicate_of is not None

    def expect(self, action: str, role: str, fields: set[str]) -> bool:
        if action not in self.table:
            return False
        sources, _to, needed_role, required, needs_rp, needs_ev = self.table[action]
        return (
            role == needed_role
            and self.state in sources
            and required <= fields
            and (not needs_rp or self.review_pending)
            and (not needs_ev or self.evidence)
            and (action != "reopen" or self.unit is not None)
        )

    def apply(self, action: str) -> None:
        self.state = self.table[action][1]
        if action in ("assign", "reassign"):
            self.unit = "court"
        if action == "return":
            self.unit = None
        if action == "submit":
            self.review_pending = True
        if action in ("reject", "verify", "reassign"):
            self.review_pending = False
        if action in ("reject", "reopen"):
            self.evidence = False  # a resubmission needs evidence uploaded since


class ApiMachine(RuleBasedStateMachine):
    items = Bundle("items")

    def __init__(self, api, engine, receiver, tokens):
        super().__init__()
        self.api, self.engine, self.receiver, self.tokens = api, engine, receiver, tokens
        self.models: dict[int, Model] = {}
        self.now = START

    @initialize()
    def start_clock(self):
        self.api.set_clock(self.now.isoformat())

    @rule(target=items, workflow=st.sampled_from(sorted(TABLES)))
    def create(self, workflow):
        item = self.api.item(self.tokens["supervisor"], source=SOURCES[workflow])
        assert item["workflow"]["name"] == workflow
        self.models[item["id"]] = Model(workflow)
        return item["id"]

    @rule(
        iid=items,
        data=st.data(),
        role=st.sampled_from(["right", "right", "right", "supervisor", "unit", "viewer"]),
        with_fields=st.sampled_from([True, True, True, False]),
    )
    def act_at_random(self, iid, data, role, with_fields):
        """Half the time an action that starts from the item's state (guards and roles
        may still refuse it), otherwise any action; mostly with the table's role."""
        table = self.models[iid].table
        here = sorted(a for a, row in table.items() if self.models[iid].state in row[0])
        everything = sorted(set(TABLE) | set(HOTLINE))
        action = data.draw(st.sampled_from(here) | st.sampled_from(everything))
        self.act(iid, action, role, with_fields)

    act_again = act_at_random  # a second rule for the same thing: weights acts over clock steps

    def act(self, iid, action, role, with_fields):
        model = self.models[iid]
        row = TABLE.get(action) or HOTLINE[action]
        role = row[2] if role == "right" else role
        due = (self.now + timedelta(days=30)).date().isoformat()
        name, _, result = action.partition(":")
        fields = {"unit_code": "court", "comment": "处理意见", "due_date": due}
        fields["satisfaction"] = result or None
        takes = row[3] | {"comment"} | ({"due_date"} if action == "assign" else set())
        sent = {k: v for k, v in fields.items() if k in takes and (with_fields or k == "due_date")}
        if action == "assign" and not with_fields:
            sent.pop("due_date", None)
        r = self.api.act(iid, name, self.tokens[role], expect=None, **sent)
        if model.expect(action, role, set(sent)):
            assert r.status_code == 200, (action, role, model.state, r.text)
            model.apply(action)
            model.entries += 1
            if action == "reopen" and model.duplicate_of is not None:
                # a merge undone: the original records it (merged_out)
                self.models[model.duplicate_of].entries += 1
                model.duplicate_of = None
            assert r.json()["state"] == model.state
            assert r.json()["duplicate_of"] == model.duplicate_of
        else:
            assert r.status_code in (403, 404, 409, 422), (action, role, model.state, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")

    @rule(iid=items)
    def progress(self, iid):
        """The next step of the happy path, so that runs reach every state often."""
        model = self.models[iid]
        if model.state == "rectifying" and not model.evidence:
            self.upload_evidence(iid)
        close = "close" if model.workflow == "rectification" else "callback:satisfied"
        happy = {"found": "assign", "assigned": "accept", "verified": close, "closed": "reopen"}
        action = happy.get(model.state) or ("verify" if model.review_pending else "submit")
        self.act(iid, action, "right", True)

    @rule(iid=items, into=items, role=st.sampled_from(["supervisor", "supervisor", "unit"]))
    def merge(self, iid, into, role):
        """重复件: only hotline orders that are new or dispatched, into another original."""
        model, original = self.models[iid], self.models[into]
        body = {"into": into, "comment": "重复来电"}
        r = self.api.post(f"/items/{iid}/merge", token=self.tokens[role], json=body)
        ok = (
            role == "supervisor"
            and model.workflow == "hotline"
            and model.state in ("found", "assigned")
            and iid != into
            and not original.duplicate
        )
        if ok:
            assert r.status_code == 200, (model.state, r.text)
            assert r.json()["resolution"] == "duplicate" and r.json()["duplicate_of"] == into
            model.state, model.duplicate_of = "closed", into
            model.entries += 1
            original.entries += 1  # the original records the duplicate merged into it
        else:
            assert r.status_code in (403, 409, 422), (role, model.state, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")

    @rule(iid=items)
    def upload_evidence(self, iid):
        model = self.models[iid]
        r = self.api.evidence(iid, self.tokens["unit"], expect=None)
        if model.unit == "court" and model.state != "closed":
            assert r.status_code == 201, r.text
            model.evidence = True
            model.entries += 1
        else:
            assert r.status_code in (404, 409), r.text

    @rule(hours=st.integers(1, 24 * 8))
    def advance_clock(self, hours):
        self.now += timedelta(hours=hours)
        self.api.set_clock(self.now.isoformat())

    @rule()
    def scan(self):
        self.api.post("/admin/scheduler/tick", expect=200)

    @rule()
    def deliver(self):
        asyncio.run(run_once(self.engine))

    @invariant()
    def api_agrees_with_the_model_and_histories_hold(self):
        with unit_of_work(write=False, engine=self.engine) as s:
            for iid, model in self.models.items():
                ok, count, broken = history.verify(s, s.get(Item, iid))
                assert ok, (iid, broken)
                entries = history.entries(s, iid)
                not_ladder = [e for e in entries if e.action not in LADDER]
                assert len(not_ladder) == model.entries, [e.action for e in entries]
                fired: set[str] = set()
                for e in entries:
                    if e.action in LADDER:
                        assert e.action not in fired, (iid, [x.action for x in entries])
                        fired.add(e.action)
                    elif e.action != "evidence":
                        fired = set()
        for iid, model in list(self.models.items())[-3:]:
            shown = self.api.get(f"/items/{iid}", expect=200).json()
            assert shown["state"] == model.state and shown["review_pending"] == model.review_pending

    def teardown(self):
        for _ in range(200):
            done = asyncio.run(run_once(self.engine))
            if not done["attempted"] and not done["fanned_out"]:
                break
        received = {r.json["id"] for r in self.receiver.requests if r.path == "/sm"}
        events, cursor = [], None
        while True:
            page = self.api.get(
                f"/events?limit=500{'&after=' + cursor if cursor else ''}", expect=200
            ).json()
            events += page["data"]
            if not page["data"]:
                break
            cursor = page["next_cursor"]
        missing = {e["id"] for e in events} - received
        assert not missing, f"{len(missing)} events never delivered"


def test_the_api_as_a_state_machine(api, engine, monkeypatch):
    monkeypatch.setenv("RECTIFY_DELIVERY_RETRY_SCHEDULE_S", "0,0,0,0,0")
    get_settings.cache_clear()
    api.unit("city", "某市")
    api.unit("court", "市中级人民法院", parent="city")
    tokens = {
        "supervisor": api.key("supervisor"),
        "unit": api.key("unit", "court"),
        "viewer": api.key("viewer"),
    }
    receiver = Receiver()
    try:
        subscribe(api, receiver, path="/sm")
        run_state_machine_as_test(
            lambda: ApiMachine(api, engine, receiver, tokens),
            settings=settings(
                max_examples=25,
                stateful_step_count=40,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        receiver.close() if hasattr(receiver, "close") else None
