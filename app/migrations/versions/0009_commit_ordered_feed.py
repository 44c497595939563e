"""commit-ordered event feed on PostgreSQL

The outbox no longer takes a transaction-scoped advisory lock (held to
commit, it serialised the tail of every event-writing transaction across
processes). Each event row records its transaction's id instead
(``txid``, a column default of ``pg_current_xact_id()``), and the feed serves
only rows whose transaction is older than every running one
(``pg_snapshot_xmin(pg_current_snapshot())``), in ``(txid, id)`` order, so a
cursor never passes an event that has yet to commit. Rows written before
this revision were ordered by the lock: they get txid 0 and keep their id
order. SQLite (one writer) keeps ordering by id and leaves txid NULL.

Revision ID: 0009
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A constant default fills existing rows without a rewrite; new rows then
        # default to their transaction's id (xid8, epoch-extended: fits a bigint).
        op.add_column("event", sa.Column("txid", sa.BigInteger(), nullable=True, server_default="0"))
        op.execute("ALTER TABLE event ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)")
        op.create_index("ix_event_feed", "event", ["txid", "id"])
    else:
        with op.batch_alter_table("event") as batch_op:
            batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
        op.create_index(
            "ix_event_feed", "event", ["txid", "id"], sqlite_where=sa.text("txid IS NOT NULL")
        )


def downgrade() -> None:
    op.drop_index("ix_event_feed", table_name="event")
    with op.batch_alter_table("event") as batch_op:
        batch_op.drop_column("txid")
