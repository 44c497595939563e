"""The demo's measure steps, done in memory the way the measure services and the scan
would have.

The player (``app.demo.player``) hands each measure step of an item here: adding a
measure, a progress report, completing it (``plans.service``) and the scan's look at
a measure (``plans.scan``). They use the same functions on the same objects
(``refresh_light``, ``overdue_due``, and ``plans.recording``'s ``set_counts`` and
``note_change`` for the counts, version, history entry and event). The measures and
progress reports made here stay in memory until the player writes them at the end of
the year.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.auth.service import Caller
from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.ladder import SYSTEM_ACTOR
from app.demo import measures as planned
from app.demo import rows
from app.demo.plan import Step
from app.items.models import Item, Light
from app.kit.standin import stand_in
from app.plans.lights import overdue_due, refresh_light
from app.plans.models import Measure, MeasureKind, MeasureProgress, MeasureStatus
from app.plans.reads import progress_json
from app.plans.recording import note_change, set_counts
from app.plans.service import created_data


class MeasureSteps:
    """The measures of the year's items: their steps and the scan's looks at them."""

    def __init__(
        self, session: Session, cal: WorkdayCalendar, tz: ZoneInfo, measure_ids: Iterator[int]
    ) -> None:
        self.session, self.cal, self.tz = session, cal, tz
        self.measure_ids = measure_ids
        self.measures: dict[int, list[Measure]] = defaultdict(list)
        """Plan index -> its measures, by seq."""
        self.progress: list[MeasureProgress] = []

    def change_measure(self, item: Item, index: int, unit: Caller, step: Step, at) -> Measure:
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

    def check(self, item: Item, index: int, measure: Measure, at: datetime) -> None:
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
        """``plans.recording.record``: counts (from the measures in memory), version,
        history entry, event."""
        set_counts(item, ((m.status, m.light, 1) for m in self.measures[index]))
        note_change(
            self.session, item, measure, at=at, by=by, action=action, event=event,
            comment=comment, write="later", **record,
        )  # fmt: skip
