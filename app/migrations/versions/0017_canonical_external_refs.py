"""外部编号 in their one written form: the refs stored before it was kept

Since ``app.items.refs`` every write and every lookup of an ``external_ref``
uses its canonical form (NFKC, every dash a "-", no format characters, no
surrounding space). A ref stored earlier in another form ("ＨＸ-2026-０００１",
"HX‐2026‐0001", a trailing zero-width space) could no longer be found by its
own text, and a re-imported ledger would make it a second item. This rewrites
those refs into the canonical form.

A ref whose canonical form another item already holds (or that two old refs
share) is the same order on two items: which item keeps the number is for people
to decide, not for a migration (as 0012 did for exact duplicates). The migration
then names them and changes nothing.

The canonical form is written out here, not imported: a migration keeps doing
what it did when it was written, whatever ``app.items.refs`` becomes.

Revision ID: 0017_canonical_external_refs
Revises: 0016_satisfied_callbacks
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0017_canonical_external_refs"
down_revision = "0016_satisfied_callbacks"
branch_labels = None
depends_on = None

SHOWN = 20
CHUNK = 500
_DASHES = re.compile("[\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d]")


class CollidingExternalRefs(RuntimeError):
    """Items' external_refs are one ref in canonical form; none is rewritten."""


def _canonical(value: str) -> str | None:
    text = unicodedata.normalize("NFKC", value)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return _DASHES.sub("-", text).strip() or None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, number, external_ref FROM item WHERE external_ref IS NOT NULL"
        ).execution_options(yield_per=5000)
    )
    moves: dict[int, str | None] = {}
    # Who would hold each canonical ref the migration writes: the items moving to it,
    # then (below) the item already holding it (a canonical ref is its own canonical
    # form, so an item holding one never moves).
    holders: dict[str, list[str]] = {}
    for item_id, number, ref in rows:
        new = _canonical(ref)
        if new != ref:
            moves[item_id] = new
            if new is not None:
                holders.setdefault(new, []).append(f"{number or f'id {item_id}'} ({ref!r})")
    targets = list(holders)
    for start in range(0, len(targets), CHUNK):
        held = conn.execute(
            sa.text("SELECT id, number, external_ref FROM item WHERE external_ref IN :refs")
            .bindparams(sa.bindparam("refs", expanding=True))
            .params(refs=targets[start : start + CHUNK])
        )
        for item_id, number, ref in held:
            holders[ref].insert(0, f"{number or f'id {item_id}'} ({ref!r})")
    _refuse_collisions({ref: items for ref, items in holders.items() if len(items) > 1})
    if moves:
        conn.execute(
            sa.text("UPDATE item SET external_ref = :ref WHERE id = :id"),
            [{"id": item_id, "ref": new} for item_id, new in moves.items()],
        )


def _refuse_collisions(groups: dict[str, list[str]]) -> None:
    if not groups:
        return
    lines = [f"  {ref!r}: items {', '.join(items)}" for ref, items in list(groups.items())[:SHOWN]]
    more = f"\n  ... and {len(groups) - SHOWN} more" if len(groups) > SHOWN else ""
    raise CollidingExternalRefs(
        f"Migration 0017 writes 外部编号 (item.external_ref) in one form (full-width "
        f"characters as ASCII, every dash as '-', no zero-width characters), but then "
        f"{len(groups)} external_ref value(s) would belong to more than one item:\n"
        + "\n".join(lines)
        + more
        + "\nThese are the same order on two items: merge them, or give each its own "
        "external_ref (UPDATE item SET external_ref = NULL WHERE number = '...'), then "
        "run the upgrade again. Nothing was changed."
    )


def downgrade() -> None:
    """Nothing to undo: the canonical form is a ref an earlier version reads as well."""
