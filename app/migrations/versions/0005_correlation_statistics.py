"""PostgreSQL statistics on correlated item columns

The list filters combine columns that are strongly correlated (a closed item has
no light; hotline items are rarely in some states). Without multi-column
statistics the planner multiplies their frequencies, expects thousands of
matches and walks the primary key backwards looking for them: 680 ms at 1M
items for a combination with no rows, 0.3 ms with these statistics
(bench/queries.py). SQLite has no equivalent and needs none here.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PAIRS = [("source", "light"), ("source", "state"), ("light", "unit_code"), ("state", "unit_code")]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for a, b in PAIRS:
        op.execute(f"CREATE STATISTICS IF NOT EXISTS st_item_{a}_{b} (mcv) ON {a}, {b} FROM item")
    op.execute("ANALYZE item")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for a, b in PAIRS:
        op.execute(f"DROP STATISTICS IF EXISTS st_item_{a}_{b}")
