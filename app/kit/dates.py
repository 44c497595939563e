"""A date from a client is written ``YYYY-MM-DD``, nothing else.

pydantic's lax mode also reads a number, or a string of digits, as a Unix timestamp
(``?due_before=0``, ``"due_date": 0`` are 1970-01-01): a client's mistake answered with
a silently wrong filter or deadline. ``IsoDate`` refuses them (422, or 400 in a query)
and keeps the schema's ``format: date``; a ``date`` from the code itself passes.
``IsoMoment`` does the same for a moment (RFC 3339, with its offset).
"""

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator


def _written(pattern: str, kind: type, message: str) -> BeforeValidator:
    """Let through a ``kind`` (from the code) or a string starting as ``pattern`` does
    (pydantic then parses it); refuse anything else with ``message``."""
    start = re.compile(pattern)

    def check(value):
        if isinstance(value, kind) or (isinstance(value, str) and start.match(value)):
            return value
        raise ValueError(message)

    return BeforeValidator(check)


IsoDate = Annotated[date, _written(r"\d{4}-\d{2}-\d{2}\Z", date, "a date is written YYYY-MM-DD")]
IsoMoment = Annotated[
    AwareDatetime,
    _written(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}",
        datetime,
        "a moment is written YYYY-MM-DDTHH:MM:SS with its offset (Z, +08:00)",
    ),
]
