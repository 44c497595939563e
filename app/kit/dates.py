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

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_only(value):
    if isinstance(value, date) or (isinstance(value, str) and _ISO.fullmatch(value)):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_only)]


_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_moment_only(value):
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_MOMENT.match(value)):
        return value
    raise ValueError("a moment is written YYYY-MM-DDTHH:MM:SS with its offset (Z, +08:00)")


IsoMoment = Annotated[AwareDatetime, BeforeValidator(_iso_moment_only)]
