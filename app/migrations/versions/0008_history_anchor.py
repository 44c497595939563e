"""history anchored with a secret

Each item row gains ``history_mac``: an HMAC, keyed with the history key
(``RECTIFY_HISTORY_KEY``, or the key file created on first use), over the
item's id and its chain's head. Existing chains are anchored here, as they
stand, so verification covers them from now on.

Revision ID: 0008
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(
            sa.Column("history_mac", sa.String(length=64), nullable=False, server_default="")
        )
    conn = op.get_bind()
    item = sa.table(
        "item",
        sa.column("id", sa.Integer),
        sa.column("history_seq", sa.Integer),
        sa.column("history_hash", sa.String),
        sa.column("history_mac", sa.String),
    )
    if conn.execute(sa.select(item.c.id).limit(1)).first() is None:
        return  # nothing to anchor: do not create a key file for an empty database
    from app.items.anchor import head_mac, history_key

    key = history_key()
    update = (
        sa.update(item)
        .where(item.c.id == sa.bindparam("item_id"))
        .values(history_mac=sa.bindparam("mac"))
    )
    after = 0
    while True:
        rows = conn.execute(
            sa.select(item.c.id, item.c.history_seq, item.c.history_hash)
            .where(item.c.id > after)
            .order_by(item.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            update,
            [{"item_id": r.id, "mac": head_mac(key, r.id, r.history_seq, r.history_hash)} for r in rows],
        )
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("item") as batch_op:
        batch_op.drop_column("history_mac")
