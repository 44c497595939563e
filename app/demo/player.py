"""Play the planned year in memory, then write its rows in bulk.

The engine's own rules decide every value: transitions run through
``transitions.apply`` (the machine's guards and effects, deadlines, the
history entry, the events) and the ladder through ``fire_due_steps``, on item
objects that live in memory for the whole year, as the bulk import does
(``app.ledger.bulk``). What the services would have done around them --
an upload, an extension request and its decision, a measure change, the
scan's look at a measure -- is done on the same objects with the same
functions (``history.note``, ``emit_item_event``, ``refresh_light``,
``refresh_deadlines``): an item's steps by ``item_steps``, its measures' by
``measure_steps``; this module keeps the year's clock and order (a queue of the
steps in time, with the deadline scan and the measures' checks in between).
Nothing is read back from the database: items, measures, extensions and
progress reports are written once at the end with a few multi-row statements,
history entries are collected (``history.buffered``) and events go through the
outbox's queue.

Only what the engine's effects look up themselves is written before the end:
the items' rows as created (one INSERT before the year starts; the final
values follow in one executemany UPDATE). Co-unit lists change as ``assign``
changes them; their index rows are written from the final lists
(``co_units.ROWS_LATER``).
"""

import heapq
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Caller
from app.db import table_of
from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.ladder import fire_due_steps
from app.deadlines.models import Extension
from app.demo import data, rows
from app.demo import measures as planned
from app.demo.item_steps import ItemSteps
from app.demo.measure_steps import MeasureSteps
from app.demo.plan import ItemPlan, Step
from app.items import history
from app.items.models import Evidence, Item
from app.items.writer import column_values
from app.kit.executemany import FastInsert
from app.plans.co_units import ROWS_LATER
from app.plans.models import Measure
from app.settings import get_settings
from app.workflow.registry import registry

SCAN_DELAY = timedelta(seconds=20)
"""How long after a deadline step or a measure's check falls due the scan gets to it."""
UNIT_ACTIONS = {"accept", "submit", "return"}

_ITEMS = table_of(Item)
_INSERT_ITEM = FastInsert(_ITEMS)
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
        self.end = clock.now
        self.cal = cal
        self.tz = get_settings().tz
        self.items: dict[int, Item] = {}
        """Plan index -> the item, in memory for the whole year."""
        self.scan_at: dict[int, datetime] = {}
        self.check_at: dict[tuple[int, int], datetime] = {}
        self.queue: list = []
        self.history_written = 0
        """History entries inserted by ``play``."""

        def count(action: str) -> int:
            return sum(1 for p in plans for s in p.steps if s.action == action)

        reserve = partial(rows.reserve_ids, session)
        item_ids = iter(reserve(_ITEMS, len(plans)))
        measure_ids = iter(reserve(table_of(Measure), count("measure")))
        extension_ids = iter(reserve(table_of(Extension), count("extension")))
        evidence_ids = iter(reserve(table_of(Evidence), count("evidence")))
        self.item_steps = ItemSteps(
            session,
            clock,
            cal,
            self.tz,
            item_ids=item_ids,
            extension_ids=extension_ids,
            evidence_ids=evidence_ids,
        )
        self.measure_steps = MeasureSteps(session, cal, self.tz, measure_ids)

    @property
    def measures(self) -> dict[int, list[Measure]]:
        """Plan index -> its measures, by seq."""
        return self.measure_steps.measures

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
        steps = self.item_steps
        if step.action == "create":
            steps.create(self.items[index], sup, at)
            return
        item = self.items[index]
        unit = self.units[step.by or plan.unit]
        if step.action == "evidence":
            steps.upload_evidence(item, plan, step, unit, at)
        elif step.action == "extension":
            steps.request_extension(index, item, unit, step.fields["due_date"], at)
        elif step.action == "decide":
            steps.decide(index, item, sup, step.fields["approve"], at)
        elif step.action == "merge":
            steps.merge(item, self.items[step.fields["into_index"]], sup)
        else:
            steps.transition(item, unit if step.action in UNIT_ACTIONS else sup, step)

    def _insert_items(self, created: list[tuple[datetime, int, int]]) -> None:
        """Every item's row as ``POST /items`` makes it, in the order they are created
        (``created``: moment, step order, plan index), in one statement: the engine's
        effects and guards look some of them up (``merge``) or refer to them (evidence,
        co-units) before the rows get their final values in ``write``."""
        for at, _order, index in created:
            self.items[index] = self.item_steps.new_item(self.plans[index], at)
        if created:
            _INSERT_ITEM.execute(self.session, [column_values(i) for i in self.items.values()])

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
            self.measure_steps.check(item, index, measure, at)
        else:
            unit = self.units[step.by or plan.unit]
            measure = self.measure_steps.change_measure(item, index, unit, step, at)
        when = measure.next_check_at
        key = (index, measure.seq)
        if when is not None and self.check_at.get(key) != when:
            self.check_at[key] = when
            check = Step(step.day, "check", {"seq": measure.seq})
            heapq.heappush(self.queue, (max(when, at) + SCAN_DELAY, order, index, check))

    def write(self) -> dict[str, int]:
        """Every row not written yet, and the evidence files: their counts."""
        return rows.write(
            self.session,
            self.items.values(),
            (m for ms in self.measures.values() for m in ms),
            self.item_steps.evidence,
            self.item_steps.extensions,
            self.measure_steps.progress,
            self.item_steps.files,
        )


def _final(item: Item) -> bool:
    return registry.get(item.workflow_name, item.workflow_version).state(item.state).final
