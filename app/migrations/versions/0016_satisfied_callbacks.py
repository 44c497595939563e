"""item.satisfied_callbacks: every satisfied callback counts in the 满意率

The 满意率 is (satisfied + basically satisfied) / callbacks other than
unreachable (API.md), every callback. ``satisfaction`` keeps only an order's
latest answer, so an order sent back (不满意重办) and then called back satisfied
counted as one satisfied callback out of one, not one out of two. The
dissatisfied callbacks are ``redo_count`` (each sends the order back once); the
satisfied ones are this column, kept by the callback and filled here from the
history's callback entries. The period report's covering index
(``ix_item_period``, 0013) holds it too, so the report still reads the index alone.

Revision ID: 0016_satisfied_callbacks
Revises: 0015_evidence_latest
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_satisfied_callbacks"
down_revision = "0015_evidence_latest"
branch_labels = None
depends_on = None

PERIOD = [
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
]
PERIOD_AFTER = ["campaign", "id"]


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
    op.create_index("ix_item_period", "item", [*PERIOD, "satisfied_callbacks", *PERIOD_AFTER])


def downgrade() -> None:
    op.drop_index("ix_item_period", table_name="item")
    with op.batch_alter_table("item") as batch_op:
        batch_op.drop_column("satisfied_callbacks")
    op.create_index("ix_item_period", "item", [*PERIOD, *PERIOD_AFTER])
