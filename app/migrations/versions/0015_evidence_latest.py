"""item.evidence_latest: the item's newest evidence id, kept on the item row

The fresh-evidence rule (a closure request needs evidence newer than the latest
reject/reopen, ``evidence_floor``) was a query of the evidence table on every
guard check and every reject. The upload sets ``evidence_latest`` under the
item's row lock (evidence is never deleted), so the guard compares two columns
of the row it already holds and a reject copies one into the other.

Revision ID: 0015_evidence_latest
Revises: 0014_unit_keyset
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_evidence_latest"
down_revision = "0014_unit_keyset"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(
            sa.Column("evidence_latest", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        """
        UPDATE item SET evidence_latest = COALESCE(
            (SELECT max(e.id) FROM evidence e WHERE e.item_id = item.id), 0)
        WHERE EXISTS (SELECT 1 FROM evidence e WHERE e.item_id = item.id)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.drop_column("evidence_latest")
