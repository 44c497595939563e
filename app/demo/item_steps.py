"""The demo's item steps, done in memory the way the item services would have.

The player (``app.demo.player``) hands each step of an item here: its creation
(``POST /items``), a transition (``POST /items/{id}/transitions``; ``merge`` among
them), an evidence upload and an extension request and its decision. Transitions run
through ``transitions.apply`` (the machine's guards and effects, deadlines, the
history entry, the events); the rest is done with the services' own functions
(``writer.change``, ``note_if_past_due``, ``refresh_deadlines``) on the item in memory. The
evidence rows and files and the extensions made here stay in memory until the player
writes them at the end of the year.
"""

import hashlib
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update
from sqlmodel import Session

from app.auth.service import Caller
from app.db import table_of
from app.deadlines.calendar import WorkdayCalendar
from app.deadlines.extensions import public as extension_json
from app.deadlines.models import Extension, ExtensionStatus
from app.deadlines.schedule import deadline_dates, note_if_past_due
from app.demo import data, rows
from app.demo.plan import ItemPlan, Step
from app.items.models import Item, Severity, Source
from app.items.schemas import ItemCreate, TransitionRequest
from app.items.service import item_number, new_item_columns, refresh_deadlines
from app.items.transitions import apply
from app.items.writer import change, column_values
from app.kit.standin import stand_in
from app.workflow.registry import registry

EVIDENCE_TYPE = "text/plain; charset=utf-8"

_ITEMS = table_of(Item)
_UPDATE_ITEM = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))


class ItemSteps:
    """An item's steps other than its measures, on the item objects of the year."""

    def __init__(
        self,
        session: Session,
        clock,
        cal: WorkdayCalendar,
        tz: ZoneInfo,
        *,
        item_ids: Iterator[int],
        extension_ids: Iterator[int],
        evidence_ids: Iterator[int],
    ) -> None:
        self.session, self.clock, self.cal, self.tz = session, clock, cal, tz
        self.conn = session.connection()
        self.item_ids, self.extension_ids, self.evidence_ids = item_ids, extension_ids, evidence_ids
        self.extensions: list[Extension] = []
        self.evidence: list[dict] = []
        self.pending_extension: dict[int, Extension] = {}
        """Plan index -> its extension request awaiting a decision."""
        self.files: dict[str, bytes] = {}
        """Evidence files to write (the player's ``write``), by their SHA-256."""
        self.requests: dict[tuple, dict] = {}
        """Distinct transition requests -> their fields (``_request_fields``)."""

    def new_item(self, plan: ItemPlan, at: datetime) -> Item:
        """The item ``POST /items`` makes of ``plan`` at ``at`` (the player inserts its row)."""
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

    def create(self, item: Item, sup: Caller, at: datetime) -> None:
        """``POST /items``: the item's first history entry and ``item.created``."""
        with change(self.session, item, at=at, write="later", bump=False) as created:
            created.record("create", actor=sup.actor, from_state=None, to_state=item.state)
            created.emit("item.created", actor=sup.identity())

    def transition(self, item: Item, actor: Caller, step: Step, **extra) -> None:
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

    def merge(self, item: Item, original: Item, sup: Caller) -> None:
        """``merge``: its effect locks and changes the original through the session, so
        the original's row is brought up to date first and its changes taken back after."""
        self.conn.execute(_UPDATE_ITEM, {"item_id": original.id, **rows.changes(original)})
        self.transition(item, sup, Step(item.created_at.date(), "merge"), into=original.id)
        loaded = self.session.get(Item, original.id)
        for name, value in column_values(loaded).items():
            setattr(original, name, value)
        self.session.expunge(loaded)

    def upload_evidence(self, item: Item, plan: ItemPlan, step: Step, unit: Caller, at) -> None:
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

    def request_extension(self, index: int, item: Item, unit: Caller, due, at) -> None:
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

    def decide(self, index: int, item: Item, sup: Caller, approve: bool, at) -> None:
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


def _report(plan: ItemPlan, step: Step) -> str:
    return (
        f"整改报告\n\n问题：{plan.title}\n责任单位：{plan.unit}\n"
        f"整改措施：{data.COMMENTS['submit'][0]}\n报送日期：{step.day.isoformat()}\n"
    )
