"""The append-only, hash-chained history of an item.

Each entry's ``hash`` is SHA-256 over a canonical JSON of its content and the
previous entry's hash, so altering, inserting or deleting any row breaks the
chain from that ``seq`` on. The item row carries the chain's head (newest
``seq`` and ``hash``): appends chain from it without reading the table, and
``verify`` checks the chain ends there, so a deleted tail is detected too.
The caller holds the item's row lock, so ``seq`` numbers are assigned
without races.
"""

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from json.encoder import encode_basestring as _str  # json.dumps' str, ensure_ascii off
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from app.db import table_of
from app.items.anchor import head_mac, history_key
from app.items.models import HistoryEntry, Item
from app.kit.children import children
from app.kit.executemany import FastInsert

GENESIS = "0" * 64
_FIELDS = ("item_id", "seq", "actor", "action", "from_state", "to_state", "comment", "data")
_INSERT = insert(table_of(HistoryEntry))
_BUFFER = "history_buffer"
_INSERT_MANY = FastInsert(table_of(HistoryEntry))
_KEY = "history_key"  # the key, read once for a buffered block's many entries


def _canonical_dumps(entry: Mapping) -> bytes:
    """The canonical text, as ``json.dumps`` writes it: the definition."""
    body = {name: entry[name] for name in _FIELDS}
    body["at"] = entry["at"].isoformat(timespec="microseconds")
    body["prev_hash"] = entry["prev_hash"]
    return json.dumps(
        body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode()


_encode_data = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
).encode
"""``data`` as ``_canonical_dumps`` writes it inside the entry (the same encoder's settings)."""


