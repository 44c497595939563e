"""Play the planned year in memory, then write its rows in bulk.

The engine's own rules decide every value: transitions run through
``transitions.apply`` (the machine's guards and effects, deadlines, the
history entry, the events) and the ladder through ``fire_due_steps``, on item
objects that live in memory for the whole year, as the bulk import does
(``app.ledger.bulk``). What the services would have done around them --
an upload, an extension request and its decision, a measure change, the
scan's look at a measure -- is done here on the same objects with the same
functions (``history.note``, ``emit_item_event``, ``refresh_light``,
``refresh_deadlines``). Nothing is read back from the database: items,
measures, extensions and progress reports are written once at the end with
a few multi-row statements, history entries are collected (``history.buffered``)
and events go through the outbox's queue.

Only what the engine's effects look up themselves is written before the end:
the items' rows as created (one INSERT before the year starts; the final
values follow in one executemany UPDATE). Co-unit lists change as ``assign``
changes them; their index rows are written from the final lists
(``co_units.ROWS_LATER``).
"""

import hashlib
import heapq
from collections import defaultdict
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, update
from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Caller
from app.db import table_of
from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.extensions import public as extension_json
from app.deadlines.ladder import SYSTEM_ACTOR, fire_due_steps
from app.deadlines.models import Extension, ExtensionStatus
from app.deadlines.schedule import deadline_dates, note_if_past_due
from app.demo import data, rows
from app.demo import measures as planned
from app.demo.plan import ItemPlan, Step
from app.items import history
from app.items.models import Evidence, Item, Light, Severity, Source
from app.items.schemas import ItemCreate, TransitionRequest
from app.items.service import item_number, new_item_columns, refresh_deadlines
from app.items.transitions import apply
from app.items.writer import change, column_values
from app.kit.executemany import FastInsert
from app.kit.standin import stand_in
from app.plans.co_units import ROWS_LATER
from app.plans.lights import overdue_due, refresh_light
from app.plans.models import Measure, MeasureKind, MeasureProgress, MeasureStatus
from app.plans.service import created_data, note_change, progress_json, set_counts
from app.settings import get_settings
from app.workflow.registry import registry

SCAN_DELAY = timedelta(seconds=20)
"""How long after a deadline step or a measure's check falls due the scan gets to it."""
UNIT_ACTIONS = {"accept", "submit", "return"}
EVIDENCE_TYPE = "text/plain; charset=utf-8"

_ITEMS = table_of(Item)
_INSERT_ITEM = FastInsert(_ITEMS)
_UPDATE_ITEM = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))
HISTORY_BATCH = 2000
"""History entries the play inserts at a time: as the outbox does with the events, so
that on PostgreSQL the server writes them while the year goes on (``writes_behind``)."""


