"""period report index: the report's columns, by creation time

``GET /reports/period`` counts, per group, over every item created before the
period's end. Without an index it reads the whole item table (titles,
descriptions, JSON and all): 550 ms of SQL at 1M items on PostgreSQL for a
March report, most of it the scan. This index holds, in creation order,
every column the report reads (the group keys, the filters, the figures'
inputs, and ``id`` for a unit key's scope), so the report is a range scan of
the index alone: an index-only scan on PostgreSQL (once vacuum has marked the
pages all-visible, as autovacuum does), a covering index on SQLite.
bench/period_report.py, bench/results.md.

Revision ID: 0013_period_index
Revises: 0007
"""

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


def upgrade() -> None:
    op.create_index("ix_item_period", "item", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_item_period", table_name="item")
