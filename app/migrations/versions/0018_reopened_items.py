"""the period report follows reopened items' history: their reopens by time

``GET /reports/period`` counted every item from its row: ``closed_at``,
``resolution`` and ``on_time`` as they are now. A reopen (回头看) clears them, so
a month in which an item was closed lost that closure when it was reopened
later, and had it open at its end. The report now counts the items reopened
since the period's start from their history's closures and reopens, the others
from their rows as before.

- ``ix_history_reopen``: the reopen entries by time (a partial index: only they
  are in it, so no other history write pays for it). The report finds the
  items reopened since its start in it, one range of a small index.

Revision ID: 0018_reopened_items
Revises: 0017_canonical_external_refs
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_reopened_items"
down_revision = "0017_canonical_external_refs"
branch_labels = None
depends_on = None

REOPEN = sa.text("action = 'reopen'")


def upgrade() -> None:
    op.create_index(
        "ix_history_reopen",
        "history_entry",
        ["at", "item_id"],
        postgresql_where=REOPEN,
        sqlite_where=REOPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_history_reopen", table_name="history_entry")