def _text(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _canonical(entry: Mapping) -> bytes:
    """``_canonical_dumps(entry)``, the top-level fields written in their sorted order
    directly (every append hashes one: the dict, its sort and the encoder's set-up cost
    more than the text). Only for the usual types -- ints, and strs or None -- which
    are written as ``json.dumps`` writes them; anything else goes through it."""
    item_id, seq = entry["item_id"], entry["seq"]
    action, actor, comment = entry["action"], entry["actor"], entry["comment"]
    from_state, to_state, prev_hash = entry["from_state"], entry["to_state"], entry["prev_hash"]
    if not (
        type(item_id) is int
        and type(seq) is int
        and type(action) is str
        and type(actor) is str
        and type(prev_hash) is str
        and (comment is None or type(comment) is str)
        and (from_state is None or type(from_state) is str)
        and (to_state is None or type(to_state) is str)
    ):
        return _canonical_dumps(entry)
    at = entry["at"].isoformat(timespec="microseconds")
    return (
        f'{{"action":{_str(action)},"actor":{_str(actor)},"at":{_str(at)},'
        f'"comment":{_text(comment)},"data":{_encode_data(entry["data"])},'
        f'"from_state":{_text(from_state)},"item_id":{item_id},'
        f'"prev_hash":{_str(prev_hash)},"seq":{seq},"to_state":{_text(to_state)}}}'
    ).encode()


def compute_hash(entry: Mapping | HistoryEntry) -> str:
    if isinstance(entry, HistoryEntry):
        entry = entry.model_dump()
    return hashlib.sha256(_canonical(entry)).hexdigest()


_SLOTS = {"item_id": "\x00item_id", "seq": "\x00seq", "prev_hash": "\x00prev_hash"}


def chain_hasher(
    *,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    comment: str | None = None,
    data: dict,
) -> Callable[[int, int, str], str]:
    """``hash_of(item_id, seq, prev_hash)``: ``compute_hash`` of an entry with these
    fields, for many items' entries alike but for those three (a scan's batch).

    The canonical text is made once, with placeholders where the three go, and filled
    in per entry: the same bytes as ``_canonical`` writes (an int is its digits, a hash
    its hex digits quoted), without encoding the rest again. ``item_id`` and ``seq``
    are ints (an item's columns)."""
    entry = {
        "at": at,
        "actor": actor,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "comment": comment,
        "data": data,
        **_SLOTS,
    }
    text = _canonical(entry).decode()
    found = []
    for position, slot in enumerate(_SLOTS.values()):
        quoted = json.dumps(slot, ensure_ascii=False)
        if text.count(quoted) != 1:  # the fields' text holds a placeholder's
            return lambda item_id, seq, prev_hash: compute_hash(
                {**entry, "item_id": item_id, "seq": seq, "prev_hash": prev_hash}
            )
        found.append((text.index(quoted), quoted, position))
    found.sort()
    parts, rest = [], text
    for _at, quoted, _position in found:
        head, rest = rest.split(quoted)
        parts.append(head)
    p0, p1, p2 = parts
    p3 = rest
    i0, i1, i2 = (position for _at, _quoted, position in found)
    sha256 = hashlib.sha256

    def hash_of(item_id: int, seq: int, prev_hash: str) -> str:
        if type(prev_hash) is str and prev_hash.isalnum():  # no escape: quoted as it is
            prev = f'"{prev_hash}"'
        else:
            prev = json.dumps(prev_hash, ensure_ascii=False)
        filled = (item_id, seq, prev)  # in _SLOTS' order
        return sha256(f"{p0}{filled[i0]}{p1}{filled[i1]}{p2}{filled[i2]}{p3}".encode()).hexdigest()

    return hash_of


def append(
    session: Session,
    item: Item,
    *,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    comment: str | None = None,
    data: dict | None = None,
) -> None:
    """Append one entry to the (locked) item's chain and move the item's head.

    A Core insert: transitions and scans write one entry each, and an ORM
    object would only be built to be flushed.
    """
    entry: dict[str, Any] = {
        "item_id": item.id,
        "seq": item.history_seq + 1,
        "at": at,
        "actor": actor,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "comment": comment,
        "data": data or {},
        "prev_hash": item.history_hash,
    }
    entry["hash"] = hashlib.sha256(_canonical(entry)).hexdigest()
    buffer = session.info.get(_BUFFER)
    if buffer is None:
        session.connection().execute(_INSERT, entry)
    else:
        buffer.append(entry)
    item.history_seq, item.history_hash = entry["seq"], entry["hash"]
    key = session.info.get(_KEY) or history_key()
    item.history_mac = head_mac(key, item.id, entry["seq"], entry["hash"])


@contextmanager
def buffered(session: Session) -> Iterator[list[dict]]:
    """Collect the entries appended in the block instead of inserting each; the caller
    inserts them (``insert_rows``) once their items' rows exist (a bulk import)."""
    rows: list[dict] = []
    session.info[_BUFFER] = rows
    session.info[_KEY] = history_key()
    try:
        yield rows
    finally:
        session.info.pop(_BUFFER, None)
        session.info.pop(_KEY, None)


def insert_rows(session: Session, rows: list[dict]) -> None:
    _INSERT_MANY.execute(session, rows)


def note(session: Session, item: Item, *, at: datetime, actor: str, action: str, **kw) -> None:
    """Append an entry that does not move the item (an upload, an escalation, an edit)."""
    append(
        session,
        item,
        at=at,
        actor=actor,
        action=action,
        from_state=item.state,
        to_state=item.state,
        **kw,
    )


def entries(session: Session, item_id: int) -> list[HistoryEntry]:
    return children(session, HistoryEntry, HistoryEntry.item_id, item_id, order=HistoryEntry.seq)


def verify(session: Session, item: Item) -> tuple[bool, int, int | None]:
    """Recompute the chain and check it ends at the item's head, and the head's
    HMAC under the history key: (ok, number of entries, first broken or missing
    seq, or None)."""
    return _verify(item, entries(session, item.id), history_key())


def _verify(item, rows: list, key: bytes) -> tuple[bool, int, int | None]:
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq or row.prev_hash != prev or compute_hash(row) != row.hash:
            return False, len(rows), row.seq
        prev = row.hash
    if len(rows) != item.history_seq:  # a deleted tail, or rows past the head
        return False, len(rows), min(len(rows), item.history_seq) + 1
    if prev != item.history_hash:  # the newest entry was replaced
        return False, len(rows), len(rows)
    if not hmac.compare_digest(
        item.history_mac, head_mac(key, item.id, item.history_seq, item.history_hash)
    ):  # the newest entry and the head were rewritten together
        return False, len(rows), len(rows)
    return True, len(rows), None


VERIFY_BATCH = 500


def verify_all(session: Session) -> dict:
    """Every item's chain and anchor, a batch of items at a time:
    ``{"items", "ok", "broken": [ids]}``."""
    key = history_key()
    checked, broken, after = 0, [], 0
    while True:
        items = list(
            session.scalars(
                select(Item).where(col(Item.id) > after).order_by(col(Item.id)).limit(VERIFY_BATCH)
            )
        )
        if not items:
            break
        ids = [i.id for i in items]
        chains: dict[int, list[HistoryEntry]] = {i: [] for i in ids}
        stmt = (
            select(HistoryEntry)
            .where(col(HistoryEntry.item_id).in_(ids))
            .order_by(col(HistoryEntry.item_id), col(HistoryEntry.seq))
        )
        for row in session.scalars(stmt):
            chains[row.item_id].append(row)
        for item in items:
            if not _verify(item, chains[item.id], key)[0]:
                broken.append(item.id)
        checked += len(items)
        after = ids[-1]
        session.expunge_all()
    return {"items": checked, "ok": not broken, "broken": broken}


def count(session: Session, item_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(HistoryEntry)
            .where(col(HistoryEntry.item_id) == item_id)
        )
        or 0
    )
