"""What must hold after a multi-process load, read from the database and the receiver.

``violations`` returns every broken invariant as a sentence (empty: all hold):

- each item's history is gap-free (seq 1..n) and a valid walk: every entry
  starts in the state the previous one ended in, the item's state is the last
  entry's, evidence and ladder entries do not change the state;
- each history entry has exactly its events, in the same order (the outbox
  ``id`` order is commit order): ``item.created``; ``item.transitioned`` plus
  the action's own events of the workflow file; the ladder step's event; none
  for evidence. The events' ``data`` agree with the entry, and the item
  version they carry goes up by exactly one per committed change;
- every 200 the client saw for a transition is exactly one history entry
  (same action, same resulting version) and no entry is claimed twice; every
  201 for evidence is exactly one evidence entry; every entry by a client
  comes from an answer the client saw, or (crash runs) from a request whose
  connection died;
- no ladder step fired twice for one item and deadline, and the steps fired
  in ladder order; no item is left with a ladder step due and not fired;
- every outbox row was dispatched, every delivery is ``delivered``, every
  event reached the receiver with a 2xx at least once, the receiver got no
  event that is not in the outbox, and each item's events arrived in order.
"""

from collections import Counter, defaultdict

from sqlalchemy import select

from app.clock import TestClock
from app.db import unit_of_work
from app.events.models import Event
from app.items.models import HistoryEntry, Item
from app.webhooks.models import WebhookDelivery
from app.workflow.definition import Workflow
from tests.receiver import Received
from tests.scale.load import Answer

SYSTEM = "system:scheduler"


def read_tables(engine) -> dict:
    with unit_of_work(write=False, engine=engine) as s:
        return {
            "items": {i.id: i for i in s.scalars(select(Item))},
            "history": list(
                s.scalars(select(HistoryEntry).order_by(HistoryEntry.item_id, HistoryEntry.seq))
            ),
            "events": list(s.scalars(select(Event).order_by(Event.id))),
            "deliveries": list(s.scalars(select(WebhookDelivery))),
            "clock": s.get(TestClock, 1).now,
        }


def violations(
    tables: dict, wf: Workflow, answers: list[Answer], hits: list[Received], crashes: bool
) -> list[str]:
    errs: list[str] = []
    ladder = {s.name: s for kind in ("accept", "rectify") for s in wf.ladder_for(kind)}
    order = {kind: [s.name for s in wf.ladder_for(kind)] for kind in ("accept", "rectify")}
    history: defaultdict[int, list[HistoryEntry]] = defaultdict(list)
    for e in tables["history"]:
        history[e.item_id].append(e)
    events: defaultdict[int, list[Event]] = defaultdict(list)
    for ev in tables["events"]:
        events[ev.item_id].append(ev)

    def expected_events(e: HistoryEntry) -> list[str]:
        if e.action == "create":
            return ["item.created"]
        if e.action == "evidence":
            return []
        if e.actor == SYSTEM:
            return [ladder[e.action].event]
        action = wf.action(e.action)
        return ["item.transitioned", *action.events] if action else []

    version_of: dict[tuple[int, int], int] = {}
    for iid, item in tables["items"].items():
        entries = history[iid]
        if [e.seq for e in entries] != list(range(1, len(entries) + 1)):
            errs.append(f"item {iid}: history seqs {[e.seq for e in entries]}")
        state = None
        for e in entries:
            if e.seq == 1:
                if (e.action, e.from_state, e.to_state) != ("create", None, wf.initial):
                    errs.append(f"item {iid}: first entry {e.action} {e.from_state}->{e.to_state}")
            elif e.from_state != state:
                errs.append(
                    f"item {iid} seq {e.seq} {e.action}: from {e.from_state} but it was {state}"
                )
            if (e.actor == SYSTEM or e.action == "evidence") and e.from_state != e.to_state:
                errs.append(f"item {iid} seq {e.seq} {e.action} changed the state")
            state = e.to_state
        if item.state != state:
            errs.append(f"item {iid}: state {item.state} but its history ends in {state}")

        want = [(e, t) for e in entries for t in expected_events(e)]
        got = events[iid]
        if [t for _, t in want] != [ev.type for ev in got]:
            errs.append(
                f"item {iid}: events {[ev.type for ev in got]} but history "
                f"{[e.action for e in entries]} needs {[t for _, t in want]}"
            )
            continue
        for (e, _t), ev in zip(want, got, strict=True):
            d = ev.data
            if e.actor == SYSTEM:
                same = (d.get("step"), d.get("deadline"), d.get("due_date")) == (
                    e.action,
                    e.data.get("deadline"),
                    e.data.get("due_date"),
                )
            elif e.action == "create":
                same = True
            else:
                same = (d.get("action"), d.get("from_state"), d.get("to_state")) == (
                    e.action,
                    e.from_state,
                    e.to_state,
                )
            if not same:
                errs.append(f"item {iid} seq {e.seq} {e.action}: event {ev.type} data {d}")
            v = d["item"]["version"]
            if version_of.setdefault((iid, e.seq), v) != v:
                errs.append(f"item {iid} seq {e.seq}: its events carry versions {v} and another")
        prev = None
        for e in entries:
            v = version_of.get((iid, e.seq))
            if v is None:
                continue
            same_scan = (
                prev is not None
                and e.actor == SYSTEM
                and prev.actor == SYSTEM
                and prev.at == e.at
                and prev.data.get("deadline") == e.data.get("deadline")
            )
            want_v = 1 if prev is None else version_of[(iid, prev.seq)] + (0 if same_scan else 1)
            if v != want_v:
                errs.append(f"item {iid} seq {e.seq} {e.action}: version {v}, expected {want_v}")
            prev = e
        if prev is not None and item.version != version_of[(iid, prev.seq)]:
            errs.append(f"item {iid}: version {item.version}, its last event says otherwise")

    errs += _answers(tables, history, version_of, answers, crashes)
    errs += _ladder(tables, history, order)
    errs += _deliveries(tables, hits)
    return errs


