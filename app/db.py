"""Engine, sessions and the unit of work.

SQLite runs in WAL mode with a busy timeout and foreign keys on. Python's
sqlite3 driver is told not to manage transactions so that we can issue
``BEGIN IMMEDIATE`` for write units of work: SQLite then takes its write lock
at the start, which is our row lock (see DESIGN.md, data flow of a transition).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache

import pydantic_core
from sqlalchemy import DateTime, Engine, Table, create_engine, event, make_url, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import AutoString, Session, SQLModel

from app.settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 120_000
"""How long a SQLite writer waits for the file's write lock. Write requests wait
for their turn on the event loop first (``app.writers``), so within one server
process this is left for the writers outside that queue: the embedded worker's
jobs, another process, the CLI. The ledger import parses and checks before its
write transaction opens, so the lock is held only while rows are written."""
SQLITE_POOL_SIZE = 10
SQLITE_MAX_OVERFLOW = 54
"""A SQLite connection is an open file: cheap. The pool is sized so that it is never
what a request waits for -- every worker thread (AnyIO's 40, the worker's
executor) can hold one, plus streamed exports holding theirs between chunks --
and write requests hold one only with their turn."""

POSTGRES_MAX_OVERFLOW = 10
"""PostgreSQL connections a process opens beyond ``RECTIFY_DATABASE_POOL_SIZE`` in a
burst; they are closed as soon as they are returned, so they are for bursts only.
A pool smaller than the requests a process runs at once opens and closes a
connection (a PostgreSQL backend process, its caches cold, its prepared statements
gone) every few dozen requests: at 16 concurrent transitions and the old pool of
10, 31 a second (bench/transition_throughput.py)."""

WRITE = "rectify_write"
MAX_ID = 2**31 - 1
"""The largest id a row can have (PostgreSQL ``integer``): a bigger one names nothing."""


_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
"""SQLAlchemy's SQLite ``DATETIME`` storage format: what ``isoformat(" ", "microseconds")``
writes for a naive datetime."""


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not UTC:  # already UTC: most values (``now``), kept as they are
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect):
        """On SQLite, the text SQLAlchemy's ``DATETIME`` writes (``YYYY-MM-DD
        HH:MM:SS.ffffff``) by ``isoformat``: two thirds of the time of its ``%`` format, and
        each event, history entry and item of an import has its own moment."""
        impl_format = getattr(self.impl_instance, "_storage_format", None)
        if dialect.name != "sqlite" or impl_format != _SQLITE_DATETIME:
            return super().bind_processor(dialect)
        check = self.process_bind_param

        def process(value):
            value = check(value, dialect)
            return None if value is None else value.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_text(value) -> str:
    """A JSON column's text, by pydantic-core's encoder: the stdlib's took an eighth of
    the demo's load and of a bulk import (every event carries the item's JSON).
    Compact, and Chinese text kept as UTF-8 rather than ``\\u`` escapes (half
    the bytes); readers parse it as before. The history's hashed form is its own
    (``history._canonical``), so no stored hash depends on this."""
    return pydantic_core.to_json(value).decode()


class JsonText:
    """A JSON column's value already written as its text (``json_text``'s bytes), for a
    bulk write (``kit.executemany``), which hands the text over as the column's
    processor would have made it: a value made once need not be encoded again when
    its row is written (an event's data, the item's JSON among it)."""

    __slots__ = ("text",)
    __hash__ = None  # type: ignore[assignment]  # a bulk write memoises hashable values only

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return type(other) is JsonText and other.text == self.text

    def __repr__(self) -> str:
        return f"JsonText({self.text!r})"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        in_file = make_url(url).database not in (None, "", ":memory:")
        pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_MAX_OVERFLOW}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=json_text,
            **(pool if in_file else {}),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # LIKE as PostgreSQL has it: a unit's subtree is the paths that start with
            # its own, and "/Court/" is not "/court/" (SQLite's LIKE ignores ASCII case).
            cur.execute("PRAGMA case_sensitive_like=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            immediate = conn.get_execution_options().get(WRITE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=get_settings().database_pool_size,
        max_overflow=POSTGRES_MAX_OVERFLOW,
        json_serializer=json_text,
    )


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def stored_as_string(length: int) -> AutoString:
    """Column type of a ``StrEnum`` field: the member's value in a VARCHAR(``length``),
    exactly the column a ``str`` field had, so the schema and the stored values stay as
    they are (no database enum type, no migration). Rows read back carry plain strings,
    which compare equal to the members."""
    return AutoString(length=length)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table a SQLModel table class maps to (for Core INSERT/UPDATE and joins).
    SQLModel sets ``__table__`` when the class is made but does not declare it, so a
    type checker cannot see it: this is the one place that says so."""
    return model.__table__  # type: ignore[attr-defined]


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def serialize_with_other_processes(session: Session, key: int) -> None:
    """Hold a PostgreSQL advisory lock until this transaction ends (check-then-insert
    work shared by processes starting at once). SQLite's single writer needs none."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def new_session(write: bool = True, engine: Engine | None = None) -> Session:
    options = {WRITE: True} if write else {}
    return Session(engine or get_engine(), expire_on_commit=False, execution_options=options)


@contextmanager
def unit_of_work(
    write: bool = True, engine: Engine | None = None, session: Session | None = None
) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error.

    Services only ``flush()``; this is the one place that commits. A write unit
    starts its SQLite transaction with ``BEGIN IMMEDIATE`` at its first statement.
    ``session`` (from ``new_session``) runs the unit on a session its caller keeps
    for several units in a row (a batch: one transaction per item).
    """
    own = session is None
    session = session or new_session(write, engine)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        if own:
            session.close()
