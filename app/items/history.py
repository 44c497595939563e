"""The append-only, hash-chained history of an item.

Each entry's ``hash`` is SHA-256 over a canonical JSON of its content and the
previous entry's hash, so altering, inserting or deleting any row breaks the
chain from that ``seq`` on. The item row is locked by the caller's
transaction, so ``seq`` numbers are assigned without races.
"""

import hashlib
import json
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from app.items.models import HistoryEntry

GENESIS = "0" * 64


def _canonical(entry: HistoryEntry) -> bytes:
    body = {
        "item_id": entry.item_id,
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "from_state": entry.from_state,
        "to_state": entry.to_state,
        "comment": entry.comment,
        "data": entry.data,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(
        body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode()


def compute_hash(entry: HistoryEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def append(
    session: Session,
    item_id: int,
    *,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    comment: str | None = None,
    data: dict | None = None,
    last: tuple[int, str] | None = None,
    flush: bool = True,
) -> HistoryEntry:
    """Append one entry. ``last`` (seq, hash) may be given by a caller that batches
    (the scan); it then also passes ``flush=False`` and flushes once per batch."""
    if last is None:
        last = session.execute(
            select(HistoryEntry.seq, HistoryEntry.hash)
            .where(HistoryEntry.item_id == item_id)
            .order_by(HistoryEntry.seq.desc())
            .limit(1)
        ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    entry = HistoryEntry(
        item_id=item_id,
        seq=seq,
        at=at.replace(microsecond=at.microsecond),
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=data or {},
        prev_hash=prev,
        hash="",
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    if flush:
        session.flush()
    return entry


def note(session: Session, item, *, at: datetime, actor: str, action: str, **kw) -> HistoryEntry:
    """Append an entry that does not move the item (an upload, an escalation, an edit)."""
    return append(
        session,
        item.id,
        at=at,
        actor=actor,
        action=action,
        from_state=item.state,
        to_state=item.state,
        **kw,
    )


def last_entries(session: Session, item_ids: list[int]) -> dict[int, tuple[int, str]]:
    """The newest (seq, hash) of each item, in one query."""
    newest = (
        select(HistoryEntry.item_id, func.max(HistoryEntry.seq).label("seq"))
        .where(HistoryEntry.item_id.in_(item_ids))
        .group_by(HistoryEntry.item_id)
        .subquery()
    )
    rows = session.execute(
        select(HistoryEntry.item_id, HistoryEntry.seq, HistoryEntry.hash).join(
            newest,
            (HistoryEntry.item_id == newest.c.item_id) & (HistoryEntry.seq == newest.c.seq),
        )
    )
    return {item_id: (seq, digest) for item_id, seq, digest in rows}


def entries(session: Session, item_id: int) -> list[HistoryEntry]:
    return list(
        session.scalars(
            select(HistoryEntry).where(HistoryEntry.item_id == item_id).order_by(HistoryEntry.seq)
        )
    )


def verify(session: Session, item_id: int) -> tuple[bool, int, int | None]:
    """Recompute the chain: (ok, number of entries, first broken seq or None)."""
    rows = entries(session, item_id)
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq or row.prev_hash != prev or compute_hash(row) != row.hash:
            return False, len(rows), row.seq
        prev = row.hash
    return True, len(rows), None


def count(session: Session, item_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(HistoryEntry).where(HistoryEntry.item_id == item_id)
    )