def _answers(tables, history, version_of, answers: list[Answer], crashes: bool) -> list[str]:
    errs = []
    claimed: set[tuple[int, int]] = set()
    created = {a.item for a in answers if a.op == "create"}
    if created != set(tables["items"]):
        errs.append(
            f"items created {sorted(created)} but the database has {sorted(tables['items'])}"
        )
    for a in answers:
        if a.op == "transition" and a.status == 200:
            hits = [
                e
                for e in history[a.item]
                if e.action == a.action and version_of.get((a.item, e.seq)) == a.version
            ]
        elif a.op == "evidence" and a.status == 201:
            hits = [
                e
                for e in history[a.item]
                if e.action == "evidence" and e.data.get("evidence_id") == a.evidence_id
            ]
        else:
            continue
        if len(hits) != 1:
            errs.append(f"{a}: {len(hits)} history entries")
            continue
        key = (a.item, hits[0].seq)
        if key in claimed:
            errs.append(f"{a}: its history entry seq {hits[0].seq} answered another request too")
        claimed.add(key)
    unknown = Counter((a.item, a.action) for a in answers if a.status is None and a.op != "tick")
    for iid, entries in history.items():
        for e in entries:
            if e.actor == SYSTEM or e.action == "create" or (iid, e.seq) in claimed:
                continue
            if crashes and unknown[(iid, e.action)] > 0:
                unknown[(iid, e.action)] -= 1  # a request whose connection died did commit
                continue
            errs.append(f"item {iid} seq {e.seq} {e.action}: committed, but no client saw it")
    groups: defaultdict[int, list[Answer]] = defaultdict(list)
    for a in answers:
        if a.group is not None:
            groups[a.group].append(a)
    for gid, members in groups.items():
        if sum(a.status == 200 for a in members) > 1:
            errs.append(f"conflict group {gid}: more than one 200: {members}")
    if any(a.status is not None and a.status >= 500 for a in answers):
        errs.append(f"5xx answers: {[a for a in answers if a.status and a.status >= 500]}")
    return errs


def _ladder(tables, history, order: dict[str, list[str]]) -> list[str]:
    """Steps fired (or skipped on catch-up) per armed deadline: an entry that sets a
    deadline (it records ``accept_due_date``) re-arms, except a review-pause shift."""
    errs = []
    fired: defaultdict[tuple, list[str]] = defaultdict(list)
    for iid, entries in history.items():
        arm = 0
        for e in entries:
            if "accept_due_date" in e.data and "paused_workdays" not in e.data:
                arm += 1
            if e.actor == SYSTEM:
                key = (iid, arm, e.data.get("deadline"))
                fired[key] += [*e.data.get("skipped", []), e.action]
    for (iid, arm, kind), steps in fired.items():
        if twice := [name for name, n in Counter(steps).items() if n > 1]:
            errs.append(f"item {iid} deadline {kind} #{arm}: {twice} fired more than once")
        elif steps != order[kind][: len(steps)]:
            errs.append(f"item {iid} deadline {kind} #{arm}: ladder fired {steps}")
    clock = tables["clock"]
    late = [i.id for i in tables["items"].values() if i.next_check_at and i.next_check_at <= clock]
    if late:
        errs.append(f"items with a ladder step due and not fired: {late}")
    return errs


def _deliveries(tables, hits: list[Received]) -> list[str]:
    errs = []
    outbox = {ev.event_id: ev for ev in tables["events"]}
    if undispatched := [ev.id for ev in tables["events"] if not ev.dispatched]:
        errs.append(f"outbox rows never dispatched: {undispatched[:20]}")
    status = Counter(d.status for d in tables["deliveries"])
    if set(status) != {"delivered"} or status["delivered"] != len(outbox):
        errs.append(f"deliveries {dict(status)} for {len(outbox)} events")
    delivered = {h.event_id for h in hits if h.ok}
    if missing := set(outbox) - delivered:
        errs.append(f"{len(missing)} events never reached the receiver, e.g. {sorted(missing)[:5]}")
    if phantom := {h.event_id for h in hits} - set(outbox):
        errs.append(f"the receiver got {len(phantom)} events that are not in the outbox")
    first: dict[str, int] = {}
    for n, h in enumerate(hits):
        if h.ok:
            first.setdefault(h.event_id, n)
    arrivals: defaultdict[int | None, list[int]] = defaultdict(list)
    for event_id, _n in sorted(first.items(), key=lambda kv: kv[1]):
        if event_id in outbox:
            arrivals[outbox[event_id].item_id].append(outbox[event_id].id)
    for iid, ids in arrivals.items():
        if ids != sorted(ids):
            errs.append(f"item {iid}: events arrived out of order {ids}")
    return errs