class Player:
    """Plays every item's steps in time order, with the deadline scan in between."""

    def __init__(
        self,
        session: Session,
        clock,
        cal: WorkdayCalendar,
        units: dict[str, Caller],
        plans: list[ItemPlan],
    ) -> None:
        self.session, self.clock, self.units, self.plans = session, clock, units, plans
        self.conn = session.connection()
        self.end = clock.now
        self.cal = cal
        self.tz = get_settings().tz
        self.items: dict[int, Item] = {}
        """Plan index -> the item, in memory for the whole year."""
        self.measures: dict[int, list[Measure]] = defaultdict(list)
        """Plan index -> its measures, by seq."""
        self.progress: list[MeasureProgress] = []
        self.extensions: list[Extension] = []
        self.evidence: list[dict] = []
        self.pending_extension: dict[int, Extension] = {}
        self.files: dict[str, bytes] = {}
        """Evidence files to write (``write``), by their SHA-256."""
        self.scan_at: dict[int, datetime] = {}
        self.check_at: dict[tuple[int, int], datetime] = {}
        self.queue: list = []
        self.requests: dict[tuple, dict] = {}
        """Distinct transition requests -> their fields (``_request_fields``)."""
        self.history_written = 0
        """History entries inserted by ``play``."""

        def count(action: str) -> int:
            return sum(1 for p in plans for s in p.steps if s.action == action)

        reserve = partial(rows.reserve_ids, session)
        self.item_ids = iter(reserve(_ITEMS, len(plans)))
        self.measure_ids = iter(reserve(table_of(Measure), count("measure")))
        self.extension_ids = iter(reserve(table_of(Extension), count("extension")))
        self.evidence_ids = iter(reserve(table_of(Evidence), count("evidence")))

    # -- the year ---------------------------------------------------------------------

    def play(self, progress, history_rows: list[dict]) -> None:
        """Every step up to now, in time order; ``progress(done, total, at)`` now and then.
        ``history_rows``: the entries buffered (``history.buffered``), inserted here
        ``HISTORY_BATCH`` at a time (the caller inserts the rest)."""
        order = 0
        created = []
        for index, plan in enumerate(self.plans):
            for step in plan.steps:
                order += 1
                heapq.heappush(self.queue, (step.at, order, index, step))
            created.append((plan.steps[0].timed, order - len(plan.steps) + 1, index))
        self._insert_items(sorted(c for c in created if c[0] < self.end))
        self.session.info[ROWS_LATER] = True  # written from the final lists (``write``)
        try:
            self._play_queue(order, progress, history_rows)
        finally:
            self.session.info.pop(ROWS_LATER, None)

    def _play_queue(self, total: int, progress, history_rows: list[dict]) -> None:
        done = 0
        while self.queue:
            if len(history_rows) >= HISTORY_BATCH:
                history.insert_rows(self.session, history_rows[:])
                self.history_written += len(history_rows)
                history_rows.clear()
            at, order, index, step = heapq.heappop(self.queue)
            if step is not None and step.action != "check":
                done += 1
                progress(done, total, at)
            if at >= self.end:
                continue
            self.clock.now = at
            if step is None:
                self._scan(index, at)
            elif step.action in planned.ACTIONS:  # measures leave the item's deadline be
                self._measure_step(index, step, at, order)
                continue
            else:
                self._do(index, self.plans[index], step, at)
            self._schedule_scan(index, at, order)

    def _supervisor(self, plan: ItemPlan) -> Caller:
        names = data.SUPERVISORS[plan.source]
        return Caller(0, names[len(plan.title) % len(names)], Role.supervisor)

    def _do(self, index: int, plan: ItemPlan, step: Step, at: datetime) -> None:
        sup = self._supervisor(plan)
        if step.action == "create":
            self._create(self.items[index], sup, at)
            return
        item = self.items[index]
        unit = self.units[step.by or plan.unit]
        if step.action == "evidence":
            self._evidence(item, plan, step, unit, at)
        elif step.action == "extension":
            self._request_extension(index, item, unit, step.fields["due_date"], at)
        elif step.action == "decide":
            self._decide(index, item, sup, step.fields["approve"], at)
        elif step.action == "merge":
            self._merge(item, self.items[step.fields["into_index"]], sup)
        else:
            self._transition(item, unit if step.action in UNIT_ACTIONS else sup, step)

    def _insert_items(self, created: list[tuple[datetime, int, int]]) -> None:
        """Every item's row as ``POST /items`` makes it, in the order they are created
        (``created``: moment, step order, plan index), in one statement: the engine's
        effects and guards look some of them up (``merge``) or refer to them (evidence,
        co-units) before the rows get their final values in ``write``."""
        for at, _order, index in created:
            self.items[index] = self._new_item(self.plans[index], at)
        if created:
            _INSERT_ITEM.execute(self.session, [column_values(i) for i in self.items.values()])

    def _new_item(self, plan: ItemPlan, at: datetime) -> Item:
        body = ItemCreate(
            title=plan.title,
            description=plan.description,
            source=Source(plan.source),
            category=plan.category,
            severity=Severity(plan.severity),
            campaign=plan.campaign,
            type=plan.type,
        )
        item_id = next(self.item_ids)
        item = stand_in(Item, **rows.ITEM)
        item.__dict__.update(
            id=item_id, number=item_number(at, item_id), **new_item_columns(body, at)
        )
        item.tags, item.co_unit_codes = list(body.tags), []
        return item

    def _create(self, item: Item, sup: Caller, at: datetime) -> None:
        """``POST /items``: the item's first history entry and ``item.created``."""
        with change(self.session, item, at=at, write="later", bump=False) as created:
            created.record("create", actor=sup.actor, from_state=None, to_state=item.state)
            created.emit("item.created", actor=sup.identity())

    def _transition(self, item: Item, actor: Caller, step: Step, **extra) -> None:
        """``POST /items/{id}/transitions`` on the item in memory."""
        wf = registry.get(item.workflow_name, item.workflow_version)
        fields = self._request_fields(step, extra)
        action = wf.action(step.action)
        assert action is not None, f"the demo plans only the workflow's actions: {step.action}"
        apply(
            self.session,
            actor,
            item,
            wf,
            action,
            fields,
            self.cal,
            lead=True,
            moment=self.clock.now,
        )

    def _request_fields(self, step: Step, extra: dict) -> dict:
        """The request's fields as the API reads them (``TransitionRequest``), once per
        distinct request: most steps repeat a few (no fields, a stock comment)."""
        key = (step.action, *sorted(step.fields.items()), *sorted(extra.items()))
        try:
            fields = self.requests[key]
        except KeyError:
            fields = self.requests[key] = self._request(step, extra)
        except TypeError:  # a list among the values (co-units): made each time
            fields = self._request(step, extra)
        return dict(fields)  # the caller's own: the effects may keep it

    @staticmethod
    def _request(step: Step, extra: dict) -> dict:
        request = TransitionRequest(action=step.action, **step.fields, **extra)
        return request.model_dump(exclude={"action"})

    def _merge(self, item: Item, original: Item, sup: Caller) -> None:
        """``merge``: its effect locks and changes the original through the session, so
        the original's row is brought up to date first and its changes taken back after."""
        self.conn.execute(_UPDATE_ITEM, {"item_id": original.id, **rows.changes(original)})
        self._transition(item, sup, Step(item.created_at.date(), "merge"), into=original.id)
        loaded = self.session.get(Item, original.id)
        for name, value in column_values(loaded).items():
            setattr(original, name, value)
        self.session.expunge(loaded)

    def _evidence(self, item: Item, plan: ItemPlan, step: Step, unit: Caller, at) -> None:
        """An upload (``items.evidence.upload``): the file, its row, a history entry."""
        body = _report(plan, step).encode()
        sha = hashlib.sha256(body).hexdigest()
        self.files.setdefault(sha, body)
        row = {
            "id": next(self.evidence_ids),
            "item_id": item.id,
            "filename": "整改报告.txt",
            "size": len(body),
            "sha256": sha,
            "content_type": EVIDENCE_TYPE,
            "uploaded_at": at,
            "uploaded_by": unit.actor,
        }
        self.evidence.append(row)
        record = {"evidence_id": row["id"], "filename": row["filename"], "sha256": sha}
        with change(self.session, item, at=at, write="later", bump=False) as uploaded:
            item.evidence_latest = row["id"]
            uploaded.record("evidence", actor=unit.actor, data={**record, "size": len(body)})

    def _request_extension(self, index: int, item: Item, unit: Caller, due, at) -> None:
        """``deadlines.extensions.request_extension`` on the item in memory."""
        if item.state not in ("assigned", "rectifying") or not item.due_date < due:
            raise ValueError(f"demo plan {index}: no extension possible now")
        reason = data.COMMENTS["extension"][item.id % 2]
        ext = stand_in(Extension, **rows.EXTENSION)
        ext.__dict__.update(
            id=next(self.extension_ids),
            item_id=item.id,
            due_date=due,
            previous_due_date=item.due_date,
            reason=reason,
            requested_by=unit.actor,
            requested_at=at,
        )
        self.extensions.append(ext)
        self.pending_extension[index] = ext
        with change(self.session, item, at=at, write="later", bump=False) as requested:
            record = {"extension_id": ext.id, "due_date": due.isoformat()}
            requested.record("extension_requested", actor=unit.actor, comment=reason, data=record)
            json = extension_json(ext)
            requested.emit("extension.requested", extension=json, actor=unit.identity())

    def _decide(self, index: int, item: Item, sup: Caller, approve: bool, at) -> None:
        """``deadlines.extensions.decide`` on the item in memory."""
        ext = self.pending_extension.pop(index)
        comment = data.COMMENTS["decide_yes" if approve else "decide_no"][0]
        ext.status = ExtensionStatus.approved if approve else ExtensionStatus.rejected
        ext.decided_by, ext.decided_at, ext.decision_comment = sup.actor, at, comment
        record: dict = {"extension_id": ext.id, "due_date": ext.due_date.isoformat()}
        with change(self.session, item, at=at, write="later", bump=approve) as decided:
            if approve:
                wf = registry.get(item.workflow_name, item.workflow_version)
                note_if_past_due(item, wf, self.tz, at)
                item.due_date = ext.due_date
                refresh_deadlines(self.session, item, self.cal, at)
                record.update(deadline_dates(item))
            action = "extension_approved" if approve else "extension_rejected"
            decided.record(action, actor=sup.actor, comment=comment, data=record)
            json = extension_json(ext)
            decided.emit("extension.decided", extension=json, actor=sup.identity())

    # -- the deadline scan ------------------------------------------------------------

    def _schedule_scan(self, index: int, at: datetime, order: int) -> None:
        item = self.items.get(index)
        if item is None or item.next_check_at is None:
            return
        when = max(item.next_check_at, at) + SCAN_DELAY
        if self.scan_at.get(index) == when:
            return
        self.scan_at[index] = when
        heapq.heappush(self.queue, (when, order, index, None))

    def _scan(self, index: int, at: datetime) -> None:
        item = self.items[index]
        if self.scan_at.get(index) != at:
            return
        if item.next_check_at is None or item.next_check_at > at:
            return
        wf = registry.get(item.workflow_name, item.workflow_version)
        fire_due_steps(self.session, item, wf, self.cal, self.tz, at)

    # -- measures ---------------------------------------------------------------------

    def _measure_step(self, index: int, step: Step, at: datetime, order: int) -> None:
        """A measure step, or the scan's look at a measure (``check``); then the next look."""
        item, plan = self.items[index], self.plans[index]
        if step.action != "check" and _final(item):
            raise ValueError(f"demo plan {index}: a measure step after the item closed")
        if step.action == "check":
            measure = self.measures[index][step.fields["seq"] - 1]
            self._check(item, index, measure, at)
        else:
            unit = self.units[step.by or plan.unit]
            measure = self._change_measure(item, index, unit, step, at)
        when = measure.next_check_at
        key = (index, measure.seq)
        if when is not None and self.check_at.get(key) != when:
            self.check_at[key] = when
            check = Step(step.day, "check", {"seq": measure.seq})
            heapq.heappush(self.queue, (max(when, at) + SCAN_DELAY, order, index, check))

    def _change_measure(self, item: Item, index: int, unit: Caller, step: Step, at) -> Measure:
        """``plans.service`` add_measure / report_progress / complete_measure, in memory."""
        fields, n = step.fields, step.fields["n"]
        measures = self.measures[index]
        if step.action == "measure":
            kind = MeasureKind(fields["kind"])
            due = fields["due_date"]
            if kind == MeasureKind.immediate and due is None:
                due = item.due_date
            if fields["unit_code"] not in [item.unit_code, *item.co_unit_codes]:
                raise ValueError(f"demo plan {index}: a measure of a unit not on the item")
            measure = stand_in(Measure, **rows.MEASURE)
            measure.__dict__.update(
                id=next(self.measure_ids),
                item_id=item.id,
                seq=len(measures) + 1,
                title=fields["title"],
                unit_code=fields["unit_code"],
                kind=kind.value,
                due_date=due,
                created_at=at,
                updated_at=at,
            )
            refresh_light(measure, self.cal, self.tz, at)
            measures.append(measure)
            self._record(
                item,
                index,
                measure,
                at=at,
                by=unit,
                action="measure_create",
                event="measure.created",
                **created_data(measure),
            )
            return measure
        measure = measures[n]
        if step.action == "progress":
            comment = planned.PROGRESS[n % len(planned.PROGRESS)]
            report = stand_in(
                MeasureProgress,
                measure_id=measure.id,
                at=at,
                actor=unit.actor,
                comment=comment,
                percent=fields["percent"],
            )
            self.progress.append(report)
            measure.latest_progress = progress_json(report)
            measure.updated_at = at
            self._record(
                item,
                index,
                measure,
                at=at,
                by=unit,
                action="measure_progress",
                event="measure.progress",
                comment=comment,
                progress=measure.latest_progress,
            )
            return measure
        long_term = measure.kind == MeasureKind.long_term
        measure.status = MeasureStatus.ongoing if long_term else MeasureStatus.done
        measure.completed_at = measure.updated_at = at
        refresh_light(measure, self.cal, self.tz, at)
        self._record(
            item,
            index,
            measure,
            at=at,
            by=unit,
            action="measure_complete",
            event="measure.completed",
            comment=planned.DONE[n % len(planned.DONE)],
            status=measure.status,
        )
        return measure

    def _check(self, item: Item, index: int, measure: Measure, at: datetime) -> None:
        """The scan's look at one measure (``plans.scan.check_item``)."""
        if measure.next_check_at is None or measure.next_check_at > at:
            return
        if item.closed_at is not None:  # a closed item's measures are no longer chased
            measure.light, measure.next_check_at = Light.none, None
            return
        notify = overdue_due(measure, at, self.cal, self.tz)
        if notify:
            measure.overdue_notified = measure.due_date
        refresh_light(measure, self.cal, self.tz, at)
        if notify:
            assert measure.due_date is not None  # only a dated measure falls overdue
            self._record(
                item,
                index,
                measure,
                at=at,
                by=SYSTEM_ACTOR,
                action="measure_overdue",
                event="measure.overdue",
                due_date=measure.due_date.isoformat(),
            )

    def _record(
        self,
        item: Item,
        index: int,
        measure: Measure,
        *,
        at,
        by,
        action,
        event,
        comment=None,
        **record,
    ) -> None:
        """``plans.service.record``: counts (from the measures in memory), version,
        history entry, event."""
        set_counts(item, ((m.status, m.light, 1) for m in self.measures[index]))
        note_change(
            self.session, item, measure, at=at, by=by, action=action, event=event,
            comment=comment, write="later", **record,
        )  # fmt: skip

    def write(self) -> dict[str, int]:
        """Every row not written yet, and the evidence files: their counts."""
        return rows.write(
            self.session,
            self.items.values(),
            (m for ms in self.measures.values() for m in ms),
            self.evidence,
            self.extensions,
            self.progress,
            self.files,
        )


def _final(item: Item) -> bool:
    return registry.get(item.workflow_name, item.workflow_version).state(item.state).final


def _report(plan: ItemPlan, step: Step) -> str:
    return (
        f"整改报告\n\n问题：{plan.title}\n责任单位：{plan.unit}\n"
        f"整改措施：{data.COMMENTS['submit'][0]}\n报送日期：{step.day.isoformat()}\n"
    )
