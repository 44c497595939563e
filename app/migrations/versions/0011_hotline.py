"""the 12345 hotline: order type, callback result, redo count, duplicates

Items of the hotline workflow carry an order type (工单类型) that sets their
rectification period, the latest callback result (回访), how often a
dissatisfied caller sent the order back (不满意重办), and duplicate orders
(重复件) point at their original, which counts them.

Revision ID: 0011
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(sa.Column("type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("satisfaction", sa.String(length=30), nullable=True))
        batch_op.add_column(
            sa.Column("redo_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("duplicate_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_foreign_key("fk_item_duplicate_of", "item", ["duplicate_of"], ["id"])
        batch_op.create_index("ix_item_type", ["type"])


def downgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.drop_index("ix_item_type")
        batch_op.drop_constraint("fk_item_duplicate_of", type_="foreignkey")
        batch_op.drop_column("duplicate_count")
        batch_op.drop_column("duplicate_of")
        batch_op.drop_column("redo_count")
        batch_op.drop_column("satisfaction")
        batch_op.drop_column("type")
