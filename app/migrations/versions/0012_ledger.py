"""ledger second round: external_ref unique, unit aliases

``item.external_ref`` (外部编号) becomes unique, so a re-imported ledger is
reconciled against the items (对账) instead of duplicating them. Existing
duplicates are reported, and the migration refuses to run over them: which
item keeps the number is for people to decide, not for a migration.

Revision ID: 0012
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

SHOWN = 20


class DuplicateExternalRefs(RuntimeError):
    """Items share an external_ref; the unique index cannot be created."""


def _refuse_duplicates() -> None:
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT external_ref, number, id FROM item WHERE external_ref IN ("
                " SELECT external_ref FROM item WHERE external_ref IS NOT NULL"
                " GROUP BY external_ref HAVING count(*) > 1)"
                " ORDER BY external_ref, id"
            )
        )
        .all()
    )
    if not rows:
        return
    groups: dict[str, list[str]] = {}
    for ref, number, item_id in rows:
        groups.setdefault(ref, []).append(number or f"id {item_id}")
    lines = [
        f"  {ref!r}: items {', '.join(numbers)}" for ref, numbers in list(groups.items())[:SHOWN]
    ]
    more = f"\n  ... and {len(groups) - SHOWN} more" if len(groups) > SHOWN else ""
    raise DuplicateExternalRefs(
        f"Migration 0012 makes 外部编号 (item.external_ref) unique, but {len(groups)} "
        f"external_ref value(s) are used by more than one item:\n"
        + "\n".join(lines)
        + more
        + "\nGive each of these items its own external_ref, or clear it on all but one "
        "(UPDATE item SET external_ref = NULL WHERE number = '...'), then run the "
        "upgrade again. Nothing was changed."
    )


def upgrade() -> None:
    _refuse_duplicates()
    op.create_index("ux_item_external_ref", "item", ["external_ref"], unique=True)
    op.create_table(
        "unit_alias",
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["unit.code"]),
        sa.PrimaryKeyConstraint("alias"),
    )
    op.create_index("ix_unit_alias_unit_code", "unit_alias", ["unit_code"])


def downgrade() -> None:
    op.drop_index("ix_unit_alias_unit_code", table_name="unit_alias")
    op.drop_table("unit_alias")
    op.drop_index("ux_item_external_ref", table_name="item")
