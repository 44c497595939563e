"""UTCDateTime's SQLite text: the one SQLAlchemy's DATETIME writes, by a shorter path."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

from app.db import UTCDateTime


class _Composed(UTCDateTime):
    """The processors as TypeDecorator composes them (process_bind_param, then DATETIME's)."""

    def bind_processor(self, dialect):
        return TypeDecorator.bind_processor(self, dialect)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 1, 16, 20, 17, 852888, tzinfo=UTC),
        datetime(2026, 12, 1, 16, 20, 17, tzinfo=UTC),  # no microseconds
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=8))),
        None,
    ],
)
def test_sqlite_text_is_sqlalchemys(value):
    dialect = sqlite.dialect()
    fast = UTCDateTime()._cached_bind_processor(dialect)
    composed = _Composed()._cached_bind_processor(dialect)
    assert fast is not None and composed is not None
    assert fast(value) == composed(value)


def test_naive_refused():
    process = UTCDateTime()._cached_bind_processor(sqlite.dialect())
    assert process is not None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 1, 1))
