"""the 满意率 counts every callback: item.satisfied_callbacks, callbacks by time

The 满意率 is (satisfied + basically satisfied) / callbacks other than
unreachable (API.md), every callback. ``satisfaction`` keeps only an order's
latest answer, so an order sent back (不满意重办) and then called back satisfied
counted as one satisfied callback out of one, not one out of two.

- ``item.satisfied_callbacks``: the order's satisfied callbacks, kept by the
  callback and filled here from the history's callback entries. With
  ``redo_count`` (one a dissatisfied callback) they are every callback the
  summary reports count, read with the rest of the item's figures.
- ``ix_history_callback``: the callback entries by time (a partial index: only
  they are in it, so no other history write pays for it). The period report
  counts the callbacks made in its period from these: a past month's figures no
  longer move with later callbacks.
- ``ix_item_period`` (0013) holds the columns the period report now reads of
  an item: ``on_time`` (its on-time rate is the items' honest record, as the
  summary's) in place of ``satisfaction``, ``duplicate_of`` and ``redo_count``.

Revision ID: 0016_satisfied_callbacks
Revises: 0015_evidence_latest
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_satisfied_callbacks"
down_revision = "0015_evidence_latest"
branch_labels = None
depends_on = None

PERIOD_0013 = [
    "created_at",
    "unit_code",
    "source",
    "type",
    "closed_at",
    "resolution",
    "due_date",
    "satisfaction",
    "duplicate_of",
    "redo_count",
    "campaign",
    "id",
]
PERIOD = [
    "created_at",
    "unit_code",
    "source",
    "type",
    "closed_at",
    "resolution",
    "due_date",
    "on_time",
    "campaign",
    "id",
]
CALLBACK = sa.text("action = 'callback'")


def upgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(
            sa.Column("satisfied_callbacks", sa.Integer(), nullable=False, server_default="0")
        )
    postgres = op.get_bind().dialect.name == "postgresql"
    answer = "h.data ->> 'satisfaction'" if postgres else "json_extract(h.data, '$.satisfaction')"
    satisfied = f"""
        FROM history_entry h WHERE h.item_id = item.id AND h.action = 'callback'
        AND {answer} IN ('satisfied', 'basically_satisfied')"""
    op.execute(
        f"UPDATE item SET satisfied_callbacks = (SELECT count(*) {satisfied}) "
        f"WHERE satisfaction IS NOT NULL AND EXISTS (SELECT 1 {satisfied})"
    )
    op.drop_index("ix_item_period", table_name="item")
    op.create_index("ix_item_period", "item", PERIOD)
    op.create_index(
        "ix_history_callback",
        "history_entry",
        ["at", "item_id"],
        postgresql_where=CALLBACK,
        sqlite_where=CALLBACK,
    )


def downgrade() -> None:
    op.drop_index("ix_history_callback", table_name="history_entry")
    op.drop_index("ix_item_period", table_name="item")
    with op.batch_alter_table("item") as batch_op:
        batch_op.drop_column("satisfied_callbacks")
    op.create_index("ix_item_period", "item", PERIOD_0013)
