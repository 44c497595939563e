"""Many rows through one statement with the driver's ``executemany``, each bind
parameter's processor memoised per value.

What it saves: for every row of an ``executemany``, SQLAlchemy processes every
parameter again (``construct_params``, then the type's processor: a date to
text on SQLite, a datetime to UTC, a list to JSON), and the rows of a bulk
write repeat most of their values -- one moment, one workflow, empty lists, a
few units and dates. The values written are the ones SQLAlchemy would write:
the same compiled SQL, the same processors, run once per distinct value of a
call (the memo lives for one ``execute``: a server's moments never pile up).

A JSON column's value may come as its text already (``db.JsonText``): handed
over as the processor would have written it. Inside ``kit.behind.writes_behind``
(PostgreSQL) the statement is left to the block's writer thread once the values
are converted.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import JSON, Table, bindparam, insert, update
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session

from app.db import JsonText
from app.kit import behind


class ExecuteMany:
    """``statement`` (an INSERT or UPDATE with named bind parameters) for many rows;
    each row a dict of the same keys, the first row's keys name the columns."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._plans: dict[tuple, tuple] = {}

    def _plan(self, dialect, keys: tuple[str, ...]):
        plan = self._plans.get((dialect.name, keys))
        if plan is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
            if compiled.positional:
                assert compiled.positiontup is not None  # set for a positional paramstyle
                order = tuple(compiled.positiontup)
            else:
                order = tuple(compiled.binds)
            if set(order) != set(keys):  # a default or onupdate the rows do not carry
                raise ValueError(f"the rows' keys {keys} are not the statement's {order}")
            processors: list[tuple[int, Callable[[Any], Any]]] = []
            for index, key in enumerate(order):
                type_ = compiled.binds[key].type
                process: Callable[[Any], Any] | None = type_._cached_bind_processor(dialect)
                if isinstance(type_, JSON):
                    process = _or_text(process)
                if process is not None:
                    processors.append((index, process))
            plan = self._plans[(dialect.name, keys)] = (str(compiled), order, processors)
        return plan

    def execute(self, session: Session, rows: list[dict]) -> None:
        if not rows:
            return
        conn = session.connection()
        sql, order, params = self._params(conn.dialect, rows, conn.dialect.positional)
        later = behind.of(session)
        if later is not None:  # the driver's executemany, as exec_driver_sql calls it
            later.submit(partial(_executemany, conn.connection.driver_connection, sql, params))
            return
        conn.exec_driver_sql(sql, params)

    def _params(self, dialect, rows: list[dict], positional: bool) -> tuple[str, tuple, list]:
        """The statement, its parameters' order and every row's processed values."""
        sql, order, processors = self._plan(dialect, tuple(rows[0]))
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
            params.append(tuple(values) if positional else dict(zip(order, values, strict=True)))
        return sql, order, params


def _or_text(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """A JSON column's processor that hands a ``JsonText``'s text over as it is (the
    text the processor writes on SQLite; on PostgreSQL the server reads the text)."""

    def run(value: Any) -> Any:
        if type(value) is JsonText:
            return value.text
        return value if process is None else process(value)

    return run


COPY_FROM = 20
"""Rows from which ``FastInsert`` copies on PostgreSQL (fewer: the statement's
round trip is as cheap, and a transition's one event need not open a COPY)."""


class FastInsert(ExecuteMany):
    """A many-row INSERT into ``table`` (no RETURNING: the ids are not read back).

    On PostgreSQL many rows go through ``COPY ... FROM STDIN`` instead: one stream
    the server parses, not a statement per row (an executemany, even pipelined,
    costs the server a bind and an execute per row; COPY writes the demo's
    events in a fraction of that). The values are the same processed values;
    columns the rows leave out take their defaults, as with the INSERT. A few
    rows, or rows written inside a psycopg pipeline (which has no COPY), go by
    executemany."""

    def __init__(self, table: Table) -> None:
        super().__init__(insert(table).inline())
        self.table = table

    def execute(self, session: Session, rows: list[dict]) -> None:
        if not rows:
            return
        conn = session.connection()
        driver = conn.connection.driver_connection
        if (
            conn.dialect.name != "postgresql"
            or len(rows) < COPY_FROM
            or driver is None
            or driver.pgconn.pipeline_status  # psycopg: not PipelineStatus.OFF
        ):
            super().execute(session, rows)
            return
        _sql, order, params = self._params(conn.dialect, rows, positional=True)
        quote = conn.dialect.identifier_preparer
        columns = ", ".join(quote.quote(name) for name in order)
        copy_sql = f"COPY {quote.format_table(self.table)} ({columns}) FROM STDIN"
        behind.run(session, _copy, driver, copy_sql, params)


def _executemany(driver, sql: str, params: list) -> None:
    with driver.cursor() as cursor:
        cursor.executemany(sql, params)


def _copy(driver, copy_sql: str, params: list[tuple]) -> None:
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for values in params:
            copy.write_row(values)


class FastUpdate(ExecuteMany):
    """Many rows of ``table`` updated by their ``key`` column, each row a dict of the
    new values and ``key_param`` (the key's value, under the statement's name for it).

    On PostgreSQL many rows are copied into a temporary table and ``table`` is updated
    from it in one statement: an executemany costs the server a bind and an execute
    per row and psycopg its Python work per value (for a wide row, ten times the
    copy). Elsewhere, or for a few rows, executemany."""

    def __init__(self, table: Table, key: str, key_param: str) -> None:
        super().__init__(update(table).where(table.c[key] == bindparam(key_param)))
        self.table, self.key, self.key_param = table, key, key_param

    def execute(self, session: Session, rows: list[dict]) -> None:
        conn = session.connection()
        driver = conn.connection.driver_connection
        if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM or driver is None:
            super().execute(session, rows)
            return
        _sql, order, params = self._params(conn.dialect, rows, positional=True)
        quote = conn.dialect.identifier_preparer
        names = [self.key if name == self.key_param else name for name in order]
        table, temp = quote.format_table(self.table), quote.quote(f"fast_update_{self.table.name}")
        key = quote.quote(self.key)
        statements = (
            f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS "  # the columns' types only
            f"SELECT {', '.join(map(quote.quote, names))} FROM {table} WITH NO DATA",
            f"COPY {temp} ({', '.join(map(quote.quote, names))}) FROM STDIN",
            f"UPDATE {table} SET "
            + ", ".join(f"{quote.quote(n)} = t.{quote.quote(n)}" for n in names if n != self.key)
            + f" FROM {temp} t WHERE {table}.{key} = t.{key}",
            f"DROP TABLE {temp}",
        )
        behind.run(session, _copy_update, driver, statements, params)


def _copy_update(driver, statements: tuple[str, str, str, str], params: list[tuple]) -> None:
    create, copy_sql, update_sql, drop = statements
    with driver.cursor() as cursor:
        cursor.execute(create)
        _copy(driver, copy_sql, params)
        cursor.execute(update_sql)
        cursor.execute(drop)
