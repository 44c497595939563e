"""item (unit_code, id): a unit's items newest first from the index

A page of items by unit (the ``unit`` filter, a unit key's scope) is read
branch by branch, lead and co-unit (``app.items.scope.newest_first``); the lead
branch walks this index backwards from the cursor and stops after one page,
as the co-unit branch walks ``ix_item_co_unit_unit (unit_code, item_id)``.
(``ix_item_unit_state`` orders a unit's items by state first.)

Revision ID: 0013_unit_keyset
Revises: 0007
"""

from alembic import op

revision = "0013_unit_keyset"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_unit_id", "item", ["unit_code", "id"])


def downgrade() -> None:
    op.drop_index("ix_item_unit_id", table_name="item")
