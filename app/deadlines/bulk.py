"""Statements that write many rows at once, for the deadline scan's batches.

A ``Bulk`` is one UPDATE by key or one INSERT of many rows, run as the driver's
``executemany`` on SQLite and as a single statement over a JSON array of rows on
PostgreSQL; a ``Writer`` sends a batch's statements, on PostgreSQL through a
pipeline so that the server writes while the caller computes the next rows.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy import exc as sa_exc

from app.db import json_text


class Bulk:
    """One statement writing many rows of ``table``: an UPDATE by ``key`` or an INSERT.

    A row's values are ``constant`` ones, the same for all rows of a call (the batch's
    moment, its actor), and ``varying`` ones (then ``key``), each in the driver's
    form: made by ``convert``, the column's own bind processor (stored exactly as
    SQLAlchemy stores it), which a caller runs once per distinct value (the scan: a
    step's values once per batch, not once per item).

    SQLite runs it as the driver's ``executemany`` (one prepared statement).
    PostgreSQL runs one statement for all the rows: the constants as parameters,
    the varying values as one JSON array of rows that the server takes apart
    (``jsonb_array_elements``); so the server plans and runs it once per call, and
    the client encodes the rows with ``json_text`` (pydantic-core's encoder: a third
    of the stdlib's time), where psycopg's arrays (one per column, ``unnest``) cost a
    Python call per value.
    """

    def __init__(
        self,
        table,
        constant: tuple[str, ...],
        varying: tuple[str, ...],
        key: str | None = None,
        texts: int = 0,
    ) -> None:
        self.table, self.constant, self.varying, self.key = table, constant, varying, key
        self.columns = (*constant, *varying, *((key,) if key else ()))
        self.texts = texts
        """The last ``texts`` varying columns (not with a key) are long texts, handed to
        PostgreSQL as arrays beside the JSON rows: escaped into those, they cost more."""
        self._prepared: dict = {}

    def _sql(self, dialect) -> tuple[str, dict]:
        got = self._prepared.get(dialect.name)
        if got is not None:
            return got
        t, key = self.table, self.key
        names = (*self.constant, *self.varying)
        procs = {name: _processor(t.c[name].type, dialect) for name in self.columns}
        if dialect.name == "postgresql":
            cast_to = {n: _pg_type(t.c[n].type, dialect) for n in self.columns}
            values = {n: f"%({n})s::{cast_to[n]}" for n in self.constant}
            in_rows = (*self.varying, *((key,) if key else ()))
            texts = in_rows[len(in_rows) - self.texts :]
            for i, n in enumerate(in_rows[: len(in_rows) - self.texts]):
                values[n] = f"(v.row->>{i})::{cast_to[n]}"
            for n in texts:
                values[n] = f"v.{n}::{cast_to[n]}"
            unnests = "".join(f", unnest(%({n})b::text[])" for n in texts)
            columns = ", ".join(("row", *texts))
            source = f"ROWS FROM (jsonb_array_elements(%(rows)s::jsonb){unnests}) AS v({columns})"
            if key:
                sets = ", ".join(f"{n} = {values[n]}" for n in names)
                sql = (
                    f"UPDATE {t.name} SET {sets} FROM {source} WHERE {t.name}.{key} = {values[key]}"
                )
            else:
                selected = ", ".join(values[n] for n in names)
                sql = f"INSERT INTO {t.name} ({', '.join(names)}) SELECT {selected} FROM {source}"
        elif key:
            sets = ", ".join(f"{n} = ?" for n in names)
            sql = f"UPDATE {t.name} SET {sets} WHERE {key} = ?"
        else:
            sql = (
                f"INSERT INTO {t.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            )
        got = self._prepared[dialect.name] = (sql, procs)
        return got

    def convert(self, dialect, name: str, value):
        """``value`` of column ``name`` as the driver takes it."""
        proc = self._sql(dialect)[1][name]
        return value if proc is None else proc(value)

    def row_of(self, dialect, names: tuple[str, ...], values: tuple) -> tuple:
        """``values`` of the varying columns ``names`` as a row holds them: as the driver
        takes them (SQLite) or as JSON can carry them to the server (PostgreSQL: a
        moment as its ISO text, which the statement casts back to the same moment)."""
        row = tuple(self.convert(dialect, n, v) for n, v in zip(names, values, strict=True))
        if dialect.name == "postgresql":
            row = tuple(v.isoformat() if isinstance(v, datetime) else v for v in row)
        return row

    def run(self, writer: "Writer", constants: tuple, rows: list[tuple]) -> None:
        """Write ``rows`` (the varying values, then the key), each with ``constants``."""
        if not rows:
            return
        sql = self._sql(writer.dialect)[0]
        if writer.dialect.name == "postgresql":
            params = dict(zip(self.constant, constants, strict=True))
            if self.texts:
                cut = len(self.varying) - self.texts
                for i, name in enumerate(self.varying[cut:], start=cut):
                    params[name] = [row[i] for row in rows]
                rows = [row[:cut] for row in rows]
            params["rows"] = json_text(rows)
            writer.execute(sql, params)
        elif constants:
            writer.execute(sql, [(*constants, *row) for row in rows])
        else:
            writer.execute(sql, rows)


class Writer:
    """Where a batch's statements go: on PostgreSQL into a pipeline of the transaction's
    connection (each is sent and runs on the server while the batch goes on making the
    next; their results, errors included, are awaited when the block ends), on SQLite
    (in the process) straight to ``executemany``. A driver's error is raised as
    SQLAlchemy raises it (``IntegrityError``, ``OperationalError`` ...), as if the
    statement had gone through SQLAlchemy."""

    def __init__(self, conn) -> None:
        self.conn, self.dialect = conn, conn.dialect
        self.pipelined = self.dialect.name == "postgresql"
        self._cursor = None
        self._sent = ""

    def __enter__(self) -> "Writer":
        if self.pipelined:
            driver = self.conn.connection.driver_connection  # psycopg's, in the transaction
            self._pipeline = driver.pipeline()
            self._pipeline.__enter__()
            self._cursor = driver.cursor()
        return self

    def __exit__(self, *exc) -> None:
        if self._cursor is None:
            return
        try:
            with self._translated():
                self._pipeline.__exit__(*exc)  # waits for the statements; raises their error
        finally:
            self._cursor.close()

    def execute(self, sql: str, params) -> None:
        if self._cursor is None:
            self.conn.exec_driver_sql(sql, params)
            return
        self._sent = sql
        with self._translated():
            self._cursor.execute(sql, params)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        dbapi = self.dialect.loaded_dbapi
        try:
            yield
        except dbapi.Error as err:
            gone = self.dialect.is_disconnect(err, self.conn.connection, self._cursor)
            raise sa_exc.DBAPIError.instance(
                self._sent,
                None,
                err,
                dbapi.Error,
                connection_invalidated=gone,
                dialect=self.dialect,
            ) from err


def _pg_type(type_, dialect) -> str:
    """What a value is cast to: its column's type, but a string's without its length
    (an explicit cast to VARCHAR(n) would cut a longer value; the column's assignment
    refuses it, as an INSERT of the value would)."""
    return "TEXT" if issubclass(type_._type_affinity, String) else type_.compile(dialect)


def _processor(type_, dialect):
    """The column's bind processor; a JSON column's value is handed over as its text,
    the text SQLAlchemy writes on SQLite and psycopg's ``Json`` on PostgreSQL (``None``
    too: JSON ``null``, as SQLAlchemy stores it by default)."""
    if isinstance(type_, JSON):
        return json_text
    # The dialect's own implementation of the type (SQLite's DATETIME text), as a
    # statement compiled by SQLAlchemy runs it: the generic type's processor would hand
    # SQLite a datetime for its driver to format (no microseconds when they are 0).
    return type_._cached_bind_processor(dialect)
