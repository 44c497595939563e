"""A many-row INSERT through the driver's ``executemany``, without SQLAlchemy's
per-row parameter processing (used by the bulk import and the outbox)."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session


class FastInsert:
    """A many-row INSERT into ``table`` through the driver's ``executemany``, each
    column's bind processor memoised per value.

    What it saves: SQLAlchemy processes every parameter of every row again
    (``construct_params``, then the column type's processor: a date to text on
    SQLite, a datetime to UTC, a list to JSON), and an import's rows repeat most
    of their values -- one moment, one workflow, empty lists, a few units and
    dates. The values written are the ones SQLAlchemy would write: the same
    processors run, once per distinct value of one call.
    """

    def __init__(self, table) -> None:
        self.table = table
        self._plans: dict[tuple, tuple] = {}

    def _plan(self, dialect, keys: tuple[str, ...]):
        plan = self._plans.get((dialect.name, keys))
        if plan is None:
            compiled = insert(self.table).compile(dialect=dialect, column_keys=list(keys))
            if compiled.positional:
                assert compiled.positiontup is not None  # set for a positional paramstyle
                order = tuple(compiled.positiontup)
            else:
                order = keys
            processors: list[tuple[int, Callable[[Any], Any]]] = []
            for index, key in enumerate(order):
                process = self.table.c[key].type._cached_bind_processor(dialect)
                if process is not None:
                    processors.append((index, process))
            plan = self._plans[(dialect.name, keys)] = (str(compiled), order, processors)
        return plan

    def execute(self, session: Session, rows: list[dict]) -> None:
        if not rows:
            return
        conn = session.connection()
        sql, order, processors = self._plan(conn.dialect, tuple(rows[0]))
        # Memoised for this call only: a long-lived process (the outbox's) keeps no values.
        memos: list[dict] = [{} for _ in processors]
        params = []
        for row in rows:
            values = [row[k] for k in order]
            for (index, process), memo in zip(processors, memos, strict=True):
                value = values[index]
                key = tuple(value) if type(value) is list else value
                try:
                    values[index] = memo[key]
                except KeyError:
                    values[index] = memo[key] = process(value)
                except TypeError:  # a dict (JSON): processed each time
                    values[index] = process(value)
            params.append(
                tuple(values) if conn.dialect.positional else dict(zip(order, values, strict=True))
            )
        conn.exec_driver_sql(sql, params)
