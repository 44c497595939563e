"""dashboard indexes; scan index covers its ORDER BY

Composite indexes for the list filters dashboards combine (source + light,
source + state, light + unit), so rare or empty combinations are answered from
the index instead of walking every row of one value; the scan index gains
``id`` so ``ORDER BY next_check_at, id`` needs no sort.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_light_unit", "item", ["light", "unit_code"])
    op.create_index("ix_item_source_light", "item", ["source", "light"])
    op.create_index("ix_item_source_state", "item", ["source", "state"])
    op.drop_index("ix_item_next_check", table_name="item")
    op.create_index("ix_item_next_check", "item", ["next_check_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_item_next_check", table_name="item")
    op.create_index("ix_item_next_check", "item", ["next_check_at"])
    op.drop_index("ix_item_source_state", table_name="item")
    op.drop_index("ix_item_source_light", table_name="item")
    op.drop_index("ix_item_light_unit", table_name="item")
