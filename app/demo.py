"""Demo data: a prefecture-level city's year of supervision work (DOMAIN.md).

Loaded only into an empty database (no units, no items). 87 units, the
campaigns and about 1,170 items from every source in the proportions of the
city's published review, spread over the states: most closed, some still
being rectified, a few overdue at each ladder level, a few reopened after a
look-back.

Every step goes through the same services as the API (create, transitions,
evidence, extension requests) and the deadline ladder (``fire_due_steps``,
run the way the scan runs it), with the engine's clock set to the moment the
step happened: history, events, lights and escalation levels are what a
year of real use would have left, and every history chain verifies. Names
of units and people are made up.
"""

import heapq
import io
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from fastapi import UploadFile
from sqlalchemy import Engine, func, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col
from starlette.datastructures import Headers

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import TestClock, now
from app.db import unit_of_work
from app.deadlines import extensions
from app.deadlines.ladder import fire_due_steps
from app.deadlines.store import load_calendar
from app.items import evidence
from app.items.models import Item, Severity, Source
from app.items.schemas import ItemCreate, TransitionRequest
from app.items.service import new_item
from app.items.transitions import transition
from app.ledger import demo_data
from app.ledger.demo_plan import ItemPlan, Planner, Step
from app.plans import demo as plans_demo
from app.plans.models import Measure
from app.settings import get_settings
from app.units.models import Unit, UnitCreate
from app.units.service import create_unit
from app.workflow.registry import registry

SCAN_DELAY = timedelta(seconds=20)
log = logging.getLogger("rectify.demo")
PROGRESS_STEPS = 10


def load_demo(engine: Engine | None = None, seed: int = 2024, scale: float = 1.0) -> str:
    """Load the demo into an empty database; a one-line summary of what was done.

    ``scale`` shrinks every count in proportion (tests load a tenth of the year).
    """
    with unit_of_work(engine=engine) as session:
        if session.scalar(select(func.count()).select_from(Item)) or session.scalar(
            select(func.count()).select_from(Unit)
        ):
            return "demo: the database is not empty; nothing loaded"
        with _engine_clock(session) as clock:
            log.info("demo: creating the units")
            units = _create_units(session, clock)
            tz = get_settings().tz
            start = clock.now
            plans = Planner(seed, load_calendar(session), tz, start, scale).items()
            log.info("demo: %d units; playing a year of %d items", len(units), len(plans))
            _Player(session, clock, units).play(plans)
            clock.now = start
            log.info("demo: committing")
        states = Counter(session.scalars(select(col(Item.state))))
        levels = Counter(
            session.scalars(select(col(Item.escalation_level)).where(col(Item.light) == "red"))
        )
        measures = session.scalar(select(func.count()).select_from(Measure))
        overdue_measures = session.scalar(
            select(func.count()).select_from(Measure).where(col(Measure.light) == "red")
        )
    return (
        f"demo: loaded {len(units)} units and {sum(states.values())} items ("
        + ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
        + "; overdue by level "
        + ", ".join(f"{level}: {n}" for level, n in sorted(levels.items()))
        + f"; {measures} measures, {overdue_measures} overdue)"
    )


class _Clock:
    """The engine's "now" as this session sees it (the test-clock row in its identity map)."""

    def __init__(self, row: TestClock) -> None:
        self.row = row

    @property
    def now(self) -> datetime:
        return self.row.now

    @now.setter
    def now(self, moment: datetime) -> None:
        set_committed_value(self.row, "now", moment)


@contextmanager
def _engine_clock(session: Session) -> Iterator[_Clock]:
    """The engine's clock, movable inside this transaction only.

    The test-clock row is inserted (or its value saved) within the demo's own
    transaction and put back before it commits, so no other transaction ever
    sees it; reading it is switched on in this process for the duration.
    Moving the clock changes only the session's copy of the row, so it costs
    no UPDATE.
    """
    settings = get_settings()
    was_on = settings.test_clock
    row = session.get(TestClock, 1)
    saved = row.now if row is not None else None
    if row is None:
        row = TestClock(id=1, now=now(session))
        session.add(row)
        session.flush()
    settings.test_clock = True
    try:
        yield _Clock(row)
    finally:
        settings.test_clock = was_on
    if saved is None:
        session.delete(row)
    else:
        session.refresh(row)
    session.flush()


def _create_units(session: Session, clock: _Clock) -> dict[str, Caller]:
    """The 87 units, as of a year ago, and a liaison officer's caller for each."""
    clock.now = clock.now - timedelta(days=400)
    callers: dict[str, Caller] = {}
    top = demo_data.COUNTIES + demo_data.DEPARTMENTS
    for code, name, parent in [(c, n, None) for c, n in top] + demo_data.SUBUNITS:
        unit = create_unit(session, UnitCreate(code=code, name=name, parent_code=parent))
        callers[code] = Caller(0, f"{name}联络员", Role.unit, code, unit.path)
    clock.now = clock.now + timedelta(days=400)
    return callers


