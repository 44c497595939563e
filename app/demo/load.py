"""Load the demo city into an empty database, in one transaction, in seconds.

87 units, the campaigns and about 1,170 items from every source in the
proportions of the city's published review, spread over the states of both
workflows: most closed, some still being rectified, a few overdue at each
ladder level, a few reopened after a look-back, hotline orders called back,
redone and merged. Names of units and people are made up.

The year is planned without the database (``app.demo.plan``) and played in
memory (``app.demo.player``) with the engine's clock at the moment each step
happened: history, events, lights and escalation levels are what a year of
real use would have left, and every history chain verifies. The rows are
then written with a few multi-row statements -- not through a request's
worth of statements per step, which took about a minute.
"""

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import TestClock, now
from app.db import table_of, unit_of_work
from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.store import load_calendar
from app.demo import data
from app.demo.plan import Planner
from app.demo.player import Player
from app.items import history
from app.items.models import Item
from app.kit.behind import writes_behind
from app.settings import get_settings
from app.units.models import Unit

log = logging.getLogger("rectify.demo")
PROGRESS_LINES = 4
"""The play logs its progress at each quarter (a line per stage besides)."""


def load_demo(engine: Engine | None = None, seed: int = 2024, scale: float = 1.0) -> str:
    """Load the demo into an empty database; a one-line summary of what was done.

    ``scale`` shrinks every count in proportion (tests load a tenth of the year).
    """
    started = time.perf_counter()
    with unit_of_work(engine=engine) as session:
        if session.scalar(select(func.count()).select_from(Item)) or session.scalar(
            select(func.count()).select_from(Unit)
        ):
            return "demo: the database is not empty; nothing loaded"
        with _engine_clock(session) as clock:
            log.info("demo: creating the units")
            units, _held = _create_units(session, clock.now)
            start = clock.now
            cal = KeptCalendar(load_calendar(session))
            plans = Planner(seed, cal, get_settings().tz, start, scale).items()
            log.info("demo: %d units; playing a year of %d items", len(units), len(plans))
            player = Player(session, clock, cal, units, plans)
            with writes_behind(session):  # PostgreSQL writes a batch while the next is made
                with history.buffered(session) as entries:
                    player.play(_progress(), entries)
                clock.now = start
                counts = player.write()
                history.insert_rows(session, entries)
            log.info(
                "demo: wrote %s and %d history entries",
                ", ".join(f"{n} {what}" for what, n in counts.items()),
                player.history_written + len(entries),
            )
            log.info("demo: committing")
        items = list(player.items.values())
        states = Counter(i.state for i in items)
        levels = Counter(i.escalation_level for i in items if i.light == "red")
        measures = [m for ms in player.measures.values() for m in ms]
        overdue_measures = sum(1 for m in measures if m.light == "red")
    return (
        f"demo: loaded {len(units)} units and {len(items)} items ("
        + ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
        + "; overdue by level "
        + ", ".join(f"{level}: {n}" for level, n in sorted(levels.items()))
        + f"; {len(measures)} measures, {overdue_measures} overdue)"
        + f" in {time.perf_counter() - started:.1f} s"
    )


def _progress():
    """A progress callback that logs at each ``1 / PROGRESS_LINES`` of the steps."""
    marks = {"next": 1}

    def report(done: int, total: int, at: datetime) -> None:
        if marks["next"] < PROGRESS_LINES and done * PROGRESS_LINES >= marks["next"] * total:
            log.info("demo: %d%% (%s)", 100 * done // total, at.date().isoformat())
            marks["next"] += 1

    return report


class KeptCalendar(WorkdayCalendar):
    """The transaction's calendar, keeping its answers: the year asks about the same
    few hundred days a few hundred thousand times (nothing overrides a day meanwhile)."""

    def __init__(self, calendar: WorkdayCalendar) -> None:
        super().__init__(calendar.overrides)
        self._days: dict = {}
        self._sums: dict = {}
        self._steps: dict = {}

    def is_workday(self, d: date) -> bool:
        known = self._days.get(d)
        if known is None:
            known = self._days[d] = super().is_workday(d)
        return known

    def add_workdays(self, d: date, n: int) -> date:
        key = (d, n)
        known = self._sums.get(key)
        if known is None:
            known = self._sums[key] = super().add_workdays(d, n)
        return known

    def step_fires_at(self, due: date, offset_workdays: int, tz: ZoneInfo) -> datetime:
        key = (due, offset_workdays, tz)
        known = self._steps.get(key)
        if known is None:
            known = self._steps[key] = super().step_fires_at(due, offset_workdays, tz)
        return known


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


def _create_units(session: Session, moment: datetime) -> tuple[dict[str, Caller], list[Unit]]:
    """The 87 units, as of a year ago (one INSERT): a liaison officer's caller for each,
    and the units read back -- held by the caller, so the session's identity map keeps
    them for the ``assign`` effect's look-ups."""
    created = moment - timedelta(days=400)
    top = [(code, name, None) for code, name in data.COUNTIES + data.DEPARTMENTS]
    rows: list[dict] = []
    paths: dict[str, str] = {}
    callers: dict[str, Caller] = {}
    for code, name, parent in top + data.SUBUNITS:
        path = paths[code] = (paths[parent] if parent else "/") + code + "/"
        rows.append(
            {
                "code": code,
                "name": name,
                "parent_code": parent,
                "path": path,
                "created_at": created,
            }
        )
        callers[code] = Caller(0, f"{name}联络员", Role.unit, code, path)
    session.connection().execute(insert(table_of(Unit)), rows)
    return callers, list(session.scalars(select(Unit)))
