"""The demo's rows and files: what the player starts its objects from, the ids it
reserves, and the writing of everything at the end of the year.

The player (``app.demo.player``) keeps every object in memory while the year plays;
``write`` then puts them into the database with a few multi-row statements per
table, while threads write the evidence files.
"""

import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlmodel import Session

from app.db import is_postgres, table_of
from app.deadlines.models import Extension
from app.items.evidence import blob_path
from app.items.models import Evidence, Item
from app.items.writer import column_values
from app.kit.executemany import FastInsert, FastUpdate
from app.plans.co_units import link_rows
from app.plans.models import ItemCoUnit, Measure, MeasureProgress

_ITEMS = table_of(Item)
_UPDATE_ITEMS = FastUpdate(_ITEMS, "id", "item_id")
_INSERT_EVIDENCE = FastInsert(table_of(Evidence))
_INSERT_CO_UNITS = FastInsert(table_of(ItemCoUnit))
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#####
FILE_WRITERS = 2
"""Threads writing the evidence files while the rows are written (a file system can be
slow). Not while the year plays: a thread switching in whenever the player's thread
lets go of the GIL (for a random event id, a statement) made the play wait for it
(more wall time than the files' own)."""


def _new_row(model, **required) -> dict:
    """The column values a new ``model`` row starts with: its fields' defaults.

    The demo's rows are plain objects (``kit.standin.stand_in``) with these columns:
    an ORM instance costs more to build and to change than everything else the
    engine does for it (``app.ledger.bulk`` does the same)."""
    instance = model(**required)
    return {name: getattr(instance, name) for name in table_of(model).c.keys()}  # noqa: SIM118


ITEM = _new_row(
    Item,
    title="",
    source="",
    state="",
    workflow_name="",
    workflow_version=0,
    created_at=_EPOCH,
    updated_at=_EPOCH,
)
MEASURE = _new_row(
    Measure,
    item_id=0,
    seq=0,
    title="",
    unit_code="",
    kind="",
    created_at=_EPOCH,
    updated_at=_EPOCH,
)
EXTENSION = _new_row(
    Extension,
    item_id=0,
    due_date=_EPOCH.date(),
    reason="",
    requested_by="",
    requested_at=_EPOCH,
)


def reserve_ids(session: Session, table, n: int) -> list[int]:
    """``n`` ids of ``table`` nobody else will take: from its sequence on PostgreSQL;
    on SQLite the ones after the highest (the write transaction holds the lock)."""
    if n == 0:
        return []
    if is_postgres(session):
        stmt = text(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
            "FROM generate_series(1, :n)"
        )
        return list(session.scalars(stmt, {"n": n}))
    top = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(top + 1, top + 1 + n))


def _rows(objects, table, *, with_id: bool = True) -> list[dict]:
    names = [c.name for c in table.c if with_id or c.name != "id"]
    return [{name: getattr(o, name) for name in names} for o in objects]


def changes(item: Item) -> dict:
    """The item's column values but its id: an UPDATE's."""
    values = column_values(item)
    values.pop("id")
    return values


def write(
    session: Session,
    items: Iterable[Item],
    measures: Iterable[Measure],
    evidence: list[dict],
    extensions: list[Extension],
    progress: list[MeasureProgress],
    files: dict[str, bytes],
) -> dict[str, int]:
    """Every row not written yet, a few statements per table, and the evidence
    ``files`` (by SHA-256) meanwhile: their counts."""
    _directories(files)
    shared = list(files.items())
    with ThreadPoolExecutor(FILE_WRITERS, thread_name_prefix="demo-files") as writers:
        # a share of the files each (a task a file: a thousand futures to make and wait on)
        shares = [writers.submit(_store_all, shared[n::FILE_WRITERS]) for n in range(FILE_WRITERS)]
        item_list, measure_list = list(items), list(measures)
        if item_list:
            _UPDATE_ITEMS.execute(session, [{"item_id": i.id, **changes(i)} for i in item_list])
        _INSERT_CO_UNITS.execute(session, link_rows(item_list))
        if evidence:  # ids reserved: history names them
            _INSERT_EVIDENCE.execute(session, evidence)
        for objects, model, with_id in (
            (extensions, Extension, True),
            (measure_list, Measure, True),  # ids reserved: history and events name them
            (progress, MeasureProgress, False),
        ):
            writer = FastInsert(table_of(model))
            writer.execute(session, _rows(objects, writer.table, with_id=with_id))
        for written in shares:
            written.result()  # a file that could not be written fails the load
    return {
        "items": len(item_list),
        "measures": len(measure_list),
        "progress reports": len(progress),
        "extensions": len(extensions),
        "evidence files": len(evidence),
    }


def _changes(item: Item) -> dict:
    values = column_values(item)
    values.pop("id")
    return values


#####
def _directories(shas) -> None:
    """The evidence directories of these files, each made once (not once a file: making
    a directory that exists costs a file system's round trip too)."""
    for directory in {blob_path(sha).parent for sha in shas}:
        directory.mkdir(parents=True, exist_ok=True)


def _store_all(files: list[tuple[str, bytes]]) -> None:
    for sha, body in files:
        _store(sha, body)


def _store(sha: str, body: bytes) -> None:
    """The file where ``items.evidence`` keeps it (content-addressed; kept once), written
    under a temporary name first so an interrupted load leaves no truncated file. Its
    directory exists (``_directories``)."""
    target = blob_path(sha)
    if target.exists():
        return
    tmp = target.with_name(f".demo-{os.getpid()}-{threading.get_ident()}")
    tmp.write_bytes(body)
    os.replace(tmp, target)
