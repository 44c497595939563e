"""period report indexes: the report's columns by creation time; open items by level

``GET /reports/period`` counts, per group, over every item created before the
period's end. Without an index it reads the whole item table (titles,
descriptions, JSON and all): 550 ms of SQL at 1M items on PostgreSQL for a
March report, most of it the scan. This index holds, in creation order,
every column the report reads (the group keys, the filters, the figures'
inputs, and ``id`` for a unit key's scope), so the report is a range scan of
the index alone: an index-only scan on PostgreSQL (once vacuum has marked the
pages all-visible, as autovacuum does), a covering index on SQLite.

``ix_item_open_level`` (open items only, by escalation level, then due date)
answers the circular (通报) and the period report's docx list of 督办/约谈
items (``app/ledger/period.circular``: per level from the top, ``ORDER BY
due_date, id LIMIT n``) with the first entries of one index range instead of
a sort of every open item at those levels: 690 -> 11 ms at 1M items, and its
count from the index alone.

bench/period_report.py, bench/results.md.

Revision ID: 0013_period_index
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_period_index"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = [
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


OPEN = sa.text("closed_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_item_period", "item", COLUMNS)
    op.create_index(
        "ix_item_open_level",
        "item",
        ["escalation_level", "due_date", "id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_item_open_level", table_name="item")
    op.drop_index("ix_item_period", table_name="item")
