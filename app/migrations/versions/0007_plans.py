"""rectification plans: co-units, responsible people, measures and their progress

Items gain ``co_unit_codes`` (as rendered; ``item_co_unit`` is its index),
``responsible_person``/``responsible_leader`` and the measures' counts; events
record the co-units they concern. Existing items get no co-units and zero
measures, so a populated database upgrades in place.

Revision ID: 0007
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None

COUNTS = (
    "measures_total",
    "measures_open",
    "measures_done",
    "measures_ongoing",
    "measures_overdue",
)


def upgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(
            sa.Column("co_unit_codes", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("responsible_person", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("responsible_leader", sa.String(length=100), nullable=True))
        for name in COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("event") as batch_op:
        batch_op.add_column(sa.Column("co_unit_codes", sa.JSON(), nullable=True))
    op.create_table(
        "item_co_unit",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"]),
        sa.ForeignKeyConstraint(["unit_code"], ["unit.code"]),
        sa.PrimaryKeyConstraint("item_id", "unit_code"),
    )
    op.create_index("ix_item_co_unit_unit", "item_co_unit", ["unit_code", "item_id"])
    op.create_table(
        "measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("light", sa.String(length=10), nullable=False),
        sa.Column("completed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("latest_progress", sa.JSON(), nullable=True),
        sa.Column("next_check_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("overdue_notified", sa.Date(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"]),
        sa.ForeignKeyConstraint(["unit_code"], ["unit.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "seq"),
    )
    op.create_index("ix_measure_next_check", "measure", ["next_check_at", "id"])
    op.create_index("ix_measure_unit_code", "measure", ["unit_code"])
    op.create_table(
        "measure_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["measure_id"], ["measure.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_measure_progress_measure_id", "measure_progress", ["measure_id"])


def downgrade() -> None:
    op.drop_index("ix_measure_progress_measure_id", table_name="measure_progress")
    op.drop_table("measure_progress")
    op.drop_index("ix_measure_unit_code", table_name="measure")
    op.drop_index("ix_measure_next_check", table_name="measure")
    op.drop_table("measure")
    op.drop_index("ix_item_co_unit_unit", table_name="item_co_unit")
    op.drop_table("item_co_unit")
    with op.batch_alter_table("event") as batch_op:
        batch_op.drop_column("co_unit_codes")
    with op.batch_alter_table("item") as batch_op:
        for name in reversed(COUNTS):
            batch_op.drop_column(name)
        batch_op.drop_column("responsible_leader")
        batch_op.drop_column("responsible_person")
        batch_op.drop_column("co_unit_codes")
