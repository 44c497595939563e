"""Bulk writes sent while the caller goes on: on PostgreSQL the server writes one
batch of rows while the caller makes the next (``writes_behind``).

A bulk write (``kit.executemany``: ``FastInsert``, ``ExecuteMany``) inside the
block converts its rows' values at once, in the caller's thread, and leaves the
statement to one thread that sends the statements in order and waits for the
server; the caller's thread goes on. Whatever else runs on the connection --
any statement through SQLAlchemy, the commit after the block -- first waits for
the writes sent before it, so the statements run in the order they were
issued, one at a time, and an error in a bulk write is raised there (or at the
block's end) and rolls the transaction back as it would have.

Only on PostgreSQL: the thread waits on the server's socket without the GIL.
SQLite's driver takes the GIL back for every row it steps through, which would
make each row wait for the caller's thread to let go of it; there the writes
run in the caller's thread, as without the block.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

from sqlalchemy import event
from sqlmodel import Session

_KEY = "writes_behind"


class Behind:
    """One thread sending the block's bulk writes in the order given."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="writes-behind")
        self._sent: list[Future] = []

    def submit(self, write: Callable[[], None]) -> None:
        self._sent.append(self._thread.submit(write))

    def wait(self, *_event_args) -> None:
        """Every write sent so far done; the first one's error, if any, raised."""
        sent, self._sent = self._sent, []
        for future in sent:
            future.result()

    def close(self) -> None:
        """Stop the thread once the write it runs is done; writes still queued behind a
        failed one are dropped (the transaction is rolled back: they could only fail)."""
        self._thread.shutdown(wait=True, cancel_futures=True)


def of(session: Session) -> Behind | None:
    """The writer of the session's ``writes_behind`` block, if one is open."""
    return session.info.get(_KEY)


def run(session: Session, write: Callable[..., None], *args) -> None:
    """``write(*args)``, a bulk write on the driver's connection: behind the session's
    ``writes_behind`` block if one is open, here and now otherwise."""
    later = of(session)
    if later is None:
        write(*args)
    else:
        later.submit(partial(write, *args))


@contextmanager
def writes_behind(session: Session) -> Iterator[None]:
    """Bulk writes in the block go out while the caller goes on (PostgreSQL only)."""
    conn = session.connection()
    if (
        conn.dialect.name != "postgresql"
        or conn.connection.driver_connection is None
        or of(session) is not None  # inside a block already: its writer goes on
    ):
        yield
        return
    behind = Behind()
    event.listen(conn, "before_cursor_execute", behind.wait)
    session.info[_KEY] = behind
    try:
        yield
        behind.wait()
    finally:
        session.info.pop(_KEY, None)
        event.remove(conn, "before_cursor_execute", behind.wait)
        behind.close()  # after an error: nothing is left running on the connection
