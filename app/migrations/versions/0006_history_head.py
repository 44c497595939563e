"""history head on the item row

Each item keeps the ``seq`` and ``hash`` of its newest history entry. A
transition appends from there instead of looking the newest entry up, and
``/history/verify`` compares the chain's end with it, so deleting the newest
entries is detected too (the chain alone cannot show a missing tail).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(
            sa.Column("history_seq", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "history_hash", sa.String(length=64), nullable=False, server_default=GENESIS
            )
        )
    op.execute(
        """
        UPDATE item SET
            history_seq = (SELECT max(h.seq) FROM history_entry h WHERE h.item_id = item.id),
            history_hash = (
                SELECT h.hash FROM history_entry h
                WHERE h.item_id = item.id
                ORDER BY h.seq DESC LIMIT 1
            )
        WHERE EXISTS (SELECT 1 FROM history_entry h WHERE h.item_id = item.id)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.drop_column("history_hash")
        batch_op.drop_column("history_seq")