class _Player:
    """Plays every item's steps in time order, with the deadline scan in between."""

    def __init__(self, session: Session, clock: _Clock, units: dict[str, Caller]) -> None:
        self.session, self.clock, self.units = session, clock, units
        self.end = clock.now
        self.cal = load_calendar(session)
        self.tz = get_settings().tz
        self.item_ids: dict[int, int] = {}
        """Plan index -> item id. Items are re-read by id (``_item``): a transition
        leaves its item detached from the session (see ``transitions.transition``)."""
        self.pending_extension: dict[int, int] = {}
        self.queue: list = []
        self.scan_at: dict[int, datetime] = {}
        self.measure_ids: dict[int, dict[int, int]] = {}
        self.measure_check_at: dict[int, datetime] = {}

    def play(self, plans: list[ItemPlan]) -> None:
        order = 0
        for index, plan in enumerate(plans):
            for step in plan.steps:
                order += 1
                heapq.heappush(self.queue, (step.at, order, index, step))
        self.plans = plans
        steps, done, every = order, 0, max(1, order // PROGRESS_STEPS)
        while self.queue:
            at, order, index, step = heapq.heappop(self.queue)
            if step is not None:
                done += 1
                if done % every == 0 and done < steps:
                    log.info("demo: %d%% (%s)", 100 * done // steps, at.date().isoformat())
            if at >= self.end:
                continue
            self.clock.now = at
            if step is None:
                self._scan(index, at)
            elif step.action in plans_demo.ACTIONS:  # measures leave the item's deadline be
                self._measure_step(index, plans[index], step, at, order)
                continue
            else:
                self._do(index, plans[index], step)
            self._schedule_scan(index, at, order)

    def _measure_step(self, index: int, plan: ItemPlan, step: Step, at, order: int) -> None:
        """A measure step, or the scan's look at a measure (``check``); then the next look."""
        item_id = self.item_ids[index]
        if step.action == "check":
            measure_id = step.fields["id"]
            plans_demo.check(self.session, item_id, measure_id, at)
        else:
            unit = self.units[step.by or plan.unit]
            ids = self.measure_ids.setdefault(index, {})
            measure_id = plans_demo.play(self.session, unit, item_id, step, ids)
        when = plans_demo.next_check(self.session, measure_id)
        if when is not None and self.measure_check_at.get(measure_id) != when:
            self.measure_check_at[measure_id] = when
            check = Step(step.day, "check", {"id": measure_id})
            heapq.heappush(self.queue, (max(when, at) + SCAN_DELAY, order, index, check))

    def _supervisor(self, plan: ItemPlan) -> Caller:
        names = demo_data.SUPERVISORS[plan.source]
        return Caller(0, names[len(plan.title) % len(names)], Role.supervisor)

    def _do(self, index: int, plan: ItemPlan, step: Step) -> None:
        session, sup = self.session, self._supervisor(plan)
        if step.action == "create":
            item = new_item(
                session,
                sup,
                ItemCreate(
                    title=plan.title,
                    description=plan.description,
                    source=Source(plan.source),
                    category=plan.category,
                    severity=Severity(plan.severity),
                    campaign=plan.campaign,
                    type=plan.type,
                ),
            )
            self.item_ids[index] = item.id
            return
        item = self._item(index)
        unit = self.units[step.by or plan.unit]
        if step.action == "evidence":
            evidence.upload(session, unit, item.id, _report(plan, step))
        elif step.action == "extension":
            reason = demo_data.COMMENTS["extension"][item.id % 2]
            ext = extensions.request_extension(
                session, unit, item.id, step.fields["due_date"], reason
            )
            self.pending_extension[index] = ext.id
        elif step.action == "decide":
            approve = step.fields["approve"]
            comment = demo_data.COMMENTS["decide_yes" if approve else "decide_no"][0]
            ext_id = self.pending_extension.pop(index)
            extensions.decide(session, sup, item.id, ext_id, approve, comment)
        elif step.action == "merge":
            into = self.item_ids[step.fields["into_index"]]
            transition(session, sup, item.id, TransitionRequest(action="merge", into=into), None)
        else:
            actor = unit if step.action in ("accept", "submit", "return") else sup
            request = TransitionRequest(action=step.action, **step.fields)
            transition(session, actor, item.id, request, None)

    def _item(self, index: int) -> Item:
        return self.session.get_one(Item, self.item_ids[index])

    def _schedule_scan(self, index: int, at: datetime, order: int) -> None:
        item = self._item(index) if index in self.item_ids else None
        if item is None or item.next_check_at is None:
            return
        when = max(item.next_check_at, at) + SCAN_DELAY
        if self.scan_at.get(index) == when:
            return
        self.scan_at[index] = when
        heapq.heappush(self.queue, (when, order, index, None))

    def _scan(self, index: int, at: datetime) -> None:
        item = self._item(index)
        if self.scan_at.get(index) != at:
            return
        if item.next_check_at is None or item.next_check_at > at:
            return
        wf = registry.get(item.workflow_name, item.workflow_version)
        fire_due_steps(self.session, item, wf, self.cal, self.tz, at)
        self.session.flush()


def _report(plan: ItemPlan, step: Step) -> UploadFile:
    text = (
        f"整改报告\n\n问题：{plan.title}\n责任单位：{plan.unit}\n"
        f"整改措施：{demo_data.COMMENTS['submit'][0]}\n报送日期：{step.day.isoformat()}\n"
    )
    return UploadFile(
        io.BytesIO(text.encode()),
        filename="整改报告.txt",
        headers=Headers({"content-type": "text/plain; charset=utf-8"}),
    )
