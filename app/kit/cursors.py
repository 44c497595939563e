"""Opaque page cursors and keyset pages.

A cursor is ``<kind>:<value>`` in unpadded URL-safe base64: the kind keeps one
list's cursor from being replayed on another, and a client only passes it back.
Anything that does not decode to the expected kind is a 400, never a 500.
"""

import base64
import binascii
from typing import Annotated

from fastapi import Query
from sqlalchemy import Select
from sqlmodel import Session

from app.db import MAX_ID
from app.errors import BadRequest

BAD_CURSOR = "The cursor is not valid; pass back a next_cursor unchanged."
PageLimit = Annotated[int, Query(ge=1, le=500)]
"""The ``limit`` query parameter of every list (its default is the list's)."""


def encode(kind: str, value: object) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_raw(cursor: str) -> tuple[str, str]:
    """``(kind, value)`` of a cursor, both still text; 400 when it is not base64 text."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(BAD_CURSOR) from None
    kind, _, value = raw.partition(":")
    return kind, value


def decode(kind: str, cursor: str) -> int:
    """The id inside a cursor made by ``encode(kind, id)``; 400 for anything else."""
    found, value = decode_raw(cursor)
    if found != kind or not value.isdigit() or int(value) > MAX_ID:
        raise BadRequest(BAD_CURSOR)
    return int(value)


def newest_first(
    session: Session,
    stmt: Select,
    id_column,
    kind: str,
    cursor: str | None,
    limit: int,
) -> tuple[list, str | None]:
    """One page of ``stmt``, newest first, keyset on ``id_column`` (stable while new
    rows are being added): (rows, next cursor or None when this is the last page)."""
    if cursor:
        stmt = stmt.where(id_column < decode(kind, cursor))
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)))
    return rows[:limit], encode(kind, rows[limit - 1].id) if len(rows) > limit else None
