"""The engine's notion of "now".

Real time, unless ``RECTIFY_TEST_CLOCK=1`` and an admin has set the test
clock: then every process sharing the database reads the same frozen moment
from the ``test_clock`` row (like Stripe's test clocks).
"""

from datetime import UTC, date, datetime

from sqlmodel import Session

from app.clock.models import TestClock
from app.settings import get_settings


def real_now() -> datetime:
    return datetime.now(UTC)


def now(session: Session) -> datetime:
    if not get_settings().test_clock:
        return real_now()
    row = session.get(TestClock, 1)
    return row.now if row else real_now()


def today(session: Session) -> date:
    """Today's date in the deployment's time zone."""
    return now(session).astimezone(get_settings().tz).date()


def to_local_date(moment: datetime) -> date:
    return moment.astimezone(get_settings().tz).date()
