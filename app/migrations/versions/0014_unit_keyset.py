"""a unit's items newest first from the index: (unit_code, id), (unit_code, state, id)

A page of items by unit (the ``unit`` filter, a unit key's scope) is read
branch by branch, lead and co-unit (``app.items.scope.newest_page``); the lead
branch walks ``ix_item_unit_id`` backwards from the cursor and stops after one
page, as the co-unit branch walks ``ix_item_co_unit_unit (unit_code, item_id)``.
With a state filter, ``ix_item_unit_state`` gains ``id`` so that PostgreSQL
walks it in id order too (SQLite's index entries end with the rowid already);
it still covers the counts by unit and state.

Revision ID: 0014_unit_keyset
Revises: 0013_period_index
"""

from alembic import op

revision = "0014_unit_keyset"
down_revision = "0013_period_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_unit_id", "item", ["unit_code", "id"])
    op.drop_index("ix_item_unit_state", table_name="item")
    op.create_index("ix_item_unit_state", "item", ["unit_code", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_item_unit_state", table_name="item")
    op.create_index("ix_item_unit_state", "item", ["unit_code", "state"])
    op.drop_index("ix_item_unit_id", table_name="item")
