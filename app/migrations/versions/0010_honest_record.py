"""honest record: max escalation level, was overdue, on time; review pause; evidence floor

New item columns, and their values for existing items read from their history:

- ``max_escalation_level``: the highest ``data.level`` of any ladder step or
  manual escalation in the history (or the current level, if higher);
- ``was_overdue`` / ``rectify_was_overdue``: a red ladder step (overdue,
  supervise, summon) fired for any deadline / for the rectify deadline, or the
  item is red now;
- ``review_requested_at``: the latest closure request (``submit``);
- ``on_time`` for items closed as rectified: that request (or, without one,
  the closure) made on or before the due date, and the rectify deadline never
  red;
- ``evidence_floor``: the newest evidence uploaded up to the latest
  reject/reopen, so a resubmission needs newer evidence;
- items under review now show the ``paused`` light and are not scanned.

(The ``type`` filter's column came with 0011.)

Revision ID: 0010
Revises: 0011
"""

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None

RED_STEPS = "('overdue', 'supervise', 'summon')"
SCHEDULER = "'system:scheduler'"


def upgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(
            sa.Column("max_escalation_level", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("was_overdue", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "rectify_was_overdue", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("on_time", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("review_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("evidence_floor", sa.Integer(), nullable=False, server_default="0")
        )
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    level = (
        "(h.data->>'level')::int"
        if postgres
        else "CAST(json_extract(h.data, '$.level') AS INTEGER)"
    )
    kind = "h.data->>'deadline'" if postgres else "json_extract(h.data, '$.deadline')"
    true = "true" if postgres else "1"
    op.execute(
        f"""
        UPDATE item SET max_escalation_level = (
            SELECT max(lv) FROM (
                SELECT item.escalation_level AS lv
                UNION ALL
                SELECT {level} FROM history_entry h
                WHERE h.item_id = item.id AND {level} IS NOT NULL
                  AND (h.actor = {SCHEDULER} OR h.action = 'escalate')
            ) AS levels
        )
        """
    )
    red = f"h.actor = {SCHEDULER} AND h.action IN {RED_STEPS}"
    op.execute(
        f"""
        UPDATE item SET
            was_overdue = (light = 'red' OR EXISTS (
                SELECT 1 FROM history_entry h WHERE h.item_id = item.id AND {red})),
            rectify_was_overdue = ((light = 'red' AND state = 'rectifying') OR EXISTS (
                SELECT 1 FROM history_entry h
                WHERE h.item_id = item.id AND {red} AND {kind} = 'rectify'))
        """
    )
    op.execute(
        """
        UPDATE item SET review_requested_at = (
            SELECT max(h.at) FROM history_entry h
            WHERE h.item_id = item.id AND h.action = 'submit')
        """
    )
    op.execute(
        """
        UPDATE item SET evidence_floor = COALESCE((
            SELECT max(e.id) FROM evidence e
            WHERE e.item_id = item.id AND e.uploaded_at <= (
                SELECT max(h.at) FROM history_entry h
                WHERE h.item_id = item.id AND h.action IN ('reject', 'reopen'))
        ), 0)
        """
    )
    op.execute(
        f"UPDATE item SET light = 'paused', next_check_at = NULL "
        f"WHERE review_pending = {true} AND state = 'rectifying'"
    )
    _backfill_on_time(bind)


def _backfill_on_time(bind) -> None:
    tz = ZoneInfo(os.environ.get("RECTIFY_TIMEZONE") or "Asia/Shanghai")
    item = sa.table(
        "item",
        sa.column("id", sa.Integer()),
        sa.column("due_date", sa.Date()),
        sa.column("closed_at", sa.DateTime(timezone=True)),
        sa.column("review_requested_at", sa.DateTime(timezone=True)),
        sa.column("rectify_was_overdue", sa.Boolean()),
        sa.column("resolution", sa.String()),
        sa.column("on_time", sa.Boolean()),
    )
    rows = bind.execute(
        sa.select(
            item.c.id,
            item.c.due_date,
            item.c.closed_at,
            item.c.review_requested_at,
            item.c.rectify_was_overdue,
        ).where(
            item.c.resolution == "rectified",
            item.c.closed_at.is_not(None),
            item.c.due_date.is_not(None),
        )
    ).all()
    update = (
        sa.update(item)
        .where(item.c.id == sa.bindparam("item_id"))
        .values(on_time=sa.bindparam("value"))
    )
    values = [
        {
            "item_id": row.id,
            "value": _local_date(row.review_requested_at or row.closed_at, tz) <= row.due_date
            and not row.rectify_was_overdue,
        }
        for row in rows
    ]
    for start in range(0, len(values), 5000):
        bind.execute(update, values[start : start + 5000])


def _local_date(moment, tz: ZoneInfo):
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).date()


def downgrade() -> None:
    # the older scan knows no pause: let its next run recompute these items' light
    past = sa.bindparam("past", datetime(2000, 1, 1, tzinfo=UTC), type_=sa.DateTime(timezone=True))
    op.get_bind().execute(
        sa.text(
            "UPDATE item SET light = 'green', next_check_at = :past WHERE light = 'paused'"
        ).bindparams(past)
    )
    with op.batch_alter_table("item") as batch_op:
        for name in (
            "evidence_floor",
            "review_requested_at",
            "on_time",
            "rectify_was_overdue",
            "was_overdue",
            "max_escalation_level",
        ):
            batch_op.drop_column(name)
